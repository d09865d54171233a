"""on-call overrides, handoffs and handoff notes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 13:28:37.197218
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "handoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("shift_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("outgoing", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("incoming", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("late_by_seconds", sa.Integer(), nullable=False),
        sa.Column("posted_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schedule_id", "shift_start"),
    )
    op.create_table(
        "handoff_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("shift_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("asked", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schedule_id", "shift_start"),
    )
    op.create_table(
        "oncall_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("member", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("oncall_override", schema=None) as batch_op:
        batch_op.create_index("ix_oncall_override_window", ["schedule_id", "ends_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("oncall_override", schema=None) as batch_op:
        batch_op.drop_index("ix_oncall_override_window")

    op.drop_table("oncall_override")
    op.drop_table("handoff_note")
    op.drop_table("handoff")
