"""Column helpers shared by the table models (JSON that is JSONB on PostgreSQL, UTC timestamps)."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy.dialects.postgresql import JSONB


def json_column(*, nullable: bool = False) -> Any:
    """A fresh JSON column (SQLAlchemy columns cannot be shared between models).

    Values are treated as immutable: reassign, never mutate in place (PLATFORM.md 3).
    """
    return Column(JSON().with_variant(JSONB(), "postgresql"), nullable=nullable)


def as_utc(at: datetime) -> datetime:
    """An instant in UTC; a naive one is taken as UTC, which is how every time is stored."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
