"""Text replies to commands: help, status, timeline, list, and the declare modal."""

from typing import Any

from bot.incidents.models import Incident, TimelineEvent
from bot.slack.blocks.card import SEVERITY_LABEL, STATUS_EMOJI, severity_options
from bot.slack.escape import escape, mention, truncate
from bot.slack.ids import CallbackId, DeclareField

HELP = """*`/incident` commands*
`/incident declare [title]` open an incident (no title opens a form)
`/incident status` where this incident stands
`/incident ack` acknowledge; the first to acknowledge becomes commander
`/incident sev <1-4>` set the severity (1 is the worst)
`/incident note <text>` add a note to the timeline (`cause:`, `lesson:`, `action:` file it in the postmortem)
`/incident why <text>` record a five-whys answer
`/incident mitigate` the impact has stopped
`/incident resolve [summary]` close the incident
`/incident runbook [id]` playbooks that match this incident, or attach one
`/incident timeline` the timeline so far
`/incident postmortem` draft the postmortem now, or re-draft it from the timeline
`/incident actions` open action items (of this incident, or of all)
`/incident list` open incidents
`/incident help` this help
Inside an incident channel the commands act on that incident; elsewhere name it: `/incident status 12`.
React with :pushpin: to any message in an incident channel to put it on the timeline."""

MAX_REPLY = 3000
TIMELINE_LIMIT = 40


def _ts(incident_or_event_at: Any) -> str:
    epoch = int(incident_or_event_at.timestamp())
    return f"<!date^{epoch}^{{date_short}} {{time}}|{incident_or_event_at.strftime('%Y-%m-%d %H:%M UTC')}>"


def incident_line(incident: Incident) -> str:
    where = f" <#{incident.channel_id}>" if incident.channel_id else ""
    emoji = STATUS_EMOJI.get(incident.status, "")  # type: ignore[call-overload]
    return f"{emoji} *#{incident.number}* {escape(incident.title)} · SEV{incident.severity} · {incident.status}{where}"


def status_text(incident: Incident) -> str:
    commander = mention(incident.commander) if incident.commander else "nobody yet"
    lines = [
        incident_line(incident),
        f"Severity: {SEVERITY_LABEL.get(incident.severity)} · Service: {escape(incident.service or '—')}",
        f"Commander: {commander} · Opened {_ts(incident.created_at)}",
    ]
    if incident.oncall:
        lines.append(f"On call for {escape(incident.service or 'the service')}: {mention(incident.oncall)}")
    return truncate("\n".join(lines), MAX_REPLY)


def timeline_text(incident: Incident, events: list[TimelineEvent]) -> str:
    header = f"*Timeline of incident #{incident.number}* ({len(events)} events)"
    shown = events[-TIMELINE_LIMIT:]
    lines = [f"{_ts(e.at)} {mention(e.actor)}: {escape(truncate(e.text, 300))}" for e in shown]
    if len(events) > len(shown):
        lines.insert(0, f"_…{len(events) - len(shown)} earlier events not shown_")
    return truncate("\n".join([header, *lines]), MAX_REPLY)


def list_text(incidents: list[Incident]) -> str:
    if not incidents:
        return "No open incidents. :tada:"
    return truncate("*Open incidents*\n" + "\n".join(incident_line(i) for i in incidents), MAX_REPLY)


def declare_modal(channel_id: str | None) -> dict[str, Any]:
    options = severity_options()
    return {
        "type": "modal",
        "callback_id": CallbackId.DECLARE,
        "private_metadata": channel_id or "",
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": DeclareField.TITLE,
                "label": {"type": "plain_text", "text": "What is happening?"},
                "element": {"type": "plain_text_input", "action_id": DeclareField.TITLE, "max_length": 300},
            },
            {
                "type": "input",
                "block_id": DeclareField.SEVERITY,
                "label": {"type": "plain_text", "text": "Severity"},
                "element": {
                    "type": "static_select",
                    "action_id": DeclareField.SEVERITY,
                    "options": options,
                    "initial_option": options[2],
                },
            },
            {
                "type": "input",
                "block_id": DeclareField.SERVICE,
                "optional": True,
                "label": {"type": "plain_text", "text": "Affected service"},
                "element": {"type": "plain_text_input", "action_id": DeclareField.SERVICE, "max_length": 100},
            },
        ],
    }
