"""Database engine and sessions: SQLite pragmas, URL translation, and dialect-neutral helpers."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from bot.lanes import Lane, PriorityLock
from bot.sqlite_inline import Checkpointer, inline_creator

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# How long background work waits for intake to go quiet before it takes a turn anyway, so that
# sustained webhook load slows processing down without stopping it (well inside claim leases).
QUIET_LIMIT = 0.5
QUIET_GRACE = 0.005
# How long an SQLite transaction waits for another connection's write lock (SQLite's busy_timeout).
LOCK_TIMEOUT = 5.0
WAL_SIZE_LIMIT = 16 * 1024 * 1024  # bytes


def async_url(url: str) -> str:
    """`sqlite:///x.db` and `postgresql://...` as people write them, with the async driver added."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_connect_args(url: str) -> tuple[list[str], dict[str, Any]]:
    """What SQLAlchemy's SQLite dialect would pass to `sqlite3.connect` for `url`."""
    args, options = SQLiteDialect_aiosqlite().create_connect_args(make_url(async_url(url)))
    return list(args), dict(options)


def sqlite_file(url: str) -> str | None:
    """The file an SQLite URL names (None for PostgreSQL and in-memory databases)."""
    if not is_sqlite(url):
        return None
    (database,), options = _sqlite_connect_args(url)
    return None if database == ":memory:" or options.get("uri") else str(database)


def make_engine(url: str) -> AsyncEngine:
    """One engine per process. SQLite gets a single writer connection (PLATFORM.md 4)."""
    full = async_url(url)
    if not is_sqlite(url):
        # statement_cache_size=0 keeps us safe behind PgBouncer in transaction mode (PLATFORM.md 5).
        return create_async_engine(
            full, pool_size=10, max_overflow=10, pool_pre_ping=True, connect_args={"statement_cache_size": 0}
        )
    # Statements run on the event loop's thread, not aiosqlite's (bot/sqlite_inline.py says why).
    (database,), options = _sqlite_connect_args(url)
    creator = inline_creator(database, lock_timeout=LOCK_TIMEOUT, **options)
    engine = create_async_engine(full, pool_size=1, max_overflow=0, async_creator=creator)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver stops emitting its own BEGIN
        cursor = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads then writes cannot upgrade its lock (SQLITE_BUSY).
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _leave_checkpoints_to_the_checkpointer(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    # Once the WAL starts over, its file shrinks back to this (a burst may have grown it).
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    cursor.close()


class Database:
    """Engine plus session factory; `transaction()` is what entry points open.

    On SQLite every transaction holds the one connection, so `transaction()` and `session()` first
    take the `PriorityLock`: a webhook's transaction (`Lane.INTAKE`) goes ahead of queued ones, and
    background work can ask to wait while intake is busy (`intake_quiet`). PostgreSQL has a pool of
    connections and multiple replicas, so there the lanes change nothing.
    """

    def __init__(self, url: str, *, on_outbox_commit: Callable[[], None] | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessionmaker = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._on_outbox_commit = on_outbox_commit
        self._lock = PriorityLock() if is_sqlite(url) else None
        self.checkpointer: Checkpointer | None = None

    async def checkpoint_in_background(self) -> None:
        """SQLite file: WAL checkpoints from now on run on a thread, not in a commit on the event loop."""
        database = sqlite_file(self.url)
        if database is None or self.checkpointer is not None:
            return
        # Every connection the pool opens from now on leaves checkpoints to the checkpointer, a
        # replacement for a broken one included; closing the pool applies it to the open one too.
        event.listen(self.engine.sync_engine, "connect", _leave_checkpoints_to_the_checkpointer)
        await self.engine.dispose()
        self.checkpointer = Checkpointer(database, hold_writes=lambda: self._turn(Lane.NORMAL))
        self.checkpointer.start()

    @asynccontextmanager
    async def _turn(self, lane: Lane) -> AsyncIterator[None]:
        if self._lock is None:
            yield
            return
        await self._lock.acquire(lane)
        try:
            yield
        finally:
            self._lock.release(lane)

    @asynccontextmanager
    async def transaction(self, lane: Lane = Lane.NORMAL) -> AsyncIterator[AsyncSession]:
        """One short transaction; commits on success, and wakes the relay if outbox rows were added."""
        async with self._turn(lane), self._sessionmaker() as session, session.begin():
            yield session
        if session.info.pop("outbox_dirty", False) and self._on_outbox_commit is not None:
            self._on_outbox_commit()

    @asynccontextmanager
    async def session(self, lane: Lane = Lane.NORMAL) -> AsyncIterator[AsyncSession]:
        """A session for reads, taking its turn on the connection like a transaction."""
        async with self._turn(lane), self._sessionmaker() as session:
            yield session

    @contextlib.contextmanager
    def receiving_webhook(self) -> Iterator[None]:
        """Marks an authentic webhook as in progress, from its verified body to its answer.

        Background work yields to it (`intake_waiting`, `intake_quiet`) before it even asks for the
        connection: parsing and queueing a body is CPU the sender waits on, and every statement runs
        on the event loop's thread, so a batch of processing in between would delay it.
        """
        if self._lock is None:
            yield
            return
        self._lock.enter(Lane.INTAKE)
        try:
            yield
        finally:
            self._lock.leave(Lane.INTAKE)

    def intake_waiting(self) -> bool:
        """True while a webhook is being received or its transaction holds or waits for the connection (SQLite only)."""
        return self._lock is not None and self._lock.busy(Lane.INTAKE) > 0

    async def intake_quiet(self, limit: float = QUIET_LIMIT) -> None:
        """Wait until no webhook is being received or stored, at most `limit` seconds.

        Background work calls it between units of work, so it takes the CPU and the connection only
        while intake has nothing to do, and the bound keeps it from starving under sustained load.
        Once intake was busy, quiet must last `QUIET_GRACE`: a sender that got its 202 sends the
        next webhook within a millisecond or so, and a delivery applied in that gap (several ms of
        CPU) would make it wait.
        """
        if self._lock is None or not self._lock.busy(Lane.INTAKE):
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                while True:
                    await self._lock.idle(Lane.INTAKE)
                    await asyncio.sleep(QUIET_GRACE)
                    if not self._lock.busy(Lane.INTAKE):
                        return

    def on_outbox_commit(self, callback: Callable[[], None]) -> None:
        self._on_outbox_commit = callback

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.checkpointer is not None:
            checkpointer, self.checkpointer = self.checkpointer, None
            # A connection opened after this (the engine can be used again) checkpoints itself.
            event.remove(self.engine.sync_engine, "connect", _leave_checkpoints_to_the_checkpointer)
            await checkpointer.stop()


async def insert_ignore(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any], *, conflict: list[str]
) -> Any | None:
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING <key>`: the new key, or None when the row existed.

    Never select-then-insert: the unique index decides under concurrency (PLATFORM.md 5).
    """
    table: Any = model.__table__  # type: ignore[attr-defined]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    key_column = next(iter(table.primary_key.columns))
    result = await session.execute(stmt.returning(key_column))
    return result.scalar_one_or_none()


async def insert_ignore_many(
    session: AsyncSession,
    model: type[SQLModel],
    rows: list[dict[str, Any]],
    *,
    conflict: list[str],
    returning: list[str],
) -> list[Any]:
    """`insert_ignore` for many rows at once: the `returning` columns of the rows actually inserted.

    One multi-row statement per 1,000 rows. A row that conflicts (with a stored row or an earlier
    one in `rows`) returns nothing. Rows come back in no promised order, so return the columns
    that tell them apart.
    """
    if not rows:
        return []
    table: Any = model.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=conflict)
    # A list of parameter sets: SQLAlchemy's "insertmanyvalues" sends one multi-row INSERT from a
    # cached compilation, about three times cheaper per row than building `.values([...])`.
    result = await session.execute(stmt.returning(*(table.c[name] for name in returning)), rows)
    return list(result.all())


def dialect_of(session: AsyncSession | Session) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def upgrade(url: str) -> None:
    """Apply pending Alembic migrations (blocking; run it in a thread from async code)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    command.upgrade(config, "head")


async def upgrade_async(url: str) -> None:
    await asyncio.to_thread(upgrade, url)
