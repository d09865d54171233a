"""Alertmanager v4 webhook bodies for the intake benchmark, pre-encoded so the load generator stays cheap.

Shapes follow what Alertmanager really sends (PROTOCOLS.md 4.1): one notification per group, carrying
every alert of the group as it stands, with `groupKey`, `fingerprint` per alert and common labels.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

EXTERNAL_URL = "http://alertmanager.bench:9093"
ZERO_TIME = "0001-01-01T00:00:00Z"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def fingerprint(labels: dict[str, str]) -> str:
    """16 hex digits of a hash over the sorted labels, like Alertmanager's model.Fingerprint."""
    canonical = "\xff".join(f"{k}\xfe{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def alert(group: str, alertname: str, instance: str, starts_at: datetime, severity: str) -> dict[str, Any]:
    labels = {
        "alertname": alertname,
        "group": group,
        "instance": instance,
        "job": "node",
        "namespace": "prod",
        "severity": severity,
        "service": f"svc-{group}",
    }
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {
            "summary": f"{alertname} on {instance}",
            "description": f"{alertname} has been firing on {instance} for more than 5 minutes.",
            "runbook_url": f"https://runbooks.bench/{alertname.lower()}",
        },
        "startsAt": _iso(starts_at),
        "endsAt": ZERO_TIME,
        "generatorURL": f"http://prometheus.bench:9090/graph?g0.expr=up%7Binstance%3D%22{instance}%22%7D",
        "fingerprint": fingerprint(labels),
    }


def notification(group: str, alerts: list[dict[str, Any]], *, receiver: str = "warroom") -> bytes:
    """One Alertmanager notification for `group` carrying `alerts` (the group's current state)."""
    alertname = alerts[0]["labels"]["alertname"]
    severity = alerts[0]["labels"]["severity"]
    document = {
        "version": "4",
        "groupKey": f'{{}}/{{severity=~"critical|warning"}}:{{group="{group}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": receiver,
        "groupLabels": {"group": group},
        "commonLabels": {"alertname": alertname, "group": group, "severity": severity, "job": "node"},
        "commonAnnotations": {},
        "externalURL": EXTERNAL_URL,
        "alerts": alerts,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def rolling(prefix: str, count: int, groups: int, *, per_notification: int = 5) -> list[bytes]:
    """`count` distinct notifications spread over `groups` groups.

    Each carries `per_notification` alerts: a few long-running ones of its group plus one that is
    new in this notification, so no two bodies are byte-identical (none is deduplicated) and the
    group's incident keeps receiving alerts, as under a sustained flow of Alertmanager repeats.
    """
    base = datetime.now(UTC) - timedelta(minutes=10)
    bodies = []
    for i in range(count):
        g = i % groups
        group = f"{prefix}-g{g:03d}"
        steady = [
            alert(group, "HighLatency", f"{group}-node-{k}", base, "warning") for k in range(per_notification - 1)
        ]
        fresh = alert(group, "HighLatency", f"{group}-pod-{i}", base + timedelta(milliseconds=i), "warning")
        bodies.append(notification(group, [*steady, fresh]))
    return bodies


def storm(prefix: str, total_alerts: int, groups: int, rounds: int) -> list[list[bytes]]:
    """A storm: `groups` groups of `total_alerts / groups` alerts each, announced in `rounds` notifications.

    Round r carries the first r/rounds of every group's alerts (the group as it has grown so far),
    which is how Alertmanager reports a growing group at each group_interval. Returns one list of
    notifications per round, each list holding one notification per group.
    """
    per_group = total_alerts // groups
    base = datetime.now(UTC) - timedelta(minutes=2)
    severities = ("critical", "warning")
    every: list[list[dict[str, Any]]] = []
    for g in range(groups):
        group = f"{prefix}-g{g:03d}"
        severity = severities[g % 2]
        every.append(
            [
                alert(group, f"Storm{g % 7}", f"{group}-host-{k:03d}", base + timedelta(seconds=k), severity)
                for k in range(per_group)
            ]
        )
    out = []
    for r in range(1, rounds + 1):
        upto = per_group * r // rounds
        out.append([notification(f"{prefix}-g{g:03d}", every[g][:upto]) for g in range(groups)])
    return out
