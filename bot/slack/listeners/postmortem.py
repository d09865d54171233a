"""Postmortem review in Slack: Edit (a modal), Approve, Request changes (a modal), Regenerate."""

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInput, WarroomError
from bot.incidents import service as incidents
from bot.incidents.models import EventKind
from bot.postmortems import review
from bot.postmortems.draft import recorded_sections
from bot.postmortems.facts import gather
from bot.postmortems.setup import PostmortemSetup
from bot.slack.blocks.postmortem import changes_modal, edit_modal, edited_sections, whys_modal
from bot.slack.ids import CHANGES_FIELD, PostmortemAction, PostmortemView
from bot.slack.listeners.boundary import Requester, SlackDeps, guarded, open_modal, reply

log = structlog.get_logger(__name__)


def _postmortem_id(action: dict[str, Any]) -> int:
    value = str(action.get("value") or "")
    if not value.isdigit():
        raise InvalidInput("This button does not name a postmortem.")
    return int(value)


async def current_sections(session: AsyncSession, postmortem_id: int) -> tuple[int, dict[str, str], dict[str, str]]:
    """(version number, what the form shows: edits over the timeline, what the timeline alone says)."""
    postmortem = await review.get(session, postmortem_id)
    version = await review.latest(session, postmortem)
    facts = await gather(session, postmortem.incident_id)
    items = [
        {"text": i.text, "owner": i.owner, "due": i.due} for i in await review.action_items(session, postmortem_id)
    ]
    recorded = recorded_sections(facts, items)
    return version.number, {**recorded, **version.edits}, recorded


async def open_whys_form(
    client: AsyncWebClient, trigger_id: str, deps: SlackDeps, incident_id: int, channel: str | None
) -> None:
    """After a resolve: ask what happened and why, pre-filled with what was recorded (best effort: 3 s trigger)."""
    try:
        async with deps.db.sessions() as session:
            incident = await incidents.get_by_id(session, incident_id)
            recorded = recorded_sections(await gather(session, incident_id), [])
        await client.views_open(trigger_id=trigger_id, view=whys_modal(incident_id, incident.number, recorded, channel))
    except (WarroomError, SlackApiError) as error:
        # The resolve itself succeeded; the answers can still be given with /incident why.
        log.info("whys_form_not_opened", incident=incident_id, error=str(error))


async def record_answers(session: AsyncSession, incident_id: int, answers: dict[str, str], *, by: str) -> int:
    """Put changed answers on the timeline (a why at its position); returns how many were recorded."""
    recorded = recorded_sections(await gather(session, incident_id), [])
    count = 0
    for name, given in answers.items():
        text = given.strip()
        if not text or text == recorded.get(name, "").strip():
            continue
        if name == "what_happened":
            await incidents.add_note(session, incident_id, text, actor=by, data={"field": "what_happened"})
        else:
            position = int(name.removeprefix("why_"))
            await incidents.add_note(
                session, incident_id, text, actor=by, kind=EventKind.WHY, data={"position": position, "form": "resolve"}
            )
        count += 1
    return count


def register(app: AsyncApp, deps: SlackDeps) -> None:
    def setup() -> PostmortemSetup:
        if deps.postmortems is None:
            raise InvalidInput("Postmortems are not set up in this Warroom.")
        return deps.postmortems

    @app.action(PostmortemAction.OPEN)
    async def on_open(ack: AsyncAck) -> None:
        await ack()  # a link button: the browser opens the page, Slack still sends the click

    @app.action(PostmortemAction.EDIT)
    async def on_edit(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        who = Requester.from_body(body)

        async def build() -> dict[str, Any]:
            postmortem_id = _postmortem_id(action)
            async with deps.db.sessions() as session:  # read-only and quick
                number, shown, _ = await current_sections(session, postmortem_id)
            return edit_modal(postmortem_id, number, shown, who.channel)

        await open_modal(deps.db, client, body, who, build)

    @app.action(PostmortemAction.APPROVE)
    async def on_approve(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        who = Requester.from_body(body)

        async def work(session: AsyncSession) -> str | None:
            change = await review.approve(session, _postmortem_id(action), by=who.user)
            return None if change.changed else "This postmortem is already approved."

        await guarded(deps.db, who, work)

    @app.action(PostmortemAction.REGENERATE)
    async def on_regenerate(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        who = Requester.from_body(body)

        async def work(session: AsyncSession) -> str:
            version = await review.regenerate(
                session, _postmortem_id(action), by=who.user, template_dir=setup().template_dir
            )
            return f"Drafted version {version.number} from the timeline as it is now (your edits are kept)."

        await guarded(deps.db, who, work)

    @app.action(PostmortemAction.REQUEST_CHANGES)
    async def on_request_changes(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        who = Requester.from_body(body)

        async def build() -> dict[str, Any]:
            return changes_modal(_postmortem_id(action), who.channel)

        await open_modal(deps.db, client, body, who, build)

    @app.view(PostmortemView.EDIT)
    async def on_edit_saved(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        postmortem_id, based_on, channel = _edit_metadata(view)
        user = str((body.get("user") or {}).get("id") or "")
        submitted = edited_sections((view.get("state") or {}).get("values") or {})
        try:
            async with deps.db.transaction() as session:
                _, _, recorded = await current_sections(session, postmortem_id)
                previous = (await review.latest(session, await review.get(session, postmortem_id))).edits
                # Only what differs from the timeline is an edit: an untouched field keeps following it.
                edits = {
                    name: text.strip() if text.strip() != recorded.get(name, "").strip() else ""
                    for name, text in submitted.items()
                    if text.strip() != recorded.get(name, "").strip() or name in previous
                }
                version = await review.save(
                    session, postmortem_id, edits, by=user, based_on=based_on, template_dir=setup().template_dir
                )
        except InvalidInput as error:
            first = next(iter(submitted), "summary")
            await ack(response_action="errors", errors={f"{first}.0": str(error)[:150]})
            return
        await ack()
        async with deps.db.transaction() as session:
            who = Requester(user=user, channel=channel, response_url=None)
            await reply(session, who, f"Saved version {version.number} of the postmortem.")

    @app.view(PostmortemView.WHYS)
    async def on_whys_saved(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        incident_text, _, channel = str(view.get("private_metadata") or "").partition(":")
        user = str((body.get("user") or {}).get("id") or "")
        answers = edited_sections((view.get("state") or {}).get("values") or {})
        who = Requester(user=user, channel=channel or None, response_url=None)

        async def work(session: AsyncSession) -> str:
            incident_id = int(incident_text) if incident_text.isdigit() else 0
            count = await record_answers(session, incident_id, answers, by=user)
            postmortem = await review.for_incident(session, incident_id)
            if count and postmortem is not None and postmortem.id is not None and deps.postmortems is not None:
                # Drafted already (the draft runs as soon as the incident resolves): draft again with the answers.
                await review.regenerate(session, postmortem.id, by=user, template_dir=deps.postmortems.template_dir)
            return (
                f"Recorded {count} answer{'s' * (count != 1)} on the timeline." if count else "Nothing new to record."
            )

        await guarded(deps.db, who, work)

    @app.view(PostmortemView.REQUEST_CHANGES)
    async def on_changes_sent(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        metadata = str(view.get("private_metadata") or "")
        postmortem_text, _, channel = metadata.partition(":")
        values = (view.get("state") or {}).get("values") or {}
        reason = str(((values.get(CHANGES_FIELD) or {}).get(CHANGES_FIELD) or {}).get("value") or "").strip()
        if not reason:
            await ack(response_action="errors", errors={CHANGES_FIELD: "Say what should change."})
            return
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        who = Requester(user=user, channel=channel or None, response_url=None)

        async def work(session: AsyncSession) -> str:
            change = await review.request_changes(
                session, int(postmortem_text) if postmortem_text.isdigit() else 0, by=user, reason=reason
            )
            if not change.changed:
                return "Changes are already requested on this postmortem."
            return "Changes requested; the commander has been told."

        await guarded(deps.db, who, work)


def _edit_metadata(view: dict[str, Any]) -> tuple[int, int, str | None]:
    parts = str(view.get("private_metadata") or "").split(":")
    numbers = [int(p) if p.isdigit() else 0 for p in parts[:2]] + [0, 0]
    channel = parts[2] if len(parts) > 2 and parts[2] else None
    return numbers[0], numbers[1], channel
