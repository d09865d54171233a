"""A real Prometheus Alertmanager drives Warroom: its firing and resolved notifications open and mitigate one incident.

Alertmanager runs as a subprocess on a loopback port with a webhook receiver that carries the bot's
bearer token (PROTOCOLS.md 4.4). The test pushes alerts with `POST /api/v2/alerts` the way Prometheus
does, and resolves them by posting the same labels with `endsAt` in the past; everything Warroom
receives was composed, grouped, timed and sent by Alertmanager itself. Timings are shortened
(`group_wait` and `group_interval` 1s) so a run takes seconds. Skipped when the binary is missing,
a failure under CI=true.
"""

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.alertmanager import Alertmanager, postable_alert, require_binary, running_alertmanager
from tests.support.live import WEBHOOK_TOKEN, Stack, live_stack, wait_for

pytestmark = pytest.mark.alertmanager

ALERTNAME = "WarroomTestDiskFull"
INSTANCES = ("db-1.example.internal:9100", "db-2.example.internal:9100")
NOTIFY_TIMEOUT = 15.0  # group_wait / group_interval are 1s; this is slack for a slow CI machine


@dataclass
class Rig:
    stack: Stack
    am: Alertmanager
    started: datetime

    def alerts(self, *, resolved_at: datetime | None = None) -> list[dict[str, Any]]:
        """The two alerts of the test group, firing, or resolved at `resolved_at`."""
        return [
            postable_alert(
                {"alertname": ALERTNAME, "instance": instance, "severity": "critical", "job": "node"},
                annotations={"summary": f"Disk almost full on {instance}", "runbook_url": "https://runbooks.test/disk"},
                starts_at=self.started,
                ends_at=resolved_at,
                generator_url="http://127.0.0.1:9090/graph?g0.expr=node_filesystem_avail_bytes",
            )
            for instance in INSTANCES
        ]

    async def incidents(self) -> list[dict[str, Any]]:
        incidents: list[dict[str, Any]] = (await self.stack.api("/incidents"))["incidents"]
        return incidents

    async def incident_when(self, what: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Poll incident #1 until `check(incident)` holds; returns it."""

        async def ready() -> dict[str, Any] | None:
            if not await self.incidents():
                return None
            incident: dict[str, Any] = await self.stack.api("/incidents/1")
            return incident if check(incident) else None

        try:
            found = await wait_for(ready, timeout=NOTIFY_TIMEOUT, what=what)
        except AssertionError as error:
            last = await self.incidents()
            detail = json.dumps(await self.stack.api("/incidents/1"), indent=1) if last else "no incident at all"
            raise AssertionError(f"{error}; incidents: {len(last)}; incident #1: {detail}") from error
        assert found is not None
        return found

    def cards(self, channel_id: str) -> list[Any]:
        return [
            m
            for m in self.stack.messages(channel_id)
            if (m.metadata or {}).get("event_payload", {}).get("kind") == "card"
        ]


@pytest.fixture
def alertmanager_binary() -> str:
    return require_binary()


@pytest.fixture(params=[False, True], ids=["auto_resolve_off", "auto_resolve_on"])
async def rig(
    request: pytest.FixtureRequest, sqlite_url: str, tmp_path: Path, alertmanager_binary: str
) -> AsyncIterator[Rig]:
    directory = tmp_path / "alertmanager"
    directory.mkdir()
    async with (
        live_stack(sqlite_url, auto_resolve=request.param) as stack,
        running_alertmanager(
            alertmanager_binary,
            directory,
            webhook_url=f"{stack.bot_url}/webhooks/alertmanager",
            token=WEBHOOK_TOKEN,
            group_wait="1s",
            group_interval="1s",
            repeat_interval="2s",
        ) as am,
    ):
        # A minute ago, so the resolve below (endsAt one second ago) is later than the start.
        yield Rig(stack, am, started=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))


def _fields(card: Any) -> str:
    return json.dumps(card.blocks)


async def test_real_alertmanager_notifications_open_and_mitigate_one_incident(rig: Rig) -> None:
    stack, am = rig.stack, rig.am
    auto_resolve = stack.settings.auto_resolve

    # -- firing: two alerts of one group (same alertname) are one notification and one incident
    await am.push(rig.alerts())
    held = await am.alerts()
    assert sorted(a["labels"]["instance"] for a in held) == sorted(INSTANCES)
    assert all(a["status"]["state"] == "active" for a in held), held
    am_fingerprints = sorted(a["fingerprint"] for a in held)

    incident = await rig.incident_when(
        "a triggered incident with both alerts firing",
        lambda i: len(i["alerts"]) == 2 and all(a["status"] == "firing" for a in i["alerts"]),
    )
    await stack.settled()
    incident = await stack.api("/incidents/1")
    assert len(await rig.incidents()) == 1
    assert incident["status"] == "triggered"
    assert incident["severity"] == 1
    assert incident["source"] == "alertmanager"
    assert incident["group_key"] == f'alertmanager:{{}}:{{alertname="{ALERTNAME}"}}'
    # The alerts are the ones Alertmanager holds, identified by Alertmanager's own fingerprints.
    assert sorted(a["fingerprint"] for a in incident["alerts"]) == am_fingerprints
    assert sorted(a["labels"]["instance"] for a in incident["alerts"]) == sorted(INSTANCES)

    channel = stack.channel("inc-1-")
    assert incident["channel_id"] == channel.id
    cards = rig.cards(channel.id)
    assert len(cards) == 1, f"expected one card, found {len(cards)}"
    card_ts = cards[0].ts
    assert incident["card_ts"] == card_ts
    assert "Triggered" in _fields(cards[0]) and "Alerts: 2 firing, 0 resolved" in _fields(cards[0])

    # Alertmanager re-sends the unchanged group every repeat_interval (2s); the bot takes the byte-identical
    # body as a duplicate: still one incident, one card.
    await wait_for(
        lambda: _intake_at_least(stack, "duplicate", 1),
        timeout=NOTIFY_TIMEOUT,
        what="Alertmanager's repeat of the firing notification to reach the bot",
    )
    await stack.settled()
    assert len(await rig.incidents()) == 1
    assert (await stack.api("/incidents/1"))["status"] == "triggered"
    assert len(rig.cards(channel.id)) == 1

    # -- resolved: the same labels with endsAt in the past
    await am.push(rig.alerts(resolved_at=datetime.now(UTC) - timedelta(seconds=1)))
    held = await am.alerts()
    assert held == [], held  # the API lists no alert whose endsAt has passed

    expected = "resolved" if auto_resolve else "mitigated"
    incident = await rig.incident_when(
        f"the incident to become {expected} with both alerts resolved",
        lambda i: i["status"] == expected and all(a["status"] == "resolved" for a in i["alerts"]),
    )
    await stack.settled()
    incident = await stack.api("/incidents/1")
    assert incident["status"] == expected
    assert incident["mitigated_at"] is not None
    assert len(incident["alerts"]) == 2 and all(a["status"] == "resolved" for a in incident["alerts"])
    kinds = [event["kind"] for event in incident["timeline"]]
    assert kinds.count("all_alerts_resolved") == 1, kinds
    if auto_resolve:
        assert incident["resolved_at"] is not None
    else:
        assert incident["mitigated_by_alerts"] is True and incident["resolved_at"] is None
    assert len(await rig.incidents()) == 1

    # The card was edited in place: the same message, now showing the new status; no second card.
    cards = rig.cards(channel.id)
    assert len(cards) == 1, f"expected one card, found {len(cards)}"
    assert cards[0].ts == card_ts and cards[0].edited is not None
    blocks = _fields(cards[0])
    assert expected.capitalize() in blocks, blocks
    assert "Alerts: 0 firing, 2 resolved" in blocks, blocks
    assert "Triggered" not in blocks, blocks
    card_posts = [
        c
        for c in stack.calls("chat.postMessage")
        if c.args.get("channel") == channel.id
        and ((c.args.get("metadata") or {}).get("event_payload") or {}).get("kind") == "card"
    ]
    assert len(card_posts) == 1, [c.args for c in card_posts]
    assert any(c.args.get("ts") == card_ts for c in stack.calls("chat.update"))

    # Every notification Alertmanager sent was taken: none failed, none needed a retry, none was refused.
    counters = await am.counters()
    assert counters["failed"] == 0 and counters["requests_failed"] == 0, counters
    assert counters["sent"] >= 3, counters  # first, at least one repeat, resolved
    outcomes = await _intake(stack)
    assert set(outcomes) == {"accepted", "duplicate"} and outcomes["accepted"] >= 2, outcomes


async def _intake(stack: Stack) -> dict[str, float]:
    """The bot's `warroom_intake_total` for Alertmanager, by outcome (accepted, duplicate, unauthorized, ...)."""
    text = (await stack.http.get("/metrics")).text
    outcomes: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("warroom_intake_total{") and 'source="alertmanager"' in line:
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            outcomes[outcome] = outcomes.get(outcome, 0.0) + float(line.rsplit(" ", 1)[1])
    return outcomes


async def _intake_at_least(stack: Stack, outcome: str, count: int) -> bool:
    return (await _intake(stack)).get(outcome, 0.0) >= count
