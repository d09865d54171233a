"""What a handoff report says, gathered from incidents, runbook steps and the outgoing person's note.

The result is plain JSON-able data: it is stored in the outbox row when the handoff is claimed,
so a report posted after a crash says exactly what it would have said on time.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.incidents.models import Incident, Status
from bot.oncall.schema import Schedule
from bot.oncall.tables import HandoffNote
from bot.playbooks import views
from bot.playbooks.tables import ACTIONABLE, IncidentPlaybook

MAX_LISTED = 15  # per section; the rest is counted, so a report stays well under Slack's 50 blocks


def _incident(incident: Incident, until: datetime) -> dict[str, Any]:
    ended = incident.resolved_at if incident.resolved_at is not None and incident.resolved_at <= until else None
    return {
        "number": incident.number,
        "title": incident.title,
        "severity": incident.severity,
        # Resolved after the handoff: at the handoff it was still open.
        "status": "open" if incident.status == Status.RESOLVED and ended is None else incident.status,
        "service": incident.service,
        "channel_id": incident.channel_id,
        "opened_at": incident.created_at.isoformat(),
        "resolved_at": ended.isoformat() if ended is not None else None,
        # Open incidents' age is counted to the handoff, resolved ones' duration to their resolution.
        "duration_seconds": int(((ended or until) - incident.created_at).total_seconds()),
    }


def _capped(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": items[:MAX_LISTED], "more": max(0, len(items) - MAX_LISTED)}


async def build_report(
    session: AsyncSession,
    schedule: Schedule,
    *,
    since: datetime,
    until: datetime,
    outgoing: str | None,
    incoming: str | None,
) -> dict[str, Any]:
    """The facts of the shift [since, until) for the schedule's services (every service when it names none)."""
    touched = select(Incident).where(
        or_(
            col(Incident.created_at).between(since, until),
            col(Incident.resolved_at).between(since, until),
            # Open at the handoff, whenever it opened (a late report must not miss one resolved since).
            (col(Incident.created_at) < until)
            & (col(Incident.resolved_at).is_(None) | (col(Incident.resolved_at) >= until)),
        )
    )
    if schedule.services:
        touched = touched.where(col(Incident.service).in_(schedule.services))
    incidents = list((await session.execute(touched.order_by(col(Incident.number)))).scalars())
    opened = [i for i in incidents if since <= i.created_at < until]
    resolved = [i for i in incidents if i.resolved_at is not None and since <= i.resolved_at < until]
    still_open = [i for i in incidents if i.created_at < until and (i.resolved_at is None or i.resolved_at >= until)]
    steps = await _unfinished_steps(session, {i.id: i for i in still_open if i.id is not None})
    note = (
        await session.execute(
            select(HandoffNote).where(
                col(HandoffNote.schedule_id) == schedule.id, col(HandoffNote.shift_start) == until
            )
        )
    ).scalar_one_or_none()
    return {
        "schedule": {"id": schedule.id, "title": schedule.title, "timezone": schedule.timezone},
        "since": since.isoformat(),
        "until": until.isoformat(),
        "outgoing": outgoing,
        "incoming": incoming,
        "opened": _capped([_incident(i, until) for i in opened]),
        "resolved": _capped([_incident(i, until) for i in resolved]),
        "still_open": _capped([_incident(i, until) for i in still_open]),
        "unfinished_steps": _capped(steps),
        "note": {"text": note.text, "author": note.author} if note is not None and note.text else None,
    }


async def _unfinished_steps(session: AsyncSession, open_incidents: dict[int, Incident]) -> list[dict[str, Any]]:
    """Runbook steps of the still-open incidents that nobody has done or skipped, titles rendered."""
    if not open_incidents:
        return []
    attached = select(col(IncidentPlaybook.id)).where(col(IncidentPlaybook.incident_id).in_(list(open_incidents)))
    found: list[dict[str, Any]] = []
    for attached_id in sorted(i for i in (await session.execute(attached)).scalars() if i is not None):
        _, steps = await views.checklist(session, attached_id)
        for step in steps:
            if step.run.status in ACTIONABLE:
                incident = open_incidents[step.run.incident_id]
                found.append(
                    {
                        "incident": incident.number,
                        "channel_id": incident.channel_id,
                        "step": step.title,  # rendered and already escaped for mrkdwn
                        "status": step.run.status,
                    }
                )
    return found
