"""Alembic environment: runs migrations through the async engine Warroom itself uses."""

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from bot.models import metadata

config = context.config


def _run(connection: Any) -> None:
    # render_as_batch: SQLite can barely ALTER, so Alembic rebuilds tables instead (PLATFORM.md 3).
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_main())
