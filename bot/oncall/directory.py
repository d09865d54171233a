"""Who is on call, from PagerDuty or the schedule file: the one entry point the rest of the bot asks."""

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot.oncall import service
from bot.oncall.pagerduty import LOOKAHEAD, OncallsPort, PagerDutyUnavailable
from bot.oncall.rotation import OnCall, Override, Rota
from bot.oncall.schema import Schedule

log = structlog.get_logger(__name__)

Source = Literal["file", "pagerduty"]
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
WARN_EVERY = 60.0  # seconds between two logged warnings for one schedule


@dataclass(frozen=True)
class Answer:
    """Who is on call, where that came from, and what to tell people when it is not what they configured."""

    rota: Rota
    source: Source
    warning: str | None = None


class OncallDirectory:
    """Answers "who is on call" for a schedule.

    A schedule that names PagerDuty is answered from PagerDuty when a token is configured
    (`pagerduty` is not None); otherwise, and whenever PagerDuty is unavailable, from the
    schedule file, which every schedule has (the schema requires a rotation or layers), with
    a warning saying why.

    Overrides: PagerDuty's own overrides are already part of its answer. Warroom's overrides
    (`/oncall override`, in the database) are applied on top of it and win where they overlap,
    exactly as they win over the schedule file: they are what people asked for in Slack, and
    dropping them silently for PagerDuty-backed schedules would make the command lie.
    """

    def __init__(self, pagerduty: OncallsPort | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.pagerduty = pagerduty
        self._clock = clock
        self._warned: dict[tuple[str, str], float] = {}

    async def rota(self, sessions: Sessions, schedule: Schedule, at: datetime) -> Answer:
        """Who is on call for `schedule` at `at` (aware), and who is next.

        `sessions` opens a short read-only session; none is held while PagerDuty is asked, so a
        slow PagerDuty never keeps SQLite's single connection (and every other request) waiting.
        """
        if schedule.pagerduty is None:
            return Answer(await self._file(sessions, schedule, at), "file")
        if self.pagerduty is None:
            self._warn(schedule, "pagerduty_not_configured", "PAGERDUTY_API_TOKEN is not set")
            warning = (
                "PagerDuty is named by this schedule but PAGERDUTY_API_TOKEN is not set; showing the schedule file"
            )
            return Answer(await self._file(sessions, schedule, at), "file", warning)
        try:
            from_pagerduty = await self.pagerduty.rota(schedule, at)
        except PagerDutyUnavailable as exc:
            self._warn(schedule, "pagerduty_unavailable", exc.reason)
            warning = f"PagerDuty unavailable ({exc.reason}); showing the schedule file"
            return Answer(await self._file(sessions, schedule, at), "file", warning)
        async with sessions() as session:
            overrides = await service.overrides(session, schedule.id, at, at + LOOKAHEAD)
        return Answer(with_overrides(from_pagerduty, overrides, at, at + LOOKAHEAD), "pagerduty")

    @staticmethod
    async def _file(sessions: Sessions, schedule: Schedule, at: datetime) -> Rota:
        async with sessions() as session:
            return await service.rota(session, schedule, at)

    def _warn(self, schedule: Schedule, event: str, reason: str) -> None:
        # Every lookup of a schedule hits the same failure; one line a minute says it without flooding.
        now = self._clock()
        last = self._warned.get((schedule.id, event))
        if last is not None and now - last < WARN_EVERY:
            return
        self._warned[(schedule.id, event)] = now
        log.warning(event, schedule=schedule.id, reason=reason)


@dataclass(frozen=True)
class _Piece:
    start: datetime
    end: datetime
    member: str | None
    layer: str | None
    override: bool


def with_overrides(rota: Rota, overrides: Sequence[Override], at: datetime, horizon: datetime) -> Rota:
    """`rota` with Warroom's overrides on top (the newest wins), known up to `horizon`.

    Only the two stretches in `rota` are known, so past the end of `next` the timeline is
    empty; that only matters when overrides cover all of `next` as well.
    """
    if not overrides:
        return rota
    base = [o for o in (rota.now, rota.next) if o is not None and o.member is not None]
    low = min([at, rota.now.start, *(o.start for o in overrides)])
    cuts = {low, horizon}
    for stretch in base:
        cuts.update((stretch.start, stretch.end or horizon))
    for o in overrides:
        cuts.update((o.start, o.end))
    points = sorted(t for t in cuts if low <= t <= horizon)
    newest_first = sorted(overrides, key=lambda o: (o.created_at, o.id), reverse=True)
    runs: list[_Piece] = []
    for a, b in pairwise(points):
        piece = _piece_at(a, b, base, newest_first, horizon)
        if runs and runs[-1].member == piece.member:
            last = runs[-1]
            runs[-1] = _Piece(last.start, b, last.member, last.layer, last.override)
        else:
            runs.append(piece)
    position = next(i for i, run in enumerate(runs) if run.start <= at < run.end)
    now = _as_oncall(runs[position], horizon)
    following = next((r for r in runs[position + 1 :] if r.member is not None), None)
    return Rota(now, _as_oncall(following, horizon) if following is not None else None)


def _piece_at(
    a: datetime, b: datetime, base: Sequence[OnCall], overrides: Sequence[Override], horizon: datetime
) -> _Piece:
    for o in overrides:
        if o.start <= a < o.end:
            return _Piece(a, b, o.member, "override", True)
    for stretch in base:
        if stretch.start <= a < (stretch.end or horizon):
            return _Piece(a, b, stretch.member, stretch.layer, stretch.override)
    return _Piece(a, b, None, None, False)


def _as_oncall(run: _Piece, horizon: datetime) -> OnCall:
    return OnCall(run.member, run.start, None if run.end >= horizon else run.end, run.layer, run.override)
