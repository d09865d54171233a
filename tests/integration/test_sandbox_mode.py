"""`warroom serve` with no Slack settings: sandbox mode on SQLite, as `make run` starts it."""

import asyncio
from pathlib import Path

import httpx

from bot.app import SANDBOX_API_TOKEN, SANDBOX_WEBHOOK_TOKEN
from tests.support.live import wait_for
from tests.support.process import BotProcess


async def test_sandbox_mode_runs_an_incident_with_no_configuration_and_keeps_it_across_restarts(
    tmp_path: Path,
) -> None:
    log = tmp_path / "serve.log"
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'warroom.db'}", "LOG_FORMAT": "console"}
    bot = BotProcess(env, tmp_path, log)
    await asyncio.to_thread(bot.start)
    try:
        assert f"Open http://127.0.0.1:{bot.port}/sandbox" in log.read_text()
        async with httpx.AsyncClient(base_url=bot.url, timeout=10) as http:
            sent = await http.post(
                "/webhooks/generic",
                json={"title": "Checkout error rate above 5%", "dedup_key": "checkout-5xx", "severity": 2},
                headers={"authorization": f"Bearer {SANDBOX_WEBHOOK_TOKEN}"},
            )
            assert sent.status_code == 202

            async def incident_channel() -> str | None:
                state = (await http.get("/sandbox/_control/state")).json()
                channels = state["channels"].values() if isinstance(state["channels"], dict) else state["channels"]
                return next((c["id"] for c in channels if c["name"].startswith("inc-1-")), None)

            channel = await wait_for(incident_channel, what="the incident channel in the sandbox")
            command = {"user_id": "U0ALICE", "channel_id": channel, "command": "/incident", "text": "ack"}
            assert (await http.post("/sandbox/_control/send/slash_command", json=command)).status_code == 200
            api = {"authorization": f"Bearer {SANDBOX_API_TOKEN}"}

            async def acknowledged() -> bool:
                incident = (await http.get("/api/incidents/1", headers=api)).json()
                return incident["status"] == "acknowledged" and incident["commander"] == "U0ALICE"

            await wait_for(acknowledged, what="the acknowledgement")

            async def announced() -> bool:
                state = (await http.get("/sandbox/_control/state")).json()
                return any(channel in str(m) for m in state["messages"]["C0INCIDENTS"])

            await wait_for(announced, what="the announcement in #incidents")
            page = await http.get("/sandbox")
            assert page.status_code == 200 and "not Slack" in page.text and "inc-1-checkout" in page.text
        bot.stop()
        await asyncio.to_thread(bot.start)
        async with httpx.AsyncClient(base_url=bot.url, timeout=10) as http:
            assert await incident_channel() == channel  # the workspace survived the restart
    finally:
        bot.stop()
