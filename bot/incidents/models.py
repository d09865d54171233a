"""Incident, timeline and number-sequence tables."""

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlmodel import Field, SQLModel

from bot.columns import json_column, utcnow


class Status(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


class Severity(IntEnum):
    """1 is the worst; PagerDuty P1/P2 and Alertmanager `critical` map to SEV1."""

    SEV1 = 1
    SEV2 = 2
    SEV3 = 3
    SEV4 = 4


class EventKind(StrEnum):
    OPENED = "opened"
    ALERT = "alert"
    ALERT_RESOLVED = "alert_resolved"
    ALL_ALERTS_RESOLVED = "all_alerts_resolved"
    STATUS = "status"
    SEVERITY = "severity"
    COMMANDER = "commander"
    NOTE = "note"
    WHY = "why"
    PINNED = "pinned"
    SOURCE = "source"  # something the alert source reported that is not a state change
    RUNBOOK = "runbook"  # a playbook was attached
    ONCALL = "oncall"  # who was on call for the incident's service, and was invited
    POSTMORTEM = "postmortem"  # drafted, approved, changes requested
    STEP = "step"  # a runbook step was done, skipped, run, or its run finished


class Incident(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True, index=True)
    title: str
    status: str = Field(default=Status.TRIGGERED, index=True)
    severity: int = Field(default=Severity.SEV3)
    service: str | None = None
    source: str
    # Alerts for the same group join the same incident (ARCHITECTURE.md, "Normalise and group").
    group_key: str | None = Field(default=None, index=True)
    # Equal to group_key while the incident is open, NULL once resolved: the unique index makes
    # "one open incident per group" hold under concurrent deliveries on SQLite and PostgreSQL.
    open_group_key: str | None = Field(default=None, unique=True)
    links: list[dict[str, str]] = Field(default_factory=list, sa_column=json_column())
    commander: str | None = None
    # Who was on call for the service when the incident opened (a Slack user id, or the schedule's email
    # when Slack has no such user), and by which schedule.
    oncall: str | None = None
    oncall_schedule: str | None = None
    declared_by: str | None = None
    summary: str | None = None
    previous_incident_id: int | None = Field(default=None, foreign_key="incident.id")
    # True when the incident became mitigated because every alert resolved; a re-fire undoes it.
    mitigated_by_alerts: bool = False

    channel_name: str | None = Field(default=None, unique=True)
    channel_id: str | None = Field(default=None, index=True)
    card_ts: str | None = None
    announce_channel_id: str | None = None
    announce_ts: str | None = None

    created_at: datetime = Field(default_factory=utcnow)
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1


class TimelineEvent(SQLModel, table=True):
    __tablename__ = "timeline_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str | None = None  # a Slack user id, or the alert source's name
    kind: str
    text: str
    data: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    # Makes repeated inputs (a message pinned twice, a redelivered source event) land once.
    dedupe_key: str | None = Field(default=None, unique=True)


class Counter(SQLModel, table=True):
    """Named sequences; incrementing inside the creating transaction gives gap-free numbers."""

    name: str = Field(primary_key=True)
    value: int = 0
