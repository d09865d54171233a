"""who was on call for an incident's service when it opened

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:34:16.046463
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("oncall", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("oncall_schedule", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("oncall_schedule")
        batch_op.drop_column("oncall")
