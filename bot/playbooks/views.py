"""An attached playbook as people see it now: each step rendered against the incident's current state."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.alerts.models import AlertRow
from bot.incidents import service
from bot.incidents.models import Incident
from bot.playbooks import runs
from bot.playbooks.context import IncidentFacts, StepFacts, TemplateContext, build_context
from bot.playbooks.problems import TemplateProblem
from bot.playbooks.tables import IncidentPlaybook, StepRun
from bot.playbooks.templating import Mode, render


@dataclass(frozen=True)
class StepView:
    """A step with its templates rendered (mrkdwn-safe); a template that fails shows as `problem`."""

    run: StepRun
    kind: str  # manual, input, link, run
    title: str
    text: str | None = None
    link: str | None = None
    confirm: str | None = None
    input_label: str | None = None
    problem: str | None = None
    waiting: list[str] = field(default_factory=list)


def facts_of(incident: Incident) -> IncidentFacts:
    return IncidentFacts(
        number=incident.number,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        service=incident.service,
        commander=incident.commander,
        channel_id=incident.channel_id,
    )


async def context_for(
    session: AsyncSession, playbook: IncidentPlaybook, steps: list[StepRun]
) -> tuple[Incident, TemplateContext]:
    incident = await service.get_by_id(session, playbook.incident_id)
    stmt = select(AlertRow).where(col(AlertRow.incident_id) == incident.id).order_by(col(AlertRow.id))
    alerts = list((await session.execute(stmt)).scalars())
    specs = {s["id"]: s for s in runs.steps_of(playbook.spec)}
    inputs = {
        specs[s.step_id]["input"]["name"]: s.value
        for s in steps
        if s.value is not None and (specs.get(s.step_id) or {}).get("input")
    }
    step_facts = {s.step_id: StepFacts(status=s.status, result=s.result or None) for s in steps}
    return incident, build_context(incident=facts_of(incident), alerts=alerts, inputs=inputs, steps=step_facts)


def kind_of(spec: dict[str, Any]) -> str:
    return next((k for k in ("input", "link", "run") if spec.get(k)), "manual")


def _try(source: str | None, context: TemplateContext, mode: Mode, problems: list[str]) -> str | None:
    if not source:
        return None
    try:
        return render(source, context, mode=mode)
    except TemplateProblem as problem:
        problems.append(str(problem))
        return None


async def checklist(session: AsyncSession, incident_playbook_id: int) -> tuple[IncidentPlaybook, list[StepView]]:
    playbook = await session.get(IncidentPlaybook, incident_playbook_id)
    if playbook is None:
        raise LookupError(f"no attached playbook {incident_playbook_id}")
    steps = await runs.step_runs(session, incident_playbook_id)
    _, context = await context_for(session, playbook, steps)
    statuses = {s.step_id: s.status for s in steps}
    views = []
    for position, step in enumerate(steps):
        if position % 10 == 9:
            # A long checklist renders in slices so Slack's clicks are acknowledged in between.
            await asyncio.sleep(0)
        spec = runs.step_spec(playbook.spec, step.step_id)
        problems: list[str] = []
        title = _try(spec.get("title"), context, Mode.TEXT, problems) or step.step_id
        link = _try(spec.get("link"), context, Mode.URL, problems)
        views.append(
            StepView(
                run=step,
                kind=kind_of(spec),
                title=title,
                text=_try(spec.get("text"), context, Mode.TEXT, problems),
                link=link if link and link.startswith(("https://", "http://")) else None,
                confirm=_try(spec.get("confirm"), context, Mode.TEXT, problems),
                input_label=(spec.get("input") or {}).get("label"),
                problem="; ".join(problems) or None,
                waiting=runs.waiting_for(playbook.spec, step.step_id, statuses),
            )
        )
    return playbook, views
