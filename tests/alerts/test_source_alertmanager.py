"""Alertmanager webhook (version 4) into alerts (PROTOCOLS.md 4.1)."""

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.models import Action, Alert, AlertStatus, Source
from bot.alerts.sources import alertmanager
from bot.errors import InvalidInput

GENERATOR_URL = (
    "http://cobalt:9090/graph?g0.expr=avg+by%28host%29+%28sensors_temp_input%7Bfeature%3D~%22core_"
    "%5B0-9%5D%2B%22%7D%29+%3E+15&g0.tab=1"
)


def parse(document: object, received_at: datetime) -> list[Alert]:
    return alertmanager.parse(document, received_at=received_at)


def test_zulip_fixture(
    fixture_json: Callable[[str], Any], received_at: datetime, check_alert: Callable[[Alert], None]
) -> None:
    document = fixture_json("alertmanager_webhook_v4.json")
    alerts = parse(document, received_at)
    assert [alert.fingerprint for alert in alerts] == ["a1bc48475b20e73d", "c2ea85182f28cbd9"]
    for alert, raw in zip(alerts, document["alerts"], strict=True):
        check_alert(alert)
        assert alert.source is Source.ALERTMANAGER
        assert alert.group_key == "alertmanager:{}/{}:{}"
        assert alert.status is AlertStatus.FIRING
        assert alert.title == "High CPU core temperature"
        assert alert.severity == 1  # severity="critical"
        assert alert.service is None  # no service, job or namespace label
        assert alert.labels == {"alertname": "High CPU Temperature", "host": "andromeda", "severity": "critical"}
        assert alert.links == [
            {"title": "Source", "url": GENERATOR_URL},
            {"title": "Alertmanager", "url": "http://ops1:9093/#/alerts"},
        ]
        assert alert.starts_at == datetime(2020, 2, 6, 0, 17, 58, 432911, tzinfo=UTC)
        assert alert.ends_at is None  # Go's zero time
        assert alert.observed_at == alert.starts_at
        assert alert.action is Action.NONE
        assert alert.actor is None
        assert alert.raw == raw
    assert alerts[0].annotations == {
        "description": "CPU core temperature is 34.75C",
        "topic": "andromeda",
        "summary": "High CPU core temperature",
    }
    assert alerts[1].annotations["description"] == "CPU core temperature is 17.625C"


def test_msteams_fixture_without_status_fingerprint_or_generator_url(
    fixture_json: Callable[[str], Any], received_at: datetime, check_alert: Callable[[Alert], None]
) -> None:
    (alert,) = parse(fixture_json("alertmanager_webhook_v4_msteams.json"), received_at)
    check_alert(alert)
    labels = {
        "alertname": "high_memory_load",
        "instance": "instance-with-hyphen_and_underscore",
        "job": "docker_nodes",
        "monitor": "master",
        "severity": "warning",
    }
    assert alert.labels == labels
    assert alert.group_key == 'alertmanager:{}:{alertname="high_memory_load"}'
    # No fingerprint: derived from the labels, and stable across releases (it identifies the alert).
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":")).encode()
    assert alert.fingerprint == "sha256:" + hashlib.sha256(canonical).hexdigest()[:16]
    assert alert.fingerprint == "sha256:ae308ab9ec2ef1a0"
    assert alert.status is AlertStatus.FIRING  # from the top-level status
    assert alert.title == "Server High Memory usage"
    assert alert.severity == 3
    assert alert.service == "docker_nodes"  # the job label
    assert alert.annotations == {
        "description": "10.80.40.11 reported high memory usage with 23.28%.",
        "summary": "Server High Memory usage",
        "runbook": "https://github.com/bzon/prometheus-msteams",  # from commonAnnotations
    }
    assert alert.links == [
        {"title": "Alertmanager", "url": "http://docker.for.mac.host.internal:9093/#/alerts"},
        {"title": "Runbook", "url": "https://github.com/bzon/prometheus-msteams"},
    ]
    assert alert.starts_at == datetime(2018, 3, 7, 11, 33, 21, 873077, tzinfo=UTC)  # was -05:00
    assert alert.ends_at is None


def notification(*alerts: object, **top: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": '{}:{alertname="Disk"}',
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"alertname": "Disk"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "https://am.example.com/",
        "alerts": list(alerts),
    }
    return body | top


def test_resolved_alert_is_observed_when_it_ended(received_at: datetime) -> None:
    raw = {
        "status": "resolved",
        "labels": {"alertname": "Disk"},
        "startsAt": "2023-01-01T10:00:00.123456789Z",
        "endsAt": "2023-01-01T11:30:00.987654321+01:00",
    }
    (alert,) = parse(notification(raw, status="resolved"), received_at)
    assert alert.status is AlertStatus.RESOLVED
    assert alert.starts_at == datetime(2023, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert alert.ends_at == datetime(2023, 1, 1, 10, 30, 0, 987654, tzinfo=UTC)
    assert alert.observed_at == alert.ends_at


@pytest.mark.parametrize(
    ("raw", "top_status", "status", "observed"),
    [
        ({"status": "resolved"}, "firing", AlertStatus.RESOLVED, "received"),
        ({"status": "bogus"}, "resolved", AlertStatus.RESOLVED, "received"),
        ({"status": ["firing"]}, None, AlertStatus.FIRING, "received"),
        ({"status": "FIRING", "startsAt": "2023-01-01T10:00:00Z"}, "resolved", AlertStatus.FIRING, "start"),
        ({}, 42, AlertStatus.FIRING, "received"),
    ],
)
def test_status_falls_back_to_the_notification_then_firing(
    received_at: datetime, raw: dict[str, Any], top_status: object, status: AlertStatus, observed: str
) -> None:
    (alert,) = parse(notification(raw, status=top_status), received_at)
    assert alert.status is status
    expected = datetime(2023, 1, 1, 10, tzinfo=UTC) if observed == "start" else received_at
    assert alert.observed_at == expected


@pytest.mark.parametrize(
    ("raw", "common", "title"),
    [
        ({"annotations": {"summary": "From summary", "title": "From title"}}, {}, "From summary"),
        ({"annotations": {"title": "From title"}}, {"summary": "Common"}, "From title"),
        (
            {"labels": {"alertname": "DiskFull", "instance": "db-1:9100"}},
            {"summary": "Common"},
            "DiskFull on db-1:9100",
        ),
        ({"labels": {"alertname": "DiskFull"}}, {}, "DiskFull"),
        ({"labels": {"instance": "db-1"}}, {"summary": "Common summary"}, "Common summary"),
        ({}, {}, "Alertmanager alert"),
        ({"annotations": {"summary": "  "}, "labels": {"alertname": 5}}, {}, "5"),
        ({"annotations": {"summary": "<!channel> disk <@U1|x>"}}, {}, "<!channel> disk <@U1|x>"),
    ],
)
def test_title_fallbacks(received_at: datetime, raw: dict[str, Any], common: dict[str, str], title: str) -> None:
    (alert,) = parse(notification(raw, commonAnnotations=common), received_at)
    assert alert.title == title


@pytest.mark.parametrize(
    ("labels", "severity", "service"),
    [
        ({"severity": "critical", "service": "api", "job": "node"}, 1, "api"),
        ({"severity": "page", "job": "node", "namespace": "prod"}, 1, "node"),
        ({"priority": "P2", "namespace": "prod"}, 2, "prod"),
        ({"severity": "unknown-word", "priority": "4"}, 4, None),
        ({"severity": 2}, 2, None),
        ({}, 3, None),
    ],
)
def test_severity_and_service_from_labels(
    received_at: datetime, labels: dict[str, Any], severity: int, service: str | None
) -> None:
    (alert,) = parse(notification({"labels": labels}), received_at)
    assert alert.severity == severity
    assert alert.service == service


def test_annotations_merge_over_common_annotations_and_give_links(received_at: datetime) -> None:
    raw = {
        "annotations": {"summary": "Own", "runbook_url": "https://runbooks.example.com/disk"},
        "generatorURL": "https://prometheus.example.com/graph?g0.expr=up",
    }
    common = {"summary": "Common", "dashboard_url": "https://grafana.example.com/d/abc", "team": "storage"}
    (alert,) = parse(notification(raw, commonAnnotations=common), received_at)
    assert alert.annotations == {
        "summary": "Own",
        "runbook_url": "https://runbooks.example.com/disk",
        "dashboard_url": "https://grafana.example.com/d/abc",
        "team": "storage",
    }
    assert alert.links == [
        {"title": "Source", "url": "https://prometheus.example.com/graph?g0.expr=up"},
        {"title": "Alertmanager", "url": "https://am.example.com/#/alerts"},
        {"title": "Runbook", "url": "https://runbooks.example.com/disk"},
        {"title": "Dashboard", "url": "https://grafana.example.com/d/abc"},
    ]


def test_unsafe_links_are_dropped_and_text_kept(received_at: datetime) -> None:
    raw = {
        "annotations": {"runbook_url": "javascript:alert(1)", "dashboard": "data:text/html,x"},
        "generatorURL": "",
    }
    (alert,) = parse(notification(raw, externalURL="javascript:alert(1)//"), received_at)
    assert alert.links == []
    assert alert.annotations["runbook_url"] == "javascript:alert(1)"  # shown as text, escaped at display


def test_missing_group_key_falls_back_to_receiver_and_group_labels(received_at: datetime) -> None:
    document = notification({}, groupKey=None, receiver="web\\.hook", groupLabels={"b": "2", "a": 1})
    (alert,) = parse(document, received_at)
    assert alert.group_key == 'alertmanager:web\\.hook{"a":"1","b":"2"}'
    (same,) = parse(notification({}, groupKey="", receiver="web\\.hook", groupLabels={"a": "1", "b": "2"}), received_at)
    assert same.group_key == alert.group_key
    (bare,) = parse({"alerts": [{}]}, received_at)
    assert bare.group_key == "alertmanager:{}"


def test_numbers_in_labels_are_strings_and_sizes_are_bounded(
    received_at: datetime, check_alert: Callable[[Alert], None]
) -> None:
    labels: dict[str, Any] = {f"label{i}": i for i in range(300)}
    labels["nested"] = {"a": 1}
    raw = {
        "labels": labels,
        "annotations": {"summary": "S" * 100_000, "K" * 500: "V" * 50_000},
        "fingerprint": "f" * 10_000,
    }
    (alert,) = parse(notification(raw, groupKey="g" * 100_000), received_at)
    check_alert(alert)
    assert alert.labels["label7"] == "7"
    assert len(alert.labels) == 100
    assert len(alert.title) == 300
    assert alert.group_key.startswith("alertmanager:sha256:")
    assert alert.fingerprint.startswith("sha256:")


def test_non_object_alerts_are_skipped(received_at: datetime) -> None:
    alerts = parse(notification(None, 1, "x", [], {"labels": {"alertname": "Real"}}), received_at)
    assert [alert.title for alert in alerts] == ["Real"]
    assert parse(notification(), received_at) == []


@pytest.mark.parametrize(
    "document",
    [None, [], [{"alerts": []}], "alerts", 4, True, {}, {"alerts": None}, {"alerts": {}}, {"alerts": "[]"}],
)
def test_bodies_without_an_alerts_list_are_invalid(received_at: datetime, document: object) -> None:
    with pytest.raises(InvalidInput, match='Alertmanager body must be a JSON object with an "alerts" list'):
        parse(document, received_at)
