"""Daylight-saving changes looked up from the tz database, so tests never rely on remembered dates."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Change:
    """At `at` (UTC) the zone's offset goes from `before` to `after`."""

    at: datetime
    before: timedelta
    after: timedelta

    @property
    def forward(self) -> bool:
        return self.after > self.before


def _offset(zone: ZoneInfo, at: datetime) -> timedelta:
    offset = at.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def changes(zone_name: str, year: int) -> list[Change]:
    """Every offset change of `zone_name` in `year`, to the minute, found by scanning hour by hour."""
    zone = ZoneInfo(zone_name)
    found: list[Change] = []
    hour = datetime(year, 1, 1, tzinfo=UTC)
    while hour.year == year:
        following = hour + timedelta(hours=1)
        before, after = _offset(zone, hour), _offset(zone, following)
        if before != after:
            minute = hour
            while _offset(zone, minute) == before:
                minute += timedelta(minutes=1)
            found.append(Change(minute, before, after))
        hour = following
    return found
