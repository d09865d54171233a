"""Attach playbooks to incidents and move their steps, each change one conditional UPDATE.

Two people pressing Done (or Run) on the same step at the same moment act once: the UPDATE
matches only while the step is still in a state that allows the press, and whoever loses gets
`StepChange(changed=False)` with the step as the winner left it (PLATFORM.md 5).
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.columns import utcnow
from bot.db import insert_ignore
from bot.errors import InvalidInput, InvalidTransition, NotFound
from bot.incidents import service
from bot.incidents.models import EventKind
from bot.outbox import Op, enqueue
from bot.playbooks.tables import ACTIONABLE, FINISHED, IncidentPlaybook, StepRun, StepStatus

MAX_RESULT_BODY = 2000


@dataclass(frozen=True)
class StepChange:
    step: StepRun
    changed: bool


async def sync_checklist(session: AsyncSession, incident_id: int, incident_playbook_id: int) -> None:
    payload = {"incident_playbook_id": incident_playbook_id}
    await enqueue(session, Op.SYNC_CHECKLIST, incident_id=incident_id, payload=payload, scope=str(incident_playbook_id))


def steps_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in spec.get("steps", []) if isinstance(s, dict)]


def step_spec(spec: dict[str, Any], step_id: str) -> dict[str, Any]:
    for step in steps_of(spec):
        if step.get("id") == step_id:
            return step
    raise NotFound(f"The runbook has no step {step_id!r}.")


async def attach(
    session: AsyncSession, incident_id: int, spec: dict[str, Any], *, actor: str | None = None
) -> IncidentPlaybook | None:
    """Attach a playbook (its validated spec as a dict); None if it was already attached."""
    values = {
        "incident_id": incident_id,
        "playbook_id": str(spec["id"]),
        "title": str(spec.get("title") or spec["id"]),
        "spec": spec,
        "attached_by": actor,
        "attached_at": utcnow(),
        "message_ts": {},
    }
    attached_id = await insert_ignore(session, IncidentPlaybook, values, conflict=["incident_id", "playbook_id"])
    if attached_id is None:
        return None
    for position, step in enumerate(steps_of(spec)):
        session.add(
            StepRun(
                incident_id=incident_id,
                incident_playbook_id=attached_id,
                step_id=str(step["id"]),
                position=position,
            )
        )
    await service.record(
        session,
        incident_id,
        EventKind.RUNBOOK,
        f"Runbook attached: {values['title']}",
        actor=actor or "warroom",
        data={"playbook": values["playbook_id"]},
    )
    await sync_checklist(session, incident_id, attached_id)
    return await session.get(IncidentPlaybook, attached_id)


async def attached(session: AsyncSession, incident_id: int) -> list[IncidentPlaybook]:
    stmt = select(IncidentPlaybook).where(col(IncidentPlaybook.incident_id) == incident_id)
    return list((await session.execute(stmt.order_by(col(IncidentPlaybook.id)))).scalars())


async def step_runs(session: AsyncSession, incident_playbook_id: int) -> list[StepRun]:
    stmt = select(StepRun).where(col(StepRun.incident_playbook_id) == incident_playbook_id)
    return list((await session.execute(stmt.order_by(col(StepRun.position)))).scalars())


async def get_step(session: AsyncSession, step_run_id: int) -> tuple[StepRun, IncidentPlaybook]:
    step = await session.get(StepRun, step_run_id)
    if step is None:
        raise NotFound("That runbook step no longer exists.")
    playbook = await session.get(IncidentPlaybook, step.incident_playbook_id)
    assert playbook is not None
    return step, playbook


def waiting_for(spec: dict[str, Any], step_id: str, statuses: dict[str, str]) -> list[str]:
    """The required steps of `step_id` that are neither done nor skipped."""
    requires = step_spec(spec, step_id).get("requires") or []
    return [r for r in requires if statuses.get(r) not in FINISHED]


async def _check_ready(session: AsyncSession, step: StepRun, playbook: IncidentPlaybook) -> None:
    statuses = {s.step_id: s.status for s in await step_runs(session, step.incident_playbook_id)}
    waiting = waiting_for(playbook.spec, step.step_id, statuses)
    if waiting:
        raise InvalidTransition(f"This step waits for: {', '.join(waiting)}.")


async def _move(
    session: AsyncSession, step_run_id: int, allowed: frozenset[StepStatus], values: dict[str, Any]
) -> StepRun | None:
    stmt = (
        update(StepRun)
        .where(col(StepRun.id) == step_run_id, col(StepRun.status).in_([str(s) for s in allowed]))
        .values(**values, updated_at=utcnow(), version=col(StepRun.version) + 1)
        .returning(StepRun)
        .execution_options(synchronize_session=False)
    )
    row: StepRun | None = (await session.execute(stmt)).scalars().first()
    if row is not None:
        await session.refresh(row)
    return row


async def _announce(session: AsyncSession, step: StepRun, text: str, actor: str, data: dict[str, Any]) -> None:
    await service.record(session, step.incident_id, EventKind.STEP, text, actor=actor, data=data)
    await sync_checklist(session, step.incident_id, step.incident_playbook_id)


async def complete(
    session: AsyncSession, step_run_id: int, *, actor: str, skipped: bool = False, value: str | None = None
) -> StepChange:
    """Done or Skip (an input step is done when its value arrives)."""
    step, playbook = await get_step(session, step_run_id)
    spec = step_spec(playbook.spec, step.step_id)
    if not skipped:
        await _check_ready(session, step, playbook)
    if value is not None:
        value = _validated_input(spec, value)
    status = StepStatus.SKIPPED if skipped else StepStatus.DONE
    values: dict[str, Any] = {"status": status, "actor": actor, "finished_at": utcnow()}
    if value is not None:
        values["value"] = value
    moved = await _move(session, step_run_id, ACTIONABLE, values)
    if moved is None:
        return StepChange(step, changed=False)
    title = spec.get("title", step.step_id)
    verb = "Skipped" if skipped else "Done"
    # The value itself is not repeated on the timeline: inputs can hold customer identifiers.
    await _announce(session, moved, f"{verb}: {title}", actor, {"step": step.step_id, "status": str(status)})
    return StepChange(moved, changed=True)


def _validated_input(spec: dict[str, Any], value: str) -> str:
    value = value.strip()
    declared = spec.get("input") or {}
    if not value:
        raise InvalidInput("Enter a value.")
    pattern = declared.get("pattern")
    if pattern and re.fullmatch(pattern, value) is None:
        raise InvalidInput(f"That does not look right: it must match {pattern}")
    return value[:500]


async def request_run(session: AsyncSession, step_run_id: int, *, actor: str) -> StepChange:
    """Run (or Retry): queue the automated step once, however many times it is pressed."""
    step, playbook = await get_step(session, step_run_id)
    if "run" not in step_spec(playbook.spec, step.step_id):
        raise InvalidInput("This step has nothing to run.")
    await _check_ready(session, step, playbook)
    values = {"status": StepStatus.QUEUED, "actor": actor, "runs": col(StepRun.runs) + 1, "error": None}
    moved = await _move(session, step_run_id, ACTIONABLE, values)
    if moved is None:
        return StepChange(step, changed=False)
    verb = "Retry" if step.runs else "Run"
    title = step_spec(playbook.spec, step.step_id).get("title", step.step_id)
    await _announce(session, moved, f"{verb} requested: {title}", actor, {"step": step.step_id, "run": moved.runs})
    return StepChange(moved, changed=True)


async def claim_queued(session: AsyncSession, holder: str, lease: timedelta, limit: int) -> list[StepRun]:
    """The runner takes queued steps; the lease tells a restarted process which runs it lost."""
    now = utcnow()
    queued = (
        select(col(StepRun.id)).where(col(StepRun.status) == StepStatus.QUEUED).order_by(col(StepRun.id)).limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        queued = queued.with_for_update(skip_locked=True)
    ids: list[int] = [i for i in (await session.execute(queued)).scalars() if i is not None]
    claimed = []
    for step_run_id in ids:
        values = {"status": StepStatus.RUNNING, "locked_by": holder, "locked_until": now + lease, "started_at": now}
        moved = await _move(session, step_run_id, frozenset({StepStatus.QUEUED}), values)
        if moved is not None:
            claimed.append(moved)
    return claimed


async def finish_run(
    session: AsyncSession, step: StepRun, *, ok: bool, result: dict[str, Any], error: str | None
) -> None:
    """Record the outcome of a run this process holds; a lost lease means someone else owns it now."""
    status = StepStatus.DONE if ok else StepStatus.FAILED
    values: dict[str, Any] = {
        "status": status,
        "result": result,
        "error": error,
        "finished_at": utcnow(),
        "locked_by": None,
        "locked_until": None,
    }
    stmt = (
        update(StepRun)
        .where(
            col(StepRun.id) == step.id,
            col(StepRun.status) == StepStatus.RUNNING,
            col(StepRun.locked_by) == step.locked_by,
        )
        .values(**values, updated_at=utcnow(), version=col(StepRun.version) + 1)
    )
    if (await session.execute(stmt)).rowcount == 0:  # type: ignore[attr-defined]
        return
    _, playbook = await get_step(session, step.id or 0)
    title = step_spec(playbook.spec, step.step_id).get("title", step.step_id)
    summary = f"HTTP {result.get('status_code')}" if result.get("status_code") else (error or "no answer")
    text = f"{'Succeeded' if ok else 'Failed'}: {title} ({summary}, {result.get('duration_ms', 0)} ms)"
    await _announce(session, step, text, step.actor or "warroom", {"step": step.step_id, **result, "error": error})


async def abandon_lost_runs(session: AsyncSession, now: datetime | None = None) -> int:
    """Runs whose process died (lease expired) become failed-unknown: the action may have happened."""
    now = now or utcnow()
    stmt = select(StepRun).where(col(StepRun.status) == StepStatus.RUNNING, col(StepRun.locked_until) < now)
    lost = list((await session.execute(stmt)).scalars())
    for step in lost:
        values = {
            "status": StepStatus.FAILED_UNKNOWN,
            "error": "Warroom stopped while this step ran; check whether it took effect, then Retry or Skip.",
            "locked_by": None,
            "locked_until": None,
            "finished_at": now,
        }
        moved = await _move(session, step.id or 0, frozenset({StepStatus.RUNNING}), values)
        if moved is not None:
            await _announce(session, moved, f"Outcome unknown: {step.step_id}", "warroom", {"step": step.step_id})
    return len(lost)
