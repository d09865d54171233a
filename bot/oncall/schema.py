"""The on-call schedule file format (`playbooks/oncall/*.yaml`) as frozen pydantic models.

docs/oncall.md describes it for people. Times in a schedule are wall-clock times in the
layer's time zone, so a 09:00 handoff stays at 09:00 local across daylight-saving changes.
"""

import re
from datetime import date, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

SCHEDULE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
PAGERDUTY_ID = re.compile(r"P[A-Z0-9]{5,20}")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SHIFT = re.compile(r"\s*([0-9]+)\s*(h|d|w)\s*")
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_LEAD = re.compile(r"\s*([0-9]+)\s*(m|h)\s*")
MAX_MEMBERS = 100
CHANNEL = re.compile(r"#[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{2,20}")
MAX_LAYERS = 10
MAX_SHIFT = timedelta(weeks=8)


def whole(pattern: re.Pattern[str]) -> str:
    """`pattern` anchored at both ends: pydantic's `pattern=` searches, so `Platform` would pass `[a-z]…`."""
    return rf"^(?:{pattern.pattern})$"


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError with a readable reason otherwise (also for path-like names)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin or UTC") from None


def _zone_name(value: str) -> str:
    zone(value)
    return value


def _member(value: str) -> str:
    if EMAIL.fullmatch(value):
        return value.lower()
    if SLACK_USER.fullmatch(value):
        return value
    raise ValueError(f"{value!r} is not an email address or a Slack user id (U…)")


def parse_shift(value: Any) -> timedelta:
    """`12h`, `1d`, `2w` (hours, days, weeks) as a timedelta."""
    if isinstance(value, str) and (found := _SHIFT.fullmatch(value)):
        number, unit = int(found.group(1)), found.group(2)
        length = {"h": timedelta(hours=number), "d": timedelta(days=number), "w": timedelta(weeks=number)}[unit]
        if not timedelta(hours=1) <= length <= MAX_SHIFT:
            raise ValueError(f"shift {value!r} must be between 1h and {MAX_SHIFT.days // 7}w")
        return length
    raise ValueError(f"cannot read shift {value!r}; write a length such as 12h, 1d or 1w")


def parse_clock(value: str) -> time:
    found = _CLOCK.fullmatch(value.strip())
    if found is None:
        raise ValueError(f"cannot read time {value!r}; write HH:MM in 24-hour time, e.g. 09:00")
    return time(int(found.group(1)), int(found.group(2)))


def parse_lead(value: Any) -> timedelta:
    """`30m`, `2h` or 0 (no note request) as a timedelta."""
    if value in (0, "0"):
        return timedelta(0)
    if isinstance(value, str) and (found := _LEAD.fullmatch(value)):
        number, unit = int(found.group(1)), found.group(2)
        return timedelta(minutes=number) if unit == "m" else timedelta(hours=number)
    raise ValueError(f"cannot read {value!r}; write a lead time such as 30m or 2h, or 0 for none")


class Handoff(BaseModel):
    """When shifts change: a weekday (for shifts of whole weeks) and a wall-clock time."""

    model_config = ConfigDict(frozen=True)

    weekday: int | None = None  # 0 = Monday
    at: time

    @classmethod
    def parse(cls, value: Any) -> "Handoff":
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 9:30 as the base-60 number 570.
            raise ValueError(f'YAML read this time as the number {value}; quote it, e.g. handoff: "09:30"')
        if not isinstance(value, str):
            raise ValueError(f"cannot read handoff {value!r}; write e.g. '09:00' or 'monday 09:00'")
        parts = value.strip().lower().split()
        if len(parts) == 1:
            return cls(at=parse_clock(parts[0]))
        if len(parts) == 2 and parts[0][:3] in WEEKDAYS and _is_weekday_name(parts[0]):
            return cls(weekday=WEEKDAYS.index(parts[0][:3]), at=parse_clock(parts[1]))
        raise ValueError(f"cannot read handoff {value!r}; write e.g. '09:00' or 'monday 09:00'")


def _is_weekday_name(word: str) -> bool:
    full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return word in WEEKDAYS or word in full


def _handoff(value: Any) -> Any:
    return value if isinstance(value, Handoff) else Handoff.parse(value)


def _window(value: Any) -> Any:
    """`09:00-17:00` (may wrap past midnight, e.g. `22:00-06:00`) as (start, end) times."""
    if isinstance(value, tuple):
        return value
    if not isinstance(value, str) or value.count("-") != 1:
        raise ValueError(f"cannot read hours {value!r}; write a window such as '09:00-17:00'")
    start, end = (parse_clock(part) for part in value.split("-"))
    if start == end:
        raise ValueError(f"hours {value!r} is empty; leave `hours` out to cover the whole day")
    return (start, end)


def _days(value: Any) -> Any:
    """`weekdays`, `weekends`, or a list of mon..sun, as weekday numbers (0 = Monday)."""
    named = {"weekdays": (0, 1, 2, 3, 4), "weekends": (5, 6), "every day": tuple(range(7))}
    if isinstance(value, str):
        if value.lower() in named:
            return named[value.lower()]
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("days is `weekdays`, `weekends` or a list such as [mon, tue]")
    found = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 6:
            found.append(item)
        elif isinstance(item, str) and item.lower()[:3] in WEEKDAYS and _is_weekday_name(item.lower()):
            found.append(WEEKDAYS.index(item.lower()[:3]))
        else:
            raise ValueError(f"{item!r} is not a weekday; write mon, tue, wed, thu, fri, sat or sun")
    return tuple(sorted(set(found)))


Member = Annotated[str, AfterValidator(_member)]
ZoneName = Annotated[str, AfterValidator(_zone_name)]
Shift = Annotated[timedelta, BeforeValidator(parse_shift)]
Window = Annotated[tuple[time, time], BeforeValidator(_window)]
Days = Annotated[tuple[int, ...], BeforeValidator(_days)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Layer(_Model):
    """One rotation: members take turns, one shift each, handing off at a wall-clock time.

    `hours` and `days` restrict when the layer covers (a follow-the-sun region covers its own
    office hours); outside them the layer has nobody and another layer may cover.
    """

    name: Annotated[str, Field(min_length=1, max_length=80)] = "rotation"
    timezone: ZoneName | None = None  # default: the schedule's
    members: tuple[Member, ...] = Field(min_length=1, max_length=MAX_MEMBERS)
    shift: Shift
    handoff: Annotated[Handoff, BeforeValidator(_handoff)]
    # Bounded so every shift of every schedule that lints can be computed (datetime stops at year 9999).
    start: Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]
    hours: Window | None = None
    days: Days | None = None

    @model_validator(mode="after")
    def _weekday_needs_whole_weeks(self) -> "Layer":
        if self.handoff.weekday is not None and self.shift % timedelta(weeks=1):
            raise ValueError("a handoff on a weekday needs a shift of whole weeks (1w, 2w); write only the time")
        return self


class PagerDutySource(_Model):
    """Who is on call comes from PagerDuty's `/oncalls` for this schedule or escalation policy."""

    schedule: Annotated[str, Field(pattern=whole(PAGERDUTY_ID))] | None = None
    escalation_policy: Annotated[str, Field(pattern=whole(PAGERDUTY_ID))] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "PagerDutySource":
        if (self.schedule is None) == (self.escalation_policy is None):
            raise ValueError("name exactly one of `schedule` or `escalation_policy`")
        return self


class Schedule(_Model):
    """A team's on-call schedule: its layers, where handoffs go, and the services it answers for."""

    id: Annotated[str, Field(pattern=whole(SCHEDULE_ID))]
    name: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    channel: Annotated[str, Field(pattern=whole(CHANNEL))]
    timezone: ZoneName = "UTC"
    services: tuple[Annotated[str, Field(min_length=1, max_length=200)], ...] = ()
    # How long before a handoff the outgoing person is asked for a note; 0 turns it off.
    note_lead: Annotated[timedelta, BeforeValidator(parse_lead)] = timedelta(minutes=30)
    rotation: Layer | None = None
    layers: tuple[Layer, ...] = Field(default=(), max_length=MAX_LAYERS)
    pagerduty: PagerDutySource | None = None

    @field_validator("layers")
    @classmethod
    def _not_both(cls, layers: tuple[Layer, ...], info: ValidationInfo) -> tuple[Layer, ...]:
        # Checked here as well as below so that lint points at the `layers` key, not at line 1.
        if layers and info.data.get("rotation") is not None:
            raise ValueError("give either `rotation` (one layer) or `layers` (several), not both")
        names = [layer.name for layer in layers]
        if len(set(names)) != len(names):
            raise ValueError("layer names must be unique within a schedule")
        return layers

    @model_validator(mode="after")
    def _one_way_of_layers(self) -> "Schedule":
        if (self.rotation is None) == (not self.layers):
            raise ValueError("give either `rotation` (one layer) or `layers` (several), not both or neither")
        names = [layer.name for layer in self.all_layers]
        if len(set(names)) != len(names):
            raise ValueError("layer names must be unique within a schedule")
        return self

    @property
    def title(self) -> str:
        return self.name or self.id

    @property
    def all_layers(self) -> tuple[Layer, ...]:
        """The layers in order of precedence, lowest first: where two cover, the later one wins."""
        return (self.rotation,) if self.rotation is not None else self.layers

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    def layer_zone(self, layer: Layer) -> ZoneInfo:
        return zone(layer.timezone or self.timezone)
