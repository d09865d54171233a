"""`/oncall override` windows: lengths from now, date ranges in the schedule's zone, and clear refusals."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import InvalidInput
from bot.oncall.windows import parse_length, parse_window

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("4h", timedelta(hours=4)),
        ("90m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
    ],
)
def test_lengths(text: str, length: timedelta) -> None:
    assert parse_length(text) == length
    assert parse_window([text], BERLIN, NOW) == (NOW, NOW + length)


@pytest.mark.parametrize("text", ["", "h", "4", "4x", "-4h", "4h 2m", "soon", "0h"])
def test_unreadable_or_empty_lengths_are_refused_with_the_usage(text: str) -> None:
    with pytest.raises(InvalidInput, match="length from now"):
        parse_window([text], BERLIN, NOW)


def test_a_date_range_covers_whole_days_in_the_schedules_zone() -> None:
    start, end = parse_window(["2026-12-24", "2026-12-26"], BERLIN, NOW)
    # Midnight Berlin (CET, UTC+1) on the 24th, to the end of the 26th.
    assert start == datetime(2026, 12, 23, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 26, 23, 0, tzinfo=UTC)


def test_times_are_read_in_the_zone_across_a_dst_change() -> None:
    start, end = parse_window(["2026-03-28T18:00", "2026-03-29T09:00"], BERLIN, NOW)
    assert start == datetime(2026, 3, 28, 17, 0, tzinfo=UTC)  # CET
    assert end == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # CEST: the clocks went forward overnight


@pytest.mark.parametrize(
    "tokens", [["2026-02-30", "2026-03-01"], ["yesterday", "today"], ["2026-12-24"] * 3, ["4h", "2h"]]
)
def test_bad_ranges_are_refused(tokens: list[str]) -> None:
    with pytest.raises(InvalidInput):
        parse_window(tokens, BERLIN, NOW)


@pytest.mark.parametrize("text", ["63d", "9999w", "99999999999w"])
def test_absurd_lengths_are_refused_not_crashed_on(text: str) -> None:
    with pytest.raises(InvalidInput, match="at most 62 days"):
        parse_window([text], BERLIN, NOW)
