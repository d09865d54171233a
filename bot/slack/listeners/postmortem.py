"""Postmortem review in Slack: Edit (a modal), Approve, Request changes (a modal), Regenerate."""

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInput, WarroomError
from bot.postmortems import review
from bot.postmortems.draft import recorded_sections
from bot.postmortems.facts import gather
from bot.postmortems.setup import PostmortemSetup
from bot.slack.blocks.postmortem import changes_modal, edit_modal, edited_sections
from bot.slack.ids import CHANGES_FIELD, PostmortemAction, PostmortemView
from bot.slack.listeners.boundary import Requester, SlackDeps, guarded, reply

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
        try:
            async with deps.db.sessions() as session:  # read-only and quick: views.open must follow within 3 s
                postmortem_id = _postmortem_id(action)
                number, shown, _ = await current_sections(session, postmortem_id)
            view = edit_modal(postmortem_id, number, shown, who.channel)
            await client.views_open(trigger_id=body.get("trigger_id", ""), view=view)
        except (WarroomError, SlackApiError) as error:
            message = str(error) if isinstance(error, WarroomError) else "I could not open the form in time; try again."
            async with deps.db.transaction() as session:
                await reply(session, who, message)

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
        try:
            view = changes_modal(_postmortem_id(action), who.channel)
            await client.views_open(trigger_id=body.get("trigger_id", ""), view=view)
        except (WarroomError, SlackApiError) as error:
            message = str(error) if isinstance(error, WarroomError) else "I could not open the form in time; try again."
            async with deps.db.transaction() as session:
                await reply(session, who, message)

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
