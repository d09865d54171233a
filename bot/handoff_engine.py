"""When handoffs happen: APScheduler jobs at each schedule's next boundary and note request, plus a sweep.

The jobs only make handoffs punctual; correctness comes from the database. Every replica runs
the same jobs, and `bot.oncall.handoffs` lets exactly one of them post each boundary. The sweep
(at start, then every SWEEP_SECONDS) claims any boundary a job missed, such as those that
passed while the process was down, which is how a restart catches up.
"""

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.columns import utcnow
from bot.db import Database
from bot.oncall import handoffs
from bot.oncall.directory import OncallDirectory
from bot.oncall.rotation import Boundary, next_handoff
from bot.oncall.schema import Schedule
from bot.playbooks.registry import PlaybookRegistry, Snapshot

log = structlog.get_logger(__name__)

SWEEP_SECONDS = 30
BOUNDARY_JOB = "handoff:{}"
NOTE_JOB = "handoff-note:{}"


class HandoffEngine:
    def __init__(
        self,
        db: Database,
        registry: PlaybookRegistry,
        scheduler: AsyncIOScheduler,
        *,
        grace: timedelta,
        directory: OncallDirectory | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.registry, self.scheduler = db, registry, scheduler
        self.grace, self.clock = grace, clock
        self.directory = directory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled: set[str] = set()
        # Keyed by the loaded schedule object (a reload makes new ones), holding it so the id stays unique.
        self._next_cache: dict[int, tuple[Schedule, Boundary | None, datetime]] = {}

    def start(self) -> None:
        """Call on the event loop after the first registry load and before the scheduler starts."""
        self._loop = asyncio.get_running_loop()
        # Registry reloads may run in a worker thread (the 2 s file poll): hop onto the loop.
        self.registry.on_reload.append(lambda snapshot: self._call_soon(self.reschedule, snapshot))
        self.scheduler.add_job(
            self.sweep, "interval", seconds=SWEEP_SECONDS, id="handoff_sweep", next_run_time=self.clock()
        )
        self.reschedule(self.registry.current)

    def _call_soon(self, function: Callable[[Snapshot], None], snapshot: Snapshot) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(function, snapshot)

    def reschedule(self, snapshot: Snapshot) -> None:
        """One boundary job and one note job per schedule, at their next instants; stale jobs removed."""
        wanted: set[str] = set()
        now = self.clock()
        live = {id(schedule) for schedule in snapshot.schedules.values()}
        self._next_cache = {key: value for key, value in self._next_cache.items() if key in live}
        for schedule in snapshot.schedules.values():
            try:
                wanted |= self._schedule_jobs(schedule, now)
            except (ValueError, OverflowError):
                # A schedule whose times cannot be computed must not take the others' jobs with it.
                log.exception("handoff_schedule_failed", schedule=schedule.id)
        for job_id in self._scheduled - wanted:
            with contextlib.suppress(JobLookupError):  # it ran: date jobs remove themselves
                self.scheduler.remove_job(job_id)
        self._scheduled = wanted

    def _next(self, schedule: Schedule, now: datetime) -> Boundary | None:
        """next_handoff, remembered per loaded schedule: a rotation with nobody to hand over to would
        otherwise be searched a year ahead on every 30 s sweep."""
        cached = self._next_cache.get(id(schedule))
        if cached is not None and cached[0] is schedule:
            _, found, asked = cached
            # "None within a year" is looked at again daily (a rotation may start later); a boundary until it passes.
            if (found.at > now) if found is not None else (now - asked < timedelta(days=1)):
                return found
        found = next_handoff(schedule, now)
        self._next_cache[id(schedule)] = (schedule, found, now)
        return found

    def _schedule_jobs(self, schedule: Schedule, now: datetime) -> set[str]:
        boundary = self._next(schedule, now)
        if boundary is None:
            return set()
        jobs = {BOUNDARY_JOB.format(schedule.id)}
        self.scheduler.add_job(
            self._at_boundary,
            "date",
            run_date=boundary.at,
            id=BOUNDARY_JOB.format(schedule.id),
            args=[schedule.id, boundary.at],
            replace_existing=True,
            misfire_grace_time=None,  # late is still better than never; the claim decides if it posts
        )
        ask_at = boundary.at - schedule.note_lead
        if schedule.note_lead and ask_at > now:
            jobs.add(NOTE_JOB.format(schedule.id))
            self.scheduler.add_job(
                self._ask_for_note,
                "date",
                run_date=ask_at,
                id=NOTE_JOB.format(schedule.id),
                args=[schedule.id],
                replace_existing=True,
                misfire_grace_time=None,
            )
        return jobs

    async def _at_boundary(self, schedule_id: str, at: datetime) -> None:
        schedule = self.registry.current.schedules.get(schedule_id)
        if schedule is not None:
            # The job may fire a hair early by the clock we use: never consider a boundary not yet due.
            await self._catch_up(schedule, max(self.clock(), at))
        self.reschedule(self.registry.current)

    async def _ask_for_note(self, schedule_id: str) -> None:
        schedule = self.registry.current.schedules.get(schedule_id)
        if schedule is None:
            return
        try:
            boundary = self._next(schedule, self.clock())
            if boundary is None or boundary.at - self.clock() > schedule.note_lead:
                return
            namer = self._namer(schedule)
            people = await namer(schedule, boundary.at) if namer is not None else None
            async with self.db.transaction() as session:
                asked = await handoffs.claim_note_request(session, schedule, boundary, now=self.clock(), people=people)
        except Exception:
            # One schedule's failure must not stop the sweep for the others; the next sweep asks again.
            log.exception("handoff_note_request_failed", schedule=schedule_id)
            return
        if asked is not None:
            log.info("handoff_note_requested", schedule=schedule.id, boundary=boundary.at.isoformat())

    async def _people(self, schedule: Schedule, at: datetime) -> handoffs.People:
        """Who hands over at `at` by the directory (PagerDuty where the schedule names it, overrides on top)."""
        assert self.directory is not None
        before = await self.directory.rota(self.db.session, schedule, at - timedelta(seconds=1))
        after = await self.directory.rota(self.db.session, schedule, at)
        return before.rota.now.member, after.rota.now.member

    def _namer(self, schedule: Schedule) -> handoffs.Namer | None:
        # Only a schedule backed by PagerDuty needs asking; the file's answer is computed in the claim.
        return self._people if self.directory is not None and schedule.pagerduty is not None else None

    async def _catch_up(self, schedule: Schedule, now: datetime) -> None:
        try:
            await handoffs.catch_up(
                self.db.transaction, schedule, now=now, grace=self.grace, namer=self._namer(schedule)
            )
        except Exception:
            # One schedule's failure (the database blinked) must not stop the others; the next sweep retries.
            log.exception("handoff_failed", schedule=schedule.id)

    async def sweep(self) -> None:
        """Claim every due boundary of every schedule, ask for notes that are due, and refresh the jobs."""
        for schedule in list(self.registry.current.schedules.values()):
            await self._catch_up(schedule, self.clock())
            if schedule.note_lead:
                await self._ask_for_note(schedule.id)
        # The files may have changed while this sweep awaited: schedule what is in force now.
        self.reschedule(self.registry.current)
