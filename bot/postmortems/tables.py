"""Postmortem rows: one postmortem per incident, its versions, and the action items it produced."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.columns import json_column, utcnow


class ReviewState(StrEnum):
    DRAFT = "draft"  # drafted, nobody has looked yet
    IN_REVIEW = "in_review"  # someone edited it or opened it for review
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"


class Postmortem(SQLModel, table=True):
    __tablename__ = "postmortem"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", unique=True)
    state: str = ReviewState.DRAFT
    current_version: int = 1
    approved_by: str | None = None
    approved_at: datetime | None = None
    changes_requested_by: str | None = None
    changes_requested_at: datetime | None = None
    # The summary message in the incident channel, edited as the review moves on.
    message_ts: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1  # optimistic concurrency: every change is `WHERE version = :seen`


class PostmortemVersion(SQLModel, table=True):
    """One saved text of a postmortem: the sections people edited, and the Markdown as rendered then."""

    __tablename__ = "postmortem_version"
    __table_args__ = (UniqueConstraint("postmortem_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    postmortem_id: int = Field(foreign_key="postmortem.id", index=True)
    number: int
    author: str | None = None  # a Slack user id; None for Warroom's own drafts
    reason: str  # drafted, regenerated, edited, model
    # Section name -> text people wrote; sections not here come from the timeline.
    edits: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    markdown: str
    note: str | None = None  # e.g. why the model's wording was not used
    created_at: datetime = Field(default_factory=utcnow)


class ActionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


class ActionItem(SQLModel, table=True):
    __tablename__ = "action_item"
    __table_args__ = (
        UniqueConstraint("postmortem_id", "key"),
        Index("ix_action_item_due", "status", "due", "reminded_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    postmortem_id: int = Field(foreign_key="postmortem.id", index=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    # A stable identity across versions (a hash of the text), so re-saving a draft does not duplicate items.
    key: str
    text: str
    owner: str | None = None  # a Slack user id
    due: date | None = None
    status: str = ActionStatus.OPEN
    reminded_at: datetime | None = None  # set once, by the replica whose claim wins
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
