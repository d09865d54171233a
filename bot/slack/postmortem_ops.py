"""Outbox operations for postmortems: draft on resolve, the model's wording, the summary message, files, DMs.

Drafting runs here rather than in the resolve transaction: gathering a long timeline and
rendering it should never hold up the click that resolved the incident. The model is asked
outside any transaction (it may take a minute) and its wording saved as a version.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.incidents import service
from bot.lanes import Lane
from bot.outbox import Op, OutboxRow, enqueue
from bot.postmortems import review, wording
from bot.postmortems.facts import gather
from bot.postmortems.setup import PostmortemSetup
from bot.postmortems.tables import ActionItem, Postmortem, ReviewState
from bot.slack.blocks.postmortem import summary_blocks
from bot.slack.escape import escape, mention, truncate
from bot.slack.gateway import SlackRefused
from bot.slack.ops import Effect, Handler, OpContext, channel_of, post_once, upsert_message


def _setup(context: OpContext) -> PostmortemSetup:
    if context.postmortems is None:
        raise RuntimeError("postmortems are not configured in this OpContext")
    return context.postmortems


async def draft_postmortem(row: OutboxRow, context: OpContext) -> Effect:
    assert row.incident_id is not None
    incident_id, setup = row.incident_id, _setup(context)
    by = row.payload.get("by")

    async def apply(session: AsyncSession) -> None:
        postmortem, created = await review.ensure_draft(
            session, incident_id, template_dir=setup.template_dir, by=by if isinstance(by, str) else None
        )
        assert postmortem.id is not None
        if not created and postmortem.state != ReviewState.APPROVED:
            # Drafted early (`/incident postmortem`): now that it is resolved, draft again with the end in it.
            await review.regenerate(session, postmortem.id, by=None, template_dir=setup.template_dir)
        if setup.wording is not None and postmortem.state != ReviewState.APPROVED:
            # Its own ordering key: a minute-long model call must not hold up the incident's Slack queue.
            payload = {"postmortem_id": postmortem.id}
            await enqueue(
                session, Op.MODEL_WORDING, incident_id=incident_id, payload=payload, ordering_key=f"model:{incident_id}"
            )

    return Effect(result={"incident": incident_id}, apply=apply)


async def model_wording(row: OutboxRow, context: OpContext) -> Effect:
    """Ask the model (no session held meanwhile), then save its wording as a version of its own."""
    assert row.incident_id is not None
    setup = _setup(context)
    if setup.wording is None:  # the model was configured when this was queued, and is not now
        return Effect(result={"skipped": "no model configured"})
    postmortem_id = int(row.payload["postmortem_id"])
    async with context.db.session(Lane.BACKGROUND) as session:
        facts = await gather(session, row.incident_id)
    proposal, note = await wording.propose(setup.wording, facts, setup.model_timeout)

    async def apply(session: AsyncSession) -> None:
        postmortem = await review.get(session, postmortem_id)
        if postmortem.state == ReviewState.APPROVED:
            return  # approved while the model was asked: its wording must not reopen the review
        # Stored apart from people's edits: draft.context ranks it below them and below every why
        # answered on the timeline, also one answered after this (the resolve form, a later /incident why).
        proposed = wording.as_edits(proposal) if proposal else {}
        await review.save(
            session,
            postmortem_id,
            {},
            by=None,
            based_on=postmortem.current_version,
            reason="model",
            template_dir=setup.template_dir,
            note=note,
            model_wording=proposed,
        )

    return Effect(result={"used": proposal is not None, "note": note}, apply=apply)


async def sync_postmortem(row: OutboxRow, context: OpContext) -> Effect:
    """Post the summary message once, then edit it as the review moves on."""
    assert row.incident_id is not None
    setup = _setup(context)
    postmortem_id = int(row.payload["postmortem_id"])
    async with context.db.session(Lane.BACKGROUND) as session:
        incident = await service.get_by_id(session, row.incident_id)
        postmortem = await review.get(session, postmortem_id)
        version = await review.latest(session, postmortem)
        facts = await gather(session, row.incident_id)
    open_questions = sum(1 for why in facts.whys if why.answer is None and f"why_{why.number}" not in version.edits)
    blocks = summary_blocks(
        incident.number, postmortem, version, url=setup.links.url(incident.number), open_questions=open_questions
    )
    text = f"Postmortem for incident #{incident.number}: {postmortem.state.replace('_', ' ')}"
    channel, ts = await upsert_message(
        context,
        row,
        incident,
        channel=channel_of(incident),
        ts=postmortem.message_ts,
        kind="postmortem",
        blocks=blocks,
        text=text,
    )
    if ts == postmortem.message_ts:
        return Effect(result={"ts": ts})

    async def apply(session: AsyncSession) -> None:
        # Only the message's ts: not a review change, so the optimistic `version` stays as it is.
        postmortem_row = await review.get(session, postmortem_id)
        postmortem_row.message_ts = ts
        session.add(postmortem_row)

    return Effect(result={"channel": channel, "ts": ts}, apply=apply)


async def upload_postmortem(row: OutboxRow, context: OpContext) -> Effect:
    """The approved Markdown as a file in the incident channel (Slack's two-step external upload)."""
    assert row.incident_id is not None
    async with context.db.session(Lane.BACKGROUND) as session:
        incident = await service.get_by_id(session, row.incident_id)
        postmortem = await review.get(session, int(row.payload["postmortem_id"]))
        # The version that was approved, whatever was saved after it (which is then in review again).
        number = int(row.payload.get("version") or postmortem.current_version)
        version = next((v for v in await review.versions(session, postmortem.id or 0) if v.number == number), None)
        approved = await review.approval_of(session, postmortem.id or 0, number) or postmortem.approved_by
    if version is None:
        return Effect(result={"skipped": f"no version {number}"})
    filename = f"postmortem-incident-{incident.number}-v{version.number}.md"
    if row.attempts > 1 and await _uploaded(context, channel_of(incident), filename):
        return Effect(result={"file": filename, "found": True})  # an interrupted try had uploaded it
    await context.gateway.call(
        "files_upload_v2",
        channel=channel_of(incident),
        content=version.markdown,
        filename=filename,
        title=f"Postmortem for incident #{incident.number} (version {version.number})",
        initial_comment=f"Approved by {mention(approved)}: version {version.number}.",
    )
    return Effect(result={"file": filename})


async def _uploaded(context: OpContext, channel: str, filename: str) -> bool:
    page = await context.gateway.call("conversations.history", channel=channel, limit=50)
    return any(f.get("name") == filename for m in page.get("messages", []) for f in m.get("files") or [])


async def _dm(context: OpContext, row: OutboxRow, user: str | None, *, kind: str, text: str) -> str | None:
    channel = await context.direct_channel(user)
    if channel is not None:
        # Keyed by the outbox row: a retry after a crash finds the DM instead of sending it twice.
        await post_once(context, row, channel, kind=kind, key=row.id or 0, text=text)
    return channel


async def notify_changes(row: OutboxRow, context: OpContext) -> Effect:
    assert row.incident_id is not None
    setup = _setup(context)
    async with context.db.session(Lane.BACKGROUND) as session:
        incident = await service.get_by_id(session, row.incident_id)
    payload = row.payload
    reason = escape(truncate(str(payload.get("reason") or ""), 2000))
    text = (
        f"{mention(payload.get('by'))} asked for changes to the postmortem of incident #{incident.number}: "
        f"{reason}\n<{setup.links.url(incident.number)}|Open the draft>"
    )
    where = await _dm(context, row, payload.get("to"), kind="changes_requested", text=text)
    if where is None:  # nobody to tell directly: say it in the incident channel
        where = channel_of(incident)
        await post_once(context, row, where, kind="changes_requested", key=row.id or 0, text=text)
    return Effect(result={"channel": where})


async def remind_action(row: OutboxRow, context: OpContext) -> Effect:
    assert row.incident_id is not None
    setup = _setup(context)
    async with context.db.session(Lane.BACKGROUND) as session:
        item = (
            await session.execute(select(ActionItem).where(col(ActionItem.id) == int(row.payload["action_item_id"])))
        ).scalar_one()
        incident = await service.get_by_id(session, row.incident_id)
        postmortem = (
            await session.execute(select(Postmortem).where(col(Postmortem.id) == item.postmortem_id))
        ).scalar_one()
    if item.status != "open":
        return Effect(result={"skipped": f"item is {item.status}"})
    due = item.due.isoformat() if item.due else "today"
    text = (
        f"Reminder: an action item from incident #{incident.number} is due {due}: *{escape(item.text)}*\n"
        f"<{setup.links.url(incident.number)}|Open the postmortem> (version {postmortem.current_version})"
    )
    try:
        where = await _dm(context, row, item.owner, kind="action_reminder", text=text)
    except SlackRefused as error:
        if error.error not in {"user_not_found", "cannot_dm_bot", "user_disabled"}:
            raise
        where = None
    return Effect(result={"channel": where})


POSTMORTEM_HANDLERS: dict[Op, Handler] = {
    Op.DRAFT_POSTMORTEM: draft_postmortem,
    Op.MODEL_WORDING: model_wording,
    Op.SYNC_POSTMORTEM: sync_postmortem,
    Op.UPLOAD_POSTMORTEM: upload_postmortem,
    Op.NOTIFY_CHANGES: notify_changes,
    Op.REMIND_ACTION: remind_action,
}
