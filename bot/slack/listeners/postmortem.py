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
from bot.postmortems.tables import ActionStatus
from bot.slack.blocks.postmortem import (
    changes_modal,
    edit_modal,
    edited_sections,
    fingerprint,
    loading_modal,
    notice_modal,
    whys_modal,
)
from bot.slack.ids import CHANGES_FIELD, PostmortemAction, PostmortemView
from bot.slack.listeners.boundary import Requester, SlackDeps, guarded, open_modal

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
    stored = await review.action_items(session, postmortem_id)
    items = [{"text": i.text, "owner": i.owner, "due": i.due} for i in stored if i.status == ActionStatus.OPEN]
    recorded = recorded_sections(facts, items)
    # What the draft shows: people's edits, else the timeline, else the model's wording where nobody answered.
    model = version.edits.get(review.MODEL) or {}
    # (the summary the timeline gives is a placeholder line: the model's wording goes before it, as in the draft)
    worded = (
        {k: v for k, v in model.items() if k == "summary" or not recorded.get(k)} if isinstance(model, dict) else {}
    )
    people = {k: v for k, v in version.edits.items() if k not in review.INTERNAL}
    return version.number, {**recorded, **worded, **people}, recorded


class WhysForm:
    """The resolve form, opened the moment Resolve is pressed and filled in once the incident is resolved.

    Opening comes first because the trigger_id dies 3 s after the click, and resolving (one write)
    plus gathering the timeline for the pre-fill may take longer under load.
    """

    def __init__(self, client: AsyncWebClient, deps: SlackDeps, channel: str | None) -> None:
        self.client, self.deps, self.channel = client, deps, channel
        self.view_id: str | None = None

    async def open(self, trigger_id: str) -> None:
        try:
            opened = await self.client.views_open(trigger_id=trigger_id, view=loading_modal("What happened?"))
            self.view_id = str(opened["view"]["id"])
        except Exception as error:
            # The resolve goes ahead; the answers can still be given with /incident why.
            log.warning("whys_form_not_opened", error=repr(error))

    async def fill(self, incident_id: int | None) -> None:
        if self.view_id is None:
            return
        try:
            if incident_id is None:
                view = notice_modal("What happened?", "Nothing was resolved by this; see the reply in Slack.")
            else:
                async with self.deps.db.session() as session:
                    incident = await incidents.get_by_id(session, incident_id)
                    recorded = recorded_sections(await gather(session, incident_id), [])
                view = whys_modal(incident_id, incident.number, recorded, self.channel)
            await self.client.views_update(view_id=self.view_id, view=view)
        except (WarroomError, SlackApiError) as error:
            log.warning("whys_form_not_filled", incident=incident_id, error=str(error))


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
            async with deps.db.session() as session:  # gathers the whole timeline: after the modal is open
                number, shown, _ = await current_sections(session, postmortem_id)
            return edit_modal(postmortem_id, number, shown, who.channel)

        await open_modal(deps.db, client, body, who, build, loading=loading_modal("Edit postmortem"))

    @app.action(PostmortemAction.APPROVE)
    async def on_approve(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        who = Requester.from_body(body)

        async def work(session: AsyncSession) -> str | None:
            postmortem_text, _, version_text = str(action.get("value") or "").partition(":")
            if not postmortem_text.isdigit():
                raise InvalidInput("This button does not name a postmortem.")
            version = int(version_text) if version_text.isdigit() else None
            change = await review.approve(session, int(postmortem_text), by=who.user, version=version)
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
        postmortem_id, based_on, channel, shown = _edit_metadata(view)
        user = str((body.get("user") or {}).get("id") or "")
        submitted = edited_sections((view.get("state") or {}).get("values") or {})
        # An edit is what the person changed in the form; a field left as shown keeps following the
        # timeline (or keeps its earlier edit), whatever was recorded while the form was open.
        edits = {name: text.strip() for name, text in submitted.items() if fingerprint(text) != shown.get(name)}
        async with deps.db.session() as session:  # a quick check, so a stale form is told while still open
            current = await review.get(session, postmortem_id) if postmortem_id else None
        if current is None or current.current_version != based_on:
            message = (
                "This postmortem is unknown."
                if current is None
                else (
                    f"Version {current.current_version} was saved while you edited version {based_on}; "
                    "copy your text, close this form and open Edit again."
                )
            )
            first = next(iter(submitted), "summary")
            await ack(response_action="errors", errors={f"{first}.0": message[:150]})
            return
        await ack()  # the save renders the whole draft: too slow to keep Slack's 3 s waiting
        who = Requester(user=user, channel=channel, response_url=None)

        async def work(session: AsyncSession) -> str:
            if not edits:
                return "Nothing changed, so no new version was saved."
            version = await review.save(
                session, postmortem_id, edits, by=user, based_on=based_on, template_dir=setup().template_dir
            )
            return f"Saved version {version.number} of the postmortem."

        await guarded(deps.db, who, work)

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
            await review.request_changes(
                session, int(postmortem_text) if postmortem_text.isdigit() else 0, by=user, reason=reason
            )
            return "Changes requested; the commander has been told."

        await guarded(deps.db, who, work)


def _edit_metadata(view: dict[str, Any]) -> tuple[int, int, str | None, dict[str, str]]:
    """(postmortem id, version the form showed, channel, section -> fingerprint of the text shown)."""
    parts = str(view.get("private_metadata") or "").split(":", 3)
    numbers = [int(p) if p.isdigit() else 0 for p in parts[:2]] + [0, 0]
    channel = parts[2] if len(parts) > 2 and parts[2] else None
    pairs = (item.partition("=") for item in (parts[3].split(",") if len(parts) > 3 and parts[3] else []))
    return numbers[0], numbers[1], channel, {name: value for name, _, value in pairs}
