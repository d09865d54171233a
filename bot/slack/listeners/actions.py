"""Card buttons and the severity select: ack at once, then one conditional update."""

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInput
from bot.incidents import service
from bot.incidents.service import Transition
from bot.slack.ids import ActionId
from bot.slack.listeners.boundary import Requester, SlackDeps, guarded
from bot.slack.listeners.postmortem import WhysForm


def _incident_id(action: dict[str, Any]) -> int:
    value = str(action.get("value") or "")
    if not value.isdigit():
        raise InvalidInput("This button does not name an incident.")
    return int(value)


Move = Callable[..., Awaitable[Transition]]
BUTTONS: dict[ActionId, Move] = {
    ActionId.ACKNOWLEDGE: service.acknowledge,
    ActionId.MITIGATE: service.mitigate,
    ActionId.RESOLVE: service.resolve,
}


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def on_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        who = Requester.from_body(body)
        action_id = ActionId(action["action_id"])
        move = BUTTONS[action_id]
        resolved: list[int] = []

        async def work(session: AsyncSession) -> str | None:
            result = await move(session, _incident_id(action), actor=who.user)
            if result.changed:
                if action_id is ActionId.RESOLVE and result.incident.id is not None:
                    resolved.append(result.incident.id)
                return None  # the card itself shows the change
            # A second click, or someone else was faster: say so instead of doing it twice.
            return f"Incident *#{result.incident.number}* is already {result.incident.status}."

        form = WhysForm(client, deps, who.channel) if action_id is ActionId.RESOLVE else None
        if form is not None:
            await form.open(str(body.get("trigger_id") or ""))
        await guarded(deps.db, who, work)
        if form is not None:  # only the click that resolved it gets the questions
            await form.fill(resolved[0] if resolved else None)

    for action_id in BUTTONS:
        app.action(action_id)(on_button)

    @app.action(ActionId.SEVERITY)
    async def on_severity(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        who = Requester.from_body(body)

        async def work(session: AsyncSession) -> str | None:
            # The select lives in the card's actions block; its buttons carry the incident id.
            incident_id = _incident_id_from_block(body, action)
            value = str((action.get("selected_option") or {}).get("value") or "")
            if not value.isdigit():
                raise InvalidInput("Pick a severity from the list.")
            result = await service.set_severity(session, incident_id, int(value), actor=who.user)
            return None if result.changed else f"Incident *#{result.incident.number}* is already SEV{value}."

        await guarded(deps.db, who, work)


def _incident_id_from_block(body: dict[str, Any], action: dict[str, Any]) -> int:
    """block_id is `card_actions_<id>_v<version>` (or `announce_actions_…`)."""
    parts = str(action.get("block_id") or "").split("_")
    if len(parts) >= 4 and parts[-2].isdigit():
        return int(parts[-2])
    raise InvalidInput("This control does not name an incident.")
