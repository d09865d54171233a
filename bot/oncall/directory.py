"""Who is on call, from PagerDuty or the schedule file: the one entry point the rest of the bot asks."""

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot.oncall import service
from bot.oncall.pagerduty import LOOKAHEAD, OncallsPort, PagerDutyUnavailable
from bot.oncall.rotation import Override, Rota, Segment, overlay, rota_at
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


def with_overrides(rota: Rota, overrides: Sequence[Override], at: datetime, horizon: datetime) -> Rota:
    """`rota` with Warroom's overrides on top (the newest wins), known up to `horizon`.

    Only the two stretches in `rota` are known, so past the end of `next` the timeline is
    empty; that only matters when overrides cover all of `next` as well.
    """
    if not overrides:
        return rota
    low = min([at, rota.now.start, *(o.start for o in overrides)])
    known = [s for s in (rota.now, rota.next) if s is not None and s.member is not None]
    base = [Segment(s.start, s.end or horizon, s.member, s.layer, s.override) for s in known]
    return rota_at(overlay(base, overrides, low, horizon), at, horizon)
