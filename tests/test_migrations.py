"""Migrations on SQLite and PostgreSQL: they build exactly the schema the models describe, and re-run safely."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.db import Database, upgrade_async
from bot.models import metadata


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
