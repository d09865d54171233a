"""Outbox and delivery claims on SQLite and PostgreSQL: one owner per row, in order per key, leases expire."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlmodel import col

from bot.alerts.grouping import Policy
from bot.alerts.models import Delivery, DeliveryStatus
from bot.alerts.processor import DeliveryProcessor
from bot.columns import utcnow
from bot.db import Database
from bot.incidents.models import Incident
from bot.outbox import Op, OutboxRow, OutboxStatus, enqueue
from bot.slack import relay as relay_module
from bot.slack.gateway import SlackGateway
from bot.slack.ops import Effect, OpContext
from bot.slack.relay import OutboxRelay


def _relay(db: Database) -> OutboxRelay:
    # Claims never touch Slack; the context is only needed to construct the relay.
    context = OpContext(db=db, gateway=SlackGateway(client=None), http=httpx.AsyncClient())  # type: ignore[arg-type]
    return OutboxRelay(db, context, lease_seconds=60)


async def _queue(db: Database) -> None:
    async with db.transaction() as session:
        for key, count in (("incident:a", 3), ("incident:b", 2)):
            for n in range(count):
                await enqueue(session, Op.POST_MESSAGE, payload={"n": n}, ordering_key=key)


async def test_two_relays_claim_only_the_head_of_each_key_and_never_the_same_row(db: Database) -> None:
    await _queue(db)
    first, second = _relay(db), _relay(db)
    claims = await asyncio.gather(first.claim(10), second.claim(10), first.claim(10), second.claim(10))
    ids = [row.id for batch in claims for row in batch]
    assert sorted(ids) == [1, 4]  # the head of each key, once, whoever got it
    # Finishing a head makes the next row of that key claimable, and only that one.
    async with db.transaction() as session:
        await session.execute(update(OutboxRow).where(col(OutboxRow.id) == 1).values(status=OutboxStatus.DONE))
    assert [row.id for row in await second.claim(10)] == [2]


async def test_a_crashed_holder_lease_expires_and_another_replica_takes_over(db: Database) -> None:
    await _queue(db)
    crashed, survivor = _relay(db), _relay(db)
    taken = await crashed.claim(10)
    assert await survivor.claim(10) == []
    async with db.transaction() as session:
        await session.execute(update(OutboxRow).values(locked_until=utcnow() - timedelta(seconds=1)))
    retaken = await survivor.claim(10)
    assert [r.id for r in retaken] == [r.id for r in taken]
    assert all(r.attempts == 2 and r.locked_by == survivor.holder for r in retaken)


async def test_rows_waiting_for_a_retry_hold_back_their_key_only(db: Database) -> None:
    await _queue(db)
    async with db.transaction() as session:
        later = utcnow() + timedelta(minutes=5)
        await session.execute(update(OutboxRow).where(col(OutboxRow.id) == 1).values(next_attempt_at=later))
    assert [r.id for r in await _relay(db).claim(10)] == [4]


async def test_card_updates_coalesce_while_waiting_and_not_once_claimed(db: Database) -> None:
    async with db.transaction() as session:
        assert await enqueue(session, Op.SYNC_CARD, ordering_key="incident:x") is not None
        assert await enqueue(session, Op.SYNC_CARD, ordering_key="incident:x") is None
    await _relay(db).claim(10)
    async with db.transaction() as session:
        assert await enqueue(session, Op.SYNC_CARD, ordering_key="incident:x") is not None


async def test_a_delivery_abandoned_mid_processing_is_processed_after_its_lease(db: Database) -> None:
    body = b'{"title": "Queue backlog", "dedup_key": "queue"}'
    async with db.transaction() as session:
        session.add(
            Delivery(
                source="generic",
                delivery_key="k1",
                body=body,
                attempts=1,
                locked_until=utcnow() - timedelta(seconds=1),  # the process that held it died
            )
        )
        session.add(Delivery(source="alertmanager", delivery_key="k2", body=b'{"alerts": "nope"}'))
    processor = DeliveryProcessor(db, Policy())
    assert await processor.run_once() == 2
    async with db.session() as session:
        rows = {d.delivery_key: d for d in (await session.execute(select(Delivery))).scalars()}
        incidents = list((await session.execute(select(Incident))).scalars())
    assert rows["k1"].status == DeliveryStatus.PROCESSED and rows["k1"].attempts == 2
    assert rows["k2"].status == DeliveryStatus.FAILED and "alerts" in (rows["k2"].error or "")
    assert [i.title for i in incidents] == ["Queue backlog"]
    assert await processor.run_once() == 0


async def _row(db: Database, row_id: int) -> OutboxRow:
    async with db.session() as session:
        return (await session.execute(select(OutboxRow).where(col(OutboxRow.id) == row_id))).scalar_one()


async def test_a_failure_recording_the_result_leaves_the_row_to_retry_not_stuck(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _queue(db)
    relay = _relay(db)
    head = (await relay.claim(10))[0]

    async def boom(session: object) -> None:
        raise ValueError("the database refused the result")

    async def sent(row: OutboxRow, context: OpContext) -> Effect:
        return Effect(result={"ts": "1.0"}, apply=boom)

    monkeypatch.setattr(relay_module, "execute", sent)
    await relay._deliver(head)
    after = await _row(db, head.id or 0)
    assert (after.status, after.locked_by) == (OutboxStatus.PENDING, None)
    assert "the database refused the result" in (after.last_error or "")


async def test_a_relay_whose_lease_was_taken_over_does_not_apply_its_result(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _queue(db)
    slow, survivor = _relay(db), _relay(db)
    head = (await slow.claim(10))[0]
    async with db.transaction() as session:  # the slow one's lease runs out and another replica claims it
        await session.execute(update(OutboxRow).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert head.id in [r.id for r in await survivor.claim(10)]
    applied: list[str] = []

    async def record(session: object) -> None:
        applied.append("applied")

    async def sent(row: OutboxRow, context: OpContext) -> Effect:
        return Effect(apply=record)

    monkeypatch.setattr(relay_module, "execute", sent)
    await slow._deliver(head)
    assert applied == []  # the survivor finishes it, once
    assert (await _row(db, head.id or 0)).locked_by == survivor.holder
