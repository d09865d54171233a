"""Alembic environment: runs migrations through the async engine Warroom itself uses."""

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import text

from bot.db import make_engine
from bot.models import metadata

config = context.config


# Any constant: replicas starting together queue on it instead of racing to create the same tables.
MIGRATION_LOCK = 7_246_311_002


def _run(connection: Any) -> None:
    """The whole upgrade in one transaction that a second process must wait for.

    The transaction is ours, opened before Alembic reads the current version: on SQLite
    Warroom's engine makes it BEGIN IMMEDIATE (one writer from start to end, even across
    several migrations); on PostgreSQL it takes a transaction-scoped advisory lock, released at
    commit and so safe behind PgBouncer (PLATFORM.md 5).
    """
    with connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        # render_as_batch: SQLite can barely ALTER, so Alembic rebuilds tables instead (PLATFORM.md 3).
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()


async def _main() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_main())
