"""Deliveries applied several to a transaction end exactly as one per transaction, and one failure stays alone."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.alerts import processor as processor_module
from bot.alerts.grouping import Policy
from bot.alerts.models import AlertRow, Delivery, DeliveryStatus
from bot.alerts.processor import DeliveryProcessor
from bot.db import Database, upgrade_async
from bot.incidents.models import Incident, TimelineEvent
from bot.outbox import OutboxRow


def _generic(title: str, key: str, **fields: Any) -> bytes:
    return json.dumps({"title": title, "dedup_key": key, **fields}).encode()


# One group's whole life and its neighbours', in arrival order: opening, a worse severity, a body
# that cannot be parsed, every alert resolving (mitigated), firing again, a batch of two groups.
SCENARIO = [
    _generic("Disk full", "disk", severity=3),
    _generic("API errors", "api", severity=2),
    _generic("Disk full", "disk", severity=1),
    b'{"not": "an alert"}',
    _generic("API errors", "api", status="resolved"),
    _generic("API errors", "api", severity=2),
    json.dumps([{"title": "Queue slow", "dedup_key": "queue"}, {"title": "Cache cold", "dedup_key": "cache"}]).encode(),
    _generic("Queue slow", "queue", status="resolved"),
    _generic("Disk full", "disk", status="resolved"),
]


async def _store(db: Database, bodies: list[bytes]) -> None:
    async with db.transaction() as session:
        for n, body in enumerate(bodies):
            session.add(Delivery(source="generic", delivery_key=f"k{n}", body=body))


async def _snapshot(db: Database) -> dict[str, list[Any]]:
    """Everything processing writes, without ids and times that differ from run to run."""
    async with db.session() as session:
        numbers = {i.id: i.number for i in (await session.execute(select(Incident))).scalars()}

        async def rows(model: Any, *columns: str) -> list[Any]:
            result = await session.execute(select(model).order_by(col(model.id)))
            return [
                tuple(numbers.get(v) if c == "incident_id" else v for c in columns for v in [getattr(r, c)])
                for r in result.scalars()
            ]

        return {
            "deliveries": await rows(Delivery, "delivery_key", "status", "error", "attempts"),
            "incidents": await rows(Incident, "number", "title", "status", "severity", "group_key"),
            "alerts": await rows(AlertRow, "incident_id", "fingerprint", "status", "severity", "delivery_id"),
            "timeline": await rows(TimelineEvent, "incident_id", "kind", "text"),
            "outbox": await rows(OutboxRow, "incident_id", "op", "ordering_key", "status"),
        }


@pytest.fixture
async def one_by_one(tmp_path: Path) -> AsyncIterator[Database]:
    """A second, SQLite, database for the reference run of one delivery per transaction."""
    url = f"sqlite:///{tmp_path / 'one-by-one.db'}"
    await upgrade_async(url)
    database = Database(url)
    yield database
    await database.dispose()


async def test_a_batch_ends_exactly_as_one_transaction_per_delivery(db: Database, one_by_one: Database) -> None:
    for database in (db, one_by_one):
        await _store(database, SCENARIO)
    reference_processor = DeliveryProcessor(one_by_one, Policy())
    claimed = await reference_processor._claim()
    for row in claimed:  # the one-delivery path, also taken when a batch fails
        await reference_processor._process(row)
    assert len(claimed) == len(SCENARIO)
    assert await DeliveryProcessor(db, Policy(), per_transaction=50).run_once() == len(SCENARIO)
    batched, reference = await _snapshot(db), await _snapshot(one_by_one)
    assert batched == reference
    statuses = [status for _, status, _, _ in batched["deliveries"]]
    assert statuses.count(DeliveryStatus.FAILED) == 1 and statuses.count(DeliveryStatus.PROCESSED) == 8
    assert len(batched["incidents"]) == 4


async def test_a_delivery_that_fails_inside_a_batch_fails_alone(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await _store(db, SCENARIO[:3])
    real_apply = processor_module.apply_alerts

    async def apply_or_break(session: Any, alerts: Any, *, policy: Policy, delivery_id: int | None = None) -> Any:
        if delivery_id == 2:
            raise RuntimeError("bug in one delivery")
        return await real_apply(session, alerts, policy=policy, delivery_id=delivery_id)

    monkeypatch.setattr(processor_module, "apply_alerts", apply_or_break)
    processed: list[tuple[str, str]] = []
    processor = DeliveryProcessor(
        db, Policy(), on_processed=lambda source, outcome, _: processed.append((source, outcome))
    )
    assert await processor.run_once() == 3
    deliveries = (await _snapshot(db))["deliveries"]
    assert [(key, status) for key, status, _, _ in deliveries] == [
        ("k0", DeliveryStatus.PROCESSED),
        ("k1", DeliveryStatus.PENDING),  # retried after a back-off, then failed for good
        ("k2", DeliveryStatus.PROCESSED),
    ]
    assert deliveries[1][2] == "RuntimeError: bug in one delivery"
    assert sorted(outcome for _, outcome in processed) == ["error", "processed", "processed"]
    incidents = (await _snapshot(db))["incidents"]
    assert [(title, severity) for _, title, _, severity, _ in incidents] == [("Disk full", 1)]


async def test_a_batch_commits_after_each_delivery_while_a_webhook_waits(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _store(db, SCENARIO)
    sizes: list[int] = []
    processor = DeliveryProcessor(db, Policy())
    apply_batch = processor._apply_batch

    async def recorded(rows: Any) -> int:
        sizes.append(await apply_batch(rows))
        return sizes[-1]

    monkeypatch.setattr(processor, "_apply_batch", recorded)
    monkeypatch.setattr(db, "intake_waiting", lambda: True)
    assert await processor.run_once() == len(SCENARIO)
    assert sizes == [1] * len(SCENARIO)
    monkeypatch.setattr(db, "intake_waiting", lambda: False)
    await _store_more(db)
    sizes.clear()
    assert await processor.run_once() == 3
    assert sizes == [3]


async def _store_more(db: Database) -> None:
    async with db.transaction() as session:
        for n in range(3):
            session.add(Delivery(source="generic", delivery_key=f"more{n}", body=_generic("Late", f"late{n}")))


async def test_a_batch_commits_once_it_has_run_its_time(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await _store(db, SCENARIO[:3])
    sizes: list[int] = []
    processor = DeliveryProcessor(db, Policy(), transaction_seconds=0.0)
    apply_batch = processor._apply_batch

    async def recorded(rows: Any) -> int:
        sizes.append(await apply_batch(rows))
        return sizes[-1]

    monkeypatch.setattr(processor, "_apply_batch", recorded)
    assert await processor.run_once() == 3
    assert sizes == [1, 1, 1]


async def test_a_webhook_arriving_mid_batch_gets_the_connection_after_the_delivery_in_progress(
    one_by_one: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = one_by_one  # SQLite, where statements do not yield to the event loop and lanes exist
    await _store(db, SCENARIO)
    processor = DeliveryProcessor(db, Policy())
    apply, apply_batch = processor._apply, processor._apply_batch
    receiving = contextlib.ExitStack()
    sizes: list[int] = []

    async def apply_while_a_request_comes_in(session: Any, row: Any) -> Any:
        # The request is read while the delivery is applied; its handler runs once the loop gets a turn.
        asyncio.get_running_loop().call_soon(receiving.enter_context, db.receiving_webhook())
        return await apply(session, row)

    async def recorded(rows: Any) -> int:
        sizes.append(await apply_batch(rows))
        receiving.close()  # answered: the rest may go in one transaction
        monkeypatch.setattr(processor, "_apply", apply)
        return sizes[-1]

    monkeypatch.setattr(processor, "_apply", apply_while_a_request_comes_in)
    monkeypatch.setattr(processor, "_apply_batch", recorded)
    assert await processor.run_once() == len(SCENARIO)
    assert sizes == [1, len(SCENARIO) - 1]
    assert not db.intake_waiting()
