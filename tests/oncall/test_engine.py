"""The handoff engine's jobs follow the schedule files: one at each next boundary and note request, moved on reload."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.db import Database, upgrade_async
from bot.handoff_engine import HandoffEngine
from bot.oncall import handoffs
from bot.oncall.directory import OncallDirectory
from bot.oncall.rotation import OnCall, Rota
from bot.oncall.schema import Schedule
from bot.oncall.tables import Handoff
from bot.playbooks.registry import PlaybookRegistry
from bot.scheduler import build_scheduler


def _write(folder: Path, schedule_id: str, handoff: datetime, note_lead: str = "30m") -> None:
    (folder / "oncall").mkdir(parents=True, exist_ok=True)
    (folder / "oncall" / f"{schedule_id}.yaml").write_text(
        f"""
id: {schedule_id}
channel: "#ops"
note_lead: {note_lead}
rotation: {{members: [alice@example.com, bob@example.com], shift: 1d, handoff: "{handoff:%H:%M}", start: 2026-01-01}}
"""
    )


@pytest.fixture
async def engine(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[HandoffEngine, PlaybookRegistry]]:
    await upgrade_async(sqlite_url)
    db = Database(sqlite_url)
    registry = PlaybookRegistry(tmp_path)
    scheduler = build_scheduler(db)
    engine = HandoffEngine(db, registry, scheduler, grace=timedelta(hours=1))
    yield engine, registry
    if scheduler.running:
        scheduler.shutdown(wait=False)
    await db.dispose()


def _runs(engine: HandoffEngine) -> dict[str, datetime]:
    return {job.id: job.next_run_time for job in engine.scheduler.get_jobs() if job.id.startswith("handoff")}


async def test_jobs_sit_at_the_next_boundary_and_note_request_and_follow_reloads(
    tmp_path: Path, engine: tuple[HandoffEngine, PlaybookRegistry]
) -> None:
    handoff_engine, registry = engine
    boundary = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    _write(tmp_path, "ops", boundary)
    registry.reload()
    handoff_engine.start()
    handoff_engine.scheduler.start()
    runs = _runs(handoff_engine)
    assert runs["handoff:ops"] == boundary
    assert runs["handoff-note:ops"] == boundary - timedelta(minutes=30)
    assert "handoff_sweep" in runs

    # A changed file moves the jobs once the registry reloads (the 2 s poll, or SIGHUP).
    later = boundary + timedelta(hours=1)
    _write(tmp_path, "ops", later, note_lead="0")
    await asyncio.to_thread(registry.reload)  # reloads run in a worker thread in production too
    await asyncio.sleep(0.05)
    runs = _runs(handoff_engine)
    assert runs["handoff:ops"] == later
    assert "handoff-note:ops" not in runs  # note_lead 0: nobody is asked

    # A removed file takes its jobs with it.
    (tmp_path / "oncall" / "ops.yaml").unlink()
    await asyncio.to_thread(registry.reload)
    await asyncio.sleep(0.05)
    assert "handoff:ops" not in _runs(handoff_engine)


async def test_an_invalid_edit_keeps_the_last_good_schedule_and_its_jobs(
    tmp_path: Path, engine: tuple[HandoffEngine, PlaybookRegistry]
) -> None:
    handoff_engine, registry = engine
    boundary = (datetime.now(UTC) + timedelta(hours=5)).replace(second=0, microsecond=0)
    _write(tmp_path, "ops", boundary)
    registry.reload()
    handoff_engine.start()
    handoff_engine.scheduler.start()
    (tmp_path / "oncall" / "ops.yaml").write_text("id: ops\nchannel: '#ops'\nrotation: {shift: 3x}\n")
    snapshot = await asyncio.to_thread(registry.reload)
    await asyncio.sleep(0.05)
    assert "ops" in snapshot.stale_schedules and snapshot.errors
    assert _runs(handoff_engine)["handoff:ops"] == boundary


class _PagerDuty:
    """A PagerDuty port that puts dave on call until the boundary and erin from it."""

    def __init__(self, boundary: datetime) -> None:
        self.boundary = boundary
        self.asked: list[datetime] = []

    async def rota(self, schedule: Schedule, at: datetime) -> Rota:
        self.asked.append(at)
        if at < self.boundary:
            now = OnCall("dave@example.com", at - timedelta(days=1), self.boundary, None, False)
            return Rota(now, OnCall("erin@example.com", self.boundary, None, None, False))
        return Rota(OnCall("erin@example.com", self.boundary, None, None, False), None)


async def test_a_pagerduty_backed_schedules_handoff_names_pagerdutys_people(tmp_path: Path, sqlite_url: str) -> None:
    await upgrade_async(sqlite_url)
    db = Database(sqlite_url)
    boundary = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)
    _write(tmp_path, "ops", boundary, note_lead="0")
    path = tmp_path / "oncall" / "ops.yaml"
    path.write_text(path.read_text() + "pagerduty: {schedule: PABC123}\n")
    registry = PlaybookRegistry(tmp_path)
    registry.reload()
    pagerduty = _PagerDuty(boundary)
    engine = HandoffEngine(
        db, registry, build_scheduler(db), grace=timedelta(hours=1), directory=OncallDirectory(pagerduty)
    )
    try:
        await handoffs.first_seen(db.transaction, "ops", boundary - timedelta(days=1))  # in force before the boundary
        await engine.sweep()
        async with db.session() as session:
            stored = (await session.execute(select(Handoff).where(col(Handoff.shift_start) == boundary))).scalar_one()
    finally:
        await db.dispose()
    assert (stored.outgoing, stored.incoming) == ("dave@example.com", "erin@example.com")
    assert boundary in pagerduty.asked
