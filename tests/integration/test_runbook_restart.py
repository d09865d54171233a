"""A process killed while a runbook step runs: after restart the step says its outcome is unknown, with Retry."""

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI, Response

from bot.db import upgrade_async
from bot.sandbox import SlackSender, Workspace, serve_app
from tests.support.live import SIGNING_SECRET, WEBHOOK_TOKEN, buttons, sandbox_server, wait_for
from tests.support.process import BotProcess

PLAYBOOK = """
id: restart-pods
title: Restart the pods
match: {any: [{service: orders}]}
steps:
  - id: restart
    title: Restart
    run: {http: {method: POST, url: "TARGET/restart"}, timeout: 30s}
"""


async def test_a_step_cut_off_by_a_crash_offers_retry_after_restart(tmp_path: Path, sqlite_url: str) -> None:
    started = asyncio.Event()
    target = FastAPI()

    @target.post("/restart")
    async def restart() -> Response:
        started.set()
        await asyncio.sleep(20)  # still working when Warroom dies
        return Response("ok")

    workspace = Workspace()
    await upgrade_async(sqlite_url)
    (tmp_path / "playbooks").mkdir()
    async with serve_app(target) as target_url, sandbox_server(workspace) as slack_url:
        (tmp_path / "playbooks" / "restart.yaml").write_text(PLAYBOOK.replace("TARGET", target_url))
        env = {
            "DATABASE_URL": sqlite_url,
            "SLACK_BOT_TOKEN": "xoxb-sandbox",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": f"{slack_url}/api/",
            "ALERT_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "PLAYBOOKS_DIR": str(tmp_path / "playbooks"),
            "PLAYBOOK_HTTP_ALLOWED_HOSTS": "127.0.0.1",
            "RUNBOOK_RUN_LEASE_SECONDS": "2",
            "LOG_FORMAT": "console",
        }
        first = BotProcess(env, tmp_path, tmp_path / "bot.log")
        second = BotProcess(env, tmp_path, tmp_path / "bot.log")
        await asyncio.to_thread(first.start)
        try:
            async with httpx.AsyncClient(base_url=first.url) as http:
                alert = {"title": "Orders API stuck", "dedup_key": "orders", "service": "orders"}
                headers = {"authorization": f"Bearer {WEBHOOK_TOKEN}"}
                assert (await http.post("/webhooks/generic", json=alert, headers=headers)).status_code == 202

            async def checklist() -> object:
                for messages in workspace.messages.values():
                    for m in messages:
                        if "Run" in buttons(m):
                            return m
                return None

            message = await wait_for(checklist, timeout=20, what="the checklist")
            run = next(e for b in message.blocks if b["type"] == "actions" for e in b["elements"])  # type: ignore[attr-defined]
            async with SlackSender(first.url, SIGNING_SECRET, workspace, sandbox_url=slack_url) as sender:
                await sender.block_action("U0ALICE", message.channel, message.ts, run["action_id"], value=run["value"])  # type: ignore[attr-defined]
            await asyncio.wait_for(started.wait(), timeout=20)
            first.kill()

            await asyncio.to_thread(second.start)

            async def retry_offered() -> bool:
                current = workspace.get_message(message.channel, message.ts)  # type: ignore[attr-defined]
                return "Retry" in buttons(current) and "Outcome unknown" in str(current.blocks)

            await wait_for(retry_offered, timeout=30, what="the step to be reported with Retry")
        finally:
            first.kill()
            second.stop()
