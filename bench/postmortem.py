"""Postmortem benchmark: draft an incident with 10,000 timeline events, timed from the database to Markdown.

    python bench/postmortem.py [--events 10000] [--runs 5]

One process, no servers: a fresh SQLite file in a temporary folder, migrated as `warroom serve`
does (`bot.db.upgrade`), holding one incident with `--events` timeline events (notes, pins,
status changes, alert and step events, a few `/incident why` answers and `cause:`/`lesson:`/
`action:` notes, 20 to 600 characters each), 20 alerts and 15 finished runbook steps. Each run
opens a new session and times what drafting does: `facts.gather`, action items from the notes,
`runbook.propose`, `draft.context` and `draft.render`. The incident has a playbook attached,
so drafting would skip the proposal; it is proposed anyway from the same facts (all 10,000
events read) so the figure is the worst case. Peak RSS is the process's VmHWM, reset after
the setup where the kernel allows it. Figures are printed, never asserted.
Target (issue 5, part 7): drafting an incident with 10,000 timeline events in under 1 second.
"""

import argparse
import asyncio
import dataclasses
import random
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.alerts.models import AlertRow
from bot.db import Database, upgrade
from bot.incidents.models import EventKind, Incident, TimelineEvent
from bot.playbooks.loader import read_playbook
from bot.playbooks.tables import IncidentPlaybook, StepRun, StepStatus
from bot.postmortems import draft, runbook
from bot.postmortems.actions import parse_items
from bot.postmortems.facts import gather

TARGET_SECONDS = 1.0
OPENED = datetime(2024, 3, 9, 22, 0, tzinfo=UTC)
WORDS = [
    "checked",
    "restarted",
    "primary",
    "replica",
    "pool",
    "connections",
    "latency",
    "p99",
    "dashboard",
    "grafana",
    "kubectl",
    "pods",
    "rollout",
    "deploy",
    "rollback",
    "disk",
    "wal",
    "archive",
    "bucket",
    "queue",
    "consumer",
    "lag",
    "timeout",
    "error",
    "rate",
    "502",
    "upstream",
    "nginx",
    "postgres",
    "redis",
    "cache",
    "eviction",
    "memory",
    "cpu",
    "throttling",
    "node",
    "drain",
    "cordon",
    "failover",
    "dns",
    "ttl",
    "cert",
    ").split(",
]
# Kinds as a busy incident's timeline mixes them: mostly notes, then status noise from sources and steps.
KINDS = [
    (EventKind.NOTE, 40),
    (EventKind.PINNED, 10),
    (EventKind.ALERT, 15),
    (EventKind.ALERT_RESOLVED, 10),
    (EventKind.SOURCE, 10),
    (EventKind.STEP, 10),
    (EventKind.STATUS, 3),
    (EventKind.SEVERITY, 2),
]
MARKERS = ["cause: ", "lesson: ", "action: <@U0ANA> ", "todo: "]


def sentence(rng: random.Random, low: int = 20, high: int = 600) -> str:
    """Text of a realistic length: mostly short, sometimes a pasted paragraph or command output."""
    length = min(high, max(low, int(rng.lognormvariate(4.3, 0.8))))
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(WORDS))
    text = " ".join(words)[:length]
    if rng.random() < 0.05:
        text += "\n```\nkubectl get pods -o go-template='{{range .items}}{{.metadata.name}}{{end}}'\n```"
    return text


def timeline(incident_id: int, count: int, rng: random.Random) -> list[dict[str, Any]]:
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    rows: list[dict[str, Any]] = []
    whys = {count // 7 * n: n for n in range(1, 5)}  # four whys spread over the incident; the fifth stays open
    for n in range(count):
        at = OPENED + timedelta(seconds=n * 3)  # 10,000 events span about 8 hours, past midnight UTC
        if n in whys:
            rows.append(row(incident_id, at, EventKind.WHY, f"why {whys[n]}: " + sentence(rng, 40, 200), n))
            continue
        kind = rng.choices(kinds, weights)[0]
        text = sentence(rng)
        if kind == EventKind.NOTE and rng.random() < 0.03:
            text = rng.choice(MARKERS) + text + (" by 2024-04-01" if rng.random() < 0.5 else "")
        rows.append(row(incident_id, at, kind, text, n))
    return rows


def row(incident_id: int, at: datetime, kind: str, text: str, n: int) -> dict[str, Any]:
    actor = f"U{n % 12:04d}" if kind in (EventKind.NOTE, EventKind.PINNED, EventKind.WHY) else "alertmanager"
    return {"incident_id": incident_id, "at": at, "actor": actor, "kind": kind, "text": text, "data": {}}


async def setup(database: Database, events: int) -> int:
    rng = random.Random(5)  # the same incident every run of the benchmark
    async with database.transaction() as session:
        incident = Incident(
            number=1,
            title="Checkout latency and 502s after the payments deploy",
            severity=2,
            service="checkout",
            source="alertmanager",
            created_at=OPENED,
            acknowledged_at=OPENED + timedelta(minutes=4),
            mitigated_at=OPENED + timedelta(hours=6),
            resolved_at=OPENED + timedelta(hours=8, minutes=20),
            commander="U0001",
        )
        session.add(incident)
        await session.flush()
        assert incident.id is not None
        incident_id = incident.id
        for n in range(20):
            session.add(
                AlertRow(
                    incident_id=incident_id,
                    source="alertmanager",
                    fingerprint=f"fp{n}",
                    status="resolved",
                    severity=2,
                    title=f"High latency on checkout-{n}",
                    service="checkout",
                    labels={"alertname": f"CheckoutLatency{n % 3}", "instance": f"checkout-{n}"},
                    starts_at=OPENED - timedelta(minutes=2),
                    ends_at=OPENED + timedelta(hours=6),
                )
            )
        steps = [{"id": f"step{n}", "title": f"Check {sentence(rng, 20, 80)}"} for n in range(15)]
        attached = IncidentPlaybook(
            incident_id=incident_id, playbook_id="checkout", title="Checkout latency", spec={"steps": steps}
        )
        session.add(attached)
        await session.flush()
        assert attached.id is not None
        for n, step in enumerate(steps):
            session.add(
                StepRun(
                    incident_id=incident_id,
                    incident_playbook_id=attached.id,
                    step_id=step["id"],
                    position=n,
                    status=StepStatus.DONE,
                    actor="U0002",
                    result={"status_code": 200, "duration_ms": 420} if n % 3 == 0 else {},
                    finished_at=OPENED + timedelta(minutes=10 + n),
                )
            )
        rows = timeline(incident_id, events, rng)
        for start in range(0, len(rows), 1000):
            await session.execute(insert(TimelineEvent), rows[start : start + 1000])
    return incident_id


@dataclass
class Drafted:
    phases: dict[str, float]  # seconds per phase, in the order they ran
    markdown: str
    proposal: str | None

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())


async def draft_once(database: Database, incident_id: int) -> Drafted:
    phases: dict[str, float] = {}
    began = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal began
        now = time.perf_counter()
        phases[name], began = now - began, now

    async with database.transaction() as session:
        facts = await gather(session, incident_id)
    lap("gather")
    items = [p.as_dict() for p in parse_items([e.text for e in facts.actions])]
    proposal = runbook.propose(dataclasses.replace(facts, playbooks=[]))
    lap("propose")
    values = draft.context(facts, {}, version=1, review_state="draft", action_items=items, proposed_runbook=proposal)
    lap("context")
    markdown, _ = draft.render(values)
    lap("render")
    return Drafted(phases, markdown, proposal)


def lint(proposal: str | None, work: Path) -> str:
    """What `warroom playbooks lint` says of the proposal (checked after timing, not part of drafting)."""
    if proposal is None:
        return "none proposed"
    path = work / "proposed.yaml"
    path.write_text(proposal, encoding="utf-8")
    problems = read_playbook(path)[1]
    return f"lint: {len(problems)} problem(s)" if problems else "lint: clean"


def status_kb(name: str) -> int | None:
    """A /proc/self/status figure in kB (VmHWM: peak resident set, VmRSS: current); None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak() -> bool:
    """Start VmHWM again from the current RSS (Linux 4.0+), so the peak is drafting's, not the setup's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def run(args: argparse.Namespace, work: Path) -> int:
    url = f"sqlite:///{work / 'warroom.db'}"
    database = Database(url)
    try:
        began = time.perf_counter()
        incident_id = await setup(database, args.events)
        took = time.perf_counter() - began
        print(f"setup: 1 incident, {args.events} timeline events, 20 alerts, 15 finished steps in {took:.1f} s")
        reset = reset_peak()
        before = status_kb("VmRSS")
        drafts = [await draft_once(database, incident_id) for _ in range(args.runs)]
        seconds = [d.seconds for d in drafts]
        markdown, proposal = drafts[-1].markdown, drafts[-1].proposal
        peak = status_kb("VmHWM") if reset else None
        if peak is None:  # ru_maxrss is in kB on Linux and cannot be reset: it includes the setup
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        median, worst = statistics.median(seconds), max(seconds)
        print(
            f"draft: gather + action items + proposed runbook + context + render, {args.runs} runs: "
            f"median {median * 1000:.0f} ms, max {worst * 1000:.0f} ms"
        )
        typical = sorted(drafts, key=lambda d: d.seconds)[len(drafts) // 2]
        print("       median run: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in typical.phases.items()))
        rows = markdown.count("\n| ")
        proposed_steps = proposal.count("\n- id: ") if proposal else 0
        print(
            f"       Markdown {len(markdown.encode()) / 1024:.0f} KiB ({rows} table rows); proposed runbook "
            f"{len((proposal or '').encode()) / 1024:.1f} KiB, {proposed_steps} steps, {lint(proposal, work)}"
        )
        start_mb = f"{before / 1024:.0f} MB before drafting, " if before is not None else ""
        scope = "" if reset else " (since start, including setup)"
        print(f"memory: {start_mb}peak RSS {peak / 1024:.0f} MB{scope}")
        verdict = "PASS" if median < TARGET_SECONDS else "FAIL"
        print(
            f"target: draft of {args.events} events under {TARGET_SECONDS:g} s: "
            f"median {median:.2f} s, max {worst:.2f} s {verdict}"
        )
    finally:
        await database.dispose()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warroom-bench-postmortem-") as work:
        upgrade(f"sqlite:///{Path(work) / 'warroom.db'}")  # before the event loop: the migration runner starts its own
        return asyncio.run(run(args, Path(work)))


if __name__ == "__main__":
    raise SystemExit(main())
