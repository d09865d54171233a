"""Runbooks end to end: an alert attaches its playbook, and every kind of step works from Slack."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response

from bot.sandbox import serve_app
from bot.sandbox.models import Message
from tests.support.live import Stack, live_stack, wait_for

ALICE, BOB = "U0ALICE", "U0BOB"
SECRET = "ops-token-5b2c9e1f"

PLAYBOOK = """
id: payments-db-full
title: Payments database out of storage
match:
  any:
    - service: payments
severity: 2
steps:
  - id: verify
    title: Verify the alert on {{ alert.labels.instance | default("the primary") }}
    text: "Free space: {{ alert.annotations.free | default('unknown') }}"
  - id: user
    title: Who reported it?
    input: {name: user_id, label: User id, pattern: "[0-9]+"}
  - id: logs
    title: Look at that user's logs
    requires: [user]
    link: "https://logs.example.com/search?q={{ inputs.user_id }}"
  - id: grow
    title: Grow storage by 20%
    requires: [verify]
    confirm: Grow storage for incident {{ incident.number }}?
    run:
      http:
        method: POST
        url: "{{ ops_url }}/grow/{{ alert.labels.instance }}"
        headers: {Authorization: "Bearer {{ env.OPS_TOKEN }}"}
        json: {percent: 20, incident: "{{ incident.number }}"}
      timeout: 5s
      retries: 1
  - id: rebalance
    title: Rebalance the shards
    run:
      http: {method: POST, url: "{{ ops_url }}/rebalance"}
"""


class OpsApi:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.rebalance_fails = True
        self.app = FastAPI()

        @self.app.post("/{path:path}")
        async def anything(path: str, request: Request) -> Response:
            self.seen.append({"path": path, "headers": dict(request.headers), "body": (await request.body()).decode()})
            if path == "rebalance" and self.rebalance_fails:
                return Response("shard map locked", status_code=409)
            return Response('{"ok": true}', media_type="application/json")


@pytest.fixture
async def ops() -> AsyncIterator[tuple[OpsApi, str]]:
    api = OpsApi()
    async with serve_app(api.app) as url:
        yield api, url


def _checklist(stack: Stack, channel: str) -> Message:
    found = [
        m
        for m in stack.messages(channel)
        if str((m.metadata or {}).get("event_payload", {}).get("kind", "")).startswith("checklist:")
    ]
    assert len(found) == 1, f"expected one checklist message, found {len(found)}"
    return found[0]


def _step_text(message: Message, number: int) -> str:
    for block in message.blocks:
        text = str(block.get("text", {}).get("text", ""))
        if block["type"] == "section" and f"*{number}. " in text:
            return text
    raise AssertionError(f"no step {number} in the checklist")


def _step_buttons(message: Message, step_run_id: int) -> dict[str, dict[str, Any]]:
    for block in message.blocks:
        if block["type"] == "actions" and block["block_id"].startswith(f"step_{step_run_id}_"):
            return {e["text"]["text"]: e for e in block["elements"]}
    return {}


async def test_a_matching_alert_gets_its_runbook_and_every_step_works(
    tmp_path: Path, db_url: str, ops: tuple[OpsApi, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs on SQLite and PostgreSQL: the concurrent clicks below are real concurrent requests."""
    api, ops_url = ops
    monkeypatch.setenv("OPS_TOKEN", SECRET)
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "payments.yaml").write_text(PLAYBOOK.replace("{{ ops_url }}", ops_url))
    settings = {"playbooks_dir": str(tmp_path / "playbooks"), "playbook_http_allowed_hosts": "127.0.0.1"}
    async with live_stack(db_url, **settings) as stack:
        alert = {
            "title": "Postgres disk 95% full",
            "dedup_key": "pg-disk",
            "service": "payments",
            "severity": "warning",
            "labels": {"instance": "pg-1"},
            "annotations": {"free": "4 GiB <!here>"},
        }
        assert (await stack.webhook("generic", alert)).status_code == 202
        await stack.settled()
        incident = await stack.api("/incidents/1")
        assert incident["severity"] == 2  # raised to the playbook's severity
        channel = incident["channel_id"]
        checklist = _checklist(stack, channel)
        assert "Verify the alert on pg-1" in _step_text(checklist, 1)
        assert "4 GiB &lt;!here&gt;" in _step_text(checklist, 1)  # alert text escaped
        assert "waits for: user" in _step_text(checklist, 3)
        steps = {e["step_id"]: e["id"] for e in await _step_runs(stack)}

        # Done on a manual step, by two people at once: once.
        done = _step_buttons(checklist, steps["verify"])["Done"]
        await asyncio.gather(
            stack.sender.block_action(ALICE, channel, checklist.ts, done["action_id"], value=done["value"]),
            stack.sender.block_action(BOB, channel, checklist.ts, done["action_id"], value=done["value"]),
        )
        await stack.settled()
        checklist = _checklist(stack, channel)
        assert "Done by <@U0" in _step_text(checklist, 1)

        # The input step opens a modal that validates against the pattern.
        enter = _step_buttons(checklist, steps["user"])["Enter User id"]
        await stack.sender.block_action(ALICE, channel, checklist.ts, enter["action_id"], value=enter["value"])

        async def modal() -> list[Any]:
            return [v for v in stack.workspace.views.values() if v.user == ALICE]

        view = (await wait_for(modal, what="the input modal"))[0]
        bad = {"step_input_value": {"step_input_value": {"type": "plain_text_input", "value": "alice"}}}
        answer = await stack.sender.view_submission(ALICE, view.id, bad)
        assert answer.json()["response_action"] == "errors"
        good = {"step_input_value": {"step_input_value": {"type": "plain_text_input", "value": "4821/x"}}}
        assert (await stack.sender.view_submission(ALICE, view.id, good)).json()["response_action"] == "errors"
        good["step_input_value"]["step_input_value"]["value"] = "4821"
        assert (await stack.sender.view_submission(ALICE, view.id, good)).status_code == 200
        await stack.settled()
        checklist = _checklist(stack, channel)
        link = _step_buttons(checklist, steps["logs"])["Open"]
        assert link["url"] == "https://logs.example.com/search?q=4821"

        # Run, pressed three times at once: one request, with a confirm dialog and the secret header.
        run = _step_buttons(checklist, steps["grow"])["Run"]
        assert "Grow storage for incident 1?" in run["confirm"]["text"]["text"]
        await asyncio.gather(
            *(
                stack.sender.block_action(u, channel, checklist.ts, run["action_id"], value=run["value"])
                for u in (ALICE, BOB, ALICE)
            )
        )

        # The result is recorded after the HTTP answer arrives, so wait for the step, not the request.
        await _step_reaches(stack, "grow", "done")
        await stack.settled()
        grow_requests = [s for s in api.seen if s["path"] == "grow/pg-1"]
        assert len(grow_requests) == 1
        sent = grow_requests[0]
        assert sent["headers"]["authorization"] == f"Bearer {SECRET}"
        assert sent["headers"]["idempotency-key"].endswith("-grow-1")
        assert json.loads(sent["body"]) == {"percent": 20, "incident": "1"}
        checklist = _checklist(stack, channel)
        assert "Done by" in _step_text(checklist, 4) and "HTTP 200" in _step_text(checklist, 4)

        # A failing step shows the error and offers Retry, which sends a new Idempotency-Key.
        rebalance = _step_buttons(checklist, steps["rebalance"])["Run"]
        await stack.sender.block_action(ALICE, channel, checklist.ts, rebalance["action_id"], value=rebalance["value"])
        await _step_reaches(stack, "rebalance", "failed")
        await stack.settled()
        checklist = _checklist(stack, channel)
        assert "Failed: HTTP 409" in _step_text(checklist, 5)
        retry = _step_buttons(checklist, steps["rebalance"])["Retry"]
        api.rebalance_fails = False
        await stack.sender.block_action(BOB, channel, checklist.ts, retry["action_id"], value=retry["value"])
        await _step_reaches(stack, "rebalance", "done")
        await stack.settled()
        keys = [s["headers"]["idempotency-key"] for s in api.seen if s["path"] == "rebalance"]
        assert keys[0] != keys[1]

        # Nothing Warroom shows or records contains the secret.
        everything = json.dumps([m.blocks for m in stack.messages(channel)]) + json.dumps(
            await stack.api("/incidents/1")
        )
        assert SECRET not in everything
        timeline = [e["text"] for e in (await stack.api("/incidents/1"))["timeline"] if e["kind"] == "step"]
        assert any(t.startswith("Succeeded: Grow storage") for t in timeline)


async def _step_reaches(stack: Stack, step_id: str, status: str) -> None:
    async def reached() -> bool:
        return any(r["step_id"] == step_id and r["status"] == status for r in await _step_runs(stack))

    await wait_for(reached, what=f"step {step_id} to be {status}")


async def _step_runs(stack: Stack) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from bot.db import Database
    from bot.playbooks.tables import StepRun

    database = Database(stack.settings.database_url)
    try:
        async with database.session() as session:
            rows = (await session.execute(select(StepRun))).scalars().all()
            return [{"step_id": r.step_id, "id": r.id, "status": r.status} for r in rows]
    finally:
        await database.dispose()


async def test_an_alertmanager_alert_gets_the_shipped_playbooks_checklist(sqlite_url: str) -> None:
    shipped = Path(__file__).parents[2] / "playbooks"
    payload = json.loads((shipped / "examples" / "db-storage-full.json").read_text())
    async with live_stack(sqlite_url, playbooks_dir=str(shipped)) as stack:
        assert (await stack.webhook("alertmanager", payload)).status_code == 202
        await stack.settled()
        incident = await stack.api("/incidents/1")
        checklist = _checklist(stack, incident["channel_id"])
        assert checklist.blocks[0]["text"]["text"] == "Runbook: Database instance out of storage"
        kinds = [e["kind"] for e in incident["timeline"]]
        assert "runbook" in kinds


async def test_a_click_edits_only_the_checklist_page_it_changed(tmp_path: Path, sqlite_url: str) -> None:
    """A long checklist spans several messages; pressing Done on step 1 must not re-send the others."""
    steps = "".join(f"  - id: s{n}\n    title: Step {n}\n" for n in range(45))
    (tmp_path / "long.yaml").write_text(
        f"id: long\ntitle: Long runbook\nmatch: {{any: [{{service: api}}]}}\nsteps:\n{steps}"
    )
    async with live_stack(sqlite_url, playbooks_dir=str(tmp_path)) as stack:
        alert = {"title": "API down", "dedup_key": "api", "service": "api", "severity": "critical"}
        assert (await stack.webhook("generic", alert)).status_code == 202
        await stack.settled()
        channel = (await stack.api("/incidents/1"))["channel_id"]
        pages = [m for m in stack.messages(channel) if str(_payload_kind(m)).startswith("checklist:")]
        assert len(pages) == 3
        first = next(p for p in pages if any("*1. " in str(b.get("text", {}).get("text", "")) for b in p.blocks))
        done = next(b for b in first.blocks if b["type"] == "actions")["elements"][0]
        assert done["text"]["text"] == "Done"
        updates_before = len(stack.calls("chat.update"))
        await stack.sender.block_action(ALICE, channel, first.ts, done["action_id"], value=done["value"])
        await stack.settled()
        edited = [c.args["ts"] for c in stack.calls("chat.update")[updates_before:] if c.args.get("channel") == channel]
        # The card may be edited too (it counts steps); of the checklist, only the first page.
        assert first.ts in edited
        assert not {p.ts for p in pages if p.ts != first.ts} & set(edited)


def _payload_kind(message: Message) -> Any:
    return (message.metadata or {}).get("event_payload", {}).get("kind", "")
