"""`warroom oncall who`: who is on call now and next by the schedule files, as text or JSON."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput
from bot.oncall.rotation import HORIZON, OnCall, Rota, who
from bot.oncall.schema import Schedule

Answer = tuple[Schedule, Rota]


def parse_at(text: str | None, now: datetime) -> datetime:
    """`--at` as an aware UTC instant (`now` when absent); a time without an offset is refused, not guessed."""
    if text is None:
        return now.astimezone(UTC)
    example = "write ISO-8601 with an offset or Z, e.g. 2026-03-29T09:00+02:00 or 2026-03-29T07:00Z"
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"cannot read --at {text!r}; {example}") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"--at {text!r} has no UTC offset, so it could mean any zone; {example}")
    if not 1970 <= at.year <= 2200:
        # Schedules start between 2000 and 2100; far outside that, date arithmetic runs off the calendar.
        raise InvalidInput(f"--at {text!r} is out of range; give a time between 1970 and 2200")
    return at.astimezone(UTC)


def answers(schedules: Sequence[Schedule], at: datetime) -> list[Answer]:
    """Who is on call at `at` by each schedule file, without overrides (they live in the database)."""
    return [(schedule, who(schedule, (), at)) for schedule in schedules]


def _known_start(stretch: OnCall, at: datetime) -> datetime | None:
    # who() cuts stretches at its horizon; a start there means "earlier than we looked", not a real start.
    return None if stretch.start <= at - HORIZON else stretch.start


def _when(instant: datetime | None, zone: ZoneInfo) -> str:
    if instant is None:
        return "beyond the horizon looked at"
    local = instant.astimezone(zone)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()} ({instant.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


def _who(stretch: OnCall) -> str:
    name = stretch.member or "nobody (a gap in the schedule)"
    return f"{name} [{stretch.layer}]" if stretch.member and stretch.layer not in (None, "rotation") else name


def format_text(found: Sequence[Answer], at: datetime) -> str:
    """A few lines per schedule: now (since, until) and next (from, until), in its zone and in UTC."""
    blocks = []
    for schedule, rota in found:
        zone = schedule.zone
        lines = [f"{schedule.id} ({schedule.title}), {schedule.timezone}, at {_when(at, zone)}"]
        if schedule.pagerduty is not None:
            lines.append("  note: this schedule takes who is on call from PagerDuty; shown is its file rotation")
        since = _known_start(rota.now, at)
        since_text = _when(since, zone) if since is not None else "before the horizon looked at"
        lines.append(f"  now:  {_who(rota.now)}, since {since_text}, until {_when(rota.now.end, zone)}")
        if rota.next is None:
            lines.append("  next: nobody else within the horizon looked at")
        else:
            lines.append(
                f"  next: {_who(rota.next)}, from {_when(rota.next.start, zone)}, until {_when(rota.next.end, zone)}"
            )
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _iso(instant: datetime | None, zone: ZoneInfo | None = None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(zone or UTC).isoformat().replace("+00:00", "Z")


def _stretch(stretch: OnCall | None, at: datetime, zone: ZoneInfo) -> dict[str, Any] | None:
    if stretch is None:
        return None
    start = _known_start(stretch, at)
    return {
        "member": stretch.member,
        "layer": stretch.layer,
        "start": _iso(start),
        "end": _iso(stretch.end),
        "start_local": _iso(start, zone),
        "end_local": _iso(stretch.end, zone),
    }


def format_json(found: Sequence[Answer], at: datetime) -> str:
    """A JSON array, one object per schedule; instants in UTC (`Z`) and in the schedule's zone (`_local`)."""
    report = [
        {
            "schedule": schedule.id,
            "name": schedule.title,
            "timezone": schedule.timezone,
            "at": _iso(at),
            "source": "file",
            "pagerduty": schedule.pagerduty is not None,
            "now": _stretch(rota.now, at, schedule.zone),
            "next": _stretch(rota.next, at, schedule.zone),
        }
        for schedule, rota in found
    ]
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
