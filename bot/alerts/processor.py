"""Turn stored deliveries into incidents, after the webhook has been answered.

Deliveries are claimed with a lease (so a crashed replica's work is picked up again) and applied
in id order, several to a transaction: each transaction costs a `BEGIN IMMEDIATE`, a commit and a
connection round trip, and one `UPDATE` marks them all. A batch commits early when a webhook waits
for the connection (`Database.intake_waiting`), and after 0.1 s in any case. Between batches the
processor waits while intake is busy (`Database.intake_quiet`): a 202 is what a sender waits for,
an incident card can wait a moment. A delivery that cannot be parsed is marked failed with the
reason. One that hits an unexpected error rolls its batch back; the batch is then applied one
delivery per transaction, so only that delivery is retried a few times and then failed. Nothing
is ever deleted: `delivery` keeps the raw body for inspection and replay.
"""

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlmodel import col

from bot.alerts.grouping import Outcome, Policy, apply_alerts
from bot.alerts.models import Alert, Delivery, DeliveryStatus, Source
from bot.alerts.sources import alertmanager, generic, grafana, pagerduty
from bot.columns import utcnow
from bot.db import Database
from bot.errors import InvalidInput
from bot.lanes import Lane
from bot.worker import Worker

log = structlog.get_logger(__name__)

PARSERS: dict[str, Callable[..., list[Alert]]] = {
    Source.PAGERDUTY: pagerduty.parse,
    Source.ALERTMANAGER: alertmanager.parse,
    Source.GRAFANA: grafana.parse,
    Source.GENERIC: generic.parse,
}
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class _Done:
    """One delivery applied in a batch, reported once the batch has committed."""

    row: Any
    status: DeliveryStatus
    error: str | None = None
    alerts: int = 0
    outcome: Outcome | None = None


def parse_delivery(source: str, body: bytes, received_at: datetime) -> list[Alert]:
    """Parse a stored body; raises InvalidInput with a message for the sender."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"Body is not valid JSON: {error}") from error
    return PARSERS[source](document, received_at=received_at)


class DeliveryProcessor(Worker):
    """Background loop: claim pending deliveries and apply them."""

    name = "deliveries"

    def __init__(
        self,
        db: Database,
        policy: Policy,
        *,
        on_processed: Callable[[str, str, Outcome | None], None] | None = None,
        batch_size: int = 50,
        per_transaction: int = 50,
        transaction_seconds: float = 0.1,
        lease_seconds: float = 60.0,
    ) -> None:
        super().__init__()
        self.db = db
        self.policy = policy
        self.batch_size = batch_size
        self.per_transaction = per_transaction
        # A batch commits once it has run this long: its incidents reach Slack no later than that,
        # and other work waiting for the connection (the relay, people's clicks) waits no longer.
        self.transaction_seconds = transaction_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self._on_processed = on_processed or (lambda source, outcome, result: None)

    async def run_once(self) -> int:
        await self.db.intake_quiet()
        claimed = await self._claim()
        waiting: Sequence[Any] = claimed
        while waiting:
            await self.db.intake_quiet()
            waiting = waiting[await self._apply_batch(waiting[: self.per_transaction]) :]
            await asyncio.sleep(0)  # let HTTP handlers (webhook 202s, Slack acks) run between batches
        return len(claimed)

    async def _apply_batch(self, rows: Sequence[Any]) -> int:
        """Apply deliveries from the head of `rows` in one transaction; returns how many were settled.

        Stops after the delivery in progress when a webhook waits for the connection or the batch
        has run for `transaction_seconds`. If anything fails, the transaction rolls back and the
        deliveries it had reached are applied one by one.
        """
        done: list[_Done] = []
        reached = 0
        clock = asyncio.get_running_loop().time
        try:
            async with self.db.transaction(Lane.BACKGROUND) as session:
                deadline = clock() + self.transaction_seconds
                for row in rows:
                    reached += 1
                    done.append(await self._apply(session, row))
                    # Let webhooks that arrived during the delivery start (a delivery that could not
                    # be parsed ran no statement, so nothing yielded), then leave the connection to them.
                    await asyncio.sleep(0)
                    if self.db.intake_waiting() or clock() >= deadline:
                        break
                await self._mark_all(session, done)
        except Exception:  # one delivery must not hold back the others: apply each alone
            log.warning("delivery_batch_failed", deliveries=reached, exc_info=True)
            for row in rows[:reached]:
                await self._process(row)
            return reached
        for item in done:
            bound = log.bind(delivery=item.row.id, source=item.row.source)
            if item.status == DeliveryStatus.FAILED:
                bound.error("delivery_unparseable", error=item.error)
                self._on_processed(item.row.source, "failed", None)
                continue
            assert item.outcome is not None
            outcome = item.outcome
            bound.info("delivery_processed", alerts=item.alerts, opened=outcome.opened, updated=outcome.updated)
            self._on_processed(item.row.source, str(item.status), outcome)
        return reached

    async def _apply(self, session: Any, row: Any) -> _Done:
        try:
            alerts = parse_delivery(row.source, row.body, row.received_at)
        except InvalidInput as error:
            return _Done(row, DeliveryStatus.FAILED, str(error))
        outcome = await apply_alerts(session, alerts, policy=self.policy, delivery_id=row.id)
        # The next delivery must see the database as its own transaction would, not objects
        # this one left in the session (Core updates do not refresh them).
        await session.flush()
        session.expunge_all()
        status = DeliveryStatus.PROCESSED if alerts else DeliveryStatus.IGNORED
        return _Done(row, status, alerts=len(alerts), outcome=outcome)

    async def _mark_all(self, session: Any, done: list[_Done]) -> None:
        """One `UPDATE` per outcome, plus one per failure (each has its own reason)."""
        for status in (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED):
            ids = [item.row.id for item in done if item.status == status]
            if ids:
                await session.execute(
                    update(Delivery)
                    .where(col(Delivery.id).in_(ids))
                    .values(status=status, error=None, locked_until=None, processed_at=utcnow())
                )
        for item in done:
            if item.status == DeliveryStatus.FAILED:
                await self._mark(session, item.row.id, item.status, item.error)

    async def _claim(self) -> list[Any]:
        now = utcnow()
        pending = (
            select(col(Delivery.id))
            .where(col(Delivery.status) == DeliveryStatus.PENDING)
            .where(or_(col(Delivery.locked_until).is_(None), col(Delivery.locked_until) < now))
            .order_by(col(Delivery.id))
            .limit(self.batch_size)
        )
        async with self.db.transaction(Lane.BACKGROUND) as session:
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                pending = pending.with_for_update(skip_locked=True)
            stmt = (
                update(Delivery)
                .where(col(Delivery.id).in_(pending.scalar_subquery()))
                .values(locked_until=now + self.lease, attempts=col(Delivery.attempts) + 1)
                .returning(
                    col(Delivery.id),
                    col(Delivery.source),
                    col(Delivery.body),
                    col(Delivery.received_at),
                    col(Delivery.attempts),
                )
                .execution_options(synchronize_session=False)
            )
            rows = list((await session.execute(stmt)).all())
        return sorted(rows, key=lambda r: r.id)

    async def _process(self, row: Any) -> None:
        bound = log.bind(delivery=row.id, source=row.source)
        try:
            alerts = parse_delivery(row.source, row.body, row.received_at)
        except InvalidInput as error:
            bound.error("delivery_unparseable", error=str(error))
            await self._finish(row.id, DeliveryStatus.FAILED, str(error))
            self._on_processed(row.source, "failed", None)
            return
        try:
            async with self.db.transaction(Lane.BACKGROUND) as session:
                outcome = await apply_alerts(session, alerts, policy=self.policy, delivery_id=row.id)
                status = DeliveryStatus.PROCESSED if alerts else DeliveryStatus.IGNORED
                await self._mark(session, row.id, status, None)
        except Exception as error:  # the boundary: log with the delivery id, retry, then fail
            bound.exception("delivery_failed", attempts=row.attempts)
            final = row.attempts >= MAX_ATTEMPTS
            await self._finish(
                row.id,
                DeliveryStatus.FAILED if final else DeliveryStatus.PENDING,
                f"{type(error).__name__}: {error}",
            )
            self._on_processed(row.source, "error", None)
            return
        bound.info("delivery_processed", alerts=len(alerts), opened=outcome.opened, updated=outcome.updated)
        self._on_processed(row.source, str(status), outcome)

    async def _finish(self, delivery_id: int, status: DeliveryStatus, error: str | None) -> None:
        async with self.db.transaction(Lane.BACKGROUND) as session:
            await self._mark(session, delivery_id, status, error)

    @staticmethod
    async def _mark(session: Any, delivery_id: int, status: DeliveryStatus, error: str | None) -> None:
        values: dict[str, Any] = {"status": status, "error": error}
        if status == DeliveryStatus.PENDING:
            # Back off before the retry so a poison delivery does not spin.
            values["locked_until"] = utcnow() + timedelta(seconds=30)
        else:
            values["locked_until"] = None
            values["processed_at"] = utcnow()
        await session.execute(update(Delivery).where(col(Delivery.id) == delivery_id).values(**values))
