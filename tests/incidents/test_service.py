"""Incident lifecycle on SQLite and PostgreSQL: numbering, one open incident per group, exactly-once transitions."""

import asyncio

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from bot.db import Database
from bot.errors import InvalidInput, InvalidTransition, NotFound
from bot.incidents import service
from bot.incidents.models import EventKind, Incident, Status, TimelineEvent
from bot.outbox import Op, OutboxRow, OutboxStatus


async def _open(db: Database, title: str = "Disk full", group_key: str | None = None) -> Incident:
    async with db.transaction() as session:
        incident, _ = await service.open_incident(session, title=title, source="generic", group_key=group_key)
    return incident


async def _events(db: Database, incident_id: int) -> list[TimelineEvent]:
    async with db.session() as session:
        stmt = (
            select(TimelineEvent).where(col(TimelineEvent.incident_id) == incident_id).order_by(col(TimelineEvent.id))
        )
        return list((await session.execute(stmt)).scalars())


async def _ops(db: Database, incident_id: int) -> list[str]:
    async with db.session() as session:
        stmt = select(OutboxRow.op).where(col(OutboxRow.incident_id) == incident_id).order_by(col(OutboxRow.id))
        return list((await session.execute(stmt)).scalars())


async def test_opening_records_the_timeline_and_the_slack_work_in_order(db: Database) -> None:
    incident = await _open(db)
    assert incident.number == 1 and incident.status == Status.TRIGGERED
    assert [e.kind for e in await _events(db, incident.id or 0)] == [EventKind.OPENED]
    assert await _ops(db, incident.id or 0) == [Op.CREATE_CHANNEL, Op.SET_TOPIC, Op.SYNC_CARD, Op.SYNC_ANNOUNCE]


async def test_numbers_are_sequential_without_gaps_under_concurrent_creation(db: Database) -> None:
    await asyncio.gather(*(_open(db, f"incident {i}") for i in range(12)))
    async with db.session() as session:
        numbers = sorted((await session.execute(select(Incident.number))).scalars())
    assert numbers == list(range(1, 13))


async def test_concurrent_alerts_for_one_group_open_one_incident(db: Database) -> None:
    results = await asyncio.gather(*(_open(db, "CPU high", group_key="am:{}:cpu") for _ in range(8)))
    assert len({incident.id for incident in results}) == 1
    async with db.session() as session:
        assert len(list((await session.execute(select(Incident))).scalars())) == 1
    # The number that lost the race is not burnt: the next incident is #2.
    assert (await _open(db, "other")).number == 2


async def test_two_concurrent_acknowledgements_act_once_and_the_first_is_commander(db: Database) -> None:
    incident = await _open(db)
    assert incident.id is not None

    async def ack(user: str) -> bool:
        async with db.transaction() as session:
            return (await service.acknowledge(session, incident.id or 0, actor=user)).changed

    outcomes = await asyncio.gather(ack("U0ALICE"), ack("U0BOB"))
    assert sorted(outcomes) == [False, True]
    async with db.session() as session:
        stored = await service.get_by_id(session, incident.id)
    winner = "U0ALICE" if outcomes[0] else "U0BOB"
    assert stored.status == Status.ACKNOWLEDGED and stored.commander == winner
    kinds = [e.kind for e in await _events(db, incident.id)]
    assert kinds.count(EventKind.STATUS) == 1 and kinds.count(EventKind.COMMANDER) == 1


async def test_resolving_releases_the_group_so_a_new_alert_opens_a_linked_incident(db: Database) -> None:
    first = await _open(db, group_key="pd:P1")
    async with db.transaction() as session:
        result = await service.resolve(session, first.id or 0, actor="U0ALICE", summary="rolled back")
        assert result.changed and result.incident.summary == "rolled back"
        again = await service.resolve(session, first.id or 0, actor="U0BOB")
        assert not again.changed
    second = await _open(db, group_key="pd:P1")
    assert second.number == 2 and second.previous_incident_id == first.id


async def test_severity_is_validated_and_final_once_resolved(db: Database) -> None:
    incident = await _open(db)
    async with db.transaction() as session:
        with pytest.raises(InvalidInput):
            await service.set_severity(session, incident.id or 0, 7, actor="U0ALICE")
        assert (await service.set_severity(session, incident.id or 0, 1, actor="U0ALICE")).changed
        assert not (await service.set_severity(session, incident.id or 0, 1, actor="U0ALICE")).changed
        await service.resolve(session, incident.id or 0, actor="U0ALICE")
    async with db.transaction() as session:
        with pytest.raises(InvalidTransition):
            await service.set_severity(session, incident.id or 0, 2, actor="U0ALICE")


async def test_refire_only_undoes_a_mitigation_that_alerts_made(db: Database) -> None:
    incident = await _open(db)
    iid = incident.id or 0
    async with db.transaction() as session:
        await service.mitigate(session, iid, actor="U0ALICE")
        assert not (await service.refire(session, iid, actor="alertmanager")).changed
    other = await _open(db, "second")
    async with db.transaction() as session:
        await service.mitigate(session, other.id or 0, actor="alertmanager", by_alerts=True)
        back = await service.refire(session, other.id or 0, actor="alertmanager")
    assert back.changed and back.incident.status == Status.TRIGGERED


async def test_notes_dedupe_on_their_key_and_empty_notes_are_refused(db: Database) -> None:
    incident = await _open(db)
    async with db.transaction() as session:
        assert await service.add_note(session, incident.id or 0, "pinned", actor="U0BOB", dedupe_key="pin:C1:1.0")
        assert not await service.add_note(session, incident.id or 0, "pinned", actor="U0BOB", dedupe_key="pin:C1:1.0")
        with pytest.raises(InvalidInput):
            await service.add_note(session, incident.id or 0, "   ", actor="U0BOB")


async def test_lookups_say_what_is_missing(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(NotFound, match="#42"):
            await service.get_by_number(session, 42)
        assert await service.find_by_channel(session, "C404") is None


async def test_status_changes_edit_the_cards_but_only_severity_changes_the_topic(db: Database) -> None:
    incident = await _open(db)
    iid = incident.id or 0
    async with db.transaction() as session:
        await service.acknowledge(session, iid, actor="U0ALICE")
        await service.mitigate(session, iid, actor="U0ALICE")
    assert (await _ops(db, iid)).count(Op.SET_TOPIC) == 1  # the one from opening
    async with db.transaction() as session:  # the relay delivered everything so far
        await session.execute(update(OutboxRow).values(status=OutboxStatus.DONE, coalesce_key=None))
        await service.set_severity(session, iid, 1, actor="U0ALICE")
    assert (await _ops(db, iid)).count(Op.SET_TOPIC) == 2
