"""On-call rows: overrides people set from Slack, and one row per handoff posted (or skipped).

The unique constraints are the coordination between replicas: whoever inserts a handoff row
(or a note request) for a schedule and shift start first is the one that posts it.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.columns import utcnow


class OncallOverride(SQLModel, table=True):
    """`member` covers schedule `schedule_id` in [starts_at, ends_at); the newest override wins."""

    __tablename__ = "oncall_override"
    __table_args__ = (Index("ix_oncall_override_window", "schedule_id", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: str
    member: str  # a Slack user id or an email, as in schedule files
    starts_at: datetime
    ends_at: datetime
    created_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    cancelled_at: datetime | None = None


class HandoffStatus(StrEnum):
    POSTED = "posted"  # the report went to the outbox
    SKIPPED = "skipped"  # missed by more than the grace period; logged, not posted


class HandoffKind(StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"  # `/oncall handoff`


class Handoff(SQLModel, table=True):
    """A handoff report, claimed by inserting this row; (schedule_id, shift_start) posts once."""

    __tablename__ = "handoff"
    __table_args__ = (UniqueConstraint("schedule_id", "shift_start"),)

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: str
    # The boundary: when the incoming person's shift starts (the moment of posting for `/oncall handoff`).
    shift_start: datetime
    kind: str = HandoffKind.SCHEDULED
    status: str = HandoffStatus.POSTED
    outgoing: str | None = None
    incoming: str | None = None
    since: datetime | None = None  # start of the outgoing person's shift: the report covers [since, shift_start)
    late_by_seconds: int = 0  # posted after a restart, this late
    posted_by: str | None = None  # the Slack user of `/oncall handoff`
    created_at: datetime = Field(default_factory=utcnow)


class HandoffNote(SQLModel, table=True):
    """The outgoing person's note for a coming handoff; inserting it is also the claim to ask for it."""

    __tablename__ = "handoff_note"
    __table_args__ = (UniqueConstraint("schedule_id", "shift_start"),)

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: str
    shift_start: datetime
    asked: str | None = None  # who was asked for it
    text: str | None = None
    author: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime | None = None


class ScheduleSeen(SQLModel, table=True):
    """When any replica first loaded a schedule: handoffs before it belong to no one and are never posted."""

    __tablename__ = "oncall_schedule_seen"

    schedule_id: str = Field(primary_key=True)
    first_seen: datetime
