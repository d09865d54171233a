"""Fixtures for the alert-source tests: payload files, a fixed arrival time, and an `Alert` checker."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.models import Action, Alert, AlertStatus, Source

# Copies kept in the repository, so the tests run anywhere (tests/fixtures/SOURCES-alerts.md).
FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def received_at() -> datetime:
    return datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    """The exact bytes of a payload file (what was on the wire, for signatures)."""
    return lambda name: (FIXTURES / name).read_bytes()


@pytest.fixture
def fixture_json() -> Callable[[str], Any]:
    """A payload file as the intake layer hands it to a parser: `json.loads`-ed."""
    return lambda name: json.loads((FIXTURES / name).read_bytes())


def _check(alert: Alert) -> None:
    assert isinstance(alert, Alert)
    assert isinstance(alert.source, Source)
    assert isinstance(alert.status, AlertStatus)
    assert isinstance(alert.action, Action)
    for identifier in (alert.group_key, alert.fingerprint):
        assert isinstance(identifier, str)
        assert identifier
        assert len(identifier) <= 300
    assert isinstance(alert.title, str)
    assert alert.title
    assert alert.title == alert.title.strip()
    assert len(alert.title) <= 300
    assert isinstance(alert.severity, int)
    assert 1 <= alert.severity <= 4
    assert alert.service is None or (isinstance(alert.service, str) and 0 < len(alert.service) <= 2000)
    assert alert.actor is None or isinstance(alert.actor, str)
    for mapping in (alert.labels, alert.annotations):
        assert len(mapping) <= 100
        for key, value in mapping.items():
            assert isinstance(key, str)
            assert isinstance(value, str)
            assert 0 < len(key) <= 100
            assert 0 < len(value) <= 2000
            assert key == key.strip()
            assert value == value.strip()
    assert len(alert.links) <= 10
    for link in alert.links:
        assert set(link) == {"title", "url"}
        assert isinstance(link["title"], str)
        assert link["title"]
        assert link["url"].lower().startswith(("http://", "https://"))
    for moment in (alert.starts_at, alert.ends_at, alert.observed_at):
        assert moment is None or moment.tzinfo is UTC


@pytest.fixture
def check_alert() -> Callable[[Alert], None]:
    """Asserts the invariants every parser promises: types, bounds, UTC times, http(s) links."""
    return _check
