"""Golden-file tests: recorded incidents draft exactly the Markdown in `golden/`, on SQLite and on PostgreSQL.

Each case records an incident with fixed times (the timeline through `incidents.record(at=...)`,
the incident's own times with an UPDATE, since acknowledge/mitigate/resolve stamp the clock's
time), drafts it with `review.ensure_draft` and compares the stored Markdown with
`golden/<case>.md`. Both databases compare against the same file, which shows the draft depends on
nothing but what was recorded. `UPDATE_GOLDEN=1` rewrites the files instead; review the diff by
eye before committing it. Every case also checks a few facts directly, so a golden file written
from a wrong draft cannot hide the bug.
"""

import difflib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.alerts.models import AlertRow
from bot.db import Database
from bot.incidents import service as incidents
from bot.incidents.models import EventKind, Incident, Status, TimelineEvent
from bot.playbooks import runs
from bot.playbooks.loader import read_playbook
from bot.playbooks.tables import IncidentPlaybook, StepRun, StepStatus
from bot.postmortems import review

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
_written: dict[str, str] = {}  # what this run wrote, so two databases drafting different text fail

# Every `## ` heading a draft has, in order, and the one only drafts without a playbook end with.
HEADINGS = [
    "Summary",
    "Impact",
    "Key times (UTC)",
    "Alerts",
    "What happened",
    "Five whys",
    "Runbook steps taken",
    "Lessons learned",
    "Next steps",
    "Timeline (UTC)",
]
PROPOSED = "Proposed runbook"
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ANCHOR = re.compile(r'<a id="event-\d+"></a>')


def utc(text: str) -> datetime:
    """`2026-03-14 10:40` as an aware UTC time."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- recording -------------------------------------------------------------------------------------


@dataclass
class Recorder:
    """Records one incident's history at fixed times, the way the bot would have recorded it."""

    session: AsyncSession
    id: int

    @classmethod
    async def open(
        cls,
        session: AsyncSession,
        title: str,
        at: str,
        *,
        source: str = "manual",
        severity: int = 3,
        service: str | None = None,
        declared_by: str | None = None,
    ) -> "Recorder":
        incident, created = await incidents.open_incident(
            session, title=title, source=source, severity=severity, service=service, declared_by=declared_by, at=utc(at)
        )
        assert created and incident.id is not None
        return cls(session, incident.id)

    async def event(self, at: str, kind: EventKind, actor: str, text: str, data: dict[str, Any] | None = None) -> None:
        await incidents.record(self.session, self.id, kind, text, actor=actor, at=utc(at), data=data)
        await self.session.flush()  # ids in the order of these calls, on every database

    async def note(self, at: str, actor: str, text: str) -> None:
        await self.event(at, EventKind.NOTE, actor, text)

    async def why(self, at: str, actor: str, text: str, *, position: int | None = None) -> None:
        """`/incident why`, or with `position` an answer given in the resolve form."""
        data = {"position": position, "form": "resolve"} if position is not None else None
        await self.event(at, EventKind.WHY, actor, text, data)

    async def what_happened(self, at: str, actor: str, text: str) -> None:
        await self.event(at, EventKind.NOTE, actor, text, {"field": "what_happened"})

    async def alert(
        self,
        title: str,
        starts: str,
        ends: str | None = None,
        *,
        source: str = "alertmanager",
        severity: int = 2,
        labels: dict[str, str] | None = None,
    ) -> None:
        row = AlertRow(
            incident_id=self.id,
            source=source,
            fingerprint=f"fp-{title}",
            status="resolved" if ends else "firing",
            severity=severity,
            title=title,
            labels=labels or {},
            starts_at=utc(starts),
            ends_at=utc(ends) if ends else None,
            observed_at=utc(ends or starts),
            created_at=utc(starts),
            updated_at=utc(ends or starts),
        )
        self.session.add(row)
        await self.session.flush()

    async def attach(self, at: str, actor: str, spec: dict[str, Any]) -> int:
        """Attach a playbook as `runs.attach` does, its timeline entry moved to `at`."""
        attached = await runs.attach(self.session, self.id, spec, actor=actor)
        assert attached is not None and attached.id is not None
        await self.session.execute(
            update(IncidentPlaybook).where(col(IncidentPlaybook.id) == attached.id).values(attached_at=utc(at))
        )
        await self.session.execute(
            update(TimelineEvent)
            .where(col(TimelineEvent.incident_id) == self.id, col(TimelineEvent.kind) == EventKind.RUNBOOK)
            .values(at=utc(at))
        )
        return attached.id

    async def step(
        self,
        at: str,
        actor: str,
        playbook: int,
        step_id: str,
        status: StepStatus,
        text: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        value: str | None = None,
    ) -> None:
        """A step as the checklist buttons or the runner leave it, and its timeline entry."""
        await self.session.execute(
            update(StepRun)
            .where(col(StepRun.incident_playbook_id) == playbook, col(StepRun.step_id) == step_id)
            .values(
                status=status,
                actor=actor,
                finished_at=utc(at),
                updated_at=utc(at),
                result=result or {},
                error=error,
                value=value,
            )
        )
        await self.event(at, EventKind.STEP, actor, text, {"step": step_id, "status": str(status)})

    async def finish(
        self,
        commander: str,
        *,
        acknowledged: str | None = None,
        mitigated: str | None = None,
        resolved: str,
        summary: str | None = None,
    ) -> None:
        """What acknowledge, mitigate and resolve would have set on the incident, at fixed times."""
        values: dict[str, Any] = {
            "status": Status.RESOLVED,
            "open_group_key": None,
            "commander": commander,
            "acknowledged_at": utc(acknowledged) if acknowledged else None,
            "mitigated_at": utc(mitigated) if mitigated else None,
            "resolved_at": utc(resolved),
            "summary": summary,
        }
        await self.session.execute(update(Incident).where(col(Incident.id) == self.id).values(**values))


async def draft(db: Database, incident_id: int) -> str:
    async with db.transaction() as session:
        postmortem, drafted = await review.ensure_draft(session, incident_id, template_dir=None, by="U0ALICE")
        assert drafted
        return (await review.latest(session, postmortem)).markdown


async def timeline_size(db: Database, incident_id: int) -> int:
    async with db.session() as session:
        stmt = select(func.count()).where(
            col(TimelineEvent.incident_id) == incident_id, col(TimelineEvent.kind) != EventKind.POSTMORTEM
        )
        return int((await session.execute(stmt)).scalar_one())


# --- checking --------------------------------------------------------------------------------------


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.md"
    if UPDATE:
        if _written.setdefault(name, text) != text:
            pytest.fail(f"golden/{name}.md: the databases drafted different text", pytrace=False)
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        return
    if not path.exists():
        pytest.fail(f"golden/{name}.md is missing: run with UPDATE_GOLDEN=1 and review it", pytrace=False)
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"golden/{name}.md",
                tofile="drafted",
            )
        )
        pytest.fail(
            f"The draft differs from golden/{name}.md (UPDATE_GOLDEN=1 rewrites it; review the diff):\n{diff}",
            pytrace=False,
        )


def outside_code(text: str) -> list[str]:
    """The lines of `text` that are not inside a fenced code block; fails on a fence left open."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        found = _FENCE.match(line)
        if fence is None and found:
            fence = found.group(1)
        elif fence is None:
            lines.append(line)
        elif found and found.group(1).startswith(fence) and not line.strip().strip(fence[0]):
            fence = None
    assert fence is None, "a code fence is left open: it swallows the rest of the document"
    return lines


def cells(row: str) -> list[str]:
    assert row.startswith("| ") and row.endswith(" |"), row
    return [c.strip() for c in re.split(r"(?<!\\)\|", row[1:-1])]


def check_well_formed(text: str, *, events: int, proposed: bool) -> None:
    """The draft's structure holds whatever people typed: its sections, one table row per event, no raw HTML."""
    lines = outside_code(text)
    assert lines[0].startswith("# Postmortem: incident #")
    assert [line for line in lines if line.startswith("#")][1:] == [
        f"## {h}" for h in [*HEADINGS, *([PROPOSED] if proposed else [])]
    ]
    html = [tag for line in lines for tag in re.findall(r"<[^>\n]*>", _ANCHOR.sub("", line))]
    assert html == [], f"raw HTML in the draft: {html}"
    start = lines.index("## Timeline (UTC)")
    rows = [line for line in lines[start + 1 :] if line.startswith("|")]
    assert rows[:2] == ["| time | who | what |", "|---|---|---|"]
    assert len(rows) - 2 == events
    for row in rows[2:]:
        anchored, who, what = cells(row)
        assert _ANCHOR.match(anchored), row
        assert who and what, row
    # Every numbered why is one line: a line break inside an answer would end the list.
    whys = lines[lines.index("## Five whys") + 1 : lines.index("## Runbook steps taken")]
    assert [line[:3] for line in whys if re.match(r"\d\. ", line)] == ["1. ", "2. ", "3. ", "4. ", "5. "]


def section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}\n") + len(heading) + 4
    following = text.find("\n## ", start)
    return text[start : following if following != -1 else len(text)].strip()


def why(text: str, number: int) -> str:
    found = re.search(rf"^{number}\. (.*)$", section(text, "Five whys"), re.MULTILINE)
    assert found is not None
    return found.group(1)


def key_time(text: str, name: str) -> tuple[str, str]:
    row = next(line for line in section(text, "Key times (UTC)").splitlines() if line.startswith(f"| {name} |"))
    _, when, after = cells(row)
    return when, after


def proposed_yaml(text: str) -> str:
    """The YAML between the proposed runbook's fences (as long as needed to hold any backticks inside)."""
    found = re.search(r"^(`{3,})yaml\n(.*)\n\1$", section(text, PROPOSED), re.S | re.M)
    assert found is not None, "the proposed runbook is not one fenced YAML block"
    return found.group(2) + "\n"


@pytest.fixture
def local_time(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run the test with the process's local time zone set to `request.param`: drafts must not use it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = str(request.param)
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


# --- cases -----------------------------------------------------------------------------------------

CHECKOUT_PLAYBOOK: dict[str, Any] = {
    "id": "checkout-5xx",
    "title": "Checkout errors",
    "steps": [
        {"id": "dashboards", "title": "Check the checkout dashboards"},
        {
            "id": "rollback",
            "title": "Roll back the last deploy",
            "run": {"http": {"method": "POST", "url": "https://deploy.example.com/rollback"}},
        },
        {"id": "page-dba", "title": "Page the database team"},
        {
            "id": "flush-cache",
            "title": "Flush the session cache",
            "run": {"http": {"method": "POST", "url": "https://ops.example.com/cache/flush"}},
        },
        {"id": "version", "title": "Record the version now serving", "input": {"label": "Version"}},
        {"id": "status-page", "title": "Update the status page"},
    ],
}


async def test_with_a_playbook_and_all_five_whys(db: Database) -> None:
    async with db.transaction() as session:
        r = await Recorder.open(
            session, "Checkout API 5xx after deploy", "2026-03-14 10:00", source="alertmanager", severity=2,
            service="checkout",
        )  # fmt: skip
        await r.alert("CheckoutHighErrorRate", "2026-03-14 09:58", "2026-03-14 10:29:30",
                      labels={"alertname": "CheckoutHighErrorRate"})  # fmt: skip
        await r.event("2026-03-14 10:00", EventKind.ALERT, "alertmanager", "Alert firing: CheckoutHighErrorRate")
        await r.event("2026-03-14 10:04:30", EventKind.STATUS, "U0BOB", "Acknowledged")
        await r.event("2026-03-14 10:04:30", EventKind.COMMANDER, "U0BOB", "Became the commander")
        pb = await r.attach("2026-03-14 10:05", "U0BOB", CHECKOUT_PLAYBOOK)
        await r.step("2026-03-14 10:08", "U0BOB", pb, "dashboards", StepStatus.DONE,
                     "Done: Check the checkout dashboards")  # fmt: skip
        await r.note("2026-03-14 10:12", "U0BOB", "Error rate 38%, only POST /orders")
        await r.step("2026-03-14 10:20", "U0CAROL", pb, "rollback", StepStatus.DONE,
                     "Succeeded: Roll back the last deploy (HTTP 200, 412 ms)",
                     result={"status_code": 200, "duration_ms": 412})  # fmt: skip
        await r.step("2026-03-14 10:21", "U0BOB", pb, "page-dba", StepStatus.SKIPPED,
                     "Skipped: Page the database team")  # fmt: skip
        await r.step("2026-03-14 10:25", "U0CAROL", pb, "flush-cache", StepStatus.FAILED,
                     "Failed: Flush the session cache (no answer, 10000 ms)", error="Timed out after 10 s")  # fmt: skip
        await r.step("2026-03-14 10:27", "U0CAROL", pb, "version", StepStatus.DONE,
                     "Done: Record the version now serving", value="v2.14.2")  # fmt: skip
        await r.event("2026-03-14 10:29:30", EventKind.ALL_ALERTS_RESOLVED, "alertmanager", "Every alert has resolved")
        await r.event("2026-03-14 10:31", EventKind.STATUS, "U0BOB", "Mitigated")
        await r.why("2026-03-14 10:40", "U0BOB", "The order service ran out of database connections")
        await r.why("2026-03-14 10:45", "U0CAROL", "The deploy doubled its workers from 8 to 16")
        await r.note("2026-03-14 10:50", "U0CAROL",
                     "cause: the pool size (20) was copied from staging and not scaled with workers")  # fmt: skip
        await r.note("2026-03-14 10:52", "U0BOB", "lesson: pool size must follow the worker count")
        await r.note(
            "2026-03-14 10:55", "U0BOB", "action: <@U0CAROL> alert on connection pool saturation by 2026-04-01"
        )
        await r.note("2026-03-14 10:56", "U0BOB",
                     "action: @U0DAVE derive the pool size from the worker count due 2026-04-15")  # fmt: skip
        await r.event("2026-03-14 11:12", EventKind.STATUS, "U0BOB", "Resolved: connection pool resized")
        # The resolve form: what happened, and whys 3 to 5 at their positions (1 and 2 came from /incident why).
        await r.what_happened("2026-03-14 11:13", "U0BOB",
                              "A deploy doubled the order service's workers; the pool did not grow, "
                              "so orders failed for 31 min.")  # fmt: skip
        await r.why("2026-03-14 11:13", "U0BOB", "Worker count and pool size are set in different files", position=3)
        await r.why("2026-03-14 11:13", "U0BOB", "The pool size has no default derived from the workers", position=4)
        await r.why("2026-03-14 11:13", "U0BOB", "Nobody reviewed the pool size when the workers changed", position=5)
        await r.finish("U0BOB", acknowledged="2026-03-14 10:04:30", mitigated="2026-03-14 10:31",
                       resolved="2026-03-14 11:12", summary="connection pool resized")  # fmt: skip
    text = await draft(db, r.id)
    check_golden("with_playbook", text)
    check_well_formed(text, events=await timeline_size(db, r.id), proposed=False)

    # Detection is the alert's start, two minutes before the incident opened.
    assert key_time(text, "Detected") == ("2026-03-14 09:58:00", "")
    assert key_time(text, "Acknowledged") == ("2026-03-14 10:04:30", "6 min")
    assert key_time(text, "Mitigated") == ("2026-03-14 10:31:00", "33 min")
    assert key_time(text, "Resolved") == ("2026-03-14 11:12:00", "1 h 14 min")
    assert "Open question" not in section(text, "Five whys")
    assert re.fullmatch(
        r"The order service ran out of database connections \(\[event \d+\]\(#event-\d+\)\)", why(text, 1)
    )
    assert why(text, 2).startswith("The deploy doubled its workers from 8 to 16 ([event ")
    assert why(text, 3).startswith("Worker count and pool size are set in different files ([event ")
    assert why(text, 5).startswith("Nobody reviewed the pool size when the workers changed ([event ")
    assert "the pool size (20) was copied from staging" in section(text, "Five whys")
    steps = section(text, "Runbook steps taken").splitlines()
    assert steps == [
        "- 2026-03-14 10:08:00: **Check the checkout dashboards** (Checkout errors) done by U0BOB",
        "- 2026-03-14 10:20:00: **Roll back the last deploy** (Checkout errors) done by U0CAROL: HTTP 200 in 0.4 s",
        "- 2026-03-14 10:21:00: **Page the database team** (Checkout errors) skipped by U0BOB",
        "- 2026-03-14 10:25:00: **Flush the session cache** (Checkout errors) failed by U0CAROL: Timed out after 10 s",
        "- 2026-03-14 10:27:00: **Record the version now serving** (Checkout errors) done by U0CAROL: v2.14.2",
    ]  # the status page step is still pending: not taken
    assert section(text, "Lessons learned") == "- pool size must follow the worker count"
    assert section(text, "Next steps").splitlines() == [
        "- [ ] alert on connection pool saturation (owner: U0CAROL, due 2026-04-01)",
        "- [ ] derive the pool size from the worker count (owner: U0DAVE, due 2026-04-15)",
    ]
    assert section(text, "What happened").startswith("A deploy doubled the order service's workers")
    assert f"## {PROPOSED}" not in text


async def test_without_a_playbook_with_missing_whys(db: Database) -> None:
    async with db.transaction() as session:
        r = await Recorder.open(
            session, "Search results are stale", "2026-06-02 14:00", service="search", declared_by="U0ALICE"
        )
        await r.event("2026-06-02 14:06", EventKind.STATUS, "U0ALICE", "Acknowledged")
        await r.event("2026-06-02 14:06", EventKind.COMMANDER, "U0ALICE", "Became the commander")
        await r.note("2026-06-02 14:15", "U0ALICE", "Index lag is 3 h on indexer-2")
        await r.event("2026-06-02 14:22", EventKind.PINNED, "U0BOB",
                      "Restart the indexer:\nkubectl -n search rollout restart deploy/indexer")  # fmt: skip
        await r.note("2026-06-02 14:40", "U0BOB", "Restarted indexer-2; lag is falling")
        await r.event("2026-06-02 15:20", EventKind.STATUS, "U0ALICE", "Resolved")
        await r.why("2026-06-02 15:25", "U0ALICE", "The indexer stopped consuming updates")
        await r.why("2026-06-02 15:26", "U0BOB", "Its Kafka consumer lost its partition lease")
        await r.finish("U0ALICE", acknowledged="2026-06-02 14:06", resolved="2026-06-02 15:20")
    text = await draft(db, r.id)
    check_golden("without_playbook", text)
    check_well_formed(text, events=await timeline_size(db, r.id), proposed=True)

    assert why(text, 1).startswith("The indexer stopped consuming updates ([event ")
    assert why(text, 2).startswith("Its Kafka consumer lost its partition lease ([event ")
    # The missing whys are questions for the review, never invented answers.
    assert why(text, 3) == "**Open question:** Why did this happen: Its Kafka consumer lost its partition lease?"
    for number in (4, 5):
        assert why(text, number).startswith("**Open question:** ")
    assert section(text, "Impact").startswith("**Open question:**")
    assert section(text, "What happened").startswith("**Open question:**")
    assert section(text, "Alerts") == "No alerts: the incident was declared by hand."
    assert section(text, "Runbook steps taken") == "No playbook was attached."
    assert section(text, "Lessons learned").startswith("**Open question:**")
    assert section(text, "Next steps").startswith("**Open question:**")
    assert key_time(text, "Mitigated") == ("never", "")
    assert key_time(text, "Resolved") == ("2026-06-02 15:20:00", "1 h 20 min")
    # The draft ends with the proposed runbook: a playbook made from the notes and the pin.
    spec = yaml.safe_load(proposed_yaml(text))
    assert spec["id"] == "search-results-are-stale"
    assert spec["match"] == {"any": [{"service": "search"}]}
    assert [s["title"] for s in spec["steps"]] == [
        "Index lag is 3 h on indexer-2",
        "Restart the indexer:",
        "Restarted indexer-2; lag is falling",
    ]
    assert text.endswith("\n```\n")


async def test_spanning_midnight(db: Database) -> None:
    async with db.transaction() as session:
        r = await Recorder.open(
            session, "Nightly billing export failed", "2026-01-31 23:40", source="grafana", service="billing"
        )
        await r.alert("BillingExportFailed", "2026-01-31 23:40", "2026-02-01 00:28", source="grafana", severity=3,
                      labels={"alertname": "BillingExportFailed"})  # fmt: skip
        await r.event("2026-01-31 23:40", EventKind.ALERT, "grafana", "Alert firing: BillingExportFailed")
        await r.event("2026-01-31 23:47", EventKind.STATUS, "U0ERIN", "Acknowledged")
        await r.event("2026-01-31 23:47", EventKind.COMMANDER, "U0ERIN", "Became the commander")
        await r.attach("2026-01-31 23:50", "U0ERIN",
                       {"id": "billing-export", "title": "Billing export",
                        "steps": [{"id": "rerun", "title": "Re-run the export"}]})  # fmt: skip
        await r.event("2026-02-01 00:28", EventKind.ALERT_RESOLVED, "grafana", "Alert resolved: BillingExportFailed")
        await r.event("2026-02-01 00:30", EventKind.STATUS, "U0ERIN", "Mitigated")
        await r.event("2026-02-01 01:15", EventKind.STATUS, "U0ERIN", "Resolved")
        await r.why("2026-02-01 01:16", "U0ERIN", "The export ran while the month was being closed")
        await r.finish("U0ERIN", acknowledged="2026-01-31 23:47", mitigated="2026-02-01 00:30",
                       resolved="2026-02-01 01:15")  # fmt: skip
    text = await draft(db, r.id)
    check_golden("spanning_midnight", text)
    check_well_formed(text, events=await timeline_size(db, r.id), proposed=False)

    assert key_time(text, "Detected") == ("2026-01-31 23:40:00", "")
    assert key_time(text, "Acknowledged") == ("2026-01-31 23:47:00", "7 min")
    assert key_time(text, "Mitigated") == ("2026-02-01 00:30:00", "50 min")
    assert key_time(text, "Resolved") == ("2026-02-01 01:15:00", "1 h 35 min")
    assert "Time to acknowledge: 7 min. Time to resolve: 1 h 35 min." in text
    assert section(text, "Summary").endswith("It was resolved after 1 h 35 min.")
    # A playbook was attached but nobody finished a step: the section says so, and nothing is proposed.
    assert section(text, "Runbook steps taken") == "No steps were done or skipped."
    assert f"## {PROPOSED}" not in text
    assert text.endswith(" |\n") and not text.endswith("\n\n")  # the timeline ends the draft


@pytest.mark.parametrize("local_time", ["Europe/Berlin"], indirect=True)
@pytest.mark.usefixtures("local_time")
async def test_spanning_the_european_dst_change(db: Database) -> None:
    # Berlin's clocks go back from 03:00 CEST to 02:00 CET at 01:00 UTC on 2026-10-25: opened at 02:30 CEST
    # and resolved at 03:30 CET, one hour apart on the wall clock and two in fact.
    async with db.transaction() as session:
        r = await Recorder.open(
            session, "EU payments gateway timeouts", "2026-10-25 00:30", severity=1, declared_by="U0FRANK"
        )
        await r.event("2026-10-25 00:59", EventKind.STATUS, "U0FRANK", "Acknowledged")  # 02:59 CEST
        await r.event("2026-10-25 01:01", EventKind.STATUS, "U0FRANK", "Mitigated")  # 02:01 CET
        await r.event("2026-10-25 02:30", EventKind.STATUS, "U0FRANK", "Resolved")  # 03:30 CET
        await r.why("2026-10-25 02:31", "U0FRANK", "A cron job ran twice in the repeated hour", position=1)
        await r.finish("U0FRANK", acknowledged="2026-10-25 00:59", mitigated="2026-10-25 01:01",
                       resolved="2026-10-25 02:30")  # fmt: skip
    text = await draft(db, r.id)
    check_golden("dst_europe", text)
    check_well_formed(text, events=await timeline_size(db, r.id), proposed=True)

    assert key_time(text, "Detected") == ("2026-10-25 00:30:00", "")
    assert key_time(text, "Acknowledged") == ("2026-10-25 00:59:00", "29 min")
    # Mitigated is earlier on Berlin's wall clock than acknowledged, and still 2 minutes later.
    assert key_time(text, "Mitigated") == ("2026-10-25 01:01:00", "31 min")
    assert key_time(text, "Resolved") == ("2026-10-25 02:30:00", "2 h")
    assert section(text, "Summary").endswith("It was resolved after 2 h.")
    assert why(text, 1).startswith("A cron job ran twice in the repeated hour ([event ")


@pytest.mark.parametrize("local_time", ["America/New_York"], indirect=True)
@pytest.mark.usefixtures("local_time")
async def test_spanning_the_us_dst_change(db: Database) -> None:
    # New York's clocks go back from 02:00 EDT to 01:00 EST at 06:00 UTC on 2026-11-01: opened at 01:30 EDT
    # and resolved at 01:30 EST, the same wall-clock time an hour later.
    async with db.transaction() as session:
        r = await Recorder.open(
            session, "US East login latency", "2026-11-01 05:30", source="pagerduty", severity=2, service="auth"
        )
        await r.alert("Login p99 above 2 s", "2026-11-01 05:29", source="pagerduty")  # 01:29 EDT
        await r.event("2026-11-01 05:45", EventKind.STATUS, "U0GRACE", "Acknowledged")  # 01:45 EDT
        await r.event("2026-11-01 06:10", EventKind.STATUS, "U0GRACE", "Mitigated")  # 01:10 EST
        await r.event("2026-11-01 06:30", EventKind.STATUS, "U0GRACE", "Resolved")  # 01:30 EST
        await r.finish("U0GRACE", acknowledged="2026-11-01 05:45", mitigated="2026-11-01 06:10",
                       resolved="2026-11-01 06:30")  # fmt: skip
    text = await draft(db, r.id)
    check_golden("dst_us", text)
    check_well_formed(text, events=await timeline_size(db, r.id), proposed=True)

    assert key_time(text, "Detected") == ("2026-11-01 05:29:00", "")
    assert key_time(text, "Acknowledged") == ("2026-11-01 05:45:00", "16 min")
    assert key_time(text, "Mitigated") == ("2026-11-01 06:10:00", "41 min")
    assert key_time(text, "Resolved") == ("2026-11-01 06:30:00", "1 h 1 min")
    assert "Time to acknowledge: 16 min. Time to resolve: 1 h 1 min." in text
    assert why(text, 1) == "**Open question:** Why did this happen: US East login latency?"


HOSTILE_TITLE = "<script>alert(1)</script> | checkout `prod` {{ 7*7 }} {% raw %}"
ESCAPED_TITLE = "&lt;script&gt;alert(1)&lt;/script&gt; | checkout `prod` {{ 7*7 }} {% raw %}"


async def test_hostile_text_keeps_the_draft_well_formed(db: Database, tmp_path: Path) -> None:
    async with db.transaction() as session:
        r = await Recorder.open(
            session, HOSTILE_TITLE, "2026-05-05 08:00", source="alertmanager", service="web|edge", declared_by="U0HEIDI"
        )
        await r.alert("<b>CPU</b> | 99% `hot`", "2026-05-05 07:59", labels={"alertname": "CPU|High {{ x }}"})
        await r.event("2026-05-05 08:00", EventKind.ALERT, "alertmanager", "Alert firing: <b>CPU</b> | 99%")
        await r.event("2026-05-05 08:03", EventKind.STATUS, "U0HEIDI", "Acknowledged")
        await r.note(
            "2026-05-05 08:05", "U0HEIDI", "ran:\n```\nkubectl get pods | grep web\n```\nthen | a | table | row |"
        )
        await r.event("2026-05-05 08:06", EventKind.PINNED, "U0IVAN", '<img src=x onerror="alert(1)">')
        await r.note("2026-05-05 08:07", "U0IVAN", "{{ incident.__class__ }} {% for x in y %}")
        await r.why("2026-05-05 08:08", "U0HEIDI", "the `edge` proxy | dropped\n\n## Injected heading\n<i>x</i>")
        await r.why("2026-05-05 08:09", "U0IVAN", "```\nan unclosed fence")
        await r.note("2026-05-05 08:10", "U0IVAN", "cause: <script>x</script>\n```python\nprint('cause')")
        await r.note("2026-05-05 08:11", "U0IVAN", "lesson: keep it short\n# not a heading\n```")
        await r.note("2026-05-05 08:12", "U0IVAN", "action: <@U0HEIDI> escape `|` in <b>cells</b> by 2026-05-20")
        await r.event("2026-05-05 08:30", EventKind.STATUS, "U0HEIDI", "Resolved")
        await r.what_happened("2026-05-05 08:31", "U0HEIDI",
                              "It broke.\n# Not a heading\n```\nstack trace | without an end")  # fmt: skip
        await r.finish("U0HEIDI", acknowledged="2026-05-05 08:03", resolved="2026-05-05 08:30")
    text = await draft(db, r.id)
    check_golden("hostile_text", text)
    check_well_formed(text, events=await timeline_size(db, r.id), proposed=True)

    body = text.split(f"## {PROPOSED}", 1)[0]
    for tag in ("<script", "<img", "<b>", "<i>"):
        assert tag not in body
    assert text.splitlines()[0] == f"# Postmortem: incident #1 {ESCAPED_TITLE}"
    # The title shows, escaped, in the heading and the summary, and in the timeline with its pipe escaped too.
    assert body.count(ESCAPED_TITLE) == 2 and body.count(ESCAPED_TITLE.replace("|", "\\|")) == 1
    assert "49" not in body  # what people typed is never evaluated as a template
    assert "| Service | web\\|edge |" in text
    assert why(text, 1).startswith("the `edge` proxy | dropped ## Injected heading &lt;i&gt;x&lt;/i&gt; ([event ")
    assert why(text, 2).startswith("\\``` an unclosed fence ([event ")  # not a code fence swallowing the list
    assert why(text, 3).startswith("**Open question:** ")
    # A fence left open in what happened is closed before the next section; a hash is not a heading.
    assert section(text, "What happened") == "It broke.\n\\# Not a heading\n```\nstack trace | without an end\n```"
    assert section(text, "Lessons learned") == "- keep it short # not a heading ```"

    # Sections edited in Slack are held to the same rules.
    async with db.transaction() as session:
        postmortem = await review.for_incident(session, r.id)
        assert postmortem is not None and postmortem.id is not None
        edits = {
            "impact": "<b>All</b> users\n## Impact, again\n~~~\nunclosed",
            "lessons": "- one\n# two\n```",
            "why_3": "line one\n```\nline two",
        }
        edited = await review.save(session, postmortem.id, edits, by="U0HEIDI", based_on=1, template_dir=None)
    check_well_formed(edited.markdown, events=await timeline_size(db, r.id), proposed=True)
    assert section(edited.markdown, "Impact") == "&lt;b&gt;All&lt;/b&gt; users\n\\## Impact, again\n~~~\nunclosed\n~~~"
    assert why(edited.markdown, 3) == "line one ``` line two"

    # The proposed runbook is one YAML block that loads and lints: its fence is longer than any backtick run inside.
    fence = re.match(r"`+", section(text, PROPOSED).split("\n\n", 1)[1])
    assert fence is not None and len(fence.group()) > max(len(r) for r in re.findall(r"`+", proposed_yaml(text)))
    path = tmp_path / "proposed.yaml"
    path.write_text(proposed_yaml(text), encoding="utf-8")
    playbook, problems = read_playbook(path)
    assert problems == [] and playbook is not None
    assert playbook.title == HOSTILE_TITLE
