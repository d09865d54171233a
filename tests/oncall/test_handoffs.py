"""Handoffs on SQLite and PostgreSQL: claimed once, posted late within the grace period, skipped after it."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from bot.db import Database
from bot.errors import InvalidInput
from bot.incidents import service as incidents
from bot.incidents.models import Incident
from bot.oncall import handoffs, service
from bot.oncall.rotation import Boundary
from bot.oncall.rotation import handoffs as boundaries
from bot.oncall.schema import Schedule
from bot.oncall.tables import Handoff, HandoffNote, HandoffStatus
from bot.outbox import Op, OutboxRow

GRACE = timedelta(hours=1)
# Daily handoff at 09:00 Berlin; alice, bob, carol in turn from Monday 2026-11-02.
SCHEDULE = Schedule.model_validate(
    {
        "id": "platform",
        "channel": "#platform-oncall",
        "timezone": "Europe/Berlin",
        "services": ["payments"],
        "rotation": {
            "members": ["alice@example.com", "bob@example.com", "carol@example.com"],
            "shift": "1d",
            "handoff": "09:00",
            "start": "2026-11-02",
        },
    }
)
# Tuesday 2026-11-24 09:00 CET = 08:00 UTC: day 22 of the rotation, so bob (22 % 3 = 1) takes over from alice.
BOUNDARY = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _boundary() -> Boundary:
    found = [b for b in boundaries(SCHEDULE, BOUNDARY - timedelta(minutes=1), BOUNDARY) if b.at == BOUNDARY]
    assert len(found) == 1
    return found[0]


async def _outbox(db: Database) -> list[OutboxRow]:
    async with db.session() as session:
        return list((await session.execute(select(OutboxRow).order_by(col(OutboxRow.id)))).scalars())


async def _handoffs(db: Database) -> list[Handoff]:
    async with db.session() as session:
        return list((await session.execute(select(Handoff).order_by(col(Handoff.shift_start)))).scalars())


async def test_a_boundary_is_claimed_once_and_queues_the_report_and_the_dm(db: Database) -> None:
    boundary = _boundary()
    assert (boundary.outgoing, boundary.incoming) == ("alice@example.com", "bob@example.com")
    async with db.transaction() as session:
        first = await handoffs.claim_scheduled(session, SCHEDULE, boundary, now=BOUNDARY, grace=GRACE)
    async with db.transaction() as session:
        second = await handoffs.claim_scheduled(session, SCHEDULE, boundary, now=BOUNDARY, grace=GRACE)
    assert first is not None and first.status is HandoffStatus.POSTED
    assert second is None
    rows = await _outbox(db)
    assert [r.op for r in rows] == [Op.POST_HANDOFF, Op.DM_HANDOFF]
    report = rows[0].payload
    assert (report["outgoing"], report["incoming"], report["channel"]) == (
        "alice@example.com",
        "bob@example.com",
        "#platform-oncall",
    )
    assert report["since"] == (BOUNDARY - timedelta(days=1)).isoformat()
    assert report["until"] == BOUNDARY.isoformat()


async def test_replicas_claiming_at_the_same_instant_post_once(db: Database, db_url: str) -> None:
    """Separate engines, as separate processes have: the unique row decides, not a lock in this process."""
    replicas = [Database(db_url) for _ in range(4)]
    try:

        async def claim(replica: Database) -> object:
            async with replica.transaction() as session:
                return await handoffs.claim_scheduled(session, SCHEDULE, _boundary(), now=BOUNDARY, grace=GRACE)

        results = await asyncio.gather(*(claim(r) for r in replicas), return_exceptions=True)
    finally:
        for replica in replicas:
            await replica.dispose()
    assert not [r for r in results if isinstance(r, BaseException)]
    assert sum(1 for r in results if r is not None) == 1
    posts = [r for r in await _outbox(db) if r.op == Op.POST_HANDOFF]
    assert len(posts) == 1


async def _loaded_long_ago(db: Database) -> None:
    """The schedule was in force before the downtime (a replica loaded it a week earlier)."""
    await handoffs.first_seen(db.transaction, SCHEDULE.id, BOUNDARY - timedelta(days=7))


async def test_a_boundary_missed_within_the_grace_period_posts_late_and_says_so(db: Database) -> None:
    await _loaded_long_ago(db)
    now = BOUNDARY + timedelta(minutes=40)
    claimed = await handoffs.catch_up(db.transaction, SCHEDULE, now=now, grace=GRACE)
    # The catch-up window (2 days) also holds the day before's boundary, far past the grace period.
    assert [c.status for c in claimed] == [HandoffStatus.SKIPPED, HandoffStatus.POSTED]
    stored = await _handoffs(db)
    assert [h.shift_start for h in stored] == [BOUNDARY - timedelta(days=1), BOUNDARY]
    assert stored[-1].late_by_seconds == 40 * 60
    posts = [r for r in await _outbox(db) if r.op == Op.POST_HANDOFF]
    assert len(posts) == 1 and posts[0].payload["late_by_seconds"] == 40 * 60
    # A second sweep (or a second replica after the restart) adds nothing.
    assert await handoffs.catch_up(db.transaction, SCHEDULE, now=now + timedelta(seconds=30), grace=GRACE) == []
    assert len(await _outbox(db)) == 2


async def test_a_boundary_missed_beyond_the_grace_period_is_skipped_not_posted(db: Database) -> None:
    await _loaded_long_ago(db)
    claimed = await handoffs.catch_up(db.transaction, SCHEDULE, now=BOUNDARY + timedelta(hours=3), grace=GRACE)
    assert {c.status for c in claimed} == {HandoffStatus.SKIPPED}
    assert await _outbox(db) == []


async def test_a_schedule_added_after_a_boundary_does_not_report_it_as_missed(db: Database) -> None:
    added = BOUNDARY + timedelta(minutes=5)  # the file lands five minutes after a handoff time
    assert await handoffs.catch_up(db.transaction, SCHEDULE, now=added, grace=GRACE) == []
    assert await _handoffs(db) == [] and await _outbox(db) == []
    # Its first real boundary, a day later, posts as usual; a restart keeps the first time it was seen.
    next_day = BOUNDARY + timedelta(days=1)
    assert await handoffs.first_seen(db.transaction, SCHEDULE.id, next_day) == added
    claimed = await handoffs.catch_up(db.transaction, SCHEDULE, now=next_day, grace=GRACE)
    assert [c.status for c in claimed] == [HandoffStatus.POSTED]


async def _incident(db: Database, title: str, service_name: str, opened: datetime, resolved: datetime | None) -> int:
    async with db.transaction() as session:
        incident, _ = await incidents.open_incident(session, title=title, source="generic", service=service_name)
        values: dict[str, object] = {"created_at": opened}
        if resolved is not None:
            values |= {"status": "resolved", "resolved_at": resolved}
        await session.execute(update(Incident).where(col(Incident.id) == incident.id).values(**values))
    assert incident.id is not None
    return incident.id


async def test_the_report_lists_the_shifts_incidents_for_the_schedules_services(db: Database) -> None:
    since = BOUNDARY - timedelta(days=1)
    await _incident(db, "Before, still open", "payments", since - timedelta(days=3), None)
    await _incident(db, "Opened and resolved", "payments", since + timedelta(hours=2), since + timedelta(hours=3))
    await _incident(db, "Opened, still open", "payments", since + timedelta(hours=5), None)
    await _incident(db, "Resolved before the shift", "payments", since - timedelta(days=2), since - timedelta(days=1))
    await _incident(db, "Another team's", "search", since + timedelta(hours=1), None)
    async with db.transaction() as session:
        await handoffs.claim_scheduled(session, SCHEDULE, _boundary(), now=BOUNDARY, grace=GRACE)
    report = next(r.payload for r in await _outbox(db) if r.op == Op.POST_HANDOFF)

    def titles(section: str) -> list[str]:
        return [item["title"] for item in report[section]["items"]]

    assert titles("opened") == ["Opened and resolved", "Opened, still open"]
    assert titles("resolved") == ["Opened and resolved"]
    assert titles("still_open") == ["Before, still open", "Opened, still open"]
    resolved = report["resolved"]["items"][0]
    assert resolved["duration_seconds"] == 3600
    # An open incident's age is counted to the handoff: opened 5 h into a 24 h shift.
    assert report["still_open"]["items"][1]["duration_seconds"] == 19 * 3600


async def test_the_outgoing_persons_note_is_asked_once_and_goes_into_the_report(db: Database) -> None:
    boundary = _boundary()
    asked_at = BOUNDARY - timedelta(minutes=30)
    async with db.transaction() as session:
        asked = await handoffs.claim_note_request(session, SCHEDULE, boundary, now=asked_at)
    async with db.transaction() as session:
        again = await handoffs.claim_note_request(session, SCHEDULE, boundary, now=asked_at)
    assert asked == "alice@example.com" and again is None
    requests = [r for r in await _outbox(db) if r.op == Op.ASK_HANDOFF_NOTE]
    assert len(requests) == 1
    note_id = requests[0].payload["note_id"]
    async with db.transaction() as session:
        await handoffs.save_note(session, note_id, "Primary <db> is flaky; watch it", author="U0ALICE", now=asked_at)
    async with db.transaction() as session:
        await handoffs.claim_scheduled(session, SCHEDULE, boundary, now=BOUNDARY, grace=GRACE)
    report = next(r.payload for r in await _outbox(db) if r.op == Op.POST_HANDOFF)
    assert report["note"] == {"text": "Primary <db> is flaky; watch it", "author": "U0ALICE"}
    # Once posted, the note can no longer change what was sent.
    with pytest.raises(InvalidInput):
        async with db.transaction() as session:
            await handoffs.save_note(session, note_id, "too late", author="U0ALICE", now=BOUNDARY)
    async with db.session() as session:
        note = (await session.execute(select(HandoffNote))).scalar_one()
    assert note.text == "Primary <db> is flaky; watch it"


async def test_an_override_at_the_boundary_names_who_really_takes_over(db: Database) -> None:
    async with db.transaction() as session:
        await service.add_override(
            session,
            SCHEDULE,
            "dave@example.com",
            BOUNDARY,
            BOUNDARY + timedelta(hours=4),
            by="U0BOB",
            now=BOUNDARY - timedelta(hours=1),
        )
    async with db.transaction() as session:
        await handoffs.claim_scheduled(session, SCHEDULE, _boundary(), now=BOUNDARY, grace=GRACE)
    stored = (await _handoffs(db))[0]
    assert (stored.outgoing, stored.incoming) == ("alice@example.com", "dave@example.com")


async def test_posting_a_handoff_now_reports_the_shift_so_far(db: Database) -> None:
    now = BOUNDARY + timedelta(hours=6)
    async with db.session() as session:
        rota = await service.rota(session, SCHEDULE, now)
    async with db.transaction() as session:
        handoff_id = await handoffs.post_now(session, SCHEDULE, rota, now=now, by="U0BOB")
    stored = (await _handoffs(db))[0]
    assert stored.id == handoff_id and stored.kind == "manual" and stored.posted_by == "U0BOB"
    report = next(r.payload for r in await _outbox(db) if r.op == Op.POST_HANDOFF)
    assert (report["outgoing"], report["incoming"]) == ("bob@example.com", "carol@example.com")
    assert report["since"] == BOUNDARY.isoformat() and report["until"] == now.isoformat()
    # The shift goes on: nobody is told "you are on call from now".
    assert [r.op for r in await _outbox(db)] == [Op.POST_HANDOFF]


async def test_an_override_across_the_boundary_means_nobody_hands_over(db: Database) -> None:
    async with db.transaction() as session:
        await service.add_override(
            session,
            SCHEDULE,
            "dave@example.com",
            BOUNDARY - timedelta(hours=2),
            BOUNDARY + timedelta(hours=2),
            by="U0BOB",
            now=BOUNDARY - timedelta(hours=3),
        )
    async with db.transaction() as session:
        claimed = await handoffs.claim_scheduled(session, SCHEDULE, _boundary(), now=BOUNDARY, grace=GRACE)
    assert claimed is not None and claimed.status is HandoffStatus.SKIPPED
    assert await _outbox(db) == []  # no "dave hands over to dave", no DM


async def test_a_zero_grace_still_posts_a_handoff_claimed_on_time(db: Database) -> None:
    async with db.transaction() as session:
        claimed = await handoffs.claim_scheduled(
            session, SCHEDULE, _boundary(), now=BOUNDARY + timedelta(milliseconds=40), grace=timedelta(0)
        )
    assert claimed is not None and claimed.status is HandoffStatus.POSTED


async def test_a_late_report_still_lists_an_incident_resolved_after_the_boundary(db: Database) -> None:
    incident_id = await _incident(db, "Open at the handoff", "payments", BOUNDARY - timedelta(hours=2), None)
    async with db.transaction() as session:
        await session.execute(
            update(Incident)
            .where(col(Incident.id) == incident_id)
            .values(status="resolved", resolved_at=BOUNDARY + timedelta(minutes=10))
        )
    async with db.transaction() as session:
        await handoffs.claim_scheduled(
            session, SCHEDULE, _boundary(), now=BOUNDARY + timedelta(minutes=20), grace=GRACE
        )
    report = next(r.payload for r in await _outbox(db) if r.op == Op.POST_HANDOFF)
    assert [i["title"] for i in report["still_open"]["items"]] == ["Open at the handoff"]
