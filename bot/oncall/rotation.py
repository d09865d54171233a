"""Who is on call: a pure function of a schedule, its overrides and an instant (no I/O, no clock).

Shifts are laid out in wall-clock time in the layer's zone: shift k starts at the local time
`start + handoff + k * shift`. A start that falls in a skipped hour (spring forward) begins
at the first instant after the gap; one that falls in a repeated hour (fall back) begins at
its first occurrence. So a weekly 09:00 handoff is at 09:00 local all year, and a week that
contains a change is an hour shorter or longer in real time. Every instant in and out is an
aware datetime in UTC; the index of the current shift is computed directly, so a rotation
that began years ago costs the same as one that began today.
"""

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from bot.oncall.schema import Layer, Schedule

# How far around an instant `who` looks: a shift is at most 8 weeks (schema.MAX_SHIFT), and a
# restriction can leave a few days uncovered.
_LOOK = timedelta(weeks=8) * 2 + timedelta(days=8)
# Public name for callers that report a stretch reaching the horizon as "unknown" (warroom oncall who).
HORIZON = _LOOK


@dataclass(frozen=True)
class Override:
    """Someone covers [start, end) instead of the scheduled person; the newest override wins."""

    member: str
    start: datetime
    end: datetime
    created_at: datetime
    id: int = 0


@dataclass(frozen=True)
class Segment:
    """[start, end) covered by `member` (None: nobody); `override` when an override put them there."""

    start: datetime
    end: datetime
    member: str | None
    layer: str | None = None
    override: bool = False


@dataclass(frozen=True)
class OnCall:
    """One person's unbroken stretch on call. `end` is None when it lasts beyond the horizon looked at."""

    member: str | None
    start: datetime
    end: datetime | None
    layer: str | None
    override: bool


@dataclass(frozen=True)
class Rota:
    now: OnCall
    next: OnCall | None  # the next different person; None when nobody else is on call within the horizon


@dataclass(frozen=True)
class Boundary:
    """A scheduled handoff: at `at`, `incoming` takes over from `outgoing`, whose stretch began at `since`."""

    at: datetime
    outgoing: str | None
    incoming: str
    since: datetime | None


def _utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant at which the wall clock in `zone` reads `wall` or later.

    A repeated wall time maps to its first occurrence (fold=0). A skipped one maps to the end
    of the gap: fold=0 alone would apply the offset from before the gap (02:30 to 03:30 CEST),
    which is not what the docs promise and puts wall times out of order (02:30 after 03:00).
    """
    early = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _local(early, zone) == wall:
        return early
    # In a gap: the change lies between the two readings (zone changes fall on whole seconds).
    low, high = wall.replace(tzinfo=zone, fold=1, microsecond=0).astimezone(UTC), early
    after = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=(high - low) // timedelta(seconds=2))
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def _require_aware(*instants: datetime) -> None:
    if any(i.tzinfo is None for i in instants):
        raise ValueError("instants must be timezone-aware")


class _Rotation:
    """The shift arithmetic of one layer."""

    def __init__(self, layer: Layer, zone: ZoneInfo) -> None:
        self.layer, self.zone = layer, zone
        first = layer.start
        if layer.handoff.weekday is not None:
            first += timedelta(days=(layer.handoff.weekday - first.weekday()) % 7)
        self.base = datetime.combine(first, layer.handoff.at)

    def start_of(self, index: int) -> datetime:
        return _utc(self.base + index * self.layer.shift, self.zone)

    def index_at(self, at: datetime) -> int:
        """The shift containing `at`: the last one starting at or before it (-1 before the first)."""
        index = (_local(at, self.zone) - self.base) // self.layer.shift
        while self.start_of(index + 1) <= at:
            index += 1
        while index >= 0 and self.start_of(index) > at:
            index -= 1
        return max(index, -1)

    def member(self, index: int) -> str:
        return self.layer.members[index % len(self.layer.members)]

    def segments(self, start: datetime, end: datetime) -> list[Segment]:
        """The layer's coverage in [start, end): its shifts cut to its hours and days."""
        windows = self._windows(start, end)
        found: list[Segment] = []
        index = max(self.index_at(start), 0)
        shift_start = self.start_of(index)
        while shift_start < end:
            shift_end = self.start_of(index + 1)
            low, high = max(shift_start, start), min(shift_end, end)
            for window_start, window_end in windows:
                a, b = max(low, window_start), min(high, window_end)
                if a < b:
                    found.append(Segment(a, b, self.member(index), self.layer.name))
            index, shift_start = index + 1, shift_end
        return found

    def _windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """When the layer covers, within [start, end): its `hours` on its `days`, in its zone."""
        layer = self.layer
        if layer.hours is None and layer.days is None:
            return [(start, end)]
        opens, closes = layer.hours if layer.hours is not None else (time(0), time(0))
        windows: list[tuple[datetime, datetime]] = []
        day: date = _local(start, self.zone).date() - timedelta(days=1)  # a window may wrap past midnight
        last = _local(end, self.zone).date()
        while day <= last:
            if layer.days is None or day.weekday() in layer.days:
                close_day = day if closes > opens else day + timedelta(days=1)
                a = max(_utc(datetime.combine(day, opens), self.zone), start)
                b = min(_utc(datetime.combine(close_day, closes), self.zone), end)
                if a < b:
                    if windows and windows[-1][1] >= a:  # whole days in a row: one window
                        windows[-1] = (windows[-1][0], max(b, windows[-1][1]))
                    else:
                        windows.append((a, b))
            day += timedelta(days=1)
        return windows


def _rotations(schedule: Schedule) -> list[_Rotation]:
    return [_Rotation(layer, schedule.layer_zone(layer)) for layer in schedule.all_layers]


def _flatten(start: datetime, end: datetime, lanes: Sequence[Sequence[Segment]]) -> list[Segment]:
    """One timeline from several, later lanes winning where they cover; gaps are member None."""
    cuts = sorted({start, end} | {t for lane in lanes for s in lane for t in (s.start, s.end) if start < t < end})
    starts = [[s.start for s in lane] for lane in lanes]
    timeline: list[Segment] = []
    for a, b in pairwise(cuts):
        chosen: Segment | None = None
        for lane, lane_starts in zip(reversed(lanes), reversed(starts), strict=True):
            position = bisect_right(lane_starts, a) - 1
            if position >= 0 and lane[position].end > a:
                chosen = lane[position]
                break
        piece = replace(chosen, start=a, end=b) if chosen is not None else Segment(a, b, None)
        if timeline and _same(timeline[-1], piece):
            timeline[-1] = replace(timeline[-1], end=b)
        else:
            timeline.append(piece)
    return timeline


def _same(a: Segment, b: Segment) -> bool:
    return a.end == b.start and a.member == b.member and a.layer == b.layer and a.override == b.override


def scheduled(schedule: Schedule, start: datetime, end: datetime) -> list[Segment]:
    """Who the schedule puts on call in [start, end), without overrides."""
    _require_aware(start, end)
    return _flatten(start, end, [r.segments(start, end) for r in _rotations(schedule)])


def effective(schedule: Schedule, overrides: Iterable[Override], start: datetime, end: datetime) -> list[Segment]:
    """Who is on call in [start, end): the schedule, with overrides on top (the newest one wins)."""
    return overlay(scheduled(schedule, start, end), overrides, start, end)


def overlay(base: Sequence[Segment], overrides: Iterable[Override], start: datetime, end: datetime) -> list[Segment]:
    """`base` (sorted, not overlapping) with overrides on top in [start, end): the newest override wins."""
    # Each override is its own lane, oldest first, so a newer one covers an older one where they overlap.
    ordered = sorted((o for o in overrides if o.start < end and o.end > start), key=lambda o: (o.created_at, o.id))
    lanes = [[Segment(max(o.start, start), min(o.end, end), o.member, "override", True)] for o in ordered]
    return _flatten(start, end, [base, *lanes])


def _runs(segments: Sequence[Segment]) -> list[OnCall]:
    """Segments joined into stretches of one person (an override by the person already on call changes nothing)."""
    runs: list[OnCall] = []
    for s in segments:
        if runs and runs[-1].member == s.member:
            runs[-1] = replace(runs[-1], end=s.end)
        else:
            runs.append(OnCall(s.member, s.start, s.end, s.layer, s.override))
    return runs


def who(schedule: Schedule, overrides: Iterable[Override], at: datetime) -> Rota:
    """Who is on call at `at` and who comes next. A start or end that lies beyond the horizon is unknown."""
    _require_aware(at)
    lookback, horizon = at - _LOOK, at + _LOOK
    return rota_at(effective(schedule, overrides, lookback, horizon), at, horizon)


def rota_at(segments: Sequence[Segment], at: datetime, horizon: datetime) -> Rota:
    """Who is on call at `at` and next, from a timeline that covers `at` and ends at `horizon` (beyond: unknown)."""
    runs = _runs(segments)
    position = next(i for i, run in enumerate(runs) if run.start <= at < (run.end or horizon))
    now = runs[position]
    if now.end == horizon:
        now = replace(now, end=None)
    following = next((r for r in runs[position + 1 :] if r.member is not None), None)
    if following is not None and following.end == horizon:
        following = replace(following, end=None)
    return Rota(now=now, next=following)


def handoffs(schedule: Schedule, start: datetime, end: datetime) -> list[Boundary]:
    """Scheduled handoffs in (start, end]: each instant someone takes over from somebody else.

    Overrides are left out on purpose: they do not create or move handoffs; the report names
    whoever is actually on call (schedule plus overrides) at the boundary.
    """
    _require_aware(start, end)
    runs = _runs(scheduled(schedule, start - _LOOK, end + timedelta(seconds=1)))
    found: list[Boundary] = []
    last_member: str | None = None
    since: datetime | None = None
    for run in runs:
        if run.member is not None and run.member != last_member:
            if start < run.start <= end and last_member is not None:
                found.append(Boundary(run.start, last_member, run.member, since))
            last_member, since = run.member, run.start
    return found


def next_handoff(schedule: Schedule, after: datetime) -> Boundary | None:
    """The first scheduled handoff after `after`, looking up to a year ahead."""
    start = after
    for _ in range(8):
        end = start + _LOOK
        found = handoffs(schedule, start, end)
        if found:
            return found[0]
        start = end
    return None
