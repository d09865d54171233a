"""The schedule file format: defaults, parsing of shifts, handoffs and restrictions, and what it refuses."""

from datetime import time, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from bot.oncall.schema import Handoff, Schedule, parse_shift
from tests.oncall.builders import A, B

LAYER: dict[str, Any] = {"members": [A, B], "shift": "1w", "handoff": "monday 09:00", "start": "2026-01-05"}


def schedule(**changes: Any) -> Schedule:
    data: dict[str, Any] = {"id": "platform", "channel": "#platform-oncall", "rotation": LAYER, **changes}
    return Schedule.model_validate({k: v for k, v in data.items() if v is not None})


def layer(**changes: Any) -> Schedule:
    return schedule(rotation={**LAYER, **changes})


def refused(fragment: str, **changes: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        schedule(**changes)
    messages = [e["msg"] for e in caught.value.errors()]
    assert any(fragment in m for m in messages), messages


def test_defaults() -> None:
    found = schedule()
    assert found.timezone == "UTC"
    assert found.note_lead == timedelta(minutes=30)
    assert found.services == ()
    assert found.pagerduty is None
    assert found.title == "platform"
    rotation = found.all_layers[0]
    assert (rotation.name, rotation.timezone, rotation.hours, rotation.days) == ("rotation", None, None, None)
    assert rotation.handoff == Handoff(weekday=0, at=time(9))
    assert found.layer_zone(rotation).key == "UTC"


def test_a_layer_zone_defaults_to_the_schedule_zone_and_may_differ() -> None:
    layers = [{**LAYER, "name": "a"}, {**LAYER, "name": "b", "timezone": "Asia/Tokyo"}]
    found = schedule(timezone="Europe/Berlin", rotation=None, layers=layers)
    assert [found.layer_zone(x).key for x in found.all_layers] == ["Europe/Berlin", "Asia/Tokyo"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1h", timedelta(hours=1)), ("12h", timedelta(hours=12)), ("1d", timedelta(days=1)), (" 2w ", timedelta(weeks=2))],
)
def test_shift_lengths(text: str, expected: timedelta) -> None:
    assert parse_shift(text) == expected


@pytest.mark.parametrize("text", ["0h", "9w", "30m", "1y", "h", 12])
def test_bad_shift(text: object) -> None:
    with pytest.raises(ValueError, match="shift"):
        parse_shift(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00", Handoff(at=time(9))),
        ("9:30", Handoff(at=time(9, 30))),
        ("monday 09:00", Handoff(weekday=0, at=time(9))),
        ("Sun 23:59", Handoff(weekday=6, at=time(23, 59))),
        ("friday 00:00", Handoff(weekday=4, at=time(0))),
    ],
)
def test_handoffs(text: str, expected: Handoff) -> None:
    assert Handoff.parse(text) == expected


@pytest.mark.parametrize("text", ["24:00", "9", "09:60", "monday", "someday 09:00", "mo 09:00", "monday 09:00 UTC"])
def test_bad_handoff(text: str) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        Handoff.parse(text)
    refused("cannot read", rotation={**LAYER, "handoff": text})


def test_weekday_handoff_needs_whole_weeks() -> None:
    refused("needs a shift of whole weeks", rotation={**LAYER, "shift": "12h"})
    refused("needs a shift of whole weeks", rotation={**LAYER, "shift": "10d"})
    assert layer(shift="2w").all_layers[0].shift == timedelta(weeks=2)
    assert layer(shift="12h", handoff="09:00").all_layers[0].handoff == Handoff(at=time(9))


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", "CEST"])
def test_bad_zone(name: str) -> None:
    refused("unknown time zone", timezone=name)
    refused("unknown time zone", rotation={**LAYER, "timezone": name})


def test_rotation_and_layers_both_or_neither() -> None:
    refused("not both", layers=[LAYER])
    refused("not both or neither", rotation=None)
    refused("unique", rotation=None, layers=[LAYER, LAYER])


@pytest.mark.parametrize("member", ["alice", "alice@", "@example.com", "<alice@example.com>", "u123", "#channel"])
def test_bad_member(member: str) -> None:
    refused("is not an email address or a Slack user id", rotation={**LAYER, "members": [A, member]})


def test_members_emails_lowercased_slack_ids_kept() -> None:
    found = layer(members=["Alice@Example.COM", "U024BE7LH", "W0ENTERPRISE"])
    assert found.all_layers[0].members == ("alice@example.com", "U024BE7LH", "W0ENTERPRISE")


def test_members_required() -> None:
    refused("at least 1", rotation={**LAYER, "members": []})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00-17:00", (time(9), time(17))),
        ("22:00-06:00", (time(22), time(6))),
        ("0:00-23:59", (time(0), time(23, 59))),
    ],
)
def test_hours(text: str, expected: tuple[time, time]) -> None:
    assert layer(hours=text).all_layers[0].hours == expected


@pytest.mark.parametrize(
    ("text", "fragment"), [("09:00-09:00", "empty"), ("09:00", "cannot read"), ("9-17", "cannot read")]
)
def test_bad_hours(text: str, fragment: str) -> None:
    refused(fragment, rotation={**LAYER, "hours": text})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("weekdays", (0, 1, 2, 3, 4)),
        ("Weekends", (5, 6)),
        (["fri", "mon", "monday"], (0, 4)),
        ("sunday", (6,)),
        ([0, 6], (0, 6)),
    ],
)
def test_days(value: object, expected: tuple[int, ...]) -> None:
    assert layer(days=value).all_layers[0].days == expected


@pytest.mark.parametrize("value", [[], ["funday"], [7], [True], "workdays"])
def test_bad_days(value: object) -> None:
    with pytest.raises(ValidationError):
        layer(days=value)


@pytest.mark.parametrize(
    ("value", "expected"), [(0, timedelta(0)), ("45m", timedelta(minutes=45)), ("2h", timedelta(hours=2))]
)
def test_note_lead(value: object, expected: timedelta) -> None:
    assert schedule(note_lead=value).note_lead == expected


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        # Whole-value patterns: each of these contains a valid value.
        ({"id": "Platform"}, "pattern"),
        ({"id": "platform team"}, "pattern"),
        ({"channel": "platform"}, "pattern"),
        ({"channel": "x#ops"}, "pattern"),
        ({"channel": "#ops!"}, "pattern"),
        ({"channel": "C0123ABC "}, "pattern"),
        ({"pagerduty": {"schedule": "xPABC123"}}, "pattern"),
        ({"note_lead": "soon"}, "lead time"),
        ({"pagerduty": {}}, "exactly one"),
        ({"pagerduty": {"schedule": "PABC123", "escalation_policy": "PDEF456"}}, "exactly one"),
        ({"pagerduty": {"schedule": "abc"}}, "pattern"),
        ({"colour": "blue"}, "Extra inputs"),
    ],
)
def test_other_refusals(changes: dict[str, Any], fragment: str) -> None:
    refused(fragment, **changes)


def test_pagerduty_source() -> None:
    found = schedule(pagerduty={"escalation_policy": "PABC123"})
    assert found.pagerduty is not None
    assert (found.pagerduty.schedule, found.pagerduty.escalation_policy) == (None, "PABC123")
