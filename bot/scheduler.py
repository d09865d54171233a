"""The in-memory APScheduler ticker: housekeeping and sweeps; durable due-times live in our own tables."""

from datetime import UTC, timedelta
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete, select
from sqlmodel import col

from bot.columns import utcnow
from bot.db import Database
from bot.lanes import Lane
from bot.outbox import OutboxRow, OutboxStatus
from bot.postmortems import actions
from bot.slack.models import SlackEventSeen

log = structlog.get_logger(__name__)

# Slack retries events for at most a few hours; a day of event ids is plenty to dedupe against.
EVENT_MEMORY = timedelta(days=1)
OUTBOX_MEMORY = timedelta(days=7)
HOUSEKEEPING_CHUNK = 1000  # rows deleted per transaction: a few ms of the event loop on SQLite
# Explicit defaults: APScheduler's 1 s misfire grace silently skips runs (PLATFORM.md 1.3).
REMINDER_MINUTES = 5  # action items are due on a date: a few minutes late is on time
JOB_DEFAULTS = {"misfire_grace_time": 300, "coalesce": True, "max_instances": 1}


async def delete_in_chunks(db: Database, model: Any, *where: Any, chunk: int = HOUSEKEEPING_CHUNK) -> int:
    """Delete the rows of `model` matching `where`, `chunk` rows to a transaction; returns how many.

    On SQLite statements run on the event loop's thread (bot/sqlite_inline.py): one DELETE of a
    week of outbox rows (200,000 of them) held the loop for 1.7 s, /healthz included. A chunk holds
    it for a few milliseconds, and each transaction takes its turn behind webhooks and people.
    """
    deleted = 0
    while True:
        ids = select(col(model.id)).where(*where).order_by(col(model.id)).limit(chunk)
        async with db.transaction(Lane.BACKGROUND) as session:
            result = await session.execute(delete(model).where(col(model.id).in_(ids.scalar_subquery())))
        count = int(getattr(result, "rowcount", 0))
        deleted += count
        if count < chunk:
            return deleted


def build_scheduler(db: Database) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)

    async def housekeeping() -> None:
        now = utcnow()
        events = await delete_in_chunks(db, SlackEventSeen, col(SlackEventSeen.received_at) < now - EVENT_MEMORY)
        outbox = await delete_in_chunks(
            db, OutboxRow, col(OutboxRow.status) == OutboxStatus.DONE, col(OutboxRow.done_at) < now - OUTBOX_MEMORY
        )
        log.info("housekeeping_done", events_forgotten=events, outbox_rows_deleted=outbox)

    scheduler.add_job(
        housekeeping, "interval", hours=1, id="housekeeping", next_run_time=utcnow() + timedelta(minutes=1)
    )

    async def action_reminders() -> None:
        # Every replica runs this; the conditional claim in remind_due sends each reminder once.
        now = utcnow()
        async with db.transaction() as session:
            sent = await actions.remind_due(session, today=now.date(), now=now)
        if sent:
            log.info("action_reminders_queued", count=sent)

    scheduler.add_job(
        action_reminders, "interval", minutes=REMINDER_MINUTES, id="action_reminders", next_run_time=utcnow()
    )
    return scheduler
