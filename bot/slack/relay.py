"""The outbox relay: carries pending Slack work out, per ordering key in order, surviving restarts.

Claims: the head (lowest pending id) of each ordering key whose time has come, leased with
`locked_until` so a crashed replica's row is retried by another after the lease; on PostgreSQL
`FOR UPDATE SKIP LOCKED` keeps replicas off each other's rows (PLATFORM.md 5). A row waiting for
a retry blocks the rows behind it in its key, which is what keeps an incident's messages in order
when Slack is rate limiting or down; other incidents carry on.
"""

import asyncio
import os
import random
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot.columns import utcnow
from bot.db import Database
from bot.lanes import Lane
from bot.outbox import OutboxRow, OutboxStatus
from bot.slack.dispatch import execute
from bot.slack.gateway import RetryLater, SlackFailure, SlackRefused
from bot.slack.ops import Effect, OpContext
from bot.worker import Worker

log = structlog.get_logger(__name__)

MAX_BACKOFF = 300.0


def backoff(attempts: int) -> float:
    """1 s, 2 s, 4 s … capped at 5 minutes, with jitter so replicas do not retry in lockstep."""
    base: float = min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1))
    return base * (0.75 + random.random() / 2)  # noqa: S311 - jitter, not security


class OutboxRelay(Worker):
    name = "outbox"

    def __init__(
        self,
        db: Database,
        context: OpContext,
        *,
        concurrency: int = 8,
        lease_seconds: float = 60.0,
        max_attempts: int = 50,
        on_done: Callable[[OutboxRow, str, float], None] | None = None,
    ) -> None:
        super().__init__()
        self.db = db
        self.context = context
        self.concurrency = concurrency
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._on_done = on_done or (lambda row, outcome, seconds: None)

    async def run_once(self) -> int:
        await self.db.intake_quiet()  # Slack can wait a moment; a webhook sender waits for its 202
        rows = await self.claim(self.concurrency)
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def claim(self, limit: int) -> list[OutboxRow]:
        now = utcnow()
        earlier = aliased(OutboxRow)
        head_of_key = ~exists().where(
            and_(
                col(earlier.ordering_key) == col(OutboxRow.ordering_key),
                col(earlier.status) == OutboxStatus.PENDING,
                col(earlier.id) < col(OutboxRow.id),
            )
        )
        due = (
            select(col(OutboxRow.id))
            .where(col(OutboxRow.status) == OutboxStatus.PENDING)
            .where(col(OutboxRow.next_attempt_at) <= now)
            .where(or_(col(OutboxRow.locked_until).is_(None), col(OutboxRow.locked_until) < now))
            .where(head_of_key)
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        async with self.db.transaction(Lane.BACKGROUND) as session:
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = list((await session.execute(due)).scalars())
            if not ids:
                return []
            # The coalesce key is released at claim: a change made while this send is in flight
            # needs a send of its own, after this one.
            stmt = (
                update(OutboxRow)
                .where(col(OutboxRow.id).in_(ids))
                .values(
                    locked_by=self.holder,
                    locked_until=now + self.lease,
                    attempts=col(OutboxRow.attempts) + 1,
                    coalesce_key=None,
                )
                .returning(OutboxRow)
                .execution_options(synchronize_session=False)
            )
            rows = list((await session.execute(stmt)).scalars())
        return sorted(rows, key=lambda r: r.id or 0)

    async def _deliver(self, row: OutboxRow) -> None:
        bound = log.bind(outbox=row.id, op=row.op, incident=row.incident_id, attempt=row.attempts)
        started = asyncio.get_running_loop().time()
        try:
            effect = await execute(row, self.context)
        except RetryLater as error:
            delay = error.delay if error.delay is not None else backoff(row.attempts)
            bound.warning("outbox_retry", reason=error.reason, delay=round(delay, 2))
            await self._reschedule(row, error.reason, delay, give_up=False)
            return
        except SlackFailure as error:  # SlackRefused included: Slack said no, for good
            bound.error("outbox_refused" if isinstance(error, SlackRefused) else "outbox_failed", error=str(error))
            if await self._finish(row, OutboxStatus.DEAD, Effect(), error=str(error)):
                self._on_done(row, "dead", 0.0)
            return
        except Exception as error:  # the boundary: a bug in one op must not stop the relay
            bound.exception("outbox_op_crashed")
            reason = f"{type(error).__name__}: {error}"
            await self._reschedule(row, reason, backoff(row.attempts), give_up=row.attempts >= self.max_attempts)
            return
        try:
            finished = await self._finish(row, OutboxStatus.DONE, effect)
        except Exception as error:
            # Slack did its part but recording it failed (a database refusal, a bug in `apply`): the row
            # stays pending and is retried like a crash, so it can neither vanish nor block its key forever.
            bound.exception("outbox_finish_failed")
            reason = f"{type(error).__name__}: {error}"
            await self._reschedule(row, reason, backoff(row.attempts), give_up=row.attempts >= self.max_attempts)
            return
        if not finished:
            bound.warning("outbox_lease_lost")  # another replica took the row over; it finishes it
            return
        latency = (utcnow() - row.created_at).total_seconds()
        bound.info("outbox_done", seconds=round(asyncio.get_running_loop().time() - started, 3))
        self._on_done(row, "done", latency)

    async def _reschedule(self, row: OutboxRow, reason: str, delay: float, *, give_up: bool) -> None:
        """Transient Slack failures never give up (Slack down for a day still gets every message,
        in order); only an op that keeps crashing is eventually marked dead, so it cannot block
        its incident's queue forever."""
        values: dict[str, Any] = {
            "locked_by": None,
            "locked_until": None,
            "last_error": reason[:1000],
            "next_attempt_at": utcnow() + timedelta(seconds=delay),
        }
        if give_up:
            values["status"] = OutboxStatus.DEAD
            log.error("outbox_gave_up", outbox=row.id, op=row.op, attempts=row.attempts, reason=reason)
            self._on_done(row, "dead", 0.0)
        async with self.db.transaction(Lane.BACKGROUND) as session:
            await session.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id) == row.id, col(OutboxRow.locked_by) == self.holder)
                .values(**values)
            )

    async def _finish(self, row: OutboxRow, status: OutboxStatus, effect: Effect, error: str | None = None) -> bool:
        """Mark the row and store what Slack returned in one transaction (PLATFORM.md 6).

        Only while this relay still holds the lease: if it ran out and another replica claimed the
        row, that one finishes it, and the effects are not applied twice. False in that case.
        """
        async with self.db.transaction(Lane.BACKGROUND) as session:
            result = await session.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id) == row.id, col(OutboxRow.locked_by) == self.holder)
                .values(
                    status=status,
                    done_at=utcnow(),
                    locked_by=None,
                    locked_until=None,
                    last_error=error,
                    result=effect.result,
                )
            )
            if not getattr(result, "rowcount", 0):
                return False
            if effect.apply is not None:
                await effect.apply(session)
        return True

    async def release(self) -> None:
        """On shutdown: hand unfinished leases back so another replica need not wait them out."""
        async with self.db.transaction(Lane.BACKGROUND) as session:
            await session.execute(
                update(OutboxRow)
                .where(col(OutboxRow.locked_by) == self.holder, col(OutboxRow.status) == OutboxStatus.PENDING)
                .values(locked_by=None, locked_until=None)
            )


async def backlog(db: Database) -> tuple[int, float]:
    """Pending rows and the age in seconds of the oldest, for /readyz and /metrics."""
    async with db.session() as session:
        stmt = select(func.count(), func.min(col(OutboxRow.created_at))).where(
            col(OutboxRow.status) == OutboxStatus.PENDING
        )
        count, oldest = (await session.execute(stmt)).one()
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return int(count), max(0.0, age)
