"""Turn stored deliveries into incidents, after the webhook has been answered.

Deliveries are claimed with a lease (so a crashed replica's work is picked up again) and each is
applied in its own short transaction, in id order. A delivery that cannot be parsed is marked
failed with the reason; one that hits an unexpected error is retried a few times, then failed.
Nothing is ever deleted: `delivery` keeps the raw body for inspection and replay.
"""

import asyncio
import json
from collections.abc import Callable
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
from bot.worker import Worker

log = structlog.get_logger(__name__)

PARSERS: dict[str, Callable[..., list[Alert]]] = {
    Source.PAGERDUTY: pagerduty.parse,
    Source.ALERTMANAGER: alertmanager.parse,
    Source.GRAFANA: grafana.parse,
    Source.GENERIC: generic.parse,
}
MAX_ATTEMPTS = 5


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
        lease_seconds: float = 60.0,
    ) -> None:
        super().__init__()
        self.db = db
        self.policy = policy
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self._on_processed = on_processed or (lambda source, outcome, result: None)

    async def run_once(self) -> int:
        claimed = await self._claim()
        for row in claimed:
            await self._process(row)
            await asyncio.sleep(0)  # let HTTP handlers (webhook 202s, Slack acks) run between deliveries
        return len(claimed)

    async def _claim(self) -> list[Any]:
        now = utcnow()
        pending = (
            select(col(Delivery.id))
            .where(col(Delivery.status) == DeliveryStatus.PENDING)
            .where(or_(col(Delivery.locked_until).is_(None), col(Delivery.locked_until) < now))
            .order_by(col(Delivery.id))
            .limit(self.batch_size)
        )
        async with self.db.transaction() as session:
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
            async with self.db.transaction() as session:
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
        async with self.db.transaction() as session:
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
