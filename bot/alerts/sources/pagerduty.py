"""PagerDuty Webhooks v3 (PROTOCOLS.md 3): signature check, delivery key, and events into `Alert`s."""

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.alerts.models import Action, Alert, AlertStatus, Source
from bot.alerts.severity import severity_from
from bot.alerts.sources._common import (
    as_object,
    as_utc,
    first,
    key_text,
    links,
    parse_time,
    scalar_text,
    string_map,
    summary_of,
    text,
    title_text,
)
from bot.errors import InvalidInput

MAX_DELIVERY_KEY = 200

# Events whose `data` is the incident itself (PROTOCOLS.md 3.3).
INCIDENT_EVENTS = frozenset(
    {
        "incident.triggered",
        "incident.acknowledged",
        "incident.unacknowledged",
        "incident.escalated",
        "incident.delegated",
        "incident.reassigned",
        "incident.reopened",
        "incident.priority_updated",
        "incident.resolved",
        "incident.service_updated",
        "incident.incident_type.changed",
    }
)
_ACTIONS = {"incident.acknowledged": Action.ACKNOWLEDGE, "incident.resolved": Action.RESOLVE}
_URGENCY_SEVERITY = {"high": 2, "low": 3}
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


def verify(secrets: Sequence[str], body: bytes, header: str | None) -> bool:
    """Whether `X-PagerDuty-Signature` carries a `v1=` HMAC-SHA256 of `body` under any of `secrets`.

    The header lists one entry per active secret (`v1=ab12…,v1=cd34…`) so that secrets can be
    rotated; other versions and malformed entries are ignored. Empty secrets never verify anything.
    """
    if not header:
        return False
    expected = [
        hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode("ascii") for secret in secrets if secret
    ]
    for entry in header.split(","):
        version, _, signature = entry.strip().partition("=")
        signature = signature.strip().lower()
        if version.strip().lower() != "v1" or not _HEX_SHA256.fullmatch(signature):
            continue
        if any(hmac.compare_digest(digest, signature.encode("ascii")) for digest in expected):
            return True
    return False


def delivery_key(webhook_id_header: str | None, document: object, body: bytes) -> str:
    """What identifies a delivery across PagerDuty's retries: `X-Webhook-Id`, else the event id,
    else a hash of the body."""
    body_object = as_object(document)
    event = as_object(body_object.get("event")) if body_object is not None else None
    event_id = event.get("id") if event is not None else None
    key = first(text(webhook_id_header, MAX_DELIVERY_KEY), text(event_id, MAX_DELIVERY_KEY))
    return key or "sha256:" + hashlib.sha256(body).hexdigest()


def parse(document: object, *, received_at: datetime) -> list[Alert]:
    """The incident change one webhook reports, as at most one `Alert`.

    Events that are not about an incident we can identify (`pagey.ping`, `service.*`, event
    types added after this was written, an incident without an id) give `[]`.
    Raises `InvalidInput` unless the body is an object holding an `event` object.
    """
    body = as_object(document)
    event = as_object(body.get("event")) if body is not None else None
    if event is None:
        raise InvalidInput('PagerDuty body must be a JSON object with an "event" object')
    event_type = text(event.get("event_type"), 100) or ""
    data = as_object(event.get("data")) or {}
    observed_at = parse_time(event.get("occurred_at")) or as_utc(received_at)
    actor = summary_of(event.get("agent"), MAX_DELIVERY_KEY)
    if event_type in INCIDENT_EVENTS:
        return _incident_alert(event_type, data, event, observed_at=observed_at, actor=actor)
    if event_type in _NOTE_TITLES or event_type.startswith("incident.workflow."):
        return _note_alert(event_type, data, event, observed_at=observed_at, actor=actor)
    return []


def _incident_alert(
    event_type: str,
    incident: dict[str, Any],
    event: dict[str, Any],
    *,
    observed_at: datetime,
    actor: str | None,
) -> list[Alert]:
    incident_id = key_text(incident.get("id"))
    if incident_id is None:
        return []
    number = scalar_text(incident.get("number"), 20)
    priority = summary_of(incident.get("priority"))
    urgency = text(incident.get("urgency"), 20)
    labels = string_map(
        {
            "pagerduty_incident_number": number,
            "urgency": urgency,
            "incident_key": incident.get("incident_key"),
            "escalation_policy": summary_of(incident.get("escalation_policy")),
            "priority": priority,
        }
    )
    resolved = event_type == "incident.resolved"
    return [
        Alert(
            source=Source.PAGERDUTY,
            group_key=f"pagerduty:{incident_id}",
            fingerprint=incident_id,
            status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
            title=first(title_text(incident.get("title")), title_text(incident.get("summary")))
            or f"PagerDuty incident {number or incident_id}",
            severity=_severity(priority, urgency),
            service=summary_of(incident.get("service")),
            labels=labels,
            links=links([("PagerDuty incident", incident.get("html_url"))]),
            starts_at=parse_time(incident.get("created_at")),
            ends_at=observed_at if resolved else None,
            observed_at=observed_at,
            action=_ACTIONS.get(event_type, Action.NONE),
            actor=actor,
            opens=event_type in OPENING_EVENTS,
            raw=event,
        )
    ]


# Only these start an incident once PagerDuty's incident has been seen; the rest report on it.
OPENING_EVENTS = frozenset({"incident.triggered", "incident.reopened"})


def _severity(priority: str | None, urgency: str | None) -> int:
    by_priority = severity_from(priority, default=0)
    if by_priority:
        return by_priority
    return _URGENCY_SEVERITY.get((urgency or "").lower(), 3)


def _note_alert(
    event_type: str, data: dict[str, Any], event: dict[str, Any], *, observed_at: datetime, actor: str | None
) -> list[Alert]:
    """Something happened on an incident (a note, a responder, a status update): `data.incident`
    is only a reference, so the alert carries a sentence saying what happened, for the timeline."""
    incident = as_object(data.get("incident")) or {}
    incident_id = key_text(incident.get("id"))
    if incident_id is None:
        return []
    describe = _NOTE_TITLES.get(event_type, _workflow_title)
    message = first(text(data.get("content")), text(data.get("message")))
    return [
        Alert(
            source=Source.PAGERDUTY,
            group_key=f"pagerduty:{incident_id}",
            fingerprint=incident_id,
            status=AlertStatus.FIRING,
            title=title_text(describe(event_type, data)) or f"PagerDuty: {event_type}",
            service=summary_of(data.get("service")),
            annotations={"message": message} if message else {},
            links=links(
                [
                    ("PagerDuty incident", incident.get("html_url")),
                    ("Conference bridge", data.get("conference_url")),
                ]
            ),
            observed_at=observed_at,
            action=Action.NOTE,
            actor=actor,
            raw=event,
        )
    ]


def _sentence(what: str, detail: str | None) -> str:
    return f"{what}: {detail}" if detail else what


def _responder(data: dict[str, Any]) -> str | None:
    return first(
        summary_of(data.get("user")),
        summary_of(data.get("responder")),
        summary_of(data.get("escalation_policy")),
    )


def _responder_replied(_: str, data: dict[str, Any]) -> str:
    state = text(data.get("state"), 40)  # "accepted" or "declined"
    return _sentence(f"Responder {state}" if state else "Responder replied", _responder(data))


def _role_assigned(_: str, data: dict[str, Any]) -> str:
    role = first(summary_of(data.get("role")), text(data.get("role")))
    user = first(summary_of(data.get("user")), summary_of(data.get("assignee")))
    assigned = _sentence("Role assigned", role)
    return f"{assigned} to {user}" if user else assigned


def _workflow_title(event_type: str, data: dict[str, Any]) -> str:
    verb = event_type.removeprefix("incident.workflow.").replace("_", " ")
    return _sentence(f"Workflow {verb}", summary_of(data.get("incident_workflow")))


_NOTE_TITLES: dict[str, Callable[[str, dict[str, Any]], str]] = {
    "incident.annotated": lambda _, data: _sentence("Note added", text(data.get("content"))),
    "incident.responder.added": lambda _, data: _sentence("Responder requested", _responder(data)),
    "incident.responder.replied": _responder_replied,
    "incident.status_update_published": lambda _, data: _sentence("Status update published", text(data.get("message"))),
    "incident.conference_bridge.updated": lambda _, data: _sentence(
        "Conference bridge updated", text(data.get("conference_url"))
    ),
    "incident.role.assigned": _role_assigned,
    "incident.custom_field_values.updated": lambda _, __: "Custom fields updated",
}
