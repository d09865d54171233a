"""The background runner: takes queued automated steps, carries them out, records the outcome.

Runs happen after the click is acknowledged and in parallel (a slow target never holds up the
others or the button acks). A run holds a lease it renews while it works; if the process dies,
the lease runs out and the step becomes failed-unknown, with Retry offered.
"""

import asyncio
import contextlib
import os
import socket
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import update
from sqlmodel import col

from bot.columns import utcnow
from bot.db import Database
from bot.lanes import Lane
from bot.playbooks import runs
from bot.playbooks.context import TemplateContext, secret_values
from bot.playbooks.problems import TemplateProblem
from bot.playbooks.tables import StepRun, StepStatus
from bot.playbooks.templating import Mode, render, render_value
from bot.playbooks.views import context_for
from bot.runner.http import HttpActionRunner, HttpOutcome, HttpRequest
from bot.worker import Worker

log = structlog.get_logger(__name__)


def build_request(spec: dict[str, Any], context: TemplateContext) -> HttpRequest:
    """The HTTP request a run step describes; `env` is readable in headers only (TemplateProblem otherwise)."""
    run = spec["run"]
    http = run["http"]
    headers = {name: render(value, context, mode=Mode.HEADER) for name, value in (http.get("headers") or {}).items()}
    form = http.get("form")
    return HttpRequest(
        method=str(http.get("method") or "POST").upper(),
        url=render(http["url"], context, mode=Mode.URL),
        headers=headers,
        json=render_value(http.get("json"), context) if form is None else None,
        form={k: render(v, context, mode=Mode.BODY) for k, v in form.items()} if form is not None else None,
        timeout=float(run.get("timeout") or 10.0),
        retries=int(run.get("retries") or 0),
        expect=tuple(int(code) for code in run.get("expect") or ()),
    )


class StepRunner(Worker):
    name = "steps"

    def __init__(
        self, db: Database, http: HttpActionRunner, *, capacity: int = 50, lease_seconds: float = 30.0
    ) -> None:
        super().__init__()
        self.db = db
        self.http = http
        self.capacity = capacity
        self.lease = timedelta(seconds=lease_seconds)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._active: set[asyncio.Task[None]] = set()

    async def run_once(self) -> int:
        async with self.db.transaction(Lane.BACKGROUND) as session:
            await runs.abandon_lost_runs(session)
        free = self.capacity - len(self._active)
        if free <= 0:
            return 0
        async with self.db.transaction(Lane.BACKGROUND) as session:
            claimed = await runs.claim_queued(session, self.holder, self.lease, free)
        for step in claimed:
            task = asyncio.create_task(self._execute(step), name=f"step-{step.id}")
            self._active.add(task)
            task.add_done_callback(self._active.discard)
        return len(claimed)

    async def stop(self) -> None:
        await super().stop()
        if self._active:
            # Give running steps a moment to record their outcome; the rest become failed-unknown later.
            await asyncio.wait(self._active, timeout=10.0)
            for task in self._active:
                task.cancel()

    async def _execute(self, step: StepRun) -> None:
        bound = log.bind(incident=step.incident_id, step=step.step_id, run=step.runs)
        heartbeat = asyncio.create_task(self._renew(step))
        try:
            outcome = await self._carry_out(step)
        except Exception as error:  # the boundary: the step records the failure, the runner lives on
            bound.exception("step_run_crashed")
            outcome = HttpOutcome(False, {}, f"Warroom failed to run this step: {type(error).__name__}")
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        bound.info("step_run_finished", ok=outcome.ok, status_code=outcome.result.get("status_code"))
        async with self.db.transaction(Lane.BACKGROUND) as session:
            await runs.finish_run(session, step, ok=outcome.ok, result=outcome.result, error=outcome.error)

    async def _carry_out(self, step: StepRun) -> HttpOutcome:
        async with self.db.session(Lane.BACKGROUND) as session:
            _, playbook = await runs.get_step(session, step.id or 0)
            _, context = await context_for(session, playbook, await runs.step_runs(session, playbook.id or 0))
        spec = runs.step_spec(playbook.spec, step.step_id)
        try:
            request = build_request(spec, context)
        except TemplateProblem as problem:
            return HttpOutcome(False, {"attempts": 0}, f"template: {problem}")
        # Stable for every retry of this run, new for the next press of Run or Retry.
        key = f"warroom-{step.incident_playbook_id}-{step.step_id}-{step.runs}"
        return await self.http.run(request, idempotency_key=key, secrets=secret_values(context))

    async def _renew(self, step: StepRun) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            async with self.db.transaction(Lane.BACKGROUND) as session:
                await session.execute(
                    update(StepRun)
                    .where(col(StepRun.id) == step.id, col(StepRun.locked_by) == self.holder)
                    .where(col(StepRun.status) == StepStatus.RUNNING)
                    .values(locked_until=utcnow() + self.lease)
                )
