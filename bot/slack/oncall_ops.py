"""Outbox operations for on-call: handoff reports, DMs, note requests, and the on-call person of an incident.

The report's facts were gathered when the handoff was claimed and sit in the row's payload;
only people are resolved at send time (schedule files name them by email). Posts are tagged
with metadata so a retry after a crash finds the message it already posted.
"""

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.columns import utcnow
from bot.incidents import service
from bot.incidents.models import EventKind, Incident
from bot.lanes import Lane
from bot.outbox import Op, OutboxRow, enqueue
from bot.slack.blocks.handoff import incoming_blocks, note_request_blocks, report_blocks, report_text
from bot.slack.escape import escape
from bot.slack.gateway import RetryLater, SlackRefused
from bot.slack.ops import Effect, Handler, OpContext, post_once


async def _mentions(context: OpContext, members: list[str | None]) -> dict[str, str]:
    """Member -> `<@U…>` where Slack knows them, else the escaped email."""
    found: dict[str, str] = {}
    for member in {m for m in members if m}:
        user_id = await context.user_id(member)
        found[member] = f"<@{user_id}>" if user_id else escape(member)
    return found


def _people(report: dict[str, Any]) -> list[str | None]:
    note = report.get("note") or {}
    return [report.get("outgoing"), report.get("incoming"), report.get("posted_by"), note.get("author")]


async def post_handoff(row: OutboxRow, context: OpContext) -> Effect:
    report = row.payload
    mentions = await _mentions(context, _people(report))
    blocks = report_blocks(report, lambda m: mentions.get(m or "", "nobody"))
    channel = await context.resolve_channel(str(report["channel"]))
    try:
        ts = await post_once(
            context,
            row,
            channel,
            kind="handoff",
            key=int(report["handoff_id"]),
            text=report_text(report),
            blocks=blocks,
        )
    except SlackRefused as error:
        if error.error != "not_in_channel":
            raise
        await context.gateway.call("conversations.join", channel=channel)
        raise RetryLater("joined the handoff channel", delay=0.0) from error
    return Effect(result={"channel": channel, "ts": ts})


async def dm_handoff(row: OutboxRow, context: OpContext) -> Effect:
    report = row.payload
    channel = await context.direct_channel(str(report.get("incoming") or ""))
    if channel is None:
        return Effect(result={"skipped": f"no Slack user for {report.get('incoming')}"})
    mentions = await _mentions(context, _people(report))
    blocks = incoming_blocks(report, lambda m: mentions.get(m or "", "nobody"))
    ts = await post_once(
        context, row, channel, kind="handoff_dm", key=int(report["handoff_id"]), text=report_text(report), blocks=blocks
    )
    return Effect(result={"channel": channel, "ts": ts})


async def ask_handoff_note(row: OutboxRow, context: OpContext) -> Effect:
    payload = row.payload
    channel = await context.direct_channel(str(payload.get("outgoing") or ""))
    if channel is None:
        return Effect(result={"skipped": f"no Slack user for {payload.get('outgoing')}"})
    text = f"Your on-call shift for {payload['schedule']['title']} ends soon: add a handoff note?"
    ts = await post_once(
        context,
        row,
        channel,
        kind="note_request",
        key=int(payload["note_id"]),
        text=text,
        blocks=note_request_blocks(payload),
    )
    return Effect(result={"channel": channel, "ts": ts})


async def find_oncall(row: OutboxRow, context: OpContext) -> Effect:
    """Who is on call for a new incident's service: invited to its channel, named on its card and timeline."""
    assert row.incident_id is not None
    incident_id = row.incident_id
    async with context.db.session(Lane.BACKGROUND) as session:
        incident = await service.get_by_id(session, incident_id)
    schedule = context.registry.current.schedule_for_service(incident.service) if context.registry else None
    if schedule is None or context.oncall is None:
        return Effect(result={"skipped": f"no schedule maps service {incident.service!r}"})
    # Who was on call when the incident opened (the relay may run later); no session is held meanwhile.
    answer = await context.oncall.rota(context.db.session, schedule, incident.created_at)
    member = answer.rota.now.member
    if member is None:
        return Effect(result={"schedule": schedule.id, "nobody": True})
    user_id = await context.user_id(member)
    invited = False
    if user_id is not None and incident.channel_id:
        try:
            await context.gateway.call("conversations.invite", channel=incident.channel_id, users=user_id, force=True)
            invited = True
        except SlackRefused as error:
            if error.error not in {"already_in_channel", "cant_invite_self", "user_is_restricted"}:
                raise
            invited = error.error == "already_in_channel"
    shown = user_id or member
    source = " from PagerDuty" if answer.source == "pagerduty" else ""
    text = f"On call for {incident.service} ({schedule.title}{source}): {member}" + (
        f". {answer.warning}" if answer.warning else ""
    )

    async def apply(session: AsyncSession) -> None:
        await session.execute(
            update(Incident)
            .where(col(Incident.id) == incident_id)
            .values(oncall=shown, oncall_schedule=schedule.id, version=col(Incident.version) + 1, updated_at=utcnow())
        )
        data = {"member": member, "user": user_id, "schedule": schedule.id, "source": answer.source}
        await service.record(
            session, incident_id, EventKind.ONCALL, text, actor="warroom", data=data, dedupe_key=f"oncall:{incident_id}"
        )
        await enqueue(session, Op.SYNC_CARD, incident_id=incident_id)

    result = {"schedule": schedule.id, "member": member, "user": user_id, "invited": invited}
    if not invited:
        result["why_not_invited"] = "no Slack user for that member" if user_id is None else "the channel is missing"
    return Effect(result=result, apply=apply)


ONCALL_HANDLERS: dict[Op, Handler] = {
    Op.POST_HANDOFF: post_handoff,
    Op.DM_HANDOFF: dm_handoff,
    Op.ASK_HANDOFF_NOTE: ask_handoff_note,
    Op.FIND_ONCALL: find_oncall,
}
