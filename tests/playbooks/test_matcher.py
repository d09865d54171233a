"""Which playbooks an alert starts: any/all, lists, `*`, `~regex`, severity comparisons, services."""

from typing import Any

import pytest

from bot.alerts.models import Alert, AlertStatus, Source
from bot.playbooks.matcher import effective_severity, matches, matching
from bot.playbooks.schema import Playbook


def playbook(match: dict[str, Any], playbook_id: str = "p", severity: int | None = None) -> Playbook:
    return Playbook.model_validate(
        {"id": playbook_id, "title": "P", "severity": severity, "match": match, "steps": [{"id": "s", "title": "S"}]}
    )


def alert(**changes: Any) -> Alert:
    values: dict[str, Any] = {
        "source": Source.ALERTMANAGER,
        "group_key": "g",
        "fingerprint": "f",
        "status": AlertStatus.FIRING,
        "title": "t",
        "severity": 2,
        "service": "Payments DB",
        "labels": {"alertname": "PostgresDiskFull", "instance": "db-1:5432", "env": "prod"},
    }
    values.update(changes)
    return Alert(**values)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"source": "alertmanager"}, True),
        ({"source": ["grafana", "pagerduty"]}, False),
        ({"service": "payments db"}, True),
        ({"service": ["Orders DB", "PAYMENTS DB"]}, True),
        ({"service": "Payments"}, False),
        ({"severity": 2}, True),
        ({"severity": [3, 4]}, False),
        ({"severity": "<=2"}, True),
        ({"severity": "<2"}, False),
        ({"severity": ">=2"}, True),
        ({"severity": ">2"}, False),
        ({"severity": "!=1"}, True),
        ({"severity": "==2"}, True),
        ({"labels": {"alertname": "PostgresDiskFull"}}, True),
        ({"labels": {"alertname": "postgresdiskfull"}}, False),
        ({"labels": {"alertname": ["MySQLDiskFull", "PostgresDiskFull"]}}, True),
        ({"labels": {"instance": "*"}}, True),
        ({"labels": {"team": "*"}}, False),
        ({"labels": {"alertname": "~Postgres.*"}}, True),
        ({"labels": {"alertname": "~Postgres"}}, False),  # fully matched, not searched
        ({"labels": {"alertname": "~(MySQL|Postgres)Disk(Full|AlmostFull)"}}, True),
        ({"labels": {"alertname": "PostgresDiskFull", "env": "staging"}}, False),  # every key must hold
        ({"source": "alertmanager", "service": "Payments DB", "severity": "<=2", "labels": {"env": "prod"}}, True),
    ],
)
def test_rule(rule: dict[str, Any], expected: bool) -> None:
    assert matches(playbook({"any": [rule]}), alert()) is expected


def test_a_service_rule_never_matches_an_alert_without_service() -> None:
    assert not matches(playbook({"any": [{"service": "Payments DB"}]}), alert(service=None))


def test_any_needs_one_rule_and_all_needs_every_rule() -> None:
    rules = [{"labels": {"alertname": "PostgresDiskFull"}}, {"source": "grafana"}]
    assert matches(playbook({"any": rules}), alert())
    assert not matches(playbook({"all": rules}), alert())
    assert matches(playbook({"all": [rules[0], {"severity": "<=2"}]}), alert())


def test_matching_looks_at_firing_alerts_only_and_sorts_by_id() -> None:
    disk = playbook({"any": [{"labels": {"alertname": "PostgresDiskFull"}}]}, "zz-disk")
    cpu = playbook({"any": [{"labels": {"alertname": "HighCpu"}}]}, "aa-cpu")
    grafana = playbook({"any": [{"source": "grafana"}]}, "mm-grafana")
    alerts = [
        alert(),
        alert(labels={"alertname": "HighCpu"}, status=AlertStatus.RESOLVED),
        alert(source=Source.GRAFANA),
    ]
    assert [p.id for p in matching([disk, cpu, grafana], alerts)] == ["mm-grafana", "zz-disk"]
    assert matching([disk], [alert(status=AlertStatus.RESOLVED)]) == []


def test_effective_severity_takes_the_more_severe() -> None:
    assert effective_severity(playbook({"any": [{"source": "generic"}]}, severity=2), 3) == 2
    assert effective_severity(playbook({"any": [{"source": "generic"}]}, severity=2), 1) == 1
    assert effective_severity(playbook({"any": [{"source": "generic"}]}), 4) == 4
    assert effective_severity(None, 3) == 3
