"""Housekeeping deletes old rows in chunks, each its own short transaction, and keeps the rest."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.columns import utcnow
from bot.db import Database
from bot.outbox import OutboxRow, OutboxStatus
from bot.scheduler import OUTBOX_MEMORY, delete_in_chunks


async def test_old_finished_outbox_rows_go_in_chunks_and_nothing_else_does(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = utcnow() - OUTBOX_MEMORY - timedelta(hours=1)
    async with db.transaction() as session:
        session.add_all(
            OutboxRow(ordering_key="i1", op="post", status=OutboxStatus.DONE, done_at=old) for _ in range(25)
        )
        session.add(OutboxRow(ordering_key="i1", op="post", status=OutboxStatus.DONE, done_at=utcnow()))
        session.add(OutboxRow(ordering_key="i1", op="post", status=OutboxStatus.PENDING))
    transactions = 0
    transaction = db.transaction

    def counted(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        nonlocal transactions
        transactions += 1
        return transaction(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(db, "transaction", counted)
    deleted = await delete_in_chunks(
        db,
        OutboxRow,
        col(OutboxRow.status) == OutboxStatus.DONE,
        col(OutboxRow.done_at) < utcnow() - OUTBOX_MEMORY,
        chunk=10,
    )
    assert deleted == 25
    assert transactions == 3  # 10, 10, then 5: fewer than a chunk means done
    async with db.session() as session:
        left = (await session.execute(select(OutboxRow.status).order_by(col(OutboxRow.id)))).scalars().all()
    assert left == [OutboxStatus.DONE, OutboxStatus.PENDING]
