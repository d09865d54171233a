"""Every table, imported in one place so Alembic and tests see the whole schema."""

from sqlmodel import SQLModel

from bot.alerts.models import AlertRow, Delivery
from bot.incidents.models import Counter, Incident, TimelineEvent
from bot.outbox import OutboxRow
from bot.slack.models import SlackEventSeen

metadata = SQLModel.metadata

__all__ = [
    "AlertRow",
    "Counter",
    "Delivery",
    "Incident",
    "OutboxRow",
    "SlackEventSeen",
    "TimelineEvent",
    "metadata",
]
