"""Tables for playbooks attached to incidents and the state of each of their steps."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.columns import json_column, utcnow


class StepStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"
    QUEUED = "queued"  # Run pressed; the runner has not picked it up yet
    RUNNING = "running"
    FAILED = "failed"
    FAILED_UNKNOWN = "failed_unknown"  # the process died mid-run: the action may or may not have happened


FINISHED = frozenset({StepStatus.DONE, StepStatus.SKIPPED})
# Where a person may act again: Done, Skip, Run or Retry.
ACTIONABLE = frozenset({StepStatus.PENDING, StepStatus.FAILED, StepStatus.FAILED_UNKNOWN})


class IncidentPlaybook(SQLModel, table=True):
    """A playbook attached to an incident, as it was when attached.

    `spec` is a snapshot: editing the file in git later never changes a checklist that people
    are already working through.
    """

    __tablename__ = "incident_playbook"
    __table_args__ = (UniqueConstraint("incident_id", "playbook_id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    playbook_id: str
    title: str
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    attached_by: str | None = None
    attached_at: datetime = Field(default_factory=utcnow)
    # The checklist is one or more Slack messages (pages of steps): page number -> message ts,
    # and "<page>#" -> a hash of what that page last showed, so unchanged pages are not re-sent.
    message_ts: dict[str, str] = Field(default_factory=dict, sa_column=json_column())


class StepRun(SQLModel, table=True):
    """One step of an attached playbook: who did what, when, with what result."""

    __tablename__ = "step_run"
    __table_args__ = (UniqueConstraint("incident_playbook_id", "step_id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    incident_playbook_id: int = Field(foreign_key="incident_playbook.id", index=True)
    step_id: str
    position: int
    status: str = Field(default=StepStatus.PENDING, index=True)
    actor: str | None = None
    value: str | None = None  # what an input step collected
    runs: int = 0  # how many times Run (or Retry) was pressed; part of the Idempotency-Key
    result: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    error: str | None = None
    locked_by: str | None = None
    locked_until: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1
