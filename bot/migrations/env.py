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
    # render_as_batch: SQLite can barely ALTER, so Alembic rebuilds tables instead (PLATFORM.md 3).
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Transaction-scoped, so it is released at commit and safe behind PgBouncer (PLATFORM.md 5).
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def _main() -> None:
    # Warroom's own engine: on SQLite every transaction is BEGIN IMMEDIATE, so a second process
    # waits for the first to finish migrating instead of reading a stale version and racing it.
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_main())
