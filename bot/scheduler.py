"""The in-memory APScheduler ticker: housekeeping and sweeps; durable due-times live in our own tables."""

from datetime import UTC, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete
from sqlmodel import col

from bot.columns import utcnow
from bot.db import Database
from bot.outbox import OutboxRow, OutboxStatus
from bot.postmortems import actions
from bot.slack.models import SlackEventSeen

log = structlog.get_logger(__name__)

# Slack retries events for at most a few hours; a day of event ids is plenty to dedupe against.
EVENT_MEMORY = timedelta(days=1)
OUTBOX_MEMORY = timedelta(days=7)
# Explicit defaults: APScheduler's 1 s misfire grace silently skips runs (PLATFORM.md 1.3).
REMINDER_MINUTES = 5  # action items are due on a date: a few minutes late is on time
JOB_DEFAULTS = {"misfire_grace_time": 300, "coalesce": True, "max_instances": 1}


def build_scheduler(db: Database) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)

    async def housekeeping() -> None:
        now = utcnow()
        async with db.transaction() as session:
            await session.execute(delete(SlackEventSeen).where(col(SlackEventSeen.received_at) < now - EVENT_MEMORY))
            await session.execute(
                delete(OutboxRow).where(
                    col(OutboxRow.status) == OutboxStatus.DONE, col(OutboxRow.done_at) < now - OUTBOX_MEMORY
                )
            )
        log.info("housekeeping_done")

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
