"""What a postmortem is drafted from: the incident, its alerts, timeline and runbook steps, as plain data.

Everything here is read from the database and ordered by stable keys, so the same incident
gives the same facts (and so the same draft) every time.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.alerts.models import AlertRow
from bot.incidents import service
from bot.incidents.models import EventKind, Incident, TimelineEvent
from bot.playbooks.tables import IncidentPlaybook, StepRun, StepStatus

# A note that starts with one of these words is filed under that section ("cause: the pool was too small").
MARKERS = {"cause": "cause", "lesson": "lesson", "learned": "lesson", "action": "action", "todo": "action"}
_MARKER = re.compile(r"^\s*(cause|lesson|learned|action|todo)\s*:\s*", re.IGNORECASE)
MAX_WHYS = 5
_PERSON = re.compile(r"[UW][A-Z0-9]{2,20}")  # a Slack user id, as people act; sources act by their name


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    actor: str | None
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepTaken:
    playbook: str
    step_id: str
    title: str
    status: str
    actor: str | None
    at: datetime
    result: str  # "HTTP 200 in 0.4 s", the value entered, or ""


@dataclass(frozen=True)
class Why:
    """One of the five whys: an answer with the events that support it, or an open question."""

    number: int
    answer: str | None
    cites: tuple[int, ...] = ()
    question: str | None = None  # set when nobody answered: asked of the reviewers, never invented


@dataclass(frozen=True)
class Facts:
    incident: Incident
    alerts: list[AlertRow]
    events: list[Event]
    steps: list[StepTaken]
    playbooks: list[str]  # titles of the attached playbooks
    detected_at: datetime
    what_happened: str | None
    whys: list[Why]
    causes: list[Event]
    lessons: list[Event]
    actions: list[Event]

    @property
    def durations(self) -> dict[str, float | None]:
        """Seconds from detection to acknowledgement, mitigation and resolution (None where it did not happen)."""
        i = self.incident

        def since_detected(at: datetime | None) -> float | None:
            return (at - self.detected_at).total_seconds() if at is not None else None

        return {
            "acknowledge": since_detected(i.acknowledged_at),
            "mitigate": since_detected(i.mitigated_at),
            "resolve": since_detected(i.resolved_at),
        }


def marker_of(text: str) -> tuple[str | None, str]:
    """(`cause` | `lesson` | `action` | None, the text without its marker)."""
    found = _MARKER.match(text)
    if found is None:
        return None, text
    return MARKERS[found.group(1).lower()], text[found.end() :].strip()


def five_whys(incident: Incident, events: list[Event]) -> list[Why]:
    """The chain from `/incident why` entries and resolve-form answers, taken in the order recorded.

    A form answer names its position (why 2) and replaces what was there; an entry without
    one takes the first free position at the moment it was recorded, so rewording why 1 in
    the form never pushes the others down. Positions nobody answered become questions for
    the review, never invented text.
    """
    answers: dict[int, Event] = {}
    for event in events:
        if event.kind != EventKind.WHY:
            continue
        position = event.data.get("position")
        if not (isinstance(position, int) and 1 <= position <= MAX_WHYS):
            position = next((n for n in range(1, MAX_WHYS + 1) if n not in answers), None)
        if position is not None:
            answers[position] = event
    whys: list[Why] = []
    for number in range(1, MAX_WHYS + 1):
        answer = answers.get(number)
        if answer is not None:
            whys.append(Why(number, answer.text, (answer.id,)))
            continue
        before = answers.get(number - 1)
        if number == 1:
            question = f"Why did this happen: {incident.title}?"
        elif before is not None:
            question = f"Why did this happen: {before.text}?"
        else:
            question = f"Why did the answer to why {number - 1} happen?"
        whys.append(Why(number, None, (), question))
    return whys


async def gather(session: AsyncSession, incident_id: int) -> Facts:
    incident = await service.get_by_id(session, incident_id)
    alerts = list(
        (
            await session.execute(
                select(AlertRow).where(col(AlertRow.incident_id) == incident_id).order_by(col(AlertRow.id))
            )
        ).scalars()
    )
    rows = (
        await session.execute(
            select(TimelineEvent)
            .where(col(TimelineEvent.incident_id) == incident_id)
            .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
        )
    ).scalars()
    # The review's own entries (drafted, approved) describe the postmortem, not the incident: leaving
    # them out keeps a re-draft of the same incident identical.
    events = [
        Event(r.id or 0, r.at, r.actor, r.kind, r.text, dict(r.data or {}))
        for r in rows
        if r.kind != EventKind.POSTMORTEM
    ]
    steps, playbooks = await _steps(session, incident_id)
    starts = [a.starts_at for a in alerts if a.starts_at is not None]
    # Detection is when the first alert began, if the source said; else when Warroom opened the incident.
    detected_at = min([incident.created_at, *starts])
    notes = [e for e in events if e.kind in (EventKind.NOTE, EventKind.PINNED)]
    marked = [(marker_of(e.text), e) for e in notes]
    filed: dict[str, list[Event]] = {"cause": [], "lesson": [], "action": []}
    for (section, text), event in marked:
        if section is not None:
            filed[section].append(Event(event.id, event.at, event.actor, event.kind, text, event.data))
    # The resolve summary says what happened only when a person wrote it: "Every alert resolved", as an
    # alert source resolving it writes, would fill the section with a machine line instead of a question.
    resolved_by = next(
        (e.actor for e in reversed(events) if e.kind == EventKind.STATUS and e.text.startswith("Resolved")), None
    )
    by_person = bool(resolved_by and _PERSON.fullmatch(resolved_by))
    happened = next(
        (e.text for e in reversed(events) if e.kind == EventKind.NOTE and e.data.get("field") == "what_happened"),
        incident.summary if by_person else None,
    )
    return Facts(
        incident=incident,
        alerts=alerts,
        events=events,
        steps=steps,
        playbooks=playbooks,
        detected_at=detected_at,
        what_happened=happened,
        whys=five_whys(incident, events),
        causes=filed["cause"],
        lessons=filed["lesson"],
        actions=filed["action"],
    )


async def _steps(session: AsyncSession, incident_id: int) -> tuple[list[StepTaken], list[str]]:
    attached = list(
        (
            await session.execute(
                select(IncidentPlaybook)
                .where(col(IncidentPlaybook.incident_id) == incident_id)
                .order_by(col(IncidentPlaybook.id))
            )
        ).scalars()
    )
    titles = {
        (p.id, str(s.get("id"))): str(s.get("title") or s.get("id"))
        for p in attached
        for s in p.spec.get("steps", [])
        if isinstance(s, dict)
    }
    runs = (
        await session.execute(
            select(StepRun)
            .where(col(StepRun.incident_id) == incident_id, col(StepRun.status) != StepStatus.PENDING)
            .order_by(col(StepRun.incident_playbook_id), col(StepRun.position))
        )
    ).scalars()
    by_id = {p.id: p for p in attached}
    steps = [
        StepTaken(
            playbook=by_id[r.incident_playbook_id].title if r.incident_playbook_id in by_id else "",
            step_id=r.step_id,
            title=titles.get((r.incident_playbook_id, r.step_id), r.step_id),
            status=r.status,
            actor=r.actor,
            at=r.finished_at or r.updated_at,
            result=_result(r),
        )
        for r in runs
    ]
    return steps, [p.title for p in attached]


def _result(run: StepRun) -> str:
    if run.error:
        return run.error
    status = run.result.get("status_code")
    if status is not None:
        seconds = run.result.get("duration_ms")
        took = f" in {float(seconds) / 1000:.1f} s" if isinstance(seconds, int | float) else ""
        return f"HTTP {status}{took}"
    return run.value or ""
