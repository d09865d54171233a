"""`DeliveryWriter`: group commit keeps store-once, content dedupe and 503-on-failure semantics."""

import asyncio
import json
import random
import threading
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlmodel import col

from bot.alerts.intake import DeliveryWriter, GroupState, StorageUnavailable, Stored
from bot.alerts.models import Delivery
from bot.db import Database

RECEIVED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
AM = "alertmanager"


def notification(status: str, group: str = "disk") -> bytes:
    alert = {
        "status": status,
        "labels": {"alertname": "DiskFull", "instance": group},
        "startsAt": "2026-11-23T09:00:00Z",
        "fingerprint": "f1",
    }
    return json.dumps({"version": "4", "groupKey": group, "status": status, "alerts": [alert]}).encode()


FIRING, RESOLVED = notification("firing"), notification("resolved")
FLIP_BACK = [FIRING, FIRING, RESOLVED, RESOLVED, FIRING, FIRING]
FLIP_BACK_ANSWERS = ["accepted", "duplicate", "accepted", "duplicate", "accepted", "duplicate"]


def answer(stored: Stored) -> str:
    return "duplicate" if stored.delivery_id is None else "accepted"


def submit(writer: DeliveryWriter, body: bytes, group: str = "alertmanager:disk") -> Awaitable[Stored]:
    return writer.submit(AM, body, RECEIVED, group_key=group)


async def queued(*submissions: Awaitable[Stored]) -> list[asyncio.Task[Stored]]:
    """Start submissions in order and let each reach the writer's queue."""
    tasks = [asyncio.ensure_future(submission) for submission in submissions]
    await asyncio.sleep(0)
    return tasks


async def rows(db: Database) -> list[Any]:
    async with db.session() as session:
        stmt = select(Delivery.id, Delivery.source, Delivery.delivery_key, Delivery.group_key).order_by(
            col(Delivery.id)
        )
        return list((await session.execute(stmt)).all())


@pytest.fixture
async def writer(db: Database) -> AsyncIterator[DeliveryWriter]:
    running = DeliveryWriter(db)
    running.start()
    yield running
    await running.stop()


async def test_concurrent_submissions_store_each_distinct_delivery_once(db: Database) -> None:
    wakes: list[int] = []
    writer = DeliveryWriter(db, on_stored=lambda: wakes.append(1), max_batch=16)
    writer.start()
    # 40 groups, each sent by three HA peers; 40 PagerDuty webhooks, each delivered twice.
    work: list[tuple[str, str, bytes]] = [(f"group-{i}", "", notification("firing", f"g{i}")) for i in range(40)] * 3
    work += [("", f"wh-{i}", json.dumps({"event": {"id": i}}).encode()) for i in range(40)] * 2
    random.Random(7).shuffle(work)

    def send(group: str, key: str, body: bytes) -> Awaitable[Stored]:
        if key:
            return writer.submit("pagerduty", body, RECEIVED, key=key)
        return writer.submit(AM, body, RECEIVED, group_key=group)

    results = await asyncio.gather(*(send(*item) for item in work))
    await writer.stop()

    first_seen: set[tuple[str, str]] = set()
    for (group, key, _body), stored in zip(work, results, strict=True):
        first = (group, key) not in first_seen
        first_seen.add((group, key))
        assert answer(stored) == ("accepted" if first else "duplicate"), (group, key)
    stored_rows = await rows(db)
    assert len(stored_rows) == 80
    assert sorted(s.delivery_id for s in results if s.delivery_id is not None) == [r.id for r in stored_rows]
    assert {(r.source, r.delivery_key) for r in stored_rows} == {
        ("pagerduty" if key else AM, stored.delivery_key) for (_, key, _), stored in zip(work, results, strict=True)
    }
    assert writer.batches >= 200 // 16 and 0 < len(wakes) <= writer.batches  # batches of duplicates wake no one


async def test_flip_back_within_one_batch(db: Database) -> None:
    wakes: list[int] = []
    writer = DeliveryWriter(db, on_stored=lambda: wakes.append(1))
    tasks = await queued(*(submit(writer, body) for body in FLIP_BACK))  # all waiting before it starts
    writer.start()
    results = await asyncio.gather(*tasks)
    await writer.stop()
    assert [answer(r) for r in results] == FLIP_BACK_ANSWERS
    assert writer.batches == 1 and len(wakes) == 1
    ids = [r.delivery_id for r in results if r.delivery_id is not None]
    assert [r.delivery_key.rsplit(":", 1)[1] for r in results] == ["0", "0", str(ids[0]), str(ids[0])] + [
        str(ids[1])
    ] * 2
    assert [r.id for r in await rows(db)] == ids


@pytest.mark.parametrize("cache_size", [10_000, 0])
async def test_flip_back_across_batches(db: Database, cache_size: int) -> None:
    writer = DeliveryWriter(db, cache_size=cache_size)  # 0: every batch reloads the group from the database
    writer.start()
    answers = [answer(await submit(writer, body)) for body in FLIP_BACK]
    await writer.stop()
    assert answers == FLIP_BACK_ANSWERS
    assert writer.batches == 6


async def test_each_group_has_its_own_history(writer: DeliveryWriter) -> None:
    sequence = [("a", "firing"), ("b", "firing"), ("a", "resolved"), ("b", "firing"), ("b", "resolved")]
    sequence += [("a", "firing"), ("a", "firing")]
    tasks = await queued(*(submit(writer, notification(status, group), group) for group, status in sequence))
    answers = [answer(r) for r in await asyncio.gather(*tasks)]
    assert answers == ["accepted", "accepted", "accepted", "duplicate", "accepted", "accepted", "duplicate"]


async def test_a_batch_is_bounded_and_each_gets_its_own_transaction(db: Database) -> None:
    writer = DeliveryWriter(db, max_batch=4)
    tasks = await queued(*(submit(writer, notification("firing", f"g{i}"), f"g{i}") for i in range(10)))
    writer.start()
    assert all(r.delivery_id for r in await asyncio.gather(*tasks))
    await writer.stop()
    assert writer.batches == 3


async def test_only_duplicates_do_not_wake_the_processor(db: Database) -> None:
    wakes: list[int] = []
    writer = DeliveryWriter(db, on_stored=lambda: wakes.append(1))
    writer.start()
    await submit(writer, FIRING)
    await submit(writer, FIRING)
    await writer.stop()
    assert writer.batches == 2 and len(wakes) == 1


async def test_two_writers_on_one_database_see_each_others_deliveries(db: Database, db_url: str) -> None:
    """Two processes' writers: the check at the start of each batch notices the other's inserts."""
    other_db = Database(db_url)
    first, second = DeliveryWriter(db), DeliveryWriter(other_db)
    first.start()
    second.start()
    try:
        # A stale memory would answer the 4th "duplicate" (firing after:0 exists) and the 6th too.
        sequence = [(first, FIRING), (second, FIRING), (second, RESOLVED), (first, FIRING), (second, FIRING)]
        sequence += [(second, RESOLVED), (first, RESOLVED)]
        answers = [answer(await submit(writer, body)) for writer, body in sequence]
        assert answers == ["accepted", "duplicate", "accepted", "accepted", "duplicate", "accepted", "duplicate"]

        # Both HA peers deliver each notification at once, one through each writer: one copy is stored.
        pairs = [(FIRING, 1), (RESOLVED, 1), (RESOLVED, 0), (FIRING, 1)]
        for body, expected in pairs:
            pair = await asyncio.gather(submit(first, body), submit(second, body))
            assert sum(r.delivery_id is not None for r in pair) == expected
            assert pair[0].delivery_key == pair[1].delivery_key
    finally:
        await first.stop()
        await second.stop()
        await other_db.dispose()


@pytest.mark.parametrize("max_batch", [1, 3, 200])
async def test_keys_match_one_transaction_per_delivery(db: Database, max_batch: int) -> None:
    """Random histories in random-sized bursts give the answers of the one-query-per-delivery rule."""
    rng = random.Random(max_batch)
    sequence = [(rng.choice("abc"), rng.choice(["firing", "resolved", "pending"])) for _ in range(120)]
    expected, seen, history = [], set(), []  # the rule: after the group's last delivery with other content
    for group, status in sequence:
        after = max((i for i, (g, s) in enumerate(history, 1) if g == group and s != status), default=0)
        key = (status, group, after)
        expected.append("duplicate" if key in seen else "accepted")
        if key not in seen:
            seen.add(key)
            history.append((group, status))
    writer = DeliveryWriter(db, max_batch=max_batch, cache_size=2)  # 3 groups: some batches reload
    writer.start()
    answers: list[str] = []
    while len(answers) < len(sequence):
        burst = sequence[len(answers) : len(answers) + rng.randint(1, 12)]
        tasks = await queued(*(submit(writer, notification(status, group), group) for group, status in burst))
        answers += [answer(r) for r in await asyncio.gather(*tasks)]
    await writer.stop()
    assert answers == expected


REFUSE_POISON = {
    "sqlite": [
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON delivery WHEN NEW.group_key = 'poison' "
        "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.group_key = 'poison' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON delivery FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    ],
}
ALLOW_POISON = {"sqlite": ["DROP TRIGGER refuse_poison"], "postgresql": ["DROP TRIGGER refuse_poison ON delivery"]}


async def run_sql(db: Database, statements: dict[str, list[str]]) -> None:
    async with db.transaction() as session:
        for statement in statements[db.engine.dialect.name]:
            await session.execute(text(statement))


async def test_a_failed_batch_refuses_all_its_deliveries_and_a_retry_is_stored(
    writer: DeliveryWriter, db: Database
) -> None:
    good_group = (AM, "alertmanager:disk")
    first = await submit(writer, FIRING)
    assert first.delivery_id is not None and writer.cache.get(good_group) is not None
    await run_sql(db, REFUSE_POISON)
    batches = writer.batches
    tasks = await queued(submit(writer, RESOLVED), submit(writer, notification("firing", "poison"), "poison"))
    for task in tasks:
        with pytest.raises(StorageUnavailable, match="storage unavailable, retry later"):
            await task
    assert writer.batches == batches
    assert writer.cache.get(good_group) is None  # forgotten: reloaded from the database next time
    assert [r.id for r in await rows(db)] == [first.delivery_id]

    await run_sql(db, ALLOW_POISON)
    retried = await asyncio.gather(submit(writer, RESOLVED), submit(writer, notification("firing", "poison"), "poison"))
    assert [answer(r) for r in retried] == ["accepted", "accepted"]
    assert retried[0].delivery_key.endswith(f":after:{first.delivery_id}")
    assert writer.cache.get(good_group) == GroupState(
        retried[0].delivery_key.split(":")[1], retried[0].delivery_id or 0, first.delivery_id
    )


async def test_stop_stores_what_is_waiting_then_refuses(db: Database) -> None:
    writer = DeliveryWriter(db)
    writer.start()
    assert writer.readiness() == ("worker_intake", True, "running")
    tasks = await queued(*(submit(writer, notification("firing", f"g{i}"), f"g{i}") for i in range(5)))
    await writer.stop()
    assert all(task.done() and task.result().delivery_id for task in tasks)
    assert writer.readiness() == ("worker_intake", False, "stopped")
    with pytest.raises(StorageUnavailable):
        await submit(writer, RESOLVED)
    assert len(await rows(db)) == 5


async def test_a_writer_stopped_before_it_started_refuses_what_was_queued(db: Database) -> None:
    writer = DeliveryWriter(db)
    tasks = await queued(submit(writer, FIRING))
    await writer.stop()
    with pytest.raises(StorageUnavailable):
        await tasks[0]
    assert await rows(db) == []


async def test_batches_touching_hundreds_of_groups(db: Database) -> None:
    bodies = [(f"g{i}", notification("firing", f"g{i}")) for i in range(300)]
    writer = DeliveryWriter(db, max_batch=300)
    tasks = await queued(*(submit(writer, body, group) for group, body in bodies))
    writer.start()
    assert all(r.delivery_id for r in await asyncio.gather(*tasks))
    again = await asyncio.gather(*(submit(writer, body, group) for group, body in bodies))
    await writer.stop()
    cold = DeliveryWriter(db, max_batch=300)  # another process: nothing remembered, all loaded
    cold.start()
    from_cold = await asyncio.gather(*(submit(cold, body, group) for group, body in bodies))
    await cold.stop()
    assert {answer(r) for r in again + from_cold} == {"duplicate"}
    assert writer.batches == 2 and cold.batches == 1


async def test_without_a_connection_everything_waiting_is_refused_and_the_writer_lives_on(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    unreachable = Database(f"sqlite:///{tmp_path / 'missing' / 'warroom.db'}")
    writer = DeliveryWriter(unreachable)
    tasks = await queued(*(submit(writer, notification("firing", f"g{i}"), f"g{i}") for i in range(3)))
    writer.start()
    for task in tasks:
        with pytest.raises(StorageUnavailable):
            await task
    assert writer.batches == 0 and writer.alive
    with pytest.raises(StorageUnavailable):
        await submit(writer, FIRING)
    await writer.stop()
    await unreachable.dispose()
    # A failed aiosqlite connect leaves its worker thread to finish on its own; if it outlives this
    # test's event loop it raises "Event loop is closed", blamed on whichever test runs next.
    for thread in set(threading.enumerate()) - before:
        if "_connection_worker_thread" in thread.name:
            await asyncio.to_thread(thread.join, 5)
