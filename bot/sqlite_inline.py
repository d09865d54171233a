"""An aiosqlite-shaped SQLite connection that runs each statement on the event loop's own thread.

aiosqlite runs every call on a helper thread: a cursor, an `execute`, a `fetchall` and a `close`
are four trips there and back per statement, each a queue put, a thread wake-up, a GIL hand-over
and a wake-up of the event loop. The thread lets SQLite's own work overlap the loop (sqlite3
releases the GIL while a statement runs), but Warroom's statements take microseconds to a
millisecond, so the trips cost far more than the overlap bought: about 30 per processed
delivery, most of what processing cost (docs/performance.md).

SQLAlchemy's aiosqlite dialect accepts any driver connection with aiosqlite's interface
(`create_async_engine(async_creator=...)`), so the SQL, the pool and the dialect stay as they
were. Only where the statement runs changes: here, synchronously, inside the coroutine. That
blocks the loop while a statement runs, which is fine for the short statements Warroom sends on
its single SQLite connection. Work that could run long is cut up by its callers (housekeeping
deletes in chunks, `bot.scheduler.delete_in_chunks`), and three things here keep it that way:

- After each statement the coroutine yields a turn to the loop, as awaiting aiosqlite did, so
  a long run of statements (a storm's deliveries) still lets webhooks and clicks in between.
- Waiting for another connection's write lock is a retry with `asyncio.sleep`, never SQLite's
  blocking busy handler (`InlineConnection.when_unlocked`).
- WAL checkpoints, the one slow part (they write pages back and fsync), run on a thread of
  their own (`Checkpointer`).
"""

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class InlineCursor:
    """`aiosqlite.Cursor`'s interface over a `sqlite3.Cursor`, without a thread."""

    def __init__(self, cursor: sqlite3.Cursor, connection: "InlineConnection") -> None:
        self._cursor = cursor
        self._connection = connection

    async def __aenter__(self) -> "InlineCursor":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._rows()

    async def _rows(self) -> AsyncIterator[Any]:
        for row in self._cursor:
            yield row

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> "InlineCursor":
        if parameters is None:
            await self._connection.when_unlocked(self._cursor.execute, sql)
        else:
            await self._connection.when_unlocked(self._cursor.execute, sql, parameters)
        await asyncio.sleep(0)  # a turn for the loop after each statement (the module docstring says why)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> "InlineCursor":
        await self._connection.when_unlocked(self._cursor.executemany, sql, parameters)
        await asyncio.sleep(0)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None


class _RunNow:
    """Stands in for aiosqlite's request queue, which SQLAlchemy's `isolation_level` setter uses."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to whoever awaits the future, as aiosqlite does
            future.set_exception(error)


def _locked(error: sqlite3.OperationalError) -> bool:
    message = str(error)
    return "database is locked" in message or "database is busy" in message


class InlineConnection:
    """`aiosqlite.Connection`'s interface over a `sqlite3.Connection`, without a thread.

    Waiting for another connection's write lock must not block the event loop: that other
    connection may need the loop to finish (another engine on the same file in this process), and
    everything else would stall meanwhile. So SQLite's own busy wait is off (`timeout=0`), and a
    statement refused with "database is locked" outside a transaction (in practice the
    `BEGIN IMMEDIATE` every transaction starts with) is retried after sleeps of 1 ms doubling to
    50 ms, for up to `lock_timeout` seconds, as SQLite's busy handler would have.
    """

    _tx = _RunNow()

    def __init__(self, connection: sqlite3.Connection, *, lock_timeout: float = 5.0) -> None:
        self._connection: sqlite3.Connection | None = connection
        self.lock_timeout = lock_timeout

    async def when_unlocked(self, statement: Callable[..., Any], *args: Any, in_transaction: bool = False) -> Any:
        """`statement(*args)`, retried cooperatively while another connection holds the write lock.

        Inside a transaction only a statement that SQLite says may be retried (`in_transaction`,
        the COMMIT) is: any other could have done part of its work.
        """
        try:
            return statement(*args)
        except sqlite3.OperationalError as error:
            if not _locked(error) or (self._conn.in_transaction and not in_transaction):
                raise
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_timeout
        delay = 0.001
        while True:
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            try:
                return statement(*args)
            except sqlite3.OperationalError as error:
                if not _locked(error) or loop.time() >= deadline:
                    raise
            delay = min(delay * 2, 0.05)

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor(), self)

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        # In WAL mode a commit never waits; without WAL (a filesystem that refuses it) it must wait
        # for readers to finish, and "a COMMIT that fails with SQLITE_BUSY can be retried later"
        # (https://www.sqlite.org/lang_transaction.html).
        await self.when_unlocked(self._conn.commit, in_transaction=True)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any], **kw: Any) -> None:
        self._conn.create_function(name, num_params, func, **kw)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def inline_creator(database: str, *, lock_timeout: float, **connect_kw: Any) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine` that opens `database` as an `InlineConnection`."""

    async def create() -> InlineConnection:
        # timeout=0: InlineConnection waits for locks itself. check_same_thread off: the pool may
        # close the connection from another thread at interpreter exit.
        options = {**connect_kw, "timeout": 0, "check_same_thread": False}
        return InlineConnection(sqlite3.connect(database, **options), lock_timeout=lock_timeout)

    return create


class Checkpointer:
    """Copies the WAL back into the database file on a thread, so no commit on the loop waits for it.

    The serving connection has `wal_autocheckpoint` off (`Database.checkpoint_in_background`).
    Every `interval` seconds a PASSIVE checkpoint runs on this object's own connection, on its own
    thread: it copies what no reader still needs, syncs, and never blocks the writer. Once it has
    copied everything, the writer's next transaction starts the WAL over
    (https://www.sqlite.org/wal.html#ckpt). Under a steady stream of commits it can never copy
    everything, so the WAL would grow without end: once it passes `catch_up_pages`, a pass runs
    while `hold_writes()` keeps this process's transactions waiting, as a commit that checkpoints
    itself would have.
    """

    def __init__(
        self,
        database: str,
        *,
        hold_writes: Callable[[], AbstractAsyncContextManager[None]],
        interval: float = 1.0,
        catch_up_pages: int = 4096,
    ) -> None:
        self.database = database
        self.interval = interval
        self.catch_up_pages = catch_up_pages
        self._hold_writes = hold_writes
        self._connection: sqlite3.Connection | None = None
        # One thread, so passes never overlap on the connection, even when `stop` cancels one.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpointer")
        self._task: asyncio.Task[None] | None = None
        self.copied = 0  # pages copied back so far, for tests and curiosity
        self.catch_ups = 0  # passes that held writes back

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sqlite-checkpointer")

    async def stop(self) -> None:
        """Stop the passes, copy back what the last second wrote, and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._last_pass)
        self._thread.shutdown()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            try:
                if await loop.run_in_executor(self._thread, self.checkpoint) > self.catch_up_pages:
                    async with self._hold_writes():
                        self.catch_ups += 1
                        await loop.run_in_executor(self._thread, self.checkpoint)
            except Exception:  # the next pass tries again; the WAL only grows meanwhile
                log.exception("sqlite_checkpoint_failed")

    def checkpoint(self) -> int:
        """One PASSIVE pass (on the checkpointer's thread); returns the WAL's size in pages."""
        if self._connection is None:
            self._connection = sqlite3.connect(self.database, check_same_thread=False)
        try:
            _busy, wal_pages, copied = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:  # a locked or vanished file: the next pass tries again
            log.warning("sqlite_checkpoint_failed", exc_info=True)
            return 0
        self.copied += max(copied, 0)
        return int(wal_pages)

    def _last_pass(self) -> None:
        if self._connection is not None or os.path.exists(self.database):
            self.checkpoint()
        if self._connection is not None:
            self._connection.close()
            self._connection = None
