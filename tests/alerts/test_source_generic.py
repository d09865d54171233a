"""Warroom's generic JSON alert format into alerts."""

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.models import Action, Alert, AlertStatus, Source
from bot.alerts.sources import generic
from bot.errors import InvalidInput


def parse(document: object, received_at: datetime) -> list[Alert]:
    return generic.parse(document, received_at=received_at)


def test_every_documented_field(received_at: datetime, check_alert: Callable[[Alert], None]) -> None:
    document = {
        "title": "  Checkout error rate above 5%  ",
        "dedup_key": "checkout-errors",
        "status": "firing",
        "severity": "critical",
        "service": "checkout",
        "labels": {"region": "eu-west-1", "replicas": 3, "canary": False},
        "annotations": {"description": "5xx ratio 7.2%"},
        "links": [
            {"title": "Dashboard", "url": "https://grafana.example.com/d/checkout"},
            "https://runbooks.example.com/checkout",
        ],
        "timestamp": "2024-05-06T09:08:07.654321+02:00",
    }
    (alert,) = parse(document, received_at)
    check_alert(alert)
    assert alert.source is Source.GENERIC
    assert alert.group_key == "generic:checkout-errors"
    assert alert.fingerprint == "checkout-errors"
    assert alert.status is AlertStatus.FIRING
    assert alert.title == "Checkout error rate above 5%"
    assert alert.severity == 1
    assert alert.service == "checkout"
    assert alert.labels == {"region": "eu-west-1", "replicas": "3", "canary": "false"}
    assert alert.annotations == {"description": "5xx ratio 7.2%"}
    assert alert.links == [
        {"title": "Dashboard", "url": "https://grafana.example.com/d/checkout"},
        {"title": "Link", "url": "https://runbooks.example.com/checkout"},
    ]
    assert alert.observed_at == datetime(2024, 5, 6, 7, 8, 7, 654321, tzinfo=UTC)
    assert alert.action is Action.NONE
    assert alert.raw == document


def test_defaults(received_at: datetime) -> None:
    (alert,) = parse({"title": "Disk full"}, received_at)
    canonical = json.dumps(["Disk full", None], separators=(",", ":")).encode()  # title and service
    expected_key = "sha256:" + hashlib.sha256(canonical).hexdigest()[:16]
    assert alert.fingerprint == expected_key
    assert alert.group_key == "generic:" + expected_key
    assert alert.status is AlertStatus.FIRING
    assert alert.severity == 3
    assert alert.service is None
    assert alert.labels == {}
    assert alert.annotations == {}
    assert alert.links == []
    assert alert.observed_at == received_at


def test_derived_dedup_key_depends_on_title_and_service(received_at: datetime) -> None:
    def key(document: dict[str, Any]) -> str:
        return parse(document, received_at)[0].fingerprint

    assert key({"title": "Disk full"}) == key({"title": " Disk full ", "severity": 1})
    assert key({"title": "Disk full"}) != key({"title": "Disk full", "service": "db"})
    assert key({"title": "ab", "service": "c"}) != key({"title": "a", "service": "bc"})


@pytest.mark.parametrize(
    ("dedup_key", "fingerprint"),
    [(12345, "12345"), ("  spaced  ", "spaced"), ("", None), (None, None), (["k"], None), (True, None)],
)
def test_dedup_key_values(received_at: datetime, dedup_key: object, fingerprint: str | None) -> None:
    (alert,) = parse({"title": "Disk full", "dedup_key": dedup_key}, received_at)
    if fingerprint is None:
        assert alert.fingerprint.startswith("sha256:")
    else:
        assert alert.fingerprint == fingerprint


@pytest.mark.parametrize(
    ("status", "expected"),
    [(None, AlertStatus.FIRING), ("resolved", AlertStatus.RESOLVED), (" Resolved ", AlertStatus.RESOLVED)],
)
def test_status(received_at: datetime, status: object, expected: AlertStatus) -> None:
    assert parse({"title": "t", "status": status}, received_at)[0].status is expected


@pytest.mark.parametrize("status", ["ok", "", "acknowledged", 1, True, ["firing"], {"s": "firing"}])
def test_unknown_status_is_invalid(received_at: datetime, status: object) -> None:
    with pytest.raises(InvalidInput, match='"status" must be "firing" or "resolved"'):
        parse({"title": "t", "status": status}, received_at)


@pytest.mark.parametrize(
    ("severity", "expected"), [(1, 1), (4, 4), (9, 4), ("warning", 3), ("P2", 2), ("bogus", 3), (None, 3)]
)
def test_severity(received_at: datetime, severity: object, expected: int) -> None:
    assert parse({"title": "t", "severity": severity}, received_at)[0].severity == expected


@pytest.mark.parametrize("title", [None, "", "   ", 5, ["t"], {"t": 1}, True])
def test_title_is_required(received_at: datetime, title: object) -> None:
    with pytest.raises(InvalidInput, match='generic alert needs a non-empty "title"'):
        parse({"title": title}, received_at)
    with pytest.raises(InvalidInput, match='generic alert needs a non-empty "title"'):
        parse({"service": "x"}, received_at)


@pytest.mark.parametrize("field", ["labels", "annotations"])
@pytest.mark.parametrize("value", [[], ["a"], "a=b", 3, True])
def test_labels_and_annotations_must_be_objects(received_at: datetime, field: str, value: object) -> None:
    with pytest.raises(InvalidInput, match=f'generic alert "{field}" must be an object'):
        parse({"title": "t", field: value}, received_at)


def test_null_labels_and_annotations_mean_none(received_at: datetime) -> None:
    (alert,) = parse({"title": "t", "labels": None, "annotations": None}, received_at)
    assert alert.labels == {}
    assert alert.annotations == {}


def test_links_keep_http_urls_only(received_at: datetime) -> None:
    links = [
        "javascript:alert(1)",
        {"title": "XSS", "url": "JAVASCRIPT:alert(1)"},
        {"title": "No url"},
        {"url": "https://a.example.com"},
        {"title": ["bad"], "url": "https://b.example.com"},
        "",
        None,
        42,
        ["https://c.example.com"],
        "ftp://d.example.com",
        *[f"https://e.example.com/{i}" for i in range(20)],
    ]
    (alert,) = parse({"title": "t", "links": links}, received_at)
    assert alert.links[:3] == [
        {"title": "Link", "url": "https://a.example.com"},
        {"title": "Link", "url": "https://b.example.com"},
        {"title": "Link", "url": "https://e.example.com/0"},
    ]
    assert len(alert.links) == 10


@pytest.mark.parametrize("links", ["https://a.example.com", {"url": "https://a.example.com"}, 3])
def test_links_that_are_not_a_list_are_ignored(received_at: datetime, links: object) -> None:
    assert parse({"title": "t", "links": links}, received_at)[0].links == []


@pytest.mark.parametrize("timestamp", ["yesterday", 1_700_000_000, None, "0001-01-01T00:00:00Z"])
def test_unusable_timestamps_fall_back_to_arrival(received_at: datetime, timestamp: object) -> None:
    assert parse({"title": "t", "timestamp": timestamp}, received_at)[0].observed_at == received_at


def test_batch(received_at: datetime) -> None:
    alerts = parse(
        [{"title": "one", "dedup_key": "1"}, {"title": "two", "dedup_key": "2", "status": "resolved"}], received_at
    )
    assert [(alert.fingerprint, alert.status) for alert in alerts] == [
        ("1", AlertStatus.FIRING),
        ("2", AlertStatus.RESOLVED),
    ]
    assert parse([], received_at) == []
    assert len(parse([{"title": f"a{i}"} for i in range(1000)], received_at)) == 1000


def test_batch_limit(received_at: datetime) -> None:
    with pytest.raises(InvalidInput, match="at most 1000 alerts, not 1001"):
        parse([{"title": "t"}] * 1001, received_at)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([{"title": "ok"}, "not an object"], "item 1 of the batch: generic alert must be a JSON object"),
        ([{"title": "ok"}, {"title": ""}], 'item 1 of the batch: generic alert needs a non-empty "title"'),
        ([{"title": "t", "status": "nope"}], 'item 0 of the batch: generic alert "status" must be'),
        ([None], "item 0 of the batch"),
        ([[{"title": "nested"}]], "item 0 of the batch"),
    ],
)
def test_a_bad_item_rejects_the_batch_and_is_named(received_at: datetime, batch: list[Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse(batch, received_at)


@pytest.mark.parametrize("document", [None, "title", 3, 2.5, True])
def test_other_bodies_are_invalid(received_at: datetime, document: object) -> None:
    with pytest.raises(InvalidInput, match="generic alert body must be a JSON object or an array of objects"):
        parse(document, received_at)


def test_mentions_are_kept_verbatim(received_at: datetime) -> None:
    (alert,) = parse({"title": "<!channel> <!here> <@U123> *bold* & done", "service": "<!everyone>"}, received_at)
    assert alert.title == "<!channel> <!here> <@U123> *bold* & done"
    assert alert.service == "<!everyone>"
