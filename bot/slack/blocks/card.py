"""The incident card (in its channel and, shorter, in the announce channel) and the channel topic."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.incidents.models import Incident, Status
from bot.slack.blocks.elements import button
from bot.slack.escape import escape, link, mention, truncate
from bot.slack.ids import ActionId

STATUS_EMOJI = {
    Status.TRIGGERED: ":red_circle:",
    Status.ACKNOWLEDGED: ":large_orange_circle:",
    Status.MITIGATED: ":large_yellow_circle:",
    Status.RESOLVED: ":large_green_circle:",
}
SEVERITY_LABEL = {1: "SEV1 (critical)", 2: "SEV2 (major)", 3: "SEV3 (minor)", 4: "SEV4 (low)"}
MAX_TOPIC = 250


@dataclass(frozen=True)
class CardFacts:
    """What the card shows beyond the incident row, read when the card is rendered."""

    firing: int = 0
    resolved: int = 0
    previous_number: int | None = None


def _date(at: datetime, fmt: str, fallback: str) -> str:
    """Slack renders `<!date^…>` in each reader's time zone, and `{ago}` keeps elapsed time live."""
    return f"<!date^{int(at.timestamp())}^{fmt}|{fallback}>"


def _elapsed(incident: Incident) -> str:
    if incident.resolved_at is not None:
        minutes = int((incident.resolved_at - incident.created_at).total_seconds() // 60)
        return (
            f"resolved after {minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"resolved after {minutes} min"
        )
    return "opened " + _date(incident.created_at, "{ago}", incident.created_at.strftime("%Y-%m-%d %H:%M UTC"))


def _status_text(incident: Incident) -> str:
    return f"{STATUS_EMOJI.get(Status(incident.status), '')} {incident.status.capitalize()}"


def fallback_text(incident: Incident) -> str:
    """Notification and screen-reader text sent with the blocks."""
    return escape(f"Incident #{incident.number}: {incident.title} (SEV{incident.severity}, {incident.status})")


def topic(incident: Incident) -> str:
    """conversations.setTopic is plain text, at most 250 characters, and Tier 2 (20 a minute).

    Only severity and title: the live card carries the status, so a storm of acknowledgements
    does not queue hundreds of topic calls behind Slack's rate limit.
    """
    return truncate(f"SEV{incident.severity} · {incident.title}", MAX_TOPIC)


def _actions(incident: Incident) -> dict[str, Any] | None:
    status = Status(incident.status)
    if status is Status.RESOLVED:
        return None
    value = str(incident.id)
    elements: list[dict[str, Any]] = []
    if status is Status.TRIGGERED:
        elements.append(button("Acknowledge", ActionId.ACKNOWLEDGE, value, style="primary"))
    if status in (Status.TRIGGERED, Status.ACKNOWLEDGED):
        elements.append(button("Mitigate", ActionId.MITIGATE, value))
    elements.append(
        button(
            "Resolve",
            ActionId.RESOLVE,
            value,
            style="danger",
            confirm={
                "title": {"type": "plain_text", "text": "Resolve this incident?"},
                "text": {
                    "type": "plain_text",
                    "text": f"Incident #{incident.number} will be marked resolved.",
                },
                "confirm": {"type": "plain_text", "text": "Resolve"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            },
        )
    )
    elements.append(_severity_select(incident))
    # A new block_id per version, so Slack never mixes state from an older rendering of the card.
    return {
        "type": "actions",
        "block_id": f"card_actions_{incident.id}_v{incident.version}",
        "elements": elements,
    }


def severity_options() -> list[dict[str, Any]]:
    return [{"text": {"type": "plain_text", "text": label}, "value": str(sev)} for sev, label in SEVERITY_LABEL.items()]


def _severity_select(incident: Incident) -> dict[str, Any]:
    options = severity_options()
    return {
        "type": "static_select",
        "action_id": ActionId.SEVERITY,
        "placeholder": {"type": "plain_text", "text": "Severity"},
        "options": options,
        "initial_option": options[incident.severity - 1],
    }


def card_blocks(incident: Incident, facts: CardFacts) -> list[dict[str, Any]]:
    fields = [
        f"*Status*\n{_status_text(incident)}",
        f"*Severity*\n{SEVERITY_LABEL.get(incident.severity, incident.severity)}",
        f"*Service*\n{escape(incident.service or '—')}",
        f"*Commander*\n{mention(incident.commander) if incident.commander else 'nobody yet'}",
        f"*Source*\n{escape(incident.source)}",
        f"*Elapsed*\n{_elapsed(incident)}",
    ]
    if incident.oncall:
        fields.append(f"*On call*\n{mention(incident.oncall)}")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(f"#{incident.number} {incident.title}", 150)},
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": truncate(f, 2000)} for f in fields]},
    ]
    context: list[str] = []
    if facts.firing or facts.resolved:
        context.append(f"Alerts: {facts.firing} firing, {facts.resolved} resolved")
    links = [link(item.get("url", ""), item.get("title", "link")) for item in incident.links[:5]]
    if links:
        context.append(" · ".join(links))
    if facts.previous_number is not None:
        context.append(f"Fired before: incident #{facts.previous_number}")
    if incident.summary:
        context.append(f"Summary: {escape(truncate(incident.summary, 500))}")
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(c, 3000)} for c in context]})
    actions = _actions(incident)
    if actions is not None:
        blocks.append(actions)
    return blocks


def announce_blocks(incident: Incident) -> list[dict[str, Any]]:
    """The short card for the announce channel: one line, a link to the channel, the same buttons."""
    where = f"<#{incident.channel_id}>" if incident.channel_id else "channel being created"
    line = (
        f"{STATUS_EMOJI.get(Status(incident.status), '')} *#{incident.number} {escape(incident.title)}*\n"
        f"SEV{incident.severity} · {incident.status} · {escape(incident.service or 'no service')} · {where}"
        f" · {_elapsed(incident)}"
    )
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": truncate(line, 3000)}}]
    actions = _actions(incident)
    if actions is not None:
        actions = {**actions, "block_id": f"announce_actions_{incident.id}_v{incident.version}"}
        blocks.append(actions)
    return blocks
