"""Handoffs exactly once: a replica claims a boundary by inserting its row, and only the winner posts.

Every replica runs the same jobs at the same instants; the unique (schedule_id, shift_start) of
`handoff` (and of `handoff_note` for the note request) decides who acts. A boundary found
after a restart is posted late when it was missed by less than the grace period, and recorded
as skipped otherwise, so it is never posted twice and never posted days late.
"""

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.db import insert_ignore
from bot.errors import InvalidInput
from bot.oncall import service
from bot.oncall.report import build_report
from bot.oncall.rotation import Boundary, Rota, handoffs
from bot.oncall.schema import Schedule
from bot.oncall.tables import Handoff, HandoffKind, HandoffNote, HandoffStatus, ScheduleSeen
from bot.outbox import Op, enqueue

log = structlog.get_logger(__name__)

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
People = tuple[str | None, str | None]  # (outgoing, incoming)
Namer = Callable[[Schedule, datetime], Awaitable[People]]

# How far back a restarted replica looks for boundaries it missed (older ones are not even logged);
# a longer HANDOFF_GRACE_SECONDS widens it.
CATCH_UP_WINDOW = timedelta(days=2)
# Lateness below this is on time whatever the grace setting: a job fires a few ms after its instant,
# and the sweep that backs it up runs every 30 s.
ON_TIME = timedelta(seconds=60)


@dataclass(frozen=True)
class Claimed:
    handoff_id: int
    status: HandoffStatus


def ordering_key(schedule_id: str) -> str:
    return f"handoff:{schedule_id}"


async def _effective(session: AsyncSession, schedule: Schedule, at: datetime) -> tuple[str | None, str | None]:
    """Who actually hands over at `at` (overrides applied): the person just before, and the one from `at`."""
    before = (await service.rota(session, schedule, at - timedelta(seconds=1))).now.member
    after = (await service.rota(session, schedule, at)).now.member
    return before, after


async def claim_scheduled(
    session: AsyncSession,
    schedule: Schedule,
    boundary: Boundary,
    *,
    now: datetime,
    grace: timedelta,
    people: People | None = None,
) -> Claimed | None:
    """Claim a scheduled boundary; None when another replica (or an earlier run) already did.

    `people` (outgoing, incoming) names who really hands over when another source knows better
    than the file (PagerDuty); by default the file with its overrides decides.
    """
    late = now - boundary.at
    status = HandoffStatus.POSTED if late <= max(grace, ON_TIME) else HandoffStatus.SKIPPED
    outgoing, incoming = people if people is not None else await _effective(session, schedule, boundary.at)
    outgoing, incoming = outgoing or boundary.outgoing, incoming or boundary.incoming
    if outgoing == incoming:
        # An override covers both sides of the boundary: nobody hands over, so nothing is posted.
        status, reason = HandoffStatus.SKIPPED, "no change of hands"
    else:
        reason = "missed by more than the grace period"
    handoff_id = await insert_ignore(
        session,
        Handoff,
        {
            "schedule_id": schedule.id,
            "shift_start": boundary.at,
            "kind": HandoffKind.SCHEDULED,
            "status": status,
            "outgoing": outgoing,
            "incoming": incoming,
            "since": boundary.since,
            "late_by_seconds": max(0, int(late.total_seconds())),
            "created_at": now,
        },
        conflict=["schedule_id", "shift_start"],
    )
    if handoff_id is None:
        return None
    if status is HandoffStatus.SKIPPED:
        log.warning(
            "handoff_skipped",
            reason=reason,
            schedule=schedule.id,
            boundary=boundary.at.isoformat(),
            late_seconds=int(late.total_seconds()),
            grace_seconds=int(grace.total_seconds()),
        )
        return Claimed(handoff_id, status)
    await _queue_report(session, schedule, handoff_id, since=boundary.since or boundary.at, until=boundary.at)
    log.info(
        "handoff_claimed",
        schedule=schedule.id,
        boundary=boundary.at.isoformat(),
        late_seconds=int(late.total_seconds()),
    )
    return Claimed(handoff_id, status)


async def post_now(session: AsyncSession, schedule: Schedule, rota: Rota, *, now: datetime, by: str) -> int:
    """`/oncall handoff`: a report of the current shift so far, posted now (it does not end the shift).

    `rota` is who is on call now, as the caller found out (from PagerDuty, where the schedule
    names it) before opening this transaction.
    """
    since = rota.now.start or now
    handoff_id = await insert_ignore(
        session,
        Handoff,
        {
            "schedule_id": schedule.id,
            "shift_start": now,
            "kind": HandoffKind.MANUAL,
            "status": HandoffStatus.POSTED,
            "outgoing": rota.now.member,
            "incoming": rota.next.member if rota.next is not None else None,
            "since": since,
            "late_by_seconds": 0,
            "posted_by": by,
            "created_at": now,
        },
        conflict=["schedule_id", "shift_start"],
    )
    if handoff_id is None:  # two commands in the same microsecond: one report is enough
        raise InvalidInput("A handoff report for this schedule is being posted right now.")
    await _queue_report(session, schedule, handoff_id, since=since, until=now)
    return int(handoff_id)


async def _queue_report(
    session: AsyncSession, schedule: Schedule, handoff_id: int, *, since: datetime, until: datetime
) -> None:
    handoff = (await session.execute(select(Handoff).where(col(Handoff.id) == handoff_id))).scalar_one()
    # Take the note's lock (if someone is saving one, wait for them) before the report reads it.
    await session.execute(
        select(col(HandoffNote.id))
        .where(col(HandoffNote.schedule_id) == schedule.id, col(HandoffNote.shift_start) == until)
        .with_for_update()
    )
    report = await build_report(
        session, schedule, since=since, until=until, outgoing=handoff.outgoing, incoming=handoff.incoming
    )
    report.update(
        handoff_id=handoff_id,
        kind=handoff.kind,
        late_by_seconds=handoff.late_by_seconds,
        posted_by=handoff.posted_by,
        channel=schedule.channel,
    )
    key = ordering_key(schedule.id)
    await enqueue(session, Op.POST_HANDOFF, payload=report, ordering_key=key)
    # Only a real change of hands tells the incoming person "you are on call from now".
    if handoff.incoming and handoff.kind == HandoffKind.SCHEDULED:
        await enqueue(session, Op.DM_HANDOFF, payload=report, ordering_key=key)


async def claim_note_request(
    session: AsyncSession, schedule: Schedule, boundary: Boundary, *, now: datetime, people: People | None = None
) -> str | None:
    """Ask the outgoing person for a note before `boundary`, once across replicas; returns who was asked."""
    outgoing, incoming = people if people is not None else await _effective(session, schedule, boundary.at)
    # After a gap (weekends, follow-the-sun hours) nobody is on call just before: ask whoever had the shift.
    outgoing, incoming = outgoing or boundary.outgoing, incoming or boundary.incoming
    if outgoing is None or outgoing == incoming:
        return None
    note_id = await insert_ignore(
        session,
        HandoffNote,
        {"schedule_id": schedule.id, "shift_start": boundary.at, "asked": outgoing, "created_at": now},
        conflict=["schedule_id", "shift_start"],
    )
    if note_id is None:
        return None
    payload = {
        "note_id": note_id,
        "schedule": {"id": schedule.id, "title": schedule.title, "timezone": schedule.timezone},
        "shift_start": boundary.at.isoformat(),
        "outgoing": outgoing,
        "incoming": incoming,
    }
    await enqueue(session, Op.ASK_HANDOFF_NOTE, payload=payload, ordering_key=ordering_key(schedule.id))
    return outgoing


async def save_note(session: AsyncSession, note_id: int, text: str, *, author: str, now: datetime) -> HandoffNote:
    """Store the outgoing person's note; a later save replaces it until the report is posted."""
    # Locked before looking for the report: a claim that is posting right now holds this lock
    # (see _queue_report), so the note either makes it into the report or is refused, never lost.
    stmt = select(HandoffNote).where(col(HandoffNote.id) == note_id).with_for_update()
    note = (await session.execute(stmt)).scalar_one_or_none()
    if note is None:
        raise InvalidInput("That handoff is unknown.")
    posted = (
        await session.execute(
            select(col(Handoff.id)).where(
                col(Handoff.schedule_id) == note.schedule_id, col(Handoff.shift_start) == note.shift_start
            )
        )
    ).first()
    if posted is not None:
        raise InvalidInput("That handoff report has been posted already; add the note in its thread.")
    note.text, note.author, note.updated_at = text, author, now
    session.add(note)
    return note


async def first_seen(transaction: SessionFactory, schedule_id: str, now: datetime) -> datetime:
    """When a replica first loaded this schedule (recorded now if none has): restarts keep the first time."""
    async with transaction() as session:
        await insert_ignore(
            session, ScheduleSeen, {"schedule_id": schedule_id, "first_seen": now}, conflict=["schedule_id"]
        )
        stmt = select(col(ScheduleSeen.first_seen)).where(col(ScheduleSeen.schedule_id) == schedule_id)
        return (await session.execute(stmt)).scalar_one()


async def catch_up(
    transaction: SessionFactory,
    schedule: Schedule,
    *,
    now: datetime,
    grace: timedelta,
    namer: Namer | None = None,
) -> list[Claimed]:
    """Claim every boundary of the last CATCH_UP_WINDOW that no replica has claimed yet (oldest first).

    `namer` says who hands over at a boundary that will be posted; it is asked outside any
    transaction, since it may call PagerDuty.
    """
    since = await first_seen(transaction, schedule.id, now)
    # A schedule added (or a Warroom installed) a minute after a boundary must not report it as missed.
    due = [b for b in handoffs(schedule, now - max(CATCH_UP_WINDOW, grace), now) if b.at >= since]
    if not due:
        return []
    async with transaction() as session:
        stmt = select(col(Handoff.shift_start)).where(
            col(Handoff.schedule_id) == schedule.id, col(Handoff.shift_start) >= due[0].at
        )
        known = set((await session.execute(stmt)).scalars())
    claimed: list[Claimed] = []
    for boundary in due:
        if boundary.at in known:
            continue
        people = await namer(schedule, boundary.at) if namer is not None and now - boundary.at <= grace else None
        async with transaction() as session:  # one boundary per transaction: a failure loses no other
            result = await claim_scheduled(session, schedule, boundary, now=now, grace=grace, people=people)
        if result is not None:
            claimed.append(result)
    return claimed
