"""Two real Warroom processes on one PostgreSQL: each handoff is posted exactly once, on time or caught up late."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.db import upgrade_async
from bot.sandbox import Workspace
from bot.sandbox.workspace import ONCALL_CHANNEL_ID
from tests.support.databases import postgres_database
from tests.support.live import SIGNING_SECRET, WEBHOOK_TOKEN, sandbox_server, wait_for
from tests.support.process import BotProcess

pytestmark = pytest.mark.postgres


def _schedule(schedule_id: str, handoff: datetime) -> str:
    return f"""
id: {schedule_id}
channel: "#platform-oncall"
timezone: UTC
note_lead: 0
rotation:
  members: [alice@example.com, bob@example.com, carol@example.com]
  shift: 1d
  handoff: "{handoff:%H:%M}"
  start: 2026-01-01
"""


def _reports(workspace: Workspace) -> dict[str, int]:
    """Handoff reports in the on-call channel, counted by the schedule their header names."""
    counts: dict[str, int] = {}
    for message in workspace.messages.get(ONCALL_CHANNEL_ID, []):
        if ((message.metadata or {}).get("event_payload") or {}).get("kind") == "handoff":
            header = message.blocks[0]["text"]["text"]
            counts[header] = counts.get(header, 0) + 1
    return counts


async def test_two_replicas_post_each_handoff_once(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    missed = (now - timedelta(minutes=5)).replace(second=0, microsecond=0)  # within the 1 h grace: posted late
    # The next whole minute at least 25 s away: both replicas are up and waiting when it comes.
    coming = (now + timedelta(seconds=85)).replace(second=0, microsecond=0)
    (tmp_path / "playbooks" / "oncall").mkdir(parents=True)
    (tmp_path / "playbooks" / "oncall" / "missed.yaml").write_text(_schedule("missed", missed))
    (tmp_path / "playbooks" / "oncall" / "coming.yaml").write_text(_schedule("coming", coming))
    workspace = Workspace()
    with postgres_database() as database_url:
        await upgrade_async(database_url)
        async with sandbox_server(workspace) as slack_url:
            env = {
                "DATABASE_URL": database_url,
                "SLACK_BOT_TOKEN": "xoxb-sandbox",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": f"{slack_url}/api/",
                "ALERT_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
                "PLAYBOOKS_DIR": str(tmp_path / "playbooks"),
                "LOG_FORMAT": "console",
            }
            replicas = [BotProcess(env, tmp_path, tmp_path / f"bot-{n}.log") for n in (1, 2)]
            try:
                # Started together: both sweep at start and both find the missed boundary.
                await asyncio.gather(*(asyncio.to_thread(r.start) for r in replicas))

                async def missed_posted() -> bool:
                    return _reports(workspace).get("Handoff: missed", 0) >= 1

                await wait_for(missed_posted, timeout=30, what="the missed handoff")
                wait = (coming - datetime.now(UTC)).total_seconds() + 20

                async def coming_posted() -> bool:
                    return _reports(workspace).get("Handoff: coming", 0) >= 1

                await wait_for(coming_posted, timeout=wait, what="the handoff at its boundary")
                posted = next(
                    c for c in workspace.calls if c.method == "chat.postMessage" and c.ok and "coming" in str(c.args)
                )
                # Posted by the job at the boundary, not by a later sweep (those run every 30 s).
                assert 0 <= posted.time - coming.timestamp() < 10
                for replica in replicas:  # settle: nothing is left to send on either replica
                    async with httpx.AsyncClient(base_url=replica.url) as http:

                        async def idle(client: httpx.AsyncClient = http) -> bool:
                            return (await client.get("/readyz")).json()["checks"]["outbox"]["pending"] == 0

                        await wait_for(idle, timeout=30, what="the outbox to drain")
                await asyncio.sleep(2)  # a second post, if any, would have been sent by now
            finally:
                for replica in replicas:
                    replica.stop()
    logs = "\n".join((tmp_path / f"bot-{n}.log").read_text()[-2000:] for n in (1, 2))
    assert _reports(workspace) == {"Handoff: missed": 1, "Handoff: coming": 1}, logs
