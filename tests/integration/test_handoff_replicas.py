"""Two real Warroom processes on one PostgreSQL: each handoff is posted exactly once, on time or caught up late."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.db import Database, upgrade_async
from bot.oncall import handoffs
from bot.oncall.tables import Handoff
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
    missed = (datetime.now(UTC) - timedelta(minutes=5)).replace(second=0, microsecond=0)  # within the 1 h grace
    (tmp_path / "playbooks" / "oncall").mkdir(parents=True)
    (tmp_path / "playbooks" / "oncall" / "missed.yaml").write_text(_schedule("missed", missed))
    workspace = Workspace()
    with postgres_database() as database_url:
        await upgrade_async(database_url)
        # "missed" was in force before its boundary (replicas ran it yesterday), so it was missed, not new.
        seeded = Database(database_url)
        await handoffs.first_seen(seeded.transaction, "missed", missed - timedelta(days=1))
        await seeded.dispose()
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
                # Added while both run (each notices within 2 s): the next whole minute at least 20 s away,
                # so the boundary is reached by the jobs, not found afterwards by a sweep.
                coming = (datetime.now(UTC) + timedelta(seconds=80)).replace(second=0, microsecond=0)
                (tmp_path / "playbooks" / "oncall" / "coming.yaml").write_text(_schedule("coming", coming))
                wait = (coming - datetime.now(UTC)).total_seconds() + 20

                async def coming_posted() -> bool:
                    return _reports(workspace).get("Handoff: coming", 0) >= 1

                await wait_for(coming_posted, timeout=wait, what="the handoff at its boundary")
                database = Database(database_url)
                try:
                    async with database.session() as session:
                        stmt = select(Handoff).where(
                            col(Handoff.schedule_id) == "coming", col(Handoff.shift_start) == coming
                        )
                        row = (await session.execute(stmt)).scalar_one()
                finally:
                    await database.dispose()
                # Claimed by a job at the boundary, not by a later sweep: on time.
                assert (row.status, row.late_by_seconds) == ("posted", 0)
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
