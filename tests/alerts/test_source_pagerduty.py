"""PagerDuty Webhooks v3: signature, delivery key, and incident events into alerts (PROTOCOLS.md 3)."""

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.models import Action, Alert, AlertStatus, Source
from bot.alerts.sources import pagerduty
from bot.errors import InvalidInput

SIGNED_BODY = "pagerduty_v3_priority_updated_signed.body.json"

# ---------------------------------------------------------------------------------------- verify


@pytest.fixture
def vector(fixture_json: Callable[[str], Any], fixture_bytes: Callable[[str], bytes]) -> dict[str, Any]:
    values: dict[str, Any] = fixture_json("pagerduty_signature_test_vector.json")
    body = fixture_bytes(SIGNED_BODY)
    assert len(body) == 1655  # byte-exact: any reformatting breaks the signature
    return values | {"body": body}


def test_verify_accepts_the_valid_signature(vector: dict[str, Any]) -> None:
    assert pagerduty.verify([vector["secret"]], vector["body"], vector["x_pagerduty_signature_valid"])


def test_verify_rejects_the_non_matching_signature(vector: dict[str, Any]) -> None:
    assert not pagerduty.verify([vector["secret"]], vector["body"], vector["x_pagerduty_signature_mismatch"])


def test_verify_accepts_a_rotation_header_with_one_stale_entry(vector: dict[str, Any]) -> None:
    stale, valid = vector["x_pagerduty_signature_mismatch"], vector["x_pagerduty_signature_valid"]
    assert pagerduty.verify([vector["secret"]], vector["body"], f"{stale},{valid}")
    assert pagerduty.verify([vector["secret"]], vector["body"], f"{valid}, {stale}")
    assert not pagerduty.verify([vector["secret"]], vector["body"], f"{stale},{stale}")


def test_verify_tries_every_configured_secret(vector: dict[str, Any]) -> None:
    header = vector["x_pagerduty_signature_valid"]
    assert pagerduty.verify(["old-secret", vector["secret"]], vector["body"], header)
    assert not pagerduty.verify(["old-secret", "other-secret"], vector["body"], header)


def test_verify_rejects_a_changed_body(vector: dict[str, Any]) -> None:
    tampered = vector["body"].replace(b'"P1"', b'"P5"')
    assert tampered != vector["body"]
    assert not pagerduty.verify([vector["secret"]], tampered, vector["x_pagerduty_signature_valid"])


@pytest.mark.parametrize("header", [None, ""])
def test_verify_rejects_a_missing_header(vector: dict[str, Any], header: str | None) -> None:
    assert not pagerduty.verify([vector["secret"]], vector["body"], header)


def test_verify_rejects_everything_without_secrets(vector: dict[str, Any]) -> None:
    assert not pagerduty.verify([], vector["body"], vector["x_pagerduty_signature_valid"])
    # An empty secret is a configuration mistake; a signature under it is forgeable by anyone.
    forged = "v1=" + hmac.new(b"", vector["body"], hashlib.sha256).hexdigest()
    assert not pagerduty.verify([""], vector["body"], forged)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "v1",
        "v1=",
        ",,,",
        "v1=zz",
        "v1=0c0b9495",
        "v1=" + "0" * 64,
        "v1=é" + "0" * 63,
        "v1=\x00" + "0" * 63,
        "sha256=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd",
        "v2=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd",
        "v0=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd",
        "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd00",
        "v1==0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd",
        ("v1=" + "0" * 64 + ",") * 2000,
    ],
)
def test_verify_rejects_garbage_headers(vector: dict[str, Any], header: str) -> None:
    assert not pagerduty.verify([vector["secret"]], vector["body"], header)


def test_verify_ignores_malformed_entries_next_to_a_valid_one(vector: dict[str, Any]) -> None:
    header = "garbage, v2=abc, v1=zz ," + vector["x_pagerduty_signature_valid"]
    assert pagerduty.verify([vector["secret"]], vector["body"], header)


# ---------------------------------------------------------------------------------- delivery_key


def test_delivery_key_prefers_the_webhook_id_header() -> None:
    document = {"event": {"id": "01EVENT"}}
    assert pagerduty.delivery_key("  0a1b-webhook  ", document, b"{}") == "0a1b-webhook"
    assert len(pagerduty.delivery_key("w" * 5000, document, b"{}")) <= 200


@pytest.mark.parametrize("header", [None, "", "   "])
def test_delivery_key_falls_back_to_the_event_id(header: str | None) -> None:
    assert pagerduty.delivery_key(header, {"event": {"id": "01BZYIL05THJDFF2Y08X9SVMTU"}}, b"{}") == (
        "01BZYIL05THJDFF2Y08X9SVMTU"
    )


@pytest.mark.parametrize(
    "document", [None, [], "x", 3, {}, {"event": None}, {"event": {"id": None}}, {"event": {"id": ["x"]}}]
)
def test_delivery_key_falls_back_to_a_hash_of_the_body(document: object) -> None:
    body = b'{"event": {}}'
    assert pagerduty.delivery_key(None, document, body) == "sha256:" + hashlib.sha256(body).hexdigest()


# ---------------------------------------------------------------------------------------- parse


def parse_one(document: object, received_at: datetime) -> Alert:
    alerts = pagerduty.parse(document, received_at=received_at)
    assert len(alerts) == 1
    return alerts[0]


def test_triggered(
    fixture_json: Callable[[str], Any], received_at: datetime, check_alert: Callable[[Alert], None]
) -> None:
    document = fixture_json("pagerduty_v3_incident_triggered.json")
    alert = parse_one(document, received_at)
    check_alert(alert)
    assert alert.source is Source.PAGERDUTY
    assert alert.group_key == "pagerduty:PFQZPSY"
    assert alert.fingerprint == "PFQZPSY"
    assert alert.status is AlertStatus.FIRING
    assert alert.title == "Test Incident 3"
    assert alert.severity == 2  # no priority; urgency high
    assert alert.service == "pig208"
    assert alert.labels == {"pagerduty_incident_number": "9", "urgency": "high", "escalation_policy": "Default"}
    assert alert.annotations == {}
    assert alert.links == [{"title": "PagerDuty incident", "url": "https://pig208.pagerduty.com/incidents/PFQZPSY"}]
    assert alert.observed_at == datetime(2021, 6, 4, 13, 35, 29, 781000, tzinfo=UTC)
    assert alert.starts_at is None  # this payload has no created_at
    assert alert.ends_at is None
    assert alert.action is Action.NONE
    assert alert.actor == "PIG 208"
    assert alert.raw == document["event"]


def test_priority_updated_uses_the_priority_for_severity(
    fixture_json: Callable[[str], Any], received_at: datetime
) -> None:
    alert = parse_one(fixture_json(SIGNED_BODY), received_at)
    assert alert.group_key == "pagerduty:PGR0VU2"
    assert alert.title == "A little bump in the road"
    assert alert.severity == 1  # priority P1 outranks urgency high
    assert alert.service == "API Service"
    assert alert.labels["priority"] == "P1"
    assert alert.action is Action.NONE
    assert alert.actor == "Tenex Engineer"
    assert alert.observed_at == datetime(2021, 4, 26, 17, 36, 27, 458000, tzinfo=UTC)


def test_acknowledged_asks_to_acknowledge(fixture_json: Callable[[str], Any], received_at: datetime) -> None:
    alert = parse_one(fixture_json("pagerduty_v3_incident_acknowledged.json"), received_at)
    assert alert.group_key == "pagerduty:PQ1K5C8"
    assert alert.status is AlertStatus.FIRING
    assert alert.action is Action.ACKNOWLEDGE
    assert alert.actor == "PIG 208"
    assert alert.observed_at == datetime(2021, 6, 4, 13, 55, 30, 394000, tzinfo=UTC)


def test_resolved_resolves(fixture_json: Callable[[str], Any], received_at: datetime) -> None:
    alert = parse_one(fixture_json("pagerduty_v3_incident_resolved.json"), received_at)
    assert alert.group_key == "pagerduty:PCPZE64"
    assert alert.fingerprint == "PCPZE64"
    assert alert.status is AlertStatus.RESOLVED
    assert alert.action is Action.RESOLVE
    assert alert.title == "Test Incident"
    assert alert.observed_at == datetime(2021, 6, 4, 13, 16, 53, 816000, tzinfo=UTC)
    assert alert.ends_at == alert.observed_at


def test_service_updated_with_fourteen_character_id(fixture_json: Callable[[str], Any], received_at: datetime) -> None:
    alert = parse_one(fixture_json("pagerduty_v3_incident_service_updated.json"), received_at)
    assert alert.group_key == "pagerduty:Q3B15VLMF3ASBD"
    assert alert.fingerprint == "Q3B15VLMF3ASBD"
    assert alert.title == "Critical: Checkout API High Latency"
    assert alert.severity == 2  # priority P2
    assert alert.service == "APIs"
    assert alert.labels == {
        "pagerduty_incident_number": "5",
        "urgency": "high",
        "incident_key": "d387d7bd2e0a4294a5307339dfe1669a",
        "escalation_policy": "APIs-ep",
        "priority": "P2",
    }
    assert alert.starts_at == datetime(2026, 4, 1, 2, 7, 30, tzinfo=UTC)
    assert alert.action is Action.NONE


@pytest.mark.parametrize(
    ("name", "title", "annotations", "links", "actor", "service"),
    [
        (
            "pagerduty_v3_incident_responder_added.json",
            "Responder requested: Harsh Santwani",
            {"message": 'Please help with "Critical: Checkout API High Latency"'},
            [],
            "Harsh Santwani",
            None,
        ),
        (
            "pagerduty_v3_incident_responder_replied.json",
            "Responder accepted: Harsh Santwani",
            {
                "message": "Checking now. Investigating DB locks on cluster-01 and reviewing latency metrics"
                " in Datadog. Will update in 5 mins."
            },
            [],
            "Harsh Santwani",
            None,
        ),
        (
            "pagerduty_v3_incident_annotated.json",
            "Note added: Running KILL on long-running queries from the reporting-service.",
            {"message": "Running KILL on long-running queries from the reporting-service."},
            [],
            "Harsh Santwani",
            None,
        ),
        (
            "pagerduty_v3_incident_status_update_published.json",
            "Status update published: Investigating a P1 incident with the Checkout API in us-east-1."
            " Customers may see 504 errors or delays during purchase. We've identified a database lock and"
            " are working on a fix. Expected remediation within 30 minutes; next update at 08:15 UTC.",
            {
                "message": "Investigating a P1 incident with the Checkout API in us-east-1. Customers may see"
                " 504 errors or delays during purchase. We've identified a database lock and are working on"
                " a fix. Expected remediation within 30 minutes; next update at 08:15 UTC."
            },
            [],
            "Harsh Santwani",
            None,
        ),
        (
            "pagerduty_v3_incident_conference_bridge_updated.json",
            "Conference bridge updated: https://example.com/123-456-789",
            {},
            [{"title": "Conference bridge", "url": "https://example.com/123-456-789"}],
            "Harsh Santwani",
            None,
        ),
        (
            "pagerduty_v3_incident_workflow_completed.json",
            "Workflow completed: Incident WorkFlow",
            {},
            [],
            None,  # agent is null
            "APIs",
        ),
    ],
)
def test_wrapper_events_become_notes_on_the_incident(
    fixture_json: Callable[[str], Any],
    received_at: datetime,
    check_alert: Callable[[Alert], None],
    name: str,
    title: str,
    annotations: dict[str, str],
    links: list[dict[str, str]],
    actor: str | None,
    service: str | None,
) -> None:
    document = fixture_json(name)
    alert = parse_one(document, received_at)
    check_alert(alert)
    assert alert.source is Source.PAGERDUTY
    assert alert.action is Action.NOTE
    assert alert.status is AlertStatus.FIRING
    assert alert.group_key == "pagerduty:Q3B15VLMF3ASBD"
    assert alert.fingerprint == "Q3B15VLMF3ASBD"
    assert alert.title == title
    assert alert.annotations == annotations
    incident_link = {"title": "PagerDuty incident", "url": "https://harsh0303.pagerduty.com/incidents/Q3B15VLMF3ASBD"}
    assert alert.links == [incident_link, *links]
    assert alert.actor == actor
    assert alert.service == service
    assert alert.severity == 3
    assert alert.observed_at == datetime.fromisoformat(document["event"]["occurred_at"])


def event(event_type: object, data: object, **extra: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "01EVENT",
        "event_type": event_type,
        "resource_type": "incident",
        "occurred_at": "2024-05-06T07:08:09.123Z",
        "agent": {"type": "user_reference", "summary": "Ada Lovelace"},
        "client": None,
        "data": data,
    }
    return {"event": body | extra}


NOTE_CASES = [
    (
        "incident.role.assigned",
        {"role": {"summary": "Incident Commander"}, "user": {"summary": "Ada"}},
        "Role assigned: Incident Commander to Ada",
    ),
    ("incident.role.assigned", {"user": {"summary": "Ada"}}, "Role assigned to Ada"),
    ("incident.role.assigned", {}, "Role assigned"),
    ("incident.custom_field_values.updated", {}, "Custom fields updated"),
    (
        "incident.workflow.started",
        {"incident_workflow": {"summary": "Major incident"}},
        "Workflow started: Major incident",
    ),
    ("incident.workflow.started", {"incident_workflow": None}, "Workflow started"),
    ("incident.annotated", {"content": None}, "Note added"),
    ("incident.responder.added", {"escalation_policy": {"summary": "DB on-call"}}, "Responder requested: DB on-call"),
    ("incident.responder.replied", {"user": {"summary": "Ada"}, "state": None}, "Responder replied: Ada"),
    ("incident.status_update_published", {"message": ["not", "text"]}, "Status update published"),
    (
        "incident.conference_bridge.updated",
        {"conference_url": "javascript:alert(1)"},
        "Conference bridge updated: javascript:alert(1)",
    ),
]


@pytest.mark.parametrize(("event_type", "data", "title"), NOTE_CASES)
def test_note_titles(
    received_at: datetime,
    check_alert: Callable[[Alert], None],
    event_type: str,
    data: dict[str, Any],
    title: str,
) -> None:
    incident = {"id": "PABC123", "type": "incident_reference", "html_url": "javascript:alert(1)"}
    alert = parse_one(event(event_type, data | {"incident": incident}), received_at)
    check_alert(alert)
    assert alert.title == title
    assert alert.action is Action.NOTE
    assert alert.links == []  # the javascript: URLs are dropped, the title keeps the text
    assert alert.group_key == "pagerduty:PABC123"


@pytest.mark.parametrize(
    "event_type",
    [
        "pagey.ping",
        "service.updated",
        "service.created",
        "incident.task.created",
        "incident.future_event_type",
        "incident",
        "incident.",
        "",
        None,
        7,
        ["incident.triggered"],
    ],
)
def test_other_event_types_are_ignored(received_at: datetime, event_type: object) -> None:
    data = {"id": "PABC123", "type": "incident", "title": "x", "incident": {"id": "PABC123"}}
    assert pagerduty.parse(event(event_type, data), received_at=received_at) == []


def test_unsupported_fixture_is_ignored(fixture_json: Callable[[str], Any], received_at: datetime) -> None:
    assert pagerduty.parse(fixture_json("pagerduty_v3_incident_unsupported.json"), received_at=received_at) == []


@pytest.mark.parametrize(
    "document",
    [
        event("incident.triggered", None),
        event("incident.triggered", []),
        event("incident.triggered", "PABC123"),
        event("incident.triggered", {"title": "no id"}),
        event("incident.triggered", {"id": ""}),
        event("incident.triggered", {"id": "   "}),
        event("incident.triggered", {"id": 12345}),
        event("incident.resolved", {"id": {"nested": "PABC123"}}),
        event("incident.annotated", {"content": "note"}),
        event("incident.annotated", {"incident": None, "content": "note"}),
        event("incident.annotated", {"incident": "PABC123"}),
        event("incident.annotated", {"incident": {"summary": "no id"}}),
        event("incident.workflow.completed", None),
    ],
)
def test_incident_events_without_an_incident_id_are_ignored(received_at: datetime, document: object) -> None:
    assert pagerduty.parse(document, received_at=received_at) == []


@pytest.mark.parametrize(
    "document", [None, [], [{"event": {}}], "event", 0, 1.5, True, {}, {"event": None}, {"event": []}, {"event": "x"}]
)
def test_bodies_without_an_event_object_are_invalid(received_at: datetime, document: object) -> None:
    with pytest.raises(InvalidInput, match='PagerDuty body must be a JSON object with an "event" object'):
        pagerduty.parse(document, received_at=received_at)


def test_fallbacks_when_optional_fields_are_missing(
    received_at: datetime, check_alert: Callable[[Alert], None]
) -> None:
    alert = parse_one(event("incident.triggered", {"id": "PXYZ"}, occurred_at=None, agent=None), received_at)
    check_alert(alert)
    assert alert.title == "PagerDuty incident PXYZ"
    assert alert.severity == 3
    assert alert.service is None
    assert alert.labels == {}
    assert alert.links == []
    assert alert.observed_at == received_at
    assert alert.actor is None


@pytest.mark.parametrize(
    ("data", "title"),
    [
        ({"id": "PXYZ", "summary": "From the summary"}, "From the summary"),
        ({"id": "PXYZ", "title": "   ", "summary": "From the summary"}, "From the summary"),
        ({"id": "PXYZ", "title": ["x"], "number": 42}, "PagerDuty incident 42"),
        ({"id": "PXYZ", "title": "<!channel> DB down <@U123>"}, "<!channel> DB down <@U123>"),
        ({"id": "PXYZ", "title": "line one\nline two"}, "line one line two"),
    ],
)
def test_title_fallbacks(received_at: datetime, data: dict[str, Any], title: str) -> None:
    assert parse_one(event("incident.triggered", data), received_at).title == title


@pytest.mark.parametrize(
    ("priority", "urgency", "severity"),
    [
        ({"summary": "P1"}, "low", 1),
        ({"summary": "P3"}, "high", 3),
        ({"summary": "P5"}, "high", 4),
        ({"summary": "Custom name"}, "high", 2),
        (None, "high", 2),
        (None, "low", 3),
        (None, "HIGH", 2),
        (None, None, 3),
        ("P1", 7, 3),
        ([{"summary": "P1"}], "sideways", 3),
    ],
)
def test_severity_from_priority_then_urgency(
    received_at: datetime, priority: object, urgency: object, severity: int
) -> None:
    alert = parse_one(
        event("incident.triggered", {"id": "PXYZ", "priority": priority, "urgency": urgency}), received_at
    )
    assert alert.severity == severity


def test_wrong_types_everywhere_are_ignored(received_at: datetime, check_alert: Callable[[Alert], None]) -> None:
    data = {
        "id": "PXYZ",
        "title": {"nested": "x"},
        "number": {"a": 1},
        "service": "not a reference",
        "escalation_policy": [],
        "priority": "P1",
        "urgency": 5,
        "incident_key": ["k"],
        "html_url": "javascript:alert(document.cookie)",
        "created_at": 1_700_000_000,
    }
    alert = parse_one(event("incident.acknowledged", data, occurred_at="not a time", agent="someone"), received_at)
    check_alert(alert)
    assert alert.title == "PagerDuty incident PXYZ"
    assert alert.service is None
    assert alert.labels == {}
    assert alert.links == []
    assert alert.starts_at is None
    assert alert.observed_at == received_at
    assert alert.actor is None
    assert alert.action is Action.ACKNOWLEDGE


def test_huge_values_are_bounded(received_at: datetime, check_alert: Callable[[Alert], None]) -> None:
    data = {
        "id": "P" * 1000,
        "title": "T" * 1_000_000,
        "incident_key": "K" * 100_000,
        "service": {"summary": "S" * 100_000},
    }
    alert = parse_one(event("incident.triggered", data, agent={"summary": "A" * 100_000}), received_at)
    check_alert(alert)
    assert len(alert.title) == 300
    assert alert.title.endswith("…")
    assert alert.group_key.startswith("pagerduty:sha256:")
    assert alert.fingerprint == alert.group_key.removeprefix("pagerduty:")
    assert alert.actor is not None
    assert len(alert.actor) <= 200
