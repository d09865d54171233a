"""when each on-call schedule was first loaded

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:55:19.226226
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "oncall_schedule_seen",
        sa.Column("schedule_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("first_seen", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("schedule_id"),
    )


def downgrade() -> None:

    op.drop_table("oncall_schedule_seen")
