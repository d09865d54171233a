"""Every table, imported in one place so Alembic and tests see the whole schema."""

from sqlmodel import SQLModel

from bot.alerts.models import AlertRow, Delivery
from bot.incidents.models import Counter, Incident, TimelineEvent
from bot.oncall.tables import Handoff, HandoffNote, OncallOverride, ScheduleSeen
from bot.outbox import OutboxRow
from bot.playbooks.tables import IncidentPlaybook, StepRun
from bot.postmortems.tables import ActionItem, Postmortem, PostmortemVersion
from bot.slack.models import SlackEventSeen

metadata = SQLModel.metadata

__all__ = [
    "ActionItem",
    "AlertRow",
    "Counter",
    "Delivery",
    "Handoff",
    "HandoffNote",
    "Incident",
    "IncidentPlaybook",
    "OncallOverride",
    "OutboxRow",
    "Postmortem",
    "PostmortemVersion",
    "ScheduleSeen",
    "SlackEventSeen",
    "StepRun",
    "TimelineEvent",
    "metadata",
]
