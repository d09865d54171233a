"""Every parser, fed hostile JSON: it returns well-formed alerts or raises InvalidInput, nothing else."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from bot.alerts.models import Alert
from bot.alerts.sources import alertmanager, generic, grafana, pagerduty
from bot.errors import InvalidInput

PARSERS: dict[str, Callable[..., list[Alert]]] = {
    "pagerduty": pagerduty.parse,
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "generic": generic.parse,
}

HUGE = "H" * 1_000_000
WRONG_TYPES: list[Any] = [None, True, -1, 2.5, "", "text", [], [None], {}, {"nested": {"deeper": [1]}}]


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"a": [value]}
    return value


def every_field(fields: list[str], value: Any) -> dict[str, Any]:
    return dict.fromkeys(fields, value)


PD_EVENT_FIELDS = ["id", "event_type", "resource_type", "occurred_at", "agent", "client", "data"]
PD_INCIDENT_FIELDS = [
    "id", "type", "html_url", "number", "status", "incident_key", "created_at", "title", "summary",
    "service", "assignees", "escalation_policy", "teams", "priority", "urgency", "conference_bridge",
]  # fmt: skip
PD_WRAPPER_FIELDS = [
    "incident", "content", "message", "user", "responder", "escalation_policy", "state", "role",
    "assignee", "conference_url", "incident_workflow", "service",
]  # fmt: skip
AM_TOP_FIELDS = [
    "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
    "commonAnnotations", "externalURL", "orgId", "title", "state", "message",
]  # fmt: skip
AM_ALERT_FIELDS = [
    "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint", "silenceURL",
    "dashboardURL", "panelURL", "imageURL", "values", "valueString",
]  # fmt: skip
GENERIC_OPTIONAL_FIELDS = ["dedup_key", "severity", "service", "links", "timestamp"]


def hostile_documents() -> list[Any]:
    documents: list[Any] = [*WRONG_TYPES, [[]], [{}], [1, "x"], "<!channel>", nested(200)]
    for value in [*WRONG_TYPES, HUGE, nested(200)]:
        documents += [
            # PagerDuty-shaped
            {"event": value},
            {"event": every_field(PD_EVENT_FIELDS, value)},
            {"event": {"event_type": "incident.triggered", "data": every_field(PD_INCIDENT_FIELDS, value)}},
            {
                "event": {
                    "event_type": "incident.triggered",
                    "data": every_field(PD_INCIDENT_FIELDS, value) | {"id": "P1"},
                }
            },
            {"event": {"event_type": "incident.annotated", "data": every_field(PD_WRAPPER_FIELDS, value)}},
            {
                "event": {
                    "event_type": "incident.responder.replied",
                    "data": every_field(PD_WRAPPER_FIELDS, value) | {"incident": {"id": "P1", "html_url": value}},
                }
            },
            # Alertmanager- and Grafana-shaped
            {"alerts": value},
            {"alerts": [value]},
            every_field(AM_TOP_FIELDS, value) | {"alerts": [{}]},
            {"alerts": [every_field(AM_ALERT_FIELDS, value)]},
            {"alerts": [{"labels": every_field(["alertname", "instance", "severity", "service"], value)}]},
            {"alerts": [{"annotations": every_field(["summary", "runbook_url", "dashboard"], value)}]},
            # generic-shaped
            {"title": value},
            {"title": "t"} | every_field(GENERIC_OPTIONAL_FIELDS, value),
            [{"title": "t"} | every_field(GENERIC_OPTIONAL_FIELDS, value)],
            {"title": "t", "links": [value, {"title": value, "url": value}]},
        ]
    documents += [
        {"title": HUGE, "labels": {f"k{i}": HUGE[:5000] for i in range(1000)}, "annotations": {HUGE: HUGE}},
        {"alerts": [{"labels": {f"k{i}": i for i in range(10_000)}, "annotations": {"summary": HUGE}}] * 50},
        {"title": "t", "links": [f"https://example.com/{i}" for i in range(10_000)]},
        {"title": "t", "links": ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:,x", "vbscript:x"]},
        [{"title": "t"}] * 1001,
    ]
    return documents


DOCUMENTS = hostile_documents()


@pytest.mark.parametrize("source", list(PARSERS))
@pytest.mark.parametrize("index", range(len(DOCUMENTS)))
def test_parsers_survive_hostile_documents(
    source: str, index: int, received_at: datetime, check_alert: Callable[[Alert], None]
) -> None:
    document = DOCUMENTS[index]
    try:
        alerts = PARSERS[source](document, received_at=received_at)
    except InvalidInput as error:
        assert 0 < len(str(error)) < 200  # a message for people, never an echo of the input
        return
    assert isinstance(alerts, list)
    for alert in alerts:
        check_alert(alert)
    assert PARSERS[source](document, received_at=received_at) == alerts  # deterministic


MENTION = "<!channel> <!here|here> <@U0123> <#C0456> & *bold*"
MENTION_DOCUMENTS = {
    "pagerduty": {"event": {"event_type": "incident.triggered", "data": {"id": "P1", "title": MENTION}}},
    "alertmanager": {"alerts": [{"annotations": {"summary": MENTION}}]},
    "grafana": {"alerts": [{"annotations": {"summary": MENTION}}]},
    "generic": {"title": MENTION},
}


@pytest.mark.parametrize("source", list(PARSERS))
def test_titles_keep_mentions_verbatim_for_escaping_at_display(source: str, received_at: datetime) -> None:
    (alert,) = PARSERS[source](MENTION_DOCUMENTS[source], received_at=received_at)
    assert alert.title == MENTION
