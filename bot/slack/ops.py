"""What each outbox operation does in Slack, rendered from the database state at send time.

Ops that post (chat.postMessage, conversations.create) are not idempotent at Slack, so when a row
is on a second attempt — an earlier one may have succeeded before a crash — they first look for
what that attempt left: the card is tagged with message metadata, the channel has our name and
was created by us (PLATFORM.md 6).
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.alerts.models import AlertRow, AlertStatus
from bot.db import Database
from bot.incidents import service
from bot.incidents.models import EventKind, Incident
from bot.lanes import Lane
from bot.oncall.directory import OncallDirectory
from bot.outbox import Op, OutboxRow
from bot.playbooks import views
from bot.playbooks.registry import PlaybookRegistry
from bot.playbooks.tables import IncidentPlaybook
from bot.postmortems.setup import PostmortemSetup
from bot.slack.blocks import checklist
from bot.slack.blocks.card import CardFacts, announce_blocks, card_blocks, fallback_text, topic
from bot.slack.channels import channel_name
from bot.slack.gateway import RetryLater, SlackFailure, SlackGateway, SlackRefused
from bot.slack.members import MemberDirectory

CARD_EVENT = "warroom_incident_card"
POST_EVENT = "warroom_post"  # handoff reports, DMs: posts found again by (kind, key) after a crash
MAX_NAME_ATTEMPTS = 10
INVITE_BATCH = 100  # conversations.invite: stay at or under 100 ids per call (PROTOCOLS.md 2.3)


@dataclass
class Effect:
    """What a successful op leaves behind: a result to store, and database changes to commit
    in the same transaction that marks the row done."""

    result: dict[str, Any] = field(default_factory=dict)
    apply: Callable[[AsyncSession], Awaitable[None]] | None = None


@dataclass
class OpContext:
    db: Database
    gateway: SlackGateway
    http: httpx.AsyncClient
    channel_template: str = "inc-{number}-{slug}"
    announce_channel: str = ""
    _channel_ids: dict[str, str] = field(default_factory=dict)
    members: MemberDirectory | None = None
    registry: PlaybookRegistry | None = None  # on-call schedules, for an incident's service
    oncall: OncallDirectory | None = None
    postmortems: PostmortemSetup | None = None  # template folder, page links, the optional model
    _bot_user_id: str | None = None

    async def direct_channel(self, member: str | None) -> str | None:
        """The bot's DM channel with a schedule member or user id; None when Slack has no such user."""
        user_id = await self.user_id(member) if member else None
        if user_id is None:
            return None
        data = await self.gateway.call("conversations.open", users=user_id)
        return str(data["channel"]["id"])

    async def user_id(self, member: str) -> str | None:
        """A schedule member as a Slack user id (None if Slack has none); Slack failures propagate to retry."""
        if self.members is None:
            self.members = MemberDirectory(self.gateway)
        return await self.members.user_id(member)

    async def bot_user_id(self) -> str:
        if self._bot_user_id is None:
            self._bot_user_id = str((await self.gateway.call("auth.test")).get("user_id", ""))
        return self._bot_user_id

    async def resolve_channel(self, name_or_id: str) -> str:
        """`#name` or `name` to an id (cached); ids pass through."""
        bare = name_or_id.lstrip("#")
        if name_or_id and name_or_id[0] in "CG" and name_or_id.isupper():
            return name_or_id
        if bare not in self._channel_ids:
            found = await _find_channel(self, bare, created_by=None)
            if found is None:
                raise SlackRefused("conversations.list", f"channel_not_found: #{bare}")
            self._channel_ids[bare] = found
        return self._channel_ids[bare]


Handler = Callable[[OutboxRow, OpContext], Awaitable[Effect]]


async def _incident(context: OpContext, row: OutboxRow) -> Incident:
    assert row.incident_id is not None
    async with context.db.session(Lane.BACKGROUND) as session:
        return await service.get_by_id(session, row.incident_id)


def channel_of(incident: Incident) -> str:
    if not incident.channel_id:
        # Its create_channel op ran first (same ordering key) and failed for good.
        raise SlackFailure(f"incident #{incident.number} has no channel")
    return incident.channel_id


def _set_incident(
    incident_id: int, only_if_null: str | None = None, **values: Any
) -> Callable[[AsyncSession], Awaitable[None]]:
    async def apply(session: AsyncSession) -> None:
        stmt = update(Incident).where(col(Incident.id) == incident_id)
        if only_if_null is not None:
            stmt = stmt.where(getattr(Incident, only_if_null).is_(None))
        await session.execute(stmt.values(**values))

    return apply


async def _find_channel(context: OpContext, name: str, *, created_by: str | None) -> str | None:
    cursor = ""
    while True:
        page = await context.gateway.call(
            "conversations.list", exclude_archived=True, types="public_channel", limit=200, cursor=cursor
        )
        for channel in page.get("channels", []):
            if channel.get("name") == name and (created_by is None or channel.get("creator") == created_by):
                return str(channel["id"])
        cursor = str(page.get("response_metadata", {}).get("next_cursor") or "")
        if not cursor:
            return None


async def create_channel(row: OutboxRow, context: OpContext) -> Effect:
    incident = await _incident(context, row)
    assert incident.id is not None
    if incident.channel_id:
        return Effect(result={"channel": incident.channel_id, "already": True})
    for attempt in range(MAX_NAME_ATTEMPTS):
        name = channel_name(context.channel_template, incident.number, incident.title, attempt)
        try:
            data = await context.gateway.call("conversations.create", name=name, is_private=False)
        except SlackRefused as error:
            if error.error != "name_taken":
                raise
            # Taken, perhaps archived, perhaps by our own earlier attempt that crashed before saving.
            own = (
                await _find_channel(context, name, created_by=await context.bot_user_id()) if row.attempts > 1 else None
            )
            if own is None:
                continue
            channel_id = own
        else:
            channel_id = str(data["channel"]["id"])
        return Effect(
            result={"channel": channel_id, "name": name},
            apply=_set_incident(incident.id, channel_id=channel_id, channel_name=name),
        )
    raise SlackRefused("conversations.create", f"name_taken for {MAX_NAME_ATTEMPTS} variants of the name")


async def set_topic(row: OutboxRow, context: OpContext) -> Effect:
    incident = await _incident(context, row)
    await context.gateway.call("conversations.setTopic", channel=channel_of(incident), topic=topic(incident))
    return Effect()


async def invite(row: OutboxRow, context: OpContext) -> Effect:
    incident = await _incident(context, row)
    channel = channel_of(incident)
    users = [u for u in row.payload.get("users", []) if isinstance(u, str) and u]
    skipped: list[str] = []
    for start in range(0, len(users), INVITE_BATCH):
        batch = users[start : start + INVITE_BATCH]
        try:
            await context.gateway.call("conversations.invite", channel=channel, users=",".join(batch), force=True)
        except SlackRefused as error:
            # Already there, or ourselves: the goal (they are in the channel) holds.
            if error.error not in {
                "already_in_channel",
                "cant_invite_self",
                "user_not_found",
                "user_is_restricted",
            }:
                raise
            skipped.append(error.error)
    return Effect(result={"invited": users, "skipped": skipped})


async def _card_facts(context: OpContext, incident: Incident) -> CardFacts:
    async with context.db.session(Lane.BACKGROUND) as session:
        stmt = (
            select(col(AlertRow.status), func.count())
            .where(col(AlertRow.incident_id) == incident.id)
            .group_by(col(AlertRow.status))
        )
        counts = {status: count for status, count in (await session.execute(stmt)).all()}
        previous = None
        if incident.previous_incident_id is not None:
            previous = (await service.get_by_id(session, incident.previous_incident_id)).number
    return CardFacts(
        firing=int(counts.get(AlertStatus.FIRING, 0)),
        resolved=int(counts.get(AlertStatus.RESOLVED, 0)),
        previous_number=previous,
    )


async def _find_tagged(context: OpContext, channel: str, incident: Incident, kind: str) -> str | None:
    """The message an earlier attempt posted, found by its metadata tag."""
    page = await context.gateway.call("conversations.history", channel=channel, limit=100, include_all_metadata=True)
    for message in page.get("messages", []):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("incident") == incident.number and payload.get("kind") == kind:
            return str(message["ts"])
    return None


async def upsert_message(
    context: OpContext,
    row: OutboxRow,
    incident: Incident,
    *,
    channel: str,
    ts: str | None,
    kind: str,
    blocks: list[dict[str, Any]],
    text: str | None = None,
) -> tuple[str, str]:
    """Edit the known message, or post it once; returns (channel id, ts)."""
    text = text or fallback_text(incident)
    if ts is None and row.attempts > 1:
        ts = await _find_tagged(context, channel, incident, kind)
    if ts is not None:
        try:
            await context.gateway.call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)
            return channel, ts
        except SlackRefused as error:
            if error.error != "message_not_found":
                raise
            # Someone deleted the card: post a new one rather than leave the incident without it.
    metadata = {"event_type": CARD_EVENT, "event_payload": {"incident": incident.number, "kind": kind}}
    data = await context.gateway.call("chat.postMessage", channel=channel, text=text, blocks=blocks, metadata=metadata)
    return str(data.get("channel", channel)), str(data["ts"])


async def _find_posted(context: OpContext, channel: str, kind: str, key: int) -> str | None:
    page = await context.gateway.call("conversations.history", channel=channel, limit=50, include_all_metadata=True)
    for message in page.get("messages", []):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("kind") == kind and payload.get("key") == key:
            return str(message["ts"])
    return None


async def post_once(
    context: OpContext,
    row: OutboxRow,
    channel: str,
    *,
    kind: str,
    key: int,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> str:
    """chat.postMessage tagged with (kind, key); a retry first looks for the post an interrupted try made."""
    if row.attempts > 1:
        found = await _find_posted(context, channel, kind, key)
        if found is not None:
            return found
    metadata = {"event_type": POST_EVENT, "event_payload": {"kind": kind, "key": key}}
    data = await context.gateway.call("chat.postMessage", channel=channel, text=text, blocks=blocks, metadata=metadata)
    return str(data["ts"])


async def sync_card(row: OutboxRow, context: OpContext) -> Effect:
    incident = await _incident(context, row)
    assert incident.id is not None
    channel = channel_of(incident)
    blocks = card_blocks(incident, await _card_facts(context, incident))
    channel, ts = await upsert_message(
        context, row, incident, channel=channel, ts=incident.card_ts, kind="card", blocks=blocks
    )
    if ts == incident.card_ts:
        return Effect(result={"ts": ts})
    return Effect(result={"ts": ts}, apply=_set_incident(incident.id, card_ts=ts))


async def sync_announce(row: OutboxRow, context: OpContext) -> Effect:
    if not context.announce_channel:
        return Effect(result={"skipped": "INCIDENT_ANNOUNCE_CHANNEL is not set"})
    incident = await _incident(context, row)
    assert incident.id is not None
    channel = incident.announce_channel_id or await context.resolve_channel(context.announce_channel)
    blocks = announce_blocks(incident)
    try:
        channel, ts = await upsert_message(
            context, row, incident, channel=channel, ts=incident.announce_ts, kind="announce", blocks=blocks
        )
    except SlackRefused as error:
        if error.error != "not_in_channel":
            raise
        await context.gateway.call("conversations.join", channel=channel)
        raise RetryLater("joined the announce channel", delay=0.0) from error
    values = {"announce_channel_id": channel, "announce_ts": ts}
    return Effect(result=values, apply=_set_incident(incident.id, **values))


async def sync_checklist(row: OutboxRow, context: OpContext) -> Effect:
    """Post or edit every page of one attached runbook's checklist, rendered from current state."""
    attached_id = int(row.payload["incident_playbook_id"])
    async with context.db.session(Lane.BACKGROUND) as session:
        playbook, steps = await views.checklist(session, attached_id)
        incident = await service.get_by_id(session, playbook.incident_id)
    channel = channel_of(incident)
    message_ts = dict(playbook.message_ts)
    paged = checklist.pages(steps)
    first = 1
    updated = 0
    for page_no, page in enumerate(paged):
        blocks = checklist.checklist_blocks(playbook.title, page, first_number=first, page_no=page_no, pages=len(paged))
        first += len(page)
        # A click changes one step, so usually one page: leave the others alone (Slack calls are rate limited).
        digest = hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()[:16]
        if message_ts.get(f"{page_no}#") == digest and message_ts.get(str(page_no)):
            continue
        _, ts = await upsert_message(
            context,
            row,
            incident,
            channel=channel,
            ts=message_ts.get(str(page_no)),
            kind=f"checklist:{attached_id}:{page_no}",
            blocks=blocks,
            text=checklist.checklist_text(playbook.title),
        )
        message_ts[str(page_no)] = ts
        message_ts[f"{page_no}#"] = digest
        updated += 1

    async def apply(session: AsyncSession) -> None:
        await session.execute(
            update(IncidentPlaybook).where(col(IncidentPlaybook.id) == attached_id).values(message_ts=message_ts)
        )

    return Effect(result={"pages": len(paged), "updated": updated}, apply=apply)


async def post_message(row: OutboxRow, context: OpContext) -> Effect:
    incident = await _incident(context, row)
    text = str(row.payload.get("text", ""))[:3000]
    data = await context.gateway.call("chat.postMessage", channel=channel_of(incident), text=text)
    return Effect(result={"ts": data.get("ts")})


async def respond(row: OutboxRow, context: OpContext) -> Effect:
    """Answer whoever ran a command: through its response_url, else an ephemeral message."""
    payload = row.payload
    message = {key: payload[key] for key in ("text", "blocks", "response_type", "replace_original") if key in payload}
    url = str(payload.get("response_url") or "")
    if url:
        try:
            response = await context.http.post(url, json=message)
        except httpx.HTTPError as error:
            raise RetryLater(f"response_url: {type(error).__name__}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryLater(f"response_url: HTTP {response.status_code}")
        if response.is_success:
            return Effect(result={"via": "response_url"})
        # Expired or used up (5 uses, 30 minutes): fall back to an ephemeral message.
    if not payload.get("channel") or not payload.get("user"):
        return Effect(result={"dropped": "no response_url and no channel"})
    await context.gateway.call(
        "chat.postEphemeral",
        channel=payload["channel"],
        user=payload["user"],
        text=str(payload.get("text", "")),
        blocks=payload.get("blocks"),
    )
    return Effect(result={"via": "ephemeral"})


async def fetch_pin(row: OutboxRow, context: OpContext) -> Effect:
    """A 📌 on a message: put the message on the timeline at the message's own time."""
    assert row.incident_id is not None
    channel, ts, pinned_by = row.payload["channel"], str(row.payload["ts"]), row.payload.get("user")
    page = await context.gateway.call(
        "conversations.history", channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
    )
    messages = [m for m in page.get("messages", []) if str(m.get("ts")) == ts]
    if not messages:
        return Effect(result={"missing": ts})
    message = messages[0]
    text = str(message.get("text") or "(message without text)")
    at = datetime.fromtimestamp(float(ts), tz=UTC)
    incident_id = row.incident_id

    async def apply(session: AsyncSession) -> None:
        await service.add_note(
            session,
            incident_id,
            text,
            actor=str(message.get("user") or message.get("bot_id") or pinned_by or "someone"),
            kind=EventKind.PINNED,
            at=at,
            dedupe_key=f"pin:{channel}:{ts}",
            data={"pinned_by": pinned_by, "channel": channel, "ts": ts},
        )

    return Effect(result={"ts": ts}, apply=apply)


HANDLERS: dict[Op, Handler] = {
    Op.CREATE_CHANNEL: create_channel,
    Op.SET_TOPIC: set_topic,
    Op.INVITE: invite,
    Op.SYNC_CARD: sync_card,
    Op.SYNC_ANNOUNCE: sync_announce,
    Op.POST_MESSAGE: post_message,
    Op.RESPOND: respond,
    Op.FETCH_PIN: fetch_pin,
    Op.SYNC_CHECKLIST: sync_checklist,
}
