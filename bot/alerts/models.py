"""Tables for raw deliveries and the alerts they carry, and the parsed `Alert` value."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from bot.columns import json_column, utcnow


class Source(StrEnum):
    PAGERDUTY = "pagerduty"
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    GENERIC = "generic"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    IGNORED = "ignored"  # well-formed but nothing to do (unknown PagerDuty event type, ping)
    FAILED = "failed"  # could not be processed; kept for inspection, never silently dropped


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Delivery(SQLModel, table=True):
    """One webhook request exactly as received; processing reads it from here."""

    __table_args__ = (
        UniqueConstraint("source", "delivery_key"),
        Index("ix_delivery_pending", "status", "id"),
        Index("ix_delivery_group", "source", "group_key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    # The source's delivery id (PagerDuty X-Webhook-Id), or for sources without one a hash of the
    # body scoped to the group's last different delivery (see bot/alerts/intake.py, GroupState.key_for).
    delivery_key: str
    group_key: str | None = None
    content_hash: str | None = None
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)
    status: str = Field(default=DeliveryStatus.PENDING)
    attempts: int = 0
    locked_until: datetime | None = None
    processed_at: datetime | None = None
    error: str | None = None


class AlertRow(SQLModel, table=True):
    """An alert as last reported, within its incident."""

    __tablename__ = "alert"
    __table_args__ = (UniqueConstraint("incident_id", "fingerprint"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    source: str
    fingerprint: str
    status: str
    severity: int
    title: str
    service: str | None = None
    labels: dict[str, str] = Field(default_factory=dict, sa_column=json_column())
    annotations: dict[str, str] = Field(default_factory=dict, sa_column=json_column())
    links: list[dict[str, str]] = Field(default_factory=list, sa_column=json_column())
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # When the source says this state began; older reports than this are out of order and ignored.
    observed_at: datetime = Field(default_factory=utcnow)
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Action(StrEnum):
    """What an alert asks of its incident, beyond firing or resolving."""

    NONE = "none"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    NOTE = "note"


@dataclass(frozen=True)
class Alert:
    """A normalised alert, whatever its source."""

    source: Source
    group_key: str  # alerts sharing it belong to one incident
    fingerprint: str  # identifies the alert within its group
    status: AlertStatus
    title: str
    severity: int = 3
    service: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    observed_at: datetime | None = None
    # Source-driven state changes (PagerDuty acknowledge/resolve) and who did them.
    action: Action = Action.NONE
    actor: str | None = None
    # False for reports about an incident rather than of a problem (a PagerDuty escalation or
    # priority change): they join an open incident but never reopen a closed one.
    opens: bool = True
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
