"""The transactional outbox: Slack work recorded as rows in the same transaction as the change.

Domain code calls `enqueue`; the relay in `bot/slack/relay.py` carries rows out, per ordering
key in id order. Payloads hold plain values (ids, text); Block Kit is built by the relay at send
time from the current database state, so a coalesced card update always shows the latest state.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from bot.columns import json_column, utcnow
from bot.db import insert_ignore


class Op(StrEnum):
    CREATE_CHANNEL = "create_channel"
    SET_TOPIC = "set_topic"
    INVITE = "invite"
    SYNC_CARD = "sync_card"  # post the incident card once, then edit it in place
    SYNC_ANNOUNCE = "sync_announce"  # the short card in the announce channel
    POST_MESSAGE = "post_message"  # a plain message in the incident channel
    RESPOND = "respond"  # a reply to whoever ran a command (response_url or ephemeral)
    FETCH_PIN = "fetch_pin"  # read a pinned message and put it on the timeline
    SYNC_CHECKLIST = "sync_checklist"  # post or edit an attached runbook's checklist messages
    POST_HANDOFF = "post_handoff"  # a handoff report in the schedule's channel
    DM_HANDOFF = "dm_handoff"  # the same report, as a direct message to the incoming person
    ASK_HANDOFF_NOTE = "ask_handoff_note"  # a direct message asking the outgoing person for a note
    FIND_ONCALL = "find_oncall"  # who is on call for a new incident's service: invite them, show them on the card
    DRAFT_POSTMORTEM = (
        "draft_postmortem"  # draft an incident's postmortem once it resolves (off the resolve transaction)
    )
    MODEL_WORDING = "model_wording"  # ask the optional model for wording, save it as a version
    SYNC_POSTMORTEM = "sync_postmortem"  # post or edit the postmortem's summary message in the incident channel
    UPLOAD_POSTMORTEM = "upload_postmortem"  # the approved Markdown as a file in the incident channel
    NOTIFY_CHANGES = "notify_changes"  # tell the commander that changes were requested
    REMIND_ACTION = "remind_action"  # an action item's due-date reminder, as a DM to its owner


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"  # gave up: a permanent Slack error or too many attempts; kept and counted


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "ordering_key", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ordering_key: str = Field(index=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    op: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    status: str = Field(default=OutboxStatus.PENDING)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    locked_by: str | None = None
    locked_until: datetime | None = None
    # Set while pending for ops whose effect depends only on current state (card syncs): a second
    # request while one waits is the same work, so the unique index folds it into the first.
    coalesce_key: str | None = Field(default=None, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None
    last_error: str | None = None
    result: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())


COALESCED_OPS = frozenset({Op.SYNC_CARD, Op.SYNC_ANNOUNCE, Op.SET_TOPIC, Op.SYNC_CHECKLIST, Op.SYNC_POSTMORTEM})


async def enqueue(
    session: AsyncSession,
    op: Op,
    *,
    incident_id: int | None = None,
    payload: dict[str, Any] | None = None,
    ordering_key: str | None = None,
    scope: str | None = None,
) -> int | None:
    """Record Slack work in the caller's transaction; returns the row id, or None if coalesced.

    `scope` narrows coalescing for ops that exist several times per key (one checklist per
    attached runbook): only waiting rows with the same op, key and scope fold together.
    """
    key = ordering_key or (f"incident:{incident_id}" if incident_id is not None else f"op:{op}")
    values: dict[str, Any] = {
        "ordering_key": key,
        "incident_id": incident_id,
        "op": str(op),
        "payload": payload or {},
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "created_at": utcnow(),
        "result": {},
    }
    if op in COALESCED_OPS:
        values["coalesce_key"] = f"{op}:{key}" + (f":{scope}" if scope else "")
    session.info["outbox_dirty"] = True
    return await insert_ignore(session, OutboxRow, values, conflict=["coalesce_key"])
