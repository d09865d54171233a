"""Migrations on SQLite and PostgreSQL: they build exactly the schema the models describe, and re-run safely."""

import asyncio
import os
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.db import Database, upgrade_async
from bot.models import metadata


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from bot.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def test_upgrade_is_idempotent_and_matches_the_models(db_url: str) -> None:
    await upgrade_async(db_url)
    await upgrade_async(db_url)  # `warroom serve` runs it at every start
    database = Database(db_url)
    try:
        async with database.engine.connect() as conn:

            def differences(sync_conn):  # type: ignore[no-untyped-def]
                context = MigrationContext.configure(sync_conn, opts={"compare_type": False})
                return compare_metadata(context, metadata)

            diff = await conn.run_sync(differences)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await database.dispose()
    assert diff == []
    assert {"incident", "timeline_event", "alert", "delivery", "outbox", "counter", "slack_event_seen"} <= tables


async def test_replicas_starting_together_migrate_once_without_failing(db_url: str, tmp_path: Path) -> None:
    """Three `warroom db upgrade` processes at once on a fresh database: all succeed, one schema."""
    env = {**os.environ, "DATABASE_URL": db_url}
    command = [sys.executable, "-m", "bot", "db", "upgrade"]
    processes = [
        await asyncio.create_subprocess_exec(
            *command, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        for _ in range(3)
    ]
    outputs = [(await p.communicate())[0].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    database = Database(db_url)
    try:
        async with database.engine.connect() as conn:
            version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        await database.dispose()
    assert version == [head_revision()]
