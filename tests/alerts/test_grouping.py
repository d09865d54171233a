"""Grouping on SQLite and PostgreSQL: storms fold into few incidents, lifecycles follow the alerts."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import col

from bot.alerts.grouping import Policy, apply_alerts
from bot.alerts.models import Action, Alert, AlertRow, AlertStatus, Source
from bot.db import Database
from bot.incidents import service
from bot.incidents.models import EventKind, Incident, Status, TimelineEvent
from bot.outbox import OutboxRow, OutboxStatus

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _alert(group: str, fp: str, status: AlertStatus = AlertStatus.FIRING, at: datetime = T0, **kw: object) -> Alert:
    values: dict[str, object] = {
        "source": Source.ALERTMANAGER,
        "group_key": f"alertmanager:{group}",
        "fingerprint": fp,
        "status": status,
        "title": f"{group} {fp}",
        "severity": 3,
        "starts_at": T0,
        "observed_at": at,
    }
    values.update(kw)
    return Alert(**values)  # type: ignore[arg-type]


async def _apply(db: Database, alerts: list[Alert], policy: Policy | None = None) -> None:
    async with db.transaction() as session:
        await apply_alerts(session, alerts, policy=policy or Policy())


async def _incidents(db: Database) -> list[Incident]:
    async with db.session() as session:
        return list((await session.execute(select(Incident).order_by(col(Incident.number)))).scalars())


async def _kinds(db: Database, incident_id: int | None) -> list[str]:
    async with db.session() as session:
        stmt = select(TimelineEvent.kind).where(col(TimelineEvent.incident_id) == incident_id)
        return list((await session.execute(stmt.order_by(col(TimelineEvent.id)))).scalars())


async def test_a_storm_folds_into_one_incident_per_group_and_few_slack_operations(db: Database) -> None:
    # 10 groups x 100 alerts, delivered as 50 notifications that each carry a growing slice of a group.
    for delivery in range(50):
        group = f"g{delivery % 10}"
        upto = (delivery // 10 + 1) * 20
        await _apply(db, [_alert(group, f"fp{i}") for i in range(upto)])
    incidents = await _incidents(db)
    assert len(incidents) == 10
    async with db.session() as session:
        alerts = (await session.execute(select(func.count()).select_from(AlertRow))).scalar_one()
        pending = (
            await session.execute(select(func.count()).where(col(OutboxRow.status) == OutboxStatus.PENDING))
        ).scalar_one()
    assert alerts == 1000
    # Per incident: create channel, topic, card, announce; later card updates fold into the pending one.
    assert pending == 40


async def test_all_alerts_resolved_mitigates_and_a_refire_reopens(db: Database) -> None:
    await _apply(db, [_alert("g", "a"), _alert("g", "b")])
    await _apply(db, [_alert("g", "a", AlertStatus.RESOLVED, T0 + timedelta(minutes=1))])
    assert (await _incidents(db))[0].status == Status.TRIGGERED  # b still fires
    await _apply(db, [_alert("g", "b", AlertStatus.RESOLVED, T0 + timedelta(minutes=2))])
    incident = (await _incidents(db))[0]
    assert incident.status == Status.MITIGATED and incident.mitigated_by_alerts
    assert EventKind.ALL_ALERTS_RESOLVED in await _kinds(db, incident.id)
    await _apply(db, [_alert("g", "a", AlertStatus.FIRING, T0 + timedelta(minutes=3))])
    assert (await _incidents(db))[0].status == Status.TRIGGERED


async def test_auto_resolve_closes_the_incident_and_the_next_firing_opens_a_linked_one(db: Database) -> None:
    policy = Policy(auto_resolve=True)
    await _apply(db, [_alert("g", "a")], policy)
    await _apply(db, [_alert("g", "a", AlertStatus.RESOLVED, T0 + timedelta(minutes=1))], policy)
    first = (await _incidents(db))[0]
    assert first.status == Status.RESOLVED
    refired = T0 + timedelta(minutes=5)
    await _apply(db, [_alert("g", "a", AlertStatus.FIRING, refired, starts_at=refired)], policy)
    incidents = await _incidents(db)
    assert [i.number for i in incidents] == [1, 2]
    assert incidents[1].previous_incident_id == first.id and incidents[1].status == Status.TRIGGERED


async def _status_of(db: Database, fingerprint: str) -> str:
    async with db.session() as session:
        stmt = select(AlertRow.status).where(col(AlertRow.fingerprint) == fingerprint)
        return str((await session.execute(stmt)).scalar_one())


async def test_an_older_per_event_report_delivered_late_does_not_undo_a_newer_one(db: Database) -> None:
    generic = {"source": Source.GENERIC, "group_key": "generic:disk"}
    await _apply(db, [_alert("g", "d", **generic)])
    await _apply(db, [_alert("g", "d", AlertStatus.RESOLVED, T0 + timedelta(minutes=2), **generic)])
    await _apply(db, [_alert("g", "d", AlertStatus.FIRING, T0 + timedelta(minutes=1), **generic)])  # late
    assert await _status_of(db, "d") == AlertStatus.RESOLVED


async def test_an_alertmanager_refire_with_its_original_starts_at_counts(db: Database) -> None:
    # Prometheus lost Alertmanager for longer than resolve_timeout, Alertmanager resolved the alert,
    # then Prometheus resent it still firing with its original startsAt.
    await _apply(db, [_alert("g", "a"), _alert("g", "b")])
    await _apply(db, [_alert("g", "a", AlertStatus.RESOLVED, T0 + timedelta(minutes=10))])
    await _apply(db, [_alert("g", "a", AlertStatus.FIRING, T0)])
    assert await _status_of(db, "a") == AlertStatus.FIRING


async def test_resolved_alerts_without_an_open_incident_open_nothing(db: Database) -> None:
    await _apply(db, [_alert("g", "a", AlertStatus.RESOLVED)])
    assert await _incidents(db) == []


async def test_a_worse_alert_raises_the_severity_but_a_milder_one_never_lowers_it(db: Database) -> None:
    await _apply(db, [_alert("g", "a", severity=3)])
    await _apply(db, [_alert("g", "b", severity=1)])
    await _apply(db, [_alert("g", "c", severity=4)])
    assert (await _incidents(db))[0].severity == 1


async def test_pagerduty_actions_move_the_incident_and_notes_land_on_its_timeline(db: Database) -> None:
    def pd(action: Action, status: AlertStatus = AlertStatus.FIRING, minutes: int = 0) -> Alert:
        return Alert(
            source=Source.PAGERDUTY,
            group_key="pagerduty:Q1",
            fingerprint="Q1",
            status=status,
            title="Checkout errors",
            action=action,
            actor="Jane Doe",
            observed_at=T0 + timedelta(minutes=minutes),
        )

    await _apply(db, [pd(Action.NONE)])
    await _apply(db, [pd(Action.ACKNOWLEDGE, minutes=1)])
    incident = (await _incidents(db))[0]
    assert incident.status == Status.ACKNOWLEDGED and incident.commander is None  # not a Slack user
    await _apply(db, [pd(Action.NOTE, minutes=2)])
    await _apply(db, [pd(Action.RESOLVE, AlertStatus.RESOLVED, minutes=3)])
    incident = (await _incidents(db))[0]
    assert incident.status == Status.RESOLVED and incident.open_group_key is None
    assert EventKind.SOURCE in await _kinds(db, incident.id)


async def test_a_repeat_of_a_still_firing_alert_after_resolution_opens_nothing(db: Database) -> None:
    await _apply(db, [_alert("g", "a")])
    incident = (await _incidents(db))[0]
    async with db.transaction() as session:
        await service.resolve(session, incident.id or 0, actor="U0ALICE", summary="silenced, fix tomorrow")
    # Alertmanager's repeat_interval resend: same fingerprint, same startsAt.
    await _apply(db, [_alert("g", "a", at=T0 + timedelta(hours=4))])
    assert len(await _incidents(db)) == 1
    # It stops and starts again: a new episode, a new incident linked to the old one.
    later = T0 + timedelta(hours=6)
    await _apply(db, [_alert("g", "a", starts_at=later, at=later)])
    incidents = await _incidents(db)
    assert len(incidents) == 2 and incidents[1].previous_incident_id == incident.id


async def test_an_alert_that_resolved_and_fires_again_after_resolution_is_a_new_episode(db: Database) -> None:
    policy = Policy(auto_resolve=True)
    await _apply(db, [_alert("g", "a")], policy)
    await _apply(db, [_alert("g", "a", AlertStatus.RESOLVED, T0 + timedelta(minutes=10))], policy)
    assert (await _incidents(db))[0].status == Status.RESOLVED
    await _apply(db, [_alert("g", "a", AlertStatus.FIRING, T0)], policy)  # original startsAt
    assert [i.status for i in await _incidents(db)] == [Status.RESOLVED, Status.TRIGGERED]


async def test_a_generic_alert_that_resolves_mitigates_its_incident(db: Database) -> None:
    generic = {"source": Source.GENERIC, "group_key": "generic:disk"}
    await _apply(db, [_alert("g", "d", **generic)])
    await _apply(db, [_alert("g", "d", AlertStatus.RESOLVED, T0 + timedelta(minutes=2), **generic)])
    assert (await _incidents(db))[0].status == Status.MITIGATED


async def test_pagerduty_reports_about_a_resolved_incident_do_not_reopen_it(db: Database) -> None:
    def pd(opens: bool, minutes: int) -> Alert:
        return Alert(
            source=Source.PAGERDUTY,
            group_key="pagerduty:Q9",
            fingerprint="Q9",
            status=AlertStatus.FIRING,
            title="Search latency",
            opens=opens,
            observed_at=T0 + timedelta(minutes=minutes),
        )

    # Never seen before: an escalation still opens it (Warroom connected mid-incident).
    await _apply(db, [pd(False, 0)])
    first = (await _incidents(db))[0]
    async with db.transaction() as session:
        await service.resolve(session, first.id or 0, actor="U0ALICE")
    await _apply(db, [pd(False, 5)])  # escalated or priority changed in PagerDuty afterwards
    assert len(await _incidents(db)) == 1
    await _apply(db, [pd(True, 9)])  # reopened in PagerDuty: a new incident
    assert [i.status for i in await _incidents(db)] == [Status.RESOLVED, Status.TRIGGERED]
