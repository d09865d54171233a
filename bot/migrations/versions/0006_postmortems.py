"""postmortems, their versions and action items

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:46:21.974901
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "postmortem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("approved_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("approved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("changes_requested_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("changes_requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("message_ts", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id"),
    )
    op.create_table(
        "action_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reminded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.ForeignKeyConstraint(
            ["postmortem_id"],
            ["postmortem.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("postmortem_id", "key"),
    )
    with op.batch_alter_table("action_item", schema=None) as batch_op:
        batch_op.create_index("ix_action_item_due", ["status", "due", "reminded_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_action_item_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_action_item_postmortem_id"), ["postmortem_id"], unique=False)

    op.create_table(
        "postmortem_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("edits", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("markdown", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["postmortem_id"],
            ["postmortem.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("postmortem_id", "number"),
    )
    with op.batch_alter_table("postmortem_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postmortem_version_postmortem_id"), ["postmortem_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("postmortem_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postmortem_version_postmortem_id"))

    op.drop_table("postmortem_version")
    with op.batch_alter_table("action_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_item_postmortem_id"))
        batch_op.drop_index(batch_op.f("ix_action_item_incident_id"))
        batch_op.drop_index("ix_action_item_due")

    op.drop_table("action_item")
    op.drop_table("postmortem")
