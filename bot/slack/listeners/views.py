"""Modal submissions: the declare form."""

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from bot.incidents import service
from bot.slack.ids import CallbackId, DeclareField
from bot.slack.listeners.boundary import Requester, SlackDeps, guarded


def _value(values: dict[str, Any], field: DeclareField) -> Any:
    element = (values.get(field) or {}).get(field) or {}
    if "selected_option" in element:
        return (element.get("selected_option") or {}).get("value")
    return element.get("value")


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.view(CallbackId.DECLARE)
    async def on_declare(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        title = str(_value(values, DeclareField.TITLE) or "").strip()
        if not title:
            # Validation answers within the 3 s, keeping the form open with the message on the field.
            await ack(response_action="errors", errors={DeclareField.TITLE: "Say in a few words what is happening."})
            return
        await ack()
        severity = str(_value(values, DeclareField.SEVERITY) or "3")
        service_name = str(_value(values, DeclareField.SERVICE) or "").strip() or None
        user = str((body.get("user") or {}).get("id") or "")
        who = Requester(user=user, channel=str(view.get("private_metadata") or "") or None, response_url=None)

        async def work(session: AsyncSession) -> str:
            incident, _ = await service.open_incident(
                session,
                title=title,
                source="slack",
                severity=int(severity) if severity.isdigit() else 3,
                service=service_name,
                declared_by=user,
                responders=list(deps.policy.responders),
            )
            return f"Declared incident *#{incident.number}*. Its channel is being created; you will be invited."

        await guarded(deps.db, who, work)
