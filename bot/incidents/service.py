"""Incident lifecycle: open, look up, and move through triggered → acknowledged → mitigated → resolved.

Every transition is one conditional UPDATE (PLATFORM.md 5, "exactly-once button handling"): two
people pressing Acknowledge at once, or a button and a PagerDuty webhook, change the incident once;
whoever loses gets `Transition(changed=False)`. The caller's transaction also receives the timeline
events and the outbox rows that tell Slack, so state and announcements commit together.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.columns import utcnow
from bot.db import insert_ignore
from bot.errors import InvalidInput, InvalidTransition, NotFound
from bot.incidents.models import Counter, EventKind, Incident, Severity, Status, TimelineEvent
from bot.outbox import Op, enqueue

OPEN_STATUSES = (Status.TRIGGERED, Status.ACKNOWLEDGED, Status.MITIGATED)
MAX_TITLE = 300
MAX_NOTE = 3000


@dataclass(frozen=True)
class Transition:
    incident: Incident
    changed: bool


async def _lock_numbering(session: AsyncSession) -> int:
    """Lock the incident counter row and return its value.

    Every incident creation takes this lock first, so creations serialize (SQLite's BEGIN
    IMMEDIATE already does; on PostgreSQL this is the row lock) and numbers are gap-free.
    """
    await insert_ignore(session, Counter, {"name": "incident", "value": 0}, conflict=["name"])
    stmt = select(col(Counter.value)).where(col(Counter.name) == "incident").with_for_update()
    return int((await session.execute(stmt)).scalar_one())


async def open_incident_for_group(session: AsyncSession, group_key: str) -> Incident | None:
    stmt = select(Incident).where(col(Incident.open_group_key) == group_key)
    return (await session.execute(stmt)).scalars().first()


async def open_incident(
    session: AsyncSession,
    *,
    title: str,
    source: str,
    severity: int = Severity.SEV3,
    service: str | None = None,
    group_key: str | None = None,
    links: list[dict[str, str]] | None = None,
    declared_by: str | None = None,
    responders: list[str] | None = None,
    at: datetime | None = None,
) -> tuple[Incident, bool]:
    """Open an incident, or return the open one for `group_key`; the flag says whether it is new."""
    title = " ".join(title.split())[:MAX_TITLE] or "Untitled incident"
    if not 1 <= severity <= 4:
        raise InvalidInput("severity must be between 1 and 4")
    last_number = await _lock_numbering(session)
    if group_key is not None:
        # Re-checked under the numbering lock: a concurrent creator for this group has committed.
        existing = await open_incident_for_group(session, group_key)
        if existing is not None:
            return existing, False
    number = last_number + 1
    await session.execute(update(Counter).where(col(Counter.name) == "incident").values(value=number))
    now = at or utcnow()
    incident = Incident(
        number=number,
        title=title,
        source=source,
        severity=severity,
        service=service,
        group_key=group_key,
        open_group_key=group_key,
        links=links or [],
        declared_by=declared_by,
        previous_incident_id=await _previous_for_group(session, group_key),
        created_at=now,
        updated_at=now,
    )
    session.add(incident)
    await session.flush()
    assert incident.id is not None
    await record(session, incident.id, EventKind.OPENED, f"Opened: {title}", actor=declared_by or source, at=now)
    await enqueue(session, Op.CREATE_CHANNEL, incident_id=incident.id)
    await enqueue(session, Op.SET_TOPIC, incident_id=incident.id)
    invitees = sorted({*(responders or []), *([declared_by] if declared_by else [])})
    if invitees:
        await enqueue(session, Op.INVITE, incident_id=incident.id, payload={"users": invitees})
    await enqueue(session, Op.SYNC_CARD, incident_id=incident.id)
    await enqueue(session, Op.SYNC_ANNOUNCE, incident_id=incident.id)
    if incident.service:
        # Who is on call may come from PagerDuty: asked by the relay, outside this transaction, and
        # after the card and the announcement so a slow PagerDuty never holds them up.
        await enqueue(session, Op.FIND_ONCALL, incident_id=incident.id)
    return incident, True


async def _previous_for_group(session: AsyncSession, group_key: str | None) -> int | None:
    """The last incident of this group: an alert that fires again links back to it."""
    if group_key is None:
        return None
    stmt = select(func.max(col(Incident.id))).where(col(Incident.group_key) == group_key)
    value = (await session.execute(stmt)).scalar_one_or_none()
    return int(value) if value is not None else None


async def get_by_number(session: AsyncSession, number: int) -> Incident:
    incident: Incident | None = (
        (await session.execute(select(Incident).where(col(Incident.number) == number))).scalars().first()
    )
    if incident is None:
        raise NotFound(f"There is no incident #{number}.")
    return incident


async def get_by_id(session: AsyncSession, incident_id: int) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"There is no incident with id {incident_id}.")
    return incident


async def find_by_channel(session: AsyncSession, channel_id: str) -> Incident | None:
    """Incidents are found by channel id, never by name: names can be renamed or reused."""
    stmt = select(Incident).where(col(Incident.channel_id) == channel_id)
    return (await session.execute(stmt)).scalars().first()


async def record(
    session: AsyncSession,
    incident_id: int,
    kind: EventKind,
    text: str,
    *,
    actor: str | None = None,
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """Append to the timeline; False when `dedupe_key` says it is already there."""
    values: dict[str, Any] = {
        "incident_id": incident_id,
        "kind": str(kind),
        "text": text[:MAX_NOTE],
        "actor": actor,
        "at": at or utcnow(),
        "data": data or {},
        "dedupe_key": dedupe_key,
    }
    if dedupe_key is None:
        session.add(TimelineEvent.model_validate(values))
        return True
    return await insert_ignore(session, TimelineEvent, values, conflict=["dedupe_key"]) is not None


async def _conditional_update(
    session: AsyncSession, incident_id: int, where: Any, values: dict[str, Any]
) -> Incident | None:
    values = {**values, "updated_at": utcnow(), "version": col(Incident.version) + 1}
    stmt = (
        update(Incident)
        .where(col(Incident.id) == incident_id)
        .where(where)
        .values(**values)
        .returning(Incident)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(stmt)).scalars().first()
    if row is not None:
        await session.refresh(row)
    return row


async def _announce_change(session: AsyncSession, incident: Incident, *, topic: bool = False) -> None:
    """Cards on every change; the topic (Tier 2: 20 calls a minute) only when what it shows changes."""
    assert incident.id is not None
    await enqueue(session, Op.SYNC_CARD, incident_id=incident.id)
    await enqueue(session, Op.SYNC_ANNOUNCE, incident_id=incident.id)
    if topic:
        await enqueue(session, Op.SET_TOPIC, incident_id=incident.id)


async def _unchanged(session: AsyncSession, incident_id: int) -> Transition:
    return Transition(await get_by_id(session, incident_id), changed=False)


async def acknowledge(session: AsyncSession, incident_id: int, *, actor: str, slack_user: bool = True) -> Transition:
    """triggered → acknowledged; the first Slack user to acknowledge becomes commander."""
    values: dict[str, Any] = {"status": Status.ACKNOWLEDGED, "acknowledged_at": utcnow()}
    if slack_user:
        values["commander"] = func.coalesce(col(Incident.commander), actor)
    incident = await _conditional_update(session, incident_id, col(Incident.status) == Status.TRIGGERED, values)
    if incident is None:
        return await _unchanged(session, incident_id)
    await record(session, incident_id, EventKind.STATUS, "Acknowledged", actor=actor)
    if slack_user and incident.commander == actor:
        await record(session, incident_id, EventKind.COMMANDER, "Became the commander", actor=actor)
        await enqueue(session, Op.INVITE, incident_id=incident_id, payload={"users": [actor]})
    await _announce_change(session, incident)
    return Transition(incident, changed=True)


async def mitigate(session: AsyncSession, incident_id: int, *, actor: str, by_alerts: bool = False) -> Transition:
    """triggered/acknowledged → mitigated: the impact has stopped, the cause may still be there."""
    where = col(Incident.status).in_([Status.TRIGGERED, Status.ACKNOWLEDGED])
    values = {"status": Status.MITIGATED, "mitigated_at": utcnow(), "mitigated_by_alerts": by_alerts}
    incident = await _conditional_update(session, incident_id, where, values)
    if incident is None:
        return await _unchanged(session, incident_id)
    text = "Mitigated: every alert has resolved" if by_alerts else "Mitigated"
    await record(session, incident_id, EventKind.STATUS, text, actor=actor)
    await _announce_change(session, incident)
    return Transition(incident, changed=True)


async def refire(session: AsyncSession, incident_id: int, *, actor: str) -> Transition:
    """An alert fired again in an incident that only alerts had mitigated: it is not over."""
    incident = await get_by_id(session, incident_id)
    back_to = Status.ACKNOWLEDGED if incident.acknowledged_at else Status.TRIGGERED
    where = (col(Incident.status) == Status.MITIGATED) & (col(Incident.mitigated_by_alerts) == True)  # noqa: E712
    values = {"status": back_to, "mitigated_at": None, "mitigated_by_alerts": False}
    changed = await _conditional_update(session, incident_id, where, values)
    if changed is None:
        return Transition(incident, changed=False)
    await record(session, incident_id, EventKind.STATUS, f"An alert fired again: back to {back_to}", actor=actor)
    await _announce_change(session, changed)
    return Transition(changed, changed=True)


async def resolve(session: AsyncSession, incident_id: int, *, actor: str, summary: str | None = None) -> Transition:
    """Any open status → resolved. The group key is released, so a new alert opens a new incident."""
    values: dict[str, Any] = {"status": Status.RESOLVED, "resolved_at": utcnow(), "open_group_key": None}
    if summary:
        values["summary"] = summary[:MAX_NOTE]
    incident = await _conditional_update(session, incident_id, col(Incident.status) != Status.RESOLVED, values)
    if incident is None:
        return await _unchanged(session, incident_id)
    text = "Resolved" + (f": {summary}" if summary else "")
    await record(session, incident_id, EventKind.STATUS, text, actor=actor)
    await _announce_change(session, incident)
    # Drafted by the relay, after this transaction: a long timeline never slows the Resolve click.
    await enqueue(session, Op.DRAFT_POSTMORTEM, incident_id=incident_id, payload={"by": actor})
    return Transition(incident, changed=True)


async def set_severity(session: AsyncSession, incident_id: int, severity: int, *, actor: str) -> Transition:
    if not 1 <= severity <= 4:
        raise InvalidInput("Severity must be 1, 2, 3 or 4 (1 is the most severe).")
    where = (col(Incident.severity) != severity) & (col(Incident.status) != Status.RESOLVED)
    incident = await _conditional_update(session, incident_id, where, {"severity": severity})
    if incident is None:
        current = await get_by_id(session, incident_id)
        if current.status == Status.RESOLVED:
            raise InvalidTransition(f"Incident #{current.number} is resolved; its severity is final.")
        return Transition(current, changed=False)
    await record(session, incident_id, EventKind.SEVERITY, f"Severity set to SEV{severity}", actor=actor)
    await _announce_change(session, incident, topic=True)
    return Transition(incident, changed=True)


async def add_note(
    session: AsyncSession,
    incident_id: int,
    text: str,
    *,
    actor: str,
    kind: EventKind = EventKind.NOTE,
    at: datetime | None = None,
    dedupe_key: str | None = None,
    data: dict[str, Any] | None = None,
) -> bool:
    text = text.strip()
    if not text:
        raise InvalidInput("Say what to record, e.g. `/incident note restarted the primary`.")
    added = await record(session, incident_id, kind, text, actor=actor, at=at, dedupe_key=dedupe_key, data=data)
    if added:
        await enqueue(session, Op.SYNC_CARD, incident_id=incident_id)
    return added
