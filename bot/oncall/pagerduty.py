"""PagerDuty as the source of who is on call: the port, its error, and `/oncalls` entries read into a Rota (no I/O).

The HTTP client that implements the port lives in `bot/pagerduty.py`: domain packages leave the
network to adapters (tests/test_architecture.py), so this module holds everything that needs none.
"""

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from bot.errors import WarroomError
from bot.oncall.rotation import OnCall, Rota
from bot.oncall.schema import Schedule

# How far ahead "who is next" looks; PagerDuty allows `until` up to 90 days ahead.
LOOKAHEAD = timedelta(days=14)

Kind = Literal["schedule", "escalation_policy"]


class PagerDutyUnavailable(WarroomError):
    """PagerDuty could not say who is on call; `reason` is short, readable and holds no secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"PagerDuty unavailable ({reason})")
        self.reason = reason


class OncallsPort(Protocol):
    """Who PagerDuty puts on call for a schedule that names PagerDuty; raises PagerDutyUnavailable."""

    async def rota(self, schedule: Schedule, at: datetime) -> Rota: ...


@dataclass(frozen=True)
class Target:
    """What `/oncalls` is filtered by: one PagerDuty schedule or escalation policy."""

    kind: Kind
    id: str

    @property
    def param(self) -> str:
        return "schedule_ids[]" if self.kind == "schedule" else "escalation_policy_ids[]"

    def __str__(self) -> str:
        return f"{self.kind.replace('_', ' ')} {self.id}"


def target_of(schedule: Schedule) -> Target | None:
    source = schedule.pagerduty
    if source is None:
        return None
    if source.schedule is not None:
        return Target("schedule", source.schedule)
    assert source.escalation_policy is not None  # the schema requires exactly one of the two
    return Target("escalation_policy", source.escalation_policy)


class _Entity(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Reference(_Entity):
    id: str
    summary: str | None = None


class _User(_Entity):
    # With include[]=users `user` is a full user (name, email); without it a reference (summary only).
    id: str
    email: str | None = None
    name: str | None = None
    summary: str | None = None

    @property
    def member(self) -> str:
        """How Warroom names people: the email, as in schedule files; else whatever PagerDuty calls them."""
        if self.email and self.email.strip():
            return self.email.strip().lower()
        return (self.name or self.summary or self.id).strip() or self.id


class _Entry(_Entity):
    user: _User
    schedule: _Reference | None = None
    escalation_policy: _Reference | None = None
    escalation_level: int
    start: AwareDatetime | None = None  # null: permanently on call (a user directly on the policy)
    end: AwareDatetime | None = None  # null: never goes off call


@dataclass(frozen=True)
class _Stretch:
    member: str
    start: datetime | None
    end: datetime | None
    layer: str | None


def _stretches(items: Sequence[Any], target: Target) -> list[_Stretch]:
    found: dict[tuple[str, datetime | None, datetime | None], _Stretch] = {}
    for index, item in enumerate(items):
        try:
            entry = _Entry.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "entry"
            raise PagerDutyUnavailable(f"unexpected on-call entry {index}: {where}: {first['msg'].lower()}") from None
        if target.kind == "schedule":
            if entry.schedule is None or entry.schedule.id != target.id:
                continue
        elif entry.escalation_policy is None or entry.escalation_policy.id != target.id or entry.escalation_level != 1:
            # Level 1 is who gets paged first; later levels are backups, not "on call".
            continue
        start = entry.start.astimezone(UTC) if entry.start else None
        end = entry.end.astimezone(UTC) if entry.end else None
        layer = entry.schedule.summary if entry.schedule is not None else None
        # A schedule used by several policies or levels comes back once per use: the same shift.
        found.setdefault((entry.user.member, start, end), _Stretch(entry.user.member, start, end, layer))
    return sorted(found.values(), key=lambda s: (s.start or datetime.min.replace(tzinfo=UTC), s.member))


def _extend(first: _Stretch, stretches: Sequence[_Stretch]) -> _Stretch:
    """`first` joined with the same person's stretches that continue it (PagerDuty splits at layer edges)."""
    current = first
    grown = True
    while grown and current.end is not None:
        grown = False
        for s in stretches:
            continues = s.member == current.member and (s.start is None or s.start <= current.end)
            if continues and (s.end is None or s.end > current.end):
                current, grown = replace(current, end=s.end), True
                if s.end is None:
                    break
    return current


def _oncall(stretch: _Stretch, at: datetime, until: datetime) -> OnCall:
    # A start PagerDuty leaves open (permanent on-call) is reported as `at`: nothing earlier is known.
    start = stretch.start if stretch.start is not None else at
    end = stretch.end if stretch.end is not None and stretch.end < until else None
    return OnCall(stretch.member, start, end, stretch.layer, False)


def rota_from_oncalls(items: Sequence[Any], target: Target, at: datetime, until: datetime) -> Rota:
    """Who is on call at `at` and who is next before `until`, from `/oncalls` entries over [at, until].

    For a schedule: the entry covering `at`. For an escalation policy: its level 1 (several
    targets on level 1: the one on call longest, then by name, so the answer is stable).
    PagerDuty's own overrides are already part of its entries. An end at or past `until` is
    unknown (None), as in `rotation.who`.
    """
    stretches = _stretches(items, target)
    if not stretches:
        raise PagerDutyUnavailable(
            f"PagerDuty lists nobody on call for {target} in the next {LOOKAHEAD.days} days"
            + (" (a schedule is listed only while an escalation policy uses it)" if target.kind == "schedule" else "")
        )
    covering = [s for s in stretches if (s.start is None or s.start <= at) and (s.end is None or at < s.end)]
    if covering:
        now = _oncall(_extend(covering[0], stretches), at, until)
    else:
        upcoming = [s.start for s in stretches if s.start is not None and s.start > at]
        now = OnCall(None, at, min(upcoming) if upcoming else None, None, False)
    following = next(
        (s for s in stretches if s.member != now.member and s.start is not None and s.start > at and s.start < until),
        None,
    )
    return Rota(now, _oncall(_extend(following, stretches), at, until) if following is not None else None)


Cached = tuple[float, Rota | str]  # expiry on the monotonic clock; a Rota, or the reason of a recent failure


class AnswerCache:
    """Answers per (target, minute of `at`) on a monotonic clock, least recently used dropped past `size`."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Kind, str, int], Cached] = OrderedDict()

    @staticmethod
    def key(target: Target, at: datetime) -> tuple[Kind, str, int]:
        return (target.kind, target.id, int(at.timestamp()) // 60)

    def get(self, key: tuple[Kind, str, int], now: float) -> Rota | str | None:
        found = self._items.get(key)
        if found is None:
            return None
        if found[0] <= now:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return found[1]

    def put(self, key: tuple[Kind, str, int], value: Rota | str, expires: float) -> None:
        self._items[key] = (expires, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
