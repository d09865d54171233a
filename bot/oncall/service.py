"""On-call state in the database: overrides, and who is on call once they are applied."""

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.columns import utcnow
from bot.errors import InvalidInput
from bot.oncall.rotation import Override, Rota, who
from bot.oncall.schema import Schedule
from bot.oncall.tables import OncallOverride

# Overrides further out than this are refused: a typo in a date range should not silently book next year.
MAX_OVERRIDE_AHEAD = timedelta(days=366)
MAX_OVERRIDE_LENGTH = timedelta(days=62)


async def overrides(session: AsyncSession, schedule_id: str, start: datetime, end: datetime) -> list[Override]:
    """The live overrides of a schedule that touch [start, end)."""
    stmt = select(OncallOverride).where(
        col(OncallOverride.schedule_id) == schedule_id,
        col(OncallOverride.cancelled_at).is_(None),
        col(OncallOverride.ends_at) > start,
        col(OncallOverride.starts_at) < end,
    )
    rows = (await session.execute(stmt)).scalars().all()
    return [Override(r.member, r.starts_at, r.ends_at, r.created_at, r.id or 0) for r in rows]


async def rota(session: AsyncSession, schedule: Schedule, at: datetime) -> Rota:
    """Who is on call at `at` by the schedule file with its overrides (rotation.who looks about 17 weeks around)."""
    window = timedelta(weeks=30)
    return who(schedule, await overrides(session, schedule.id, at - window, at + window), at)


async def add_override(
    session: AsyncSession,
    schedule: Schedule,
    member: str,
    start: datetime,
    end: datetime,
    *,
    by: str | None,
    now: datetime | None = None,
) -> OncallOverride:
    """Record that `member` covers `schedule` in [start, end); refuses empty, past or far-off windows."""
    now = now or utcnow()
    if end <= start:
        raise InvalidInput("The override ends before it starts.")
    if end <= now:
        raise InvalidInput("That window is already over.")
    if end - start > MAX_OVERRIDE_LENGTH:
        raise InvalidInput(f"An override covers at most {MAX_OVERRIDE_LENGTH.days} days.")
    if start - now > MAX_OVERRIDE_AHEAD:
        raise InvalidInput("An override starts at most a year ahead.")
    row = OncallOverride(
        schedule_id=schedule.id, member=member, starts_at=max(start, now), ends_at=end, created_by=by, created_at=now
    )
    session.add(row)
    await session.flush()
    return row


async def cancel_override(session: AsyncSession, override_id: int) -> bool:
    """Cancel a live override; False when it does not exist, is cancelled already or is over."""
    result = await session.execute(
        update(OncallOverride)
        .where(
            col(OncallOverride.id) == override_id,
            col(OncallOverride.cancelled_at).is_(None),
            col(OncallOverride.ends_at) > utcnow(),
        )
        .values(cancelled_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))
