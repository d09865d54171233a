"""`/incident` sub-commands: ack at once, then one short transaction, then an ephemeral answer."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.alerts.models import AlertRow
from bot.errors import InvalidInput
from bot.incidents import service
from bot.incidents.models import EventKind, Incident, Status, TimelineEvent
from bot.playbooks import runs
from bot.playbooks.matcher import matching
from bot.postmortems import actions, review
from bot.postmortems.tables import ActionStatus
from bot.slack.blocks.replies import HELP, declare_modal, list_text, status_text, timeline_text
from bot.slack.escape import escape, mention
from bot.slack.listeners.boundary import Requester, SlackDeps, guarded
from bot.slack.listeners.postmortem import WhysForm
from bot.slack.listeners.targets import target_incident

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Command:
    deps: SlackDeps
    who: Requester
    args: list[str]
    rest: str  # everything after the sub-command, as typed
    resolved: list[int] = field(default_factory=list)  # set by `resolve` when this command resolved it


Handler = Callable[[AsyncSession, Command], Awaitable[str | None]]


async def _help(session: AsyncSession, cmd: Command) -> str:
    return HELP


async def _declare(session: AsyncSession, cmd: Command) -> str:
    incident, _ = await service.open_incident(
        session,
        title=cmd.rest,
        source="slack",
        declared_by=cmd.who.user,
        responders=list(cmd.deps.policy.responders),
    )
    return f"Declared incident *#{incident.number}*. Its channel is being created; you will be invited."


async def _status(session: AsyncSession, cmd: Command) -> str:
    incident, _ = await target_incident(session, cmd.who.channel, cmd.args)
    return status_text(incident)


def _transition_reply(incident: Incident, changed: bool, done: str) -> str:
    if changed:
        return f"Incident *#{incident.number}* {done}."
    return f"Nothing to do: incident *#{incident.number}* is {incident.status}."


async def _ack(session: AsyncSession, cmd: Command) -> str:
    incident, _ = await target_incident(session, cmd.who.channel, cmd.args)
    assert incident.id is not None
    result = await service.acknowledge(session, incident.id, actor=cmd.who.user)
    return _transition_reply(result.incident, result.changed, "acknowledged")


async def _mitigate(session: AsyncSession, cmd: Command) -> str:
    incident, _ = await target_incident(session, cmd.who.channel, cmd.args)
    assert incident.id is not None
    result = await service.mitigate(session, incident.id, actor=cmd.who.user)
    return _transition_reply(result.incident, result.changed, "is mitigated")


async def _resolve(session: AsyncSession, cmd: Command) -> str:
    incident, args = await target_incident(session, cmd.who.channel, cmd.args)
    assert incident.id is not None
    summary = " ".join(args) or None
    result = await service.resolve(session, incident.id, actor=cmd.who.user, summary=summary)
    if result.changed:
        cmd.resolved.append(incident.id)
    return _transition_reply(result.incident, result.changed, "is resolved")


async def _sev(session: AsyncSession, cmd: Command) -> str:
    incident, args = await target_incident(session, cmd.who.channel, cmd.args)
    assert incident.id is not None
    value = (args[0] if args else "").lower().removeprefix("sev")
    if not value.isdigit():
        raise InvalidInput("Give a severity from 1 (worst) to 4, e.g. `/incident sev 2`.")
    result = await service.set_severity(session, incident.id, int(value), actor=cmd.who.user)
    return _transition_reply(result.incident, result.changed, f"is now SEV{result.incident.severity}")


def _text_command(kind: EventKind, done: str) -> Handler:
    async def handler(session: AsyncSession, cmd: Command) -> str:
        incident, args = await target_incident(session, cmd.who.channel, cmd.args)
        assert incident.id is not None
        await service.add_note(session, incident.id, " ".join(args), actor=cmd.who.user, kind=kind)
        return f"{done} to the timeline of incident *#{incident.number}*."

    return handler


async def _runbook(session: AsyncSession, cmd: Command) -> str:
    """`runbook`: the playbooks that match this incident; `runbook <id>`: attach that one."""
    incident, args = await target_incident(session, cmd.who.channel, cmd.args)
    assert incident.id is not None
    available = {p.id: p for p in cmd.deps.policy.playbooks()}
    if args:
        playbook = available.get(args[0])
        if playbook is None:
            known = ", ".join(f"`{key}`" for key in sorted(available)) or "none (check PLAYBOOKS_DIR)"
            raise InvalidInput(f"There is no playbook `{escape(args[0])}`. Available: {known}.")
        spec = playbook.model_dump(mode="json", by_alias=True)
        if await runs.attach(session, incident.id, spec, actor=cmd.who.user) is None:
            return f"`{playbook.id}` is already attached to incident *#{incident.number}*."
        return f"Attached *{escape(playbook.title)}* to incident *#{incident.number}*; its checklist is on the way."
    alerts = (await session.execute(select(AlertRow).where(col(AlertRow.incident_id) == incident.id))).scalars()
    fitting = matching(available.values(), list(alerts))
    attached = {a.playbook_id for a in await runs.attached(session, incident.id)}
    shown = fitting or list(available.values())
    if not shown:
        return "No playbooks are loaded. Add YAML files to PLAYBOOKS_DIR (see docs/playbooks.md)."
    heading = "Playbooks matching this incident" if fitting else "No playbook matches its alerts; all playbooks"
    lines = [f"• `{p.id}` {escape(p.title)}" + (" _(attached)_" if p.id in attached else "") for p in shown]
    return "\n".join([f"*{heading}:*", *lines, "Attach one with `/incident runbook <id>`."])


async def _timeline(session: AsyncSession, cmd: Command) -> str:
    incident, _ = await target_incident(session, cmd.who.channel, cmd.args)
    stmt = (
        select(TimelineEvent)
        .where(col(TimelineEvent.incident_id) == incident.id)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    )
    return timeline_text(incident, list((await session.execute(stmt)).scalars()))


async def _postmortem(session: AsyncSession, cmd: Command) -> str:
    """`postmortem`: draft it now (or, when there is one, re-draft it from the timeline as it is now)."""
    incident, _ = await target_incident(session, cmd.who.channel, cmd.args)
    assert incident.id is not None
    setup = cmd.deps.postmortems
    if setup is None:
        raise InvalidInput("Postmortems are not set up in this Warroom.")
    postmortem, created = await review.ensure_draft(
        session, incident.id, template_dir=setup.template_dir, by=cmd.who.user
    )
    if not created:
        assert postmortem.id is not None
        version = await review.regenerate(session, postmortem.id, by=cmd.who.user, template_dir=setup.template_dir)
        return (
            f"Drafted version {version.number} of the postmortem of incident *#{incident.number}* from the "
            f"timeline as it is now: <{setup.links.url(incident.number)}|open it>."
        )
    return f"Drafted the postmortem of incident *#{incident.number}*: <{setup.links.url(incident.number)}|open it>."


async def _actions(session: AsyncSession, cmd: Command) -> str:
    """`actions`: open action items of this incident (in its channel), else of every incident;
    `actions done <id>` / `actions drop <id>` close one."""
    if cmd.args and cmd.args[0] in {"done", "drop"}:
        if len(cmd.args) != 2 or not cmd.args[1].isdigit():
            raise InvalidInput("Say which item: `/incident actions done 12` (ids are in `/incident actions`).")
        status = ActionStatus.DONE if cmd.args[0] == "done" else ActionStatus.DROPPED
        item = await actions.set_status(session, int(cmd.args[1]), status)
        if item is None:
            raise InvalidInput(f"There is no action item {cmd.args[1]}.")
        return f"Action item {item.id} ({escape(item.text)}) is {status}."
    incident = await service.find_by_channel(session, cmd.who.channel) if cmd.who.channel else None
    if incident is None and cmd.args:
        incident, _ = await target_incident(session, cmd.who.channel, cmd.args)
    items = await actions.open_items(session, incident.id if incident is not None else None)
    where = f"incident *#{incident.number}*" if incident is not None else "all incidents"
    if not items:
        return f"No open action items for {where}."
    numbers = {i.incident_id: i for i in items}
    by_incident = {
        row.id: row.number
        for row in (await session.execute(select(Incident).where(col(Incident.id).in_(list(numbers))))).scalars()
    }
    lines = [
        f"• `{i.id}` #{by_incident.get(i.incident_id, '?')} {escape(i.text)}"
        + (f" · {mention(i.owner)}" if i.owner else " · no owner")
        + (f" · due {i.due.isoformat()}" if i.due else "")
        for i in items[:40]
    ]
    more = f"\n…and {len(items) - 40} more" if len(items) > 40 else ""
    return f"*Open action items for {where}* ({len(items)})\n" + "\n".join(lines) + more


async def _list(session: AsyncSession, cmd: Command) -> str:
    stmt = (
        select(Incident).where(col(Incident.status) != Status.RESOLVED).order_by(col(Incident.number).desc()).limit(30)
    )
    return list_text(list((await session.execute(stmt)).scalars()))


HANDLERS: dict[str, Handler] = {
    "help": _help,
    "declare": _declare,
    "status": _status,
    "ack": _ack,
    "acknowledge": _ack,
    "sev": _sev,
    "severity": _sev,
    "note": _text_command(EventKind.NOTE, "Note added"),
    "why": _text_command(EventKind.WHY, "Five-whys answer added"),
    "mitigate": _mitigate,
    "resolve": _resolve,
    "timeline": _timeline,
    "runbook": _runbook,
    "postmortem": _postmortem,
    "actions": _actions,
    "list": _list,
}


async def _unknown(session: AsyncSession, cmd: Command) -> str:
    raise InvalidInput("I don't know that sub-command. `/incident help` lists them.")


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.command("/incident")
    async def incident_command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()  # within Slack's 3 s, before any database work (PROTOCOLS.md 1.2)
        text = str(body.get("text") or "").strip()
        sub, _, rest = text.partition(" ")
        sub = sub.lower() or "help"
        who = Requester.from_body(body)
        if sub == "declare" and not rest.strip():
            await _open_declare_modal(client, body, deps, who)
            return
        cmd = Command(deps=deps, who=who, args=rest.split(), rest=rest.strip())
        handler = HANDLERS.get(sub, _unknown)
        form = WhysForm(client, deps, who.channel) if sub == "resolve" else None
        if form is not None:
            await form.open(str(body.get("trigger_id") or ""))
        await guarded(deps.db, who, lambda session: handler(session, cmd))
        if form is not None:  # only the command that resolved it gets the questions
            await form.fill(cmd.resolved[0] if cmd.resolved else None)


async def _open_declare_modal(client: AsyncWebClient, body: dict[str, Any], deps: SlackDeps, who: Requester) -> None:
    """views.open straight away: the trigger_id dies 3 s after Slack sent it, too soon for the outbox."""
    try:
        await client.views_open(trigger_id=body.get("trigger_id", ""), view=declare_modal(who.channel))
    except SlackApiError as error:
        log.warning("declare_modal_failed", error=error.response.get("error"))
        message = "I could not open the form in time. Try again, or give a title: `/incident declare DB is down`."

        async def explain(session: AsyncSession) -> str:
            return message

        await guarded(deps.db, who, explain)
