"""Inbound Slack bookkeeping: the events already seen, for retry deduplication."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.columns import utcnow


class SlackEventSeen(SQLModel, table=True):
    """Events API retries arrive while the first attempt may still run: dedupe on event id."""

    __tablename__ = "slack_event_seen"
    __table_args__ = (UniqueConstraint("team_id", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str
    event_id: str
    received_at: datetime = Field(default_factory=utcnow)
