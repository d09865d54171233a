"""A killed process resumes where it stopped, and never posts the incident card twice."""

import asyncio
from pathlib import Path

import httpx

from bot.db import upgrade_async
from bot.sandbox import Workspace
from tests.support.live import SIGNING_SECRET, WEBHOOK_TOKEN, sandbox_server, wait_for
from tests.support.process import BotProcess


async def test_killed_while_posting_the_card_resumes_without_a_second_card(tmp_path: Path, sqlite_url: str) -> None:
    workspace = Workspace()
    await upgrade_async(sqlite_url)
    async with sandbox_server(workspace) as slack_url:
        env = {
            "DATABASE_URL": sqlite_url,
            "SLACK_BOT_TOKEN": "xoxb-sandbox",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": f"{slack_url}/api/",
            "ALERT_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "INCIDENT_ANNOUNCE_CHANNEL": "#incidents",
            "OUTBOX_LEASE_SECONDS": "2",
            "LOG_FORMAT": "console",
        }
        first = BotProcess(env, tmp_path, tmp_path / "bot.log")
        second = BotProcess(env, tmp_path, tmp_path / "bot.log")
        # Slack takes 3 s to answer the first post: the process dies while Slack is creating it.
        workspace.faults.add("chat.postMessage", delay=3.0, times=1)
        await asyncio.to_thread(first.start)
        try:
            async with httpx.AsyncClient(base_url=first.url) as http:
                sent = await http.post(
                    "/webhooks/generic",
                    json={"title": "Orders API down", "dedup_key": "orders"},
                    headers={"authorization": f"Bearer {WEBHOOK_TOKEN}"},
                )
                assert sent.status_code == 202

            async def posting() -> bool:
                return any(
                    c.method == "conversations.invite" or c.method == "conversations.setTopic" for c in workspace.calls
                )

            await wait_for(posting, what="the relay to reach the card")
            await asyncio.sleep(1.0)
            first.kill()

            channel = next(c for c in workspace.channels.values() if c.name.startswith("inc-1-"))

            async def card_landed() -> bool:
                return any(m.metadata for m in workspace.messages.get(channel.id, []))

            await wait_for(card_landed, timeout=10, what="Slack to finish the cut-off post")

            await asyncio.to_thread(second.start)
            async with httpx.AsyncClient(base_url=second.url) as http:

                async def settled() -> bool:
                    checks = (await http.get("/readyz")).json()["checks"]
                    return checks["outbox"]["pending"] == 0 and checks["deliveries_pending"] == 0

                await wait_for(settled, timeout=30, what="the restarted bot to catch up")
        finally:
            first.kill()
            second.stop()

        cards = [m for m in workspace.messages[channel.id] if m.metadata]
        assert len(cards) == 1, (tmp_path / "bot.log").read_text()[-3000:]
        announce = workspace.channel_by_name("incidents")
        assert announce is not None and len(workspace.messages.get(announce.id, [])) == 1
