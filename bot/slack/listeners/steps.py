"""Runbook step buttons (Done, Skip, Run, Retry), the input modal, and who may press Run."""

import time
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInput, WarroomError
from bot.incidents import service
from bot.playbooks import runs
from bot.slack.blocks.checklist import input_modal
from bot.slack.escape import mention
from bot.slack.ids import STEP_INPUT_FIELD, CallbackId, StepAction
from bot.slack.listeners.boundary import Requester, SlackDeps, guarded, open_modal, reply

log = structlog.get_logger(__name__)

GROUP_CACHE_SECONDS = 300.0


def _step_run_id(action: dict[str, Any]) -> int:
    value = str(action.get("value") or "")
    if not value.isdigit():
        raise InvalidInput("This button does not name a runbook step.")
    return int(value)


class RunPermission:
    """Decides who may press Run: `run_by` lists user ids, `@group` handles and `commander`."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def allowed(self, run_by: list[str], user: str, commander: str | None) -> bool:
        if not run_by or user in run_by or ("commander" in run_by and user == commander):
            return True
        for handle in (entry[1:] for entry in run_by if entry.startswith("@")):
            if user in await self._members(handle):
                return True
        return False

    async def _members(self, handle: str) -> frozenset[str]:
        cached = self._groups.get(handle)
        if cached is not None and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
            return cached[1]
        members: frozenset[str] = frozenset()
        try:
            groups = (await self.client.usergroups_list()).get("usergroups") or []
            group_id = next((g["id"] for g in groups if g.get("handle") == handle), None)
            if group_id is not None:
                users = (await self.client.usergroups_users_list(usergroup=group_id)).get("users") or []
                members = frozenset(users)
        except SlackApiError as error:
            # Cannot tell: refuse rather than let anyone run a production action.
            log.warning("usergroup_lookup_failed", handle=handle, error=error.response.get("error"))
        self._groups[handle] = (time.monotonic(), members)
        return members


def register(app: AsyncApp, deps: SlackDeps) -> None:
    permission = RunPermission(app.client)

    async def on_complete(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        who = Requester.from_body(body)
        skipped = action.get("action_id") == StepAction.SKIP

        async def work(session: AsyncSession) -> str | None:
            change = await runs.complete(session, _step_run_id(action), actor=who.user, skipped=skipped)
            return None if change.changed else f"Already {change.step.status} by {mention(change.step.actor)}."

        await guarded(deps.db, who, work)

    async def on_run(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()  # the run itself happens in the background, after this answer (issue 3)
        who = Requester.from_body(body)

        async def work(session: AsyncSession) -> str | None:
            step, playbook = await runs.get_step(session, _step_run_id(action))
            spec = runs.step_spec(playbook.spec, step.step_id)
            incident = await service.get_by_id(session, step.incident_id)
            if not await permission.allowed(list(spec.get("run_by") or []), who.user, incident.commander):
                allowed = ", ".join(spec.get("run_by") or [])
                raise InvalidInput(f"Only {allowed} may run this step.")
            change = await runs.request_run(session, step.id or 0, actor=who.user)
            return None if change.changed else f"This step is already {change.step.status}."

        await guarded(deps.db, who, work)

    async def on_input(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        who = Requester.from_body(body)

        async def build() -> dict[str, Any]:
            async with deps.db.session() as session:  # read-only and quick
                step, playbook = await runs.get_step(session, _step_run_id(action))
            return input_modal(step, runs.step_spec(playbook.spec, step.step_id), who.channel)

        await open_modal(deps.db, client, body, who, build)

    async def on_link(ack: AsyncAck) -> None:
        await ack()

    for action_id in (StepAction.DONE, StepAction.SKIP):
        app.action(action_id)(on_complete)
    for action_id in (StepAction.RUN, StepAction.RETRY):
        app.action(action_id)(on_run)
    app.action(StepAction.INPUT)(on_input)
    app.action(StepAction.LINK)(on_link)

    @app.view(CallbackId.STEP_INPUT)
    async def on_input_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        value = str(((values.get(STEP_INPUT_FIELD) or {}).get(STEP_INPUT_FIELD) or {}).get("value") or "")
        metadata = str(view.get("private_metadata") or "").split(":")
        step_run_id = int(metadata[0]) if metadata and metadata[0].isdigit() else 0
        user = str((body.get("user") or {}).get("id") or "")
        channel = metadata[1] if len(metadata) > 1 and metadata[1] else None
        who = Requester(user=user, channel=channel, response_url=None)
        try:
            async with deps.db.transaction() as session:
                change = await runs.complete(session, step_run_id, actor=user, value=value)
        except InvalidInput as error:
            # Shown under the field, keeping the form open (PROTOCOLS.md 1.6, response_action errors).
            await ack(response_action="errors", errors={STEP_INPUT_FIELD: str(error)[:150]})
            return
        except WarroomError as error:
            await ack()
            async with deps.db.transaction() as session:
                await reply(session, who, str(error))
            return
        await ack()
        if not change.changed:
            async with deps.db.transaction() as session:
                await reply(session, who, f"That step was already {change.step.status}.")
