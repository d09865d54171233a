"""Read the time window of `/oncall override`: a length from now, or a start and an end in the schedule's zone."""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput
from bot.oncall.service import MAX_OVERRIDE_LENGTH

_LENGTH = re.compile(r"(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{1,2}:[0-9]{2}")
USAGE = (
    "Give a length from now (`4h`, `90m`, `2d`, `1d12h`) or a start and an end in the schedule's time zone "
    "(`2026-12-24 2026-12-26` covers the 24th to the end of the 26th; `2026-12-24T18:00 2026-12-25T09:00`)."
)


def parse_length(text: str) -> timedelta | None:
    found = _LENGTH.fullmatch(text.strip().lower())
    if found is None or not any(found.groups()):
        return None
    weeks, days, hours, minutes = (int(g or 0) for g in found.groups())
    try:
        return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    except OverflowError:
        return timedelta.max  # `99999999999w`: far beyond any override; refused as too long below


def _instant(text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    text = text.strip()
    if _DATETIME.fullmatch(text):
        wall = datetime.fromisoformat(text.replace(" ", "T"))
    elif _DATE.fullmatch(text):
        day = date.fromisoformat(text)
        # A date alone: from its start, or (as an end) through the whole day.
        wall = datetime.combine(day + timedelta(days=1) if end else day, time(0))
    else:
        raise InvalidInput(f"I cannot read {text!r} as a date. {USAGE}")
    return wall.replace(tzinfo=zone, fold=0).astimezone(ZoneInfo("UTC"))


def parse_window(tokens: list[str], zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) from `4h` (from now) or `START END`; raises InvalidInput with the usage otherwise."""
    if len(tokens) == 1:
        length = parse_length(tokens[0])
        if length is None or not length:
            raise InvalidInput(f"I cannot read {tokens[0]!r} as a length. {USAGE}")
        if length > MAX_OVERRIDE_LENGTH:  # checked before any date arithmetic can overflow
            raise InvalidInput(f"An override covers at most {MAX_OVERRIDE_LENGTH.days} days.")
        return now, now + length
    if len(tokens) == 2:
        try:
            return _instant(tokens[0], zone, end=False), _instant(tokens[1], zone, end=True)
        except ValueError:
            raise InvalidInput(f"That is not a real date. {USAGE}") from None
    raise InvalidInput(USAGE)
