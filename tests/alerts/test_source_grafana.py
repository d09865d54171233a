"""Grafana unified alerting webhook into alerts (PROTOCOLS.md 5)."""

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.models import Action, Alert, AlertStatus, Source
from bot.alerts.sources import grafana
from bot.errors import InvalidInput

V11 = "grafana_webhook_firing_v11.json"
V9_RESOLVED = "grafana_webhook_resolved_v9.json"


def parse(document: object, received_at: datetime) -> list[Alert]:
    return grafana.parse(document, received_at=received_at)


def test_v11_firing(
    fixture_json: Callable[[str], Any], received_at: datetime, check_alert: Callable[[Alert], None]
) -> None:
    document = fixture_json(V11)
    (alert,) = parse(document, received_at)
    check_alert(alert)
    assert alert.source is Source.GRAFANA
    assert alert.group_key == 'grafana:1:{}/{debug="true"}:{alertname="Memory (copy)", grafana_folder="device"}'
    assert alert.fingerprint == "e6349a25f5ef0e9e"
    assert alert.status is AlertStatus.FIRING
    assert alert.title == "High memory usage"
    assert alert.severity == 3
    assert alert.service == "device"  # grafana_folder
    assert alert.labels == {"alertname": "Memory (copy)", "debug": "true", "grafana_folder": "device"}
    assert alert.annotations == {"summary": "High memory usage"}
    dashboard = "https://play.grafana.org/d/ece9fb32-7f71-4be9-bd94-2f23608ae5b9?orgId=1"
    assert alert.links == [
        {
            "title": "Source",
            "url": "https://play.grafana.org/alerting/grafana/dd2f0260-3cfc-4c65-a4c4-f3f632c551f4/view?orgId=1",
        },
        {"title": "Dashboard", "url": dashboard},
        {"title": "Panel", "url": dashboard + "&viewPanel=2"},
        {
            "title": "Silence",
            "url": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DMemory"
            "+%28copy%29&matcher=debug%3Dtrue&matcher=grafana_folder%3Ddevice&orgId=1",
        },
        {"title": "Image", "url": "https://grafana.com/assets/img/blog/mixed_styles.png"},
    ]
    assert alert.starts_at == datetime(2024, 3, 1, 2, 9, tzinfo=UTC)
    assert alert.ends_at is None
    assert alert.observed_at == alert.starts_at
    assert alert.action is Action.NONE
    assert alert.raw == document["alerts"][0]


def test_v9_resolved_drops_no_value(
    fixture_json: Callable[[str], Any], received_at: datetime, check_alert: Callable[[Alert], None]
) -> None:
    (alert,) = parse(fixture_json(V9_RESOLVED), received_at)
    check_alert(alert)
    assert alert.group_key == 'grafana:1:{}/{test="true"}:{}'
    assert alert.fingerprint == "d8a21484c9c25a60"
    assert alert.status is AlertStatus.RESOLVED
    # The summary template failed ("failure on <no value>"): the placeholder goes, the text stays.
    assert alert.title == "This is a summary field, failure on"
    assert alert.annotations == {
        "description": "This is a description",
        "runbook_url": "https://example.com/",
        "summary": "This is a summary field, failure on",
    }
    assert all("<no value>" not in value for value in alert.annotations.values())
    assert alert.service is None
    assert alert.severity == 3
    # dashboardURL and panelURL are "" in this payload: no links for them.
    assert alert.links == [
        {"title": "Source", "url": "https://grafana.example.com/alerting/grafana/zTjxv_C7k/view"},
        {
            "title": "Silence",
            "url": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DTest"
            "+alert&matcher=test%3Dtrue",
        },
        {"title": "Runbook", "url": "https://example.com/"},
    ]
    assert alert.starts_at == datetime(2022, 6, 17, 0, 41, 0, 782137, tzinfo=UTC)
    assert alert.ends_at == datetime(2022, 6, 17, 0, 51, 24, 67337, tzinfo=UTC)
    assert alert.observed_at == alert.ends_at


def test_an_annotation_that_is_only_no_value_disappears(
    fixture_json: Callable[[str], Any], received_at: datetime
) -> None:
    document = fixture_json(V9_RESOLVED)
    document["alerts"][0]["annotations"] = {
        "summary": "<no value>",
        "description": " <no value> ",
        "runbook_url": "https://example.com/",
    }
    document["commonAnnotations"] = {"summary": "<no value>"}
    (alert,) = parse(document, received_at)
    assert alert.annotations == {"runbook_url": "https://example.com/"}
    assert alert.title == "Test alert"  # falls back to the alertname label


@pytest.mark.parametrize(
    ("org_id", "prefix"),
    [
        (1, "grafana:1:"),
        (42, "grafana:42:"),
        ("7", "grafana:7:"),
        (None, "grafana:0:"),
        ("x", "grafana:0:"),
        (True, "grafana:0:"),
        (-3, "grafana:0:"),
        (10**30, "grafana:0:"),
        ([1], "grafana:0:"),
    ],
)
def test_group_key_includes_the_organisation(
    fixture_json: Callable[[str], Any], received_at: datetime, org_id: object, prefix: str
) -> None:
    document = fixture_json(V11)
    document["orgId"] = org_id
    (alert,) = parse(document, received_at)
    assert alert.group_key == prefix + document["groupKey"]


def test_missing_org_id(fixture_json: Callable[[str], Any], received_at: datetime) -> None:
    document = fixture_json(V11)
    del document["orgId"]
    (alert,) = parse(document, received_at)
    assert alert.group_key.startswith("grafana:0:{}/")


def test_title_falls_back_to_rulename_and_service_prefers_the_service_label(received_at: datetime) -> None:
    document = {"alerts": [{"labels": {"rulename": "High latency", "grafana_folder": "api", "service": "checkout"}}]}
    (alert,) = parse(document, received_at)
    assert alert.title == "High latency"
    assert alert.service == "checkout"
    (bare,) = parse({"alerts": [{}]}, received_at)
    assert bare.title == "Grafana alert"


def test_unsafe_and_empty_grafana_urls_are_dropped(fixture_json: Callable[[str], Any], received_at: datetime) -> None:
    document = fixture_json(V11)
    raw = document["alerts"][0]
    raw.update(
        generatorURL=None,
        dashboardURL="javascript:alert(1)",
        panelURL="",
        silenceURL=["https://x.example.com"],
        imageURL="  https://img.example.com/a.png  ",
    )
    (alert,) = parse(document, received_at)
    assert alert.links == [{"title": "Image", "url": "https://img.example.com/a.png"}]


def test_values_of_any_shape_are_tolerated(fixture_json: Callable[[str], Any], received_at: datetime) -> None:
    document = fixture_json(V11)
    for values in (None, "A=1", [1, 2], {"A": {"nested": True}}):
        changed = copy.deepcopy(document)
        changed["alerts"][0]["values"] = values
        changed["alerts"][0]["valueString"] = values
        assert len(parse(changed, received_at)) == 1


@pytest.mark.parametrize("document", [None, [], "x", 1, {}, {"alerts": None}, {"alerts": {"a": 1}}, {"orgId": 1}])
def test_bodies_without_an_alerts_list_are_invalid(received_at: datetime, document: object) -> None:
    with pytest.raises(InvalidInput, match='Grafana body must be a JSON object with an "alerts" list'):
        parse(document, received_at)
