"""Apply parsed alerts to incidents: join the open incident of their group or open one.

A storm of alerts for one group is one incident, one coalesced card update and one aggregated
timeline entry per delivery, never one Slack call per alert.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.alerts.models import Action, Alert, AlertRow, AlertStatus, Source
from bot.columns import utcnow
from bot.incidents import service
from bot.incidents.models import EventKind, Incident, Status
from bot.outbox import Op, enqueue
from bot.playbooks import runs
from bot.playbooks.matcher import effective_severity, matching
from bot.playbooks.schema import Playbook

# Sources whose notifications carry the whole group, so "every alert resolved" can be concluded.
GROUP_SOURCES = frozenset({Source.ALERTMANAGER, Source.GRAFANA})
TITLES_PER_EVENT = 20


@dataclass
class Outcome:
    """What one delivery did, for logs and metrics."""

    opened: list[int] = field(default_factory=list)  # incident numbers
    updated: list[int] = field(default_factory=list)
    ignored: int = 0


@dataclass(frozen=True)
class Policy:
    auto_resolve: bool = False
    responders: tuple[str, ...] = ()
    # The playbooks in force (the registry's current set), consulted when an incident opens.
    playbooks: Callable[[], Sequence[Playbook]] = lambda: ()


async def apply_alerts(
    session: AsyncSession, alerts: list[Alert], *, policy: Policy, delivery_id: int | None = None
) -> Outcome:
    outcome = Outcome()
    by_group: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_group[alert.group_key].append(alert)
    for group_key, group in by_group.items():
        await _apply_group(session, group_key, group, policy=policy, delivery_id=delivery_id, outcome=outcome)
    return outcome


async def _apply_group(
    session: AsyncSession,
    group_key: str,
    alerts: list[Alert],
    *,
    policy: Policy,
    delivery_id: int | None,
    outcome: Outcome,
) -> None:
    incident = await service.open_incident_for_group(session, group_key)
    status_alerts = [a for a in alerts if a.action is not Action.NOTE]
    firing = [a for a in status_alerts if a.status is AlertStatus.FIRING]
    if incident is None:
        if firing and alerts[0].source in GROUP_SOURCES:
            firing = await _new_episodes(session, group_key, firing)
            status_alerts = firing
        elif firing and not any(a.opens for a in firing) and await _seen_before(session, group_key):
            # E.g. PagerDuty escalates an incident someone already resolved here: not a new problem.
            firing = status_alerts = []
        if not firing:
            # Resolved alerts, notes, or repeats of an episode already closed: nothing to open.
            outcome.ignored += len(alerts)
            return
        first = min(firing, key=lambda a: a.severity)
        playbooks = matching(policy.playbooks(), firing)
        severity = min([first.severity, *(effective_severity(p, first.severity) for p in playbooks)])
        incident, created = await service.open_incident(
            session,
            title=firing[0].title,
            source=str(first.source),
            severity=severity,
            service=first.service,
            group_key=group_key,
            links=first.links,
            responders=list(policy.responders),
            at=_earliest(firing),
        )
        (outcome.opened if created else outcome.updated).append(incident.number)
        if created:
            assert incident.id is not None
            for playbook in playbooks:
                await runs.attach(session, incident.id, playbook.model_dump(mode="json", by_alias=True))
    else:
        outcome.updated.append(incident.number)
    assert incident.id is not None
    await _record_notes(session, incident, [a for a in alerts if a.action is Action.NOTE])
    newly_resolved = 0
    if status_alerts:
        newly_resolved = await _upsert_alerts(session, incident, status_alerts, delivery_id=delivery_id)
    await _apply_actions(session, incident, status_alerts)
    incident_id = incident.id
    incident = await service.get_by_id(session, incident_id)
    if incident.status == Status.RESOLVED:
        return
    worst = min((a.severity for a in firing), default=incident.severity)
    if worst < incident.severity:
        await service.set_severity(session, incident_id, worst, actor=str(alerts[0].source))
    if firing and incident.mitigated_by_alerts:
        await service.refire(session, incident_id, actor=str(alerts[0].source))
    elif incident.source != Source.PAGERDUTY and newly_resolved and not firing:
        # PagerDuty says when its incident resolves (an explicit event); every other source only
        # tells us its alerts resolved, which means the impact stopped: mitigated.
        await _maybe_all_resolved(session, incident, policy)
    await enqueue(session, Op.SYNC_CARD, incident_id=incident_id)


async def _seen_before(session: AsyncSession, group_key: str) -> bool:
    stmt = select(func.count()).select_from(Incident).where(col(Incident.group_key) == group_key)
    return bool((await session.execute(stmt)).scalar_one())


async def _new_episodes(session: AsyncSession, group_key: str, firing: list[Alert]) -> list[Alert]:
    """Firing alerts that are not repeats of what the group's last incident already saw.

    Alertmanager resends a still-firing group every `repeat_interval`. If someone resolved the
    incident while an alert kept firing, that repeat (same fingerprint, same `startsAt`) must not
    open a new incident; an alert that really fires again has a new `startsAt`.
    """
    previous = select(func.max(col(Incident.id))).where(col(Incident.group_key) == group_key).scalar_subquery()
    # Only alerts still firing when the incident closed can be repeated; one that had resolved
    # and fires again is a new episode even with its original startsAt.
    stmt = select(col(AlertRow.fingerprint), col(AlertRow.starts_at)).where(
        col(AlertRow.incident_id) == previous, col(AlertRow.status) == AlertStatus.FIRING
    )
    seen = {(fingerprint, starts_at) for fingerprint, starts_at in (await session.execute(stmt)).all()}
    return [a for a in firing if a.starts_at is None or (a.fingerprint, a.starts_at) not in seen]


def _earliest(alerts: list[Alert]) -> datetime | None:
    starts = [a.starts_at for a in alerts if a.starts_at is not None]
    return min(starts) if starts and min(starts) <= utcnow() else None


async def _upsert_alerts(
    session: AsyncSession, incident: Incident, alerts: list[Alert], *, delivery_id: int | None
) -> int:
    """Insert or update the alert rows; returns how many alerts this delivery resolved."""
    assert incident.id is not None
    fingerprints = {a.fingerprint for a in alerts}
    stmt = select(AlertRow).where(
        col(AlertRow.incident_id) == incident.id,
        col(AlertRow.fingerprint).in_(fingerprints),
    )
    existing = {row.fingerprint: row for row in (await session.execute(stmt)).scalars()}
    new_firing: list[str] = []
    fired_again: list[str] = []
    resolved: list[str] = []
    now = utcnow()
    for alert in alerts:
        observed = alert.observed_at or now
        row = existing.get(alert.fingerprint)
        if row is None:
            row = AlertRow(
                incident_id=incident.id,
                source=str(alert.source),
                fingerprint=alert.fingerprint,
                status=str(alert.status),
                severity=alert.severity,
                title=alert.title,
                service=alert.service,
                labels=alert.labels,
                annotations=alert.annotations,
                links=alert.links,
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
                observed_at=observed,
                delivery_id=delivery_id,
            )
            session.add(row)
            existing[alert.fingerprint] = row
            (new_firing if alert.status is AlertStatus.FIRING else resolved).append(alert.title)
            continue
        if alert.source not in GROUP_SOURCES and observed < row.observed_at:
            # An older report delivered late: the newer state stands. Whole-group sources are
            # exempt: each notification is the group's current state, sent serially, so arrival
            # order is the truth, and a re-fire may carry its original startsAt.
            continue
        if row.status != alert.status:
            (fired_again if alert.status is AlertStatus.FIRING else resolved).append(alert.title)
        row.status = str(alert.status)
        row.severity, row.title, row.service = alert.severity, alert.title, alert.service
        row.labels, row.annotations, row.links = alert.labels, alert.annotations, alert.links
        row.starts_at, row.ends_at, row.observed_at = alert.starts_at, alert.ends_at, observed
        row.delivery_id, row.updated_at = delivery_id, now
    await session.flush()
    source = str(alerts[0].source)
    for titles, kind, verb in (
        (new_firing, EventKind.ALERT, "firing"),
        (fired_again, EventKind.ALERT, "firing again"),
        (resolved, EventKind.ALERT_RESOLVED, "resolved"),
    ):
        if titles:
            await service.record(
                session,
                incident.id,
                kind,
                _summarise(titles, verb),
                actor=source,
                data={"titles": titles[:TITLES_PER_EVENT], "count": len(titles)},
            )
    return len(resolved)


def _summarise(titles: list[str], verb: str) -> str:
    if len(titles) == 1:
        return f"Alert {verb}: {titles[0]}"
    shown = "; ".join(titles[:3])
    more = f" and {len(titles) - 3} more" if len(titles) > 3 else ""
    return f"{len(titles)} alerts {verb}: {shown}{more}"


async def _record_notes(session: AsyncSession, incident: Incident, notes: list[Alert]) -> None:
    assert incident.id is not None
    for note in notes:
        await service.record(
            session,
            incident.id,
            EventKind.SOURCE,
            note.title,
            actor=note.actor or str(note.source),
            at=note.observed_at,
        )


async def _apply_actions(session: AsyncSession, incident: Incident, alerts: list[Alert]) -> None:
    """Source-driven transitions (PagerDuty acknowledge and resolve), in the order reported."""
    assert incident.id is not None
    for alert in sorted(alerts, key=lambda a: a.observed_at or utcnow()):
        actor = f"{alert.actor} ({alert.source})" if alert.actor else str(alert.source)
        if alert.action is Action.ACKNOWLEDGE:
            await service.acknowledge(session, incident.id, actor=actor, slack_user=False)
        elif alert.action is Action.RESOLVE:
            await service.resolve(session, incident.id, actor=actor)


async def _maybe_all_resolved(session: AsyncSession, incident: Incident, policy: Policy) -> None:
    assert incident.id is not None
    stmt = select(col(AlertRow.status)).where(col(AlertRow.incident_id) == incident.id).distinct()
    statuses = set((await session.execute(stmt)).scalars())
    if statuses != {AlertStatus.RESOLVED}:
        return
    source = incident.source
    await service.record(session, incident.id, EventKind.ALL_ALERTS_RESOLVED, "Every alert has resolved", actor=source)
    await service.mitigate(session, incident.id, actor=source, by_alerts=True)
    if policy.auto_resolve:
        await service.resolve(session, incident.id, actor=source, summary="Every alert resolved (AUTO_RESOLVE)")
