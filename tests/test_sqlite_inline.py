"""The SQLite driver that runs statements on the event loop's thread, and the checkpointer beside it."""

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.db import WAL_SIZE_LIMIT, Database, sqlite_file
from bot.lanes import Lane
from bot.sqlite_inline import Checkpointer, InlineConnection


@pytest.fixture
async def database(sqlite_url: str) -> Database:
    db = Database(sqlite_url)
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE, body BLOB)"))
    yield db  # type: ignore[misc]
    await db.dispose()


async def test_statements_run_on_the_event_loops_thread_and_no_helper_thread_starts(database: Database) -> None:
    before = {thread.ident for thread in threading.enumerate()}
    async with database.session() as session:
        raw = await (await session.connection()).get_raw_connection()
        raw.driver_connection._conn.create_function("thread_id", 0, threading.get_ident)  # type: ignore[union-attr]
        ran_on = (await session.execute(text("SELECT thread_id()"))).scalar_one()
    assert ran_on == threading.get_ident()
    assert {thread.ident for thread in threading.enumerate()} <= before


async def test_rows_errors_and_rollback_behave_as_with_aiosqlite(database: Database) -> None:
    async with database.transaction() as session:
        await session.execute(text("INSERT INTO item (name, body) VALUES ('a', x'00ff'), ('b', NULL)"))
        assert (await session.execute(text("SELECT name, body FROM item ORDER BY id"))).all() == [
            ("a", b"\x00\xff"),
            ("b", None),
        ]
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            await session.execute(text("INSERT INTO item (name) VALUES ('c')"))
            await session.execute(text("INSERT INTO item (name) VALUES ('a')"))  # unique: the whole transaction goes
    with pytest.raises(OperationalError):
        async with database.transaction() as session:
            await session.execute(text("SELECT nope FROM item"))
    async with database.session() as session:
        assert (await session.execute(text("SELECT name FROM item ORDER BY id"))).scalars().all() == ["a", "b"]
        streamed = await session.stream(text("SELECT name FROM item ORDER BY id"))
        assert [row.name async for row in streamed] == ["a", "b"]


async def test_every_transaction_still_takes_the_write_lock_first(database: Database, sqlite_url: str) -> None:
    other = sqlite3.connect(sqlite_file(sqlite_url) or "", timeout=0)
    try:
        async with database.transaction(Lane.BACKGROUND) as session:
            await session.execute(text("SELECT count(*) FROM item"))  # a read, yet the lock is ours
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


def test_only_sqlite_files_are_checkpointed_from_a_thread(tmp_path: Path) -> None:
    assert sqlite_file(f"sqlite:///{tmp_path / 'w.db'}") == str(tmp_path / "w.db")
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql://postgres@127.0.0.1/test") is None


async def test_the_checkpointer_copies_the_wal_back_while_the_server_never_does(database: Database) -> None:
    await database.checkpoint_in_background()
    checkpointer = database.checkpointer
    assert checkpointer is not None
    async with database.session() as session:
        assert (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one() == 0
    wal = checkpointer.database + "-wal"
    body = os.urandom(4000)
    for batch in range(3):  # 1,500 pages: past the 1,000 at which the server would have checkpointed
        async with database.transaction() as session:
            await session.execute(
                text("INSERT INTO item (name, body) VALUES (:name, :body)"),
                [{"name": f"{batch}-{n}", "body": body} for n in range(500)],
            )
    for _ in range(100):  # a pass runs once a second
        if checkpointer.copied >= 1500:
            break
        await asyncio.sleep(0.05)
    assert checkpointer.copied >= 1500
    size_after_first = (await asyncio.to_thread(os.stat, wal)).st_size
    async with database.transaction() as session:  # the writer starts the copied WAL over
        await session.execute(text("INSERT INTO item (name, body) VALUES ('again', :body)"), {"body": body})
    assert (await asyncio.to_thread(os.stat, wal)).st_size <= size_after_first
    await database.dispose()
    assert database.checkpointer is None
    assert not any(thread.name.startswith("sqlite-checkpointer") for thread in threading.enumerate())
    copy = sqlite3.connect(checkpointer.database)
    try:
        assert copy.execute("SELECT count(*) FROM item").fetchone() == (1501,)
    finally:
        copy.close()


async def test_under_a_steady_stream_of_commits_the_wal_still_starts_over(database: Database) -> None:
    await database.checkpoint_in_background()
    checkpointer = database.checkpointer
    assert checkpointer is not None
    checkpointer.interval, checkpointer.catch_up_pages = 0.02, 100
    body = os.urandom(8000)
    for n in range(400):  # about 1,200 pages, commit after commit with no pause for a passive pass
        async with database.transaction() as session:
            await session.execute(
                text("INSERT INTO item (name, body) VALUES (:name, :body)"), {"name": n, "body": body}
            )
    assert checkpointer.catch_ups >= 1
    wal_bytes = (await asyncio.to_thread(os.stat, checkpointer.database + "-wal")).st_size
    assert wal_bytes < 600 * 4096  # without the catch-up passes it would hold every one of those pages


async def test_a_replaced_connection_also_leaves_checkpoints_to_the_checkpointer(database: Database) -> None:
    await database.checkpoint_in_background()
    async with database.session() as session:
        await (await session.connection()).invalidate()  # e.g. a statement cancelled half-way
    async with database.session() as session:
        assert (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one() == 0
        assert (await session.execute(text("PRAGMA journal_size_limit"))).scalar_one() == WAL_SIZE_LIMIT


async def test_a_checkpoint_that_fails_is_logged_and_the_next_one_tries_again(tmp_path: Path) -> None:
    async def nothing_to_hold() -> AsyncIterator[None]:
        yield

    checkpointer = Checkpointer(str(tmp_path / "c.db"), hold_writes=contextlib.asynccontextmanager(nothing_to_hold))
    closed = sqlite3.connect(":memory:")
    closed.close()
    checkpointer._connection = closed  # sqlite3.ProgrammingError is an sqlite3.Error: logged, not raised
    assert checkpointer.checkpoint() == 0
    checkpointer._connection = None
    assert checkpointer.checkpoint() == -1  # a fresh connection answers again: not in WAL mode, no WAL
    await checkpointer.stop()


async def test_waiting_for_another_connections_write_lock_leaves_the_event_loop_running(
    database: Database, sqlite_url: str
) -> None:
    other = Database(sqlite_url)  # e.g. a test's or a CLI's own engine on the same file, in this process
    order: list[str] = []
    try:
        async with database.transaction() as session:
            await session.execute(text("INSERT INTO item (name) VALUES ('first')"))
            waiting = asyncio.create_task(_insert(other, "second", order))
            await asyncio.sleep(0.05)  # it waits for the lock without stopping this transaction
            assert not waiting.done()
            order.append("first commits")
        await asyncio.wait_for(waiting, 5)
        assert order == ["first commits", "second"]
    finally:
        await other.dispose()


async def _insert(db: Database, name: str, order: list[str]) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO item (name) VALUES (:name)"), {"name": name})
        order.append(name)


async def test_a_write_lock_held_too_long_fails_the_transaction_after_the_lock_timeout(
    database: Database, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.db.LOCK_TIMEOUT", 0.2)
    impatient = Database(sqlite_url)
    holder = sqlite3.connect(sqlite_file(sqlite_url) or "", isolation_level=None)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = asyncio.get_running_loop().time()
        with pytest.raises(OperationalError, match="locked"):
            async with impatient.transaction() as session:
                await session.execute(text("SELECT 1"))
        waited = asyncio.get_running_loop().time() - started
        assert 0.2 <= waited < 2
        assert ticks >= 5  # the loop ran all along
    finally:
        ticking.cancel()
        holder.close()
        await impatient.dispose()


async def test_each_statement_gives_the_event_loop_a_turn(database: Database) -> None:
    seen: list[int] = []
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        async with database.transaction() as session:
            for n in range(3):
                await session.execute(text("INSERT INTO item (name) VALUES (:name)"), {"name": f"n{n}"})
                seen.append(ticks)
    finally:
        ticking.cancel()
    assert seen[0] < seen[1] < seen[2]  # other tasks ran between statements of one transaction


async def test_without_wal_a_commit_waits_for_readers_instead_of_failing(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.db")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("CREATE TABLE t (x)")
    writer = InlineConnection(sqlite3.connect(path, isolation_level=None, timeout=0), lock_timeout=5)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT * FROM t").fetchall()  # a shared lock: a rollback-journal commit must wait
        await writer.execute("BEGIN IMMEDIATE")
        await writer.execute("INSERT INTO t VALUES (1)")
        asyncio.get_running_loop().call_later(0.05, reader.execute, "COMMIT")
        await asyncio.wait_for(writer.commit(), 2)
        assert reader.execute("SELECT x FROM t").fetchall() == [(1,)]
    finally:
        await writer.close()
        reader.close()
