"""Runbook steps on SQLite and PostgreSQL: concurrent presses act once, requirements hold, lost runs surface."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from bot.columns import utcnow
from bot.db import Database
from bot.errors import InvalidInput, InvalidTransition
from bot.incidents import service
from bot.incidents.models import EventKind, TimelineEvent
from bot.playbooks import runs
from bot.playbooks.tables import StepRun, StepStatus

SPEC: dict[str, Any] = {
    "id": "db-storage-full",
    "title": "Database out of storage",
    "steps": [
        {"id": "verify", "title": "Verify"},
        {
            "id": "user",
            "title": "Who reported it?",
            "input": {"name": "user_id", "label": "User id", "pattern": "[0-9]+"},
        },
        {
            "id": "grow",
            "title": "Grow storage",
            "requires": ["verify"],
            "run": {"http": {"url": "https://ops.example/x"}},
        },
    ],
}


async def _attached(db: Database) -> dict[str, StepRun]:
    async with db.transaction() as session:
        incident, _ = await service.open_incident(session, title="Disk full", source="generic")
        attached = await runs.attach(session, incident.id or 0, SPEC, actor="U0ALICE")
        assert attached is not None
        again = await runs.attach(session, incident.id or 0, SPEC, actor="U0BOB")
        assert again is None  # attaching twice is a no-op
        return {s.step_id: s for s in await runs.step_runs(session, attached.id or 0)}


async def test_two_people_pressing_done_at_once_act_once(db: Database) -> None:
    steps = await _attached(db)

    async def done(user: str) -> bool:
        async with db.transaction() as session:
            return (await runs.complete(session, steps["verify"].id or 0, actor=user)).changed

    assert sorted(await asyncio.gather(done("U0ALICE"), done("U0BOB"))) == [False, True]
    async with db.session() as session:
        kinds = (await session.execute(select(TimelineEvent.kind))).scalars().all()
    assert list(kinds).count(EventKind.STEP) == 1


async def test_two_run_presses_queue_one_run_and_requirements_are_enforced(db: Database) -> None:
    steps = await _attached(db)
    async with db.transaction() as session:
        with pytest.raises(InvalidTransition, match="waits for: verify"):
            await runs.request_run(session, steps["grow"].id or 0, actor="U0ALICE")
    async with db.transaction() as session:
        await runs.complete(session, steps["verify"].id or 0, actor="U0ALICE", skipped=True)

    async def run(user: str) -> bool:
        async with db.transaction() as session:
            return (await runs.request_run(session, steps["grow"].id or 0, actor=user)).changed

    assert sorted(await asyncio.gather(run("U0ALICE"), run("U0BOB"), run("U0CAROL"))) == [False, False, True]
    async with db.session() as session:
        grow = await session.get(StepRun, steps["grow"].id)
    assert grow is not None and grow.status == StepStatus.QUEUED and grow.runs == 1


async def test_input_values_are_validated_against_the_pattern(db: Database) -> None:
    steps = await _attached(db)
    async with db.transaction() as session:
        with pytest.raises(InvalidInput, match="must match"):
            await runs.complete(session, steps["user"].id or 0, actor="U0ALICE", value="not-a-number")
        change = await runs.complete(session, steps["user"].id or 0, actor="U0ALICE", value=" 4821 ")
    assert change.changed and change.step.value == "4821"


async def test_runs_are_claimed_once_and_a_dead_runner_leaves_failed_unknown(db: Database) -> None:
    steps = await _attached(db)
    async with db.transaction() as session:
        await runs.complete(session, steps["verify"].id or 0, actor="U0ALICE")
        await runs.request_run(session, steps["grow"].id or 0, actor="U0ALICE")

    async def claim(holder: str) -> list[StepRun]:
        async with db.transaction() as session:
            return await runs.claim_queued(session, holder, timedelta(seconds=30), 10)

    claims = await asyncio.gather(claim("a"), claim("b"))
    assert sorted(len(c) for c in claims) == [0, 1]
    async with db.transaction() as session:  # the holder's process dies; its lease runs out
        await session.execute(update(StepRun).values(locked_until=utcnow() - timedelta(seconds=1)))
    async with db.transaction() as session:
        assert await runs.abandon_lost_runs(session) == 1
    async with db.transaction() as session:
        grow = await session.get(StepRun, steps["grow"].id)
        assert grow is not None and grow.status == StepStatus.FAILED_UNKNOWN
        retried = await runs.request_run(session, steps["grow"].id or 0, actor="U0BOB")
    assert retried.changed and retried.step.runs == 2  # a new run: a new Idempotency-Key


async def test_a_late_result_from_a_runner_that_lost_its_lease_is_ignored(db: Database) -> None:
    steps = await _attached(db)
    async with db.transaction() as session:
        await runs.complete(session, steps["verify"].id or 0, actor="U0ALICE")
        await runs.request_run(session, steps["grow"].id or 0, actor="U0ALICE")
        (claimed,) = await runs.claim_queued(session, "slow", timedelta(seconds=30), 10)
    async with db.transaction() as session:
        await session.execute(update(StepRun).values(locked_until=utcnow() - timedelta(seconds=1)))
        await runs.abandon_lost_runs(session)
    async with db.transaction() as session:
        await runs.finish_run(session, claimed, ok=True, result={"status_code": 200}, error=None)
    async with db.session() as session:
        status = (await session.execute(select(StepRun.status).where(col(StepRun.id) == claimed.id))).scalar_one()
    assert status == StepStatus.FAILED_UNKNOWN
