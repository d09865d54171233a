"""The priority lock on the SQLite connection: intake goes first, equals in arrival order, nobody is lost."""

import asyncio

import pytest

from bot.db import QUIET_GRACE, Database
from bot.lanes import Lane, PriorityLock


async def _queue(lock: PriorityLock, order: list[str], name: str, lane: Lane) -> None:
    await lock.acquire(lane)
    order.append(name)
    await asyncio.sleep(0)
    lock.release(lane)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_most_urgent_waiter_goes_next_and_equals_in_the_order_they_came() -> None:
    lock = PriorityLock()
    await lock.acquire(Lane.BACKGROUND)
    order: list[str] = []
    tasks = []
    for name, lane in (("bg1", Lane.BACKGROUND), ("normal", Lane.NORMAL), ("bg2", Lane.BACKGROUND)):
        tasks.append(asyncio.create_task(_queue(lock, order, name, lane)))
        await _settle()
    tasks += [asyncio.create_task(_queue(lock, order, f"intake{n}", Lane.INTAKE)) for n in (1, 2)]
    await _settle()
    assert order == []
    assert (lock.busy(Lane.INTAKE), lock.busy(Lane.NORMAL), lock.busy(Lane.BACKGROUND)) == (2, 1, 3)
    lock.release(Lane.BACKGROUND)
    await asyncio.gather(*tasks)
    assert order == ["intake1", "intake2", "normal", "bg1", "bg2"]
    assert [lock.busy(lane) for lane in Lane] == [0, 0, 0]


async def test_a_cancelled_waiter_is_skipped_and_one_cancelled_after_its_turn_came_passes_it_on() -> None:
    lock = PriorityLock()
    await lock.acquire(Lane.NORMAL)
    order: list[str] = []
    gone = asyncio.create_task(_queue(lock, order, "gone", Lane.INTAKE))
    late = asyncio.create_task(_queue(lock, order, "late", Lane.INTAKE))
    last = asyncio.create_task(_queue(lock, order, "last", Lane.BACKGROUND))
    await _settle()
    gone.cancel()
    await _settle()
    lock.release(Lane.NORMAL)  # hands over to "late", which is cancelled before it runs
    late.cancel()
    await asyncio.gather(gone, late, last, return_exceptions=True)
    assert order == ["last"]
    assert [lock.busy(lane) for lane in Lane] == [0, 0, 0]
    await asyncio.wait_for(lock.acquire(Lane.NORMAL), 1)  # free again


async def test_idle_waits_until_no_transaction_of_the_lane_holds_or_waits() -> None:
    lock = PriorityLock()
    await lock.acquire(Lane.INTAKE)
    second = asyncio.create_task(lock.acquire(Lane.INTAKE))
    idle = asyncio.create_task(lock.idle(Lane.INTAKE))
    await _settle()
    lock.release(Lane.INTAKE)  # the second intake transaction now holds it
    await _settle()
    assert not idle.done()
    await second
    lock.release(Lane.INTAKE)
    await asyncio.wait_for(idle, 1)
    await asyncio.wait_for(lock.idle(Lane.INTAKE), 1)  # returns at once when quiet


def test_releasing_an_unheld_lock_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        PriorityLock().release(Lane.NORMAL)


async def test_on_sqlite_a_webhook_transaction_overtakes_queued_background_ones(db: Database) -> None:
    order: list[str] = []

    async def run(name: str, lane: Lane) -> None:
        async with db.transaction(lane):
            order.append(name)

    holder = db.transaction(Lane.BACKGROUND)
    await holder.__aenter__()
    background = [asyncio.create_task(run(f"bg{n}", Lane.BACKGROUND)) for n in (1, 2)]
    await _settle()
    intake = asyncio.create_task(run("intake", Lane.INTAKE))
    await _settle()
    if db.url.startswith("sqlite"):
        assert db.intake_waiting()
        await holder.__aexit__(None, None, None)
        await asyncio.gather(*background, intake)
        assert order == ["intake", "bg1", "bg2"]
    else:  # PostgreSQL has a pool and replicas: no lanes, nobody waits for the open transaction
        await asyncio.gather(*background, intake)
        assert not db.intake_waiting()
        assert sorted(order) == ["bg1", "bg2", "intake"]
        await holder.__aexit__(None, None, None)
    assert not db.intake_waiting()


async def test_background_work_waits_for_intake_to_go_quiet_but_not_forever(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        async with db.transaction(Lane.INTAKE):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(db.intake_quiet(limit=10), 0.05)
            started = asyncio.get_running_loop().time()
            await db.intake_quiet(limit=0.05)  # gives up waiting after the limit
            assert asyncio.get_running_loop().time() - started >= 0.04
        await asyncio.wait_for(db.intake_quiet(limit=10), 1)
    finally:
        await db.dispose()


async def test_a_webhook_being_received_counts_as_intake_before_it_asks_for_the_connection(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        assert not db.intake_waiting()
        with pytest.raises(ValueError), db.receiving_webhook():
            assert db.intake_waiting()
            quiet = asyncio.create_task(db.intake_quiet(limit=10))
            await _settle()
            assert not quiet.done()  # background work holds back while the body is read and checked
            raise ValueError("the handler failed")
        await asyncio.wait_for(quiet, 1)  # over, even though it ended in an exception
        assert not db.intake_waiting()
    finally:
        await db.dispose()


async def test_receiving_a_webhook_holds_background_work_back_only_on_sqlite(db: Database) -> None:
    with db.receiving_webhook():
        if db.url.startswith("sqlite"):
            assert db.intake_waiting()
        else:  # PostgreSQL: a pool of connections, and replicas that could not see this count anyway
            assert not db.intake_waiting()
            await asyncio.wait_for(db.intake_quiet(limit=10), 1)
    assert not db.intake_waiting()


async def test_a_lull_between_two_webhooks_is_not_quiet_but_idle_intake_is_at_once(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        await asyncio.wait_for(db.intake_quiet(limit=10), QUIET_GRACE / 2)  # nothing was going on
        with db.receiving_webhook():
            quiet = asyncio.create_task(db.intake_quiet(limit=10))
            await _settle()
        with db.receiving_webhook():  # the sender's next webhook, straight after its 202
            await asyncio.sleep(QUIET_GRACE * 2)
            assert not quiet.done()
        await asyncio.wait_for(quiet, 1)
    finally:
        await db.dispose()


async def test_waiters_that_give_up_on_idle_leave_nothing_behind() -> None:
    lock = PriorityLock()
    lock.enter(Lane.INTAKE)  # intake that stays busy (a long webhook)
    for _ in range(50):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(lock.idle(Lane.INTAKE), 0.001)
    assert lock._idle_waiters[Lane.INTAKE] == []
    lock.leave(Lane.INTAKE)
    await asyncio.wait_for(lock.idle(Lane.INTAKE), 1)
