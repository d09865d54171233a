"""Runbook benchmark: attach a 50-step playbook to many incidents, then click while slow steps run.

    python bench/runbooks.py [--incidents 500] [--speed 100] [--slow 10]

Processes, all on 127.0.0.1: Warroom (`warroom serve`, SQLite), the sandbox Slack (rate limits
on, `--speed` times faster so 500 channels do not take 25 minutes of Tier-2 calls), and a slow
ops API that every automated step calls. Phases:

1. attach: one alert per incident, each matching the 50-step playbook; time until every
   incident, channel, card and checklist (3 messages of up to 20 steps) is in Slack.
2. clicks under load: press Run on 50 automated steps (each target call takes `--slow` s), and
   while they run press Done on manual steps; the sandbox times each click's HTTP answer.
Target (issue 3): click acknowledgement p99 under 100 ms while 50 automated steps run.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
from intake import Server, clean_env, free_port, start, wait_up
from loadgen import percentile

SECRET = "bench-signing-secret"
TOKEN = "bench-webhook-token"
API = "bench-api-token"


def playbook(target: str) -> str:
    steps = []
    for n in range(50):
        if n % 10 == 9:  # five automated steps
            steps.append(
                f"  - id: step{n}\n    title: Automated step {n} for {{{{ alert.labels.host }}}}\n"
                f'    run: {{http: {{method: POST, url: "{target}/slow"}}, timeout: 60s}}\n'
            )
        else:
            steps.append(
                f"  - id: step{n}\n    title: Check {n} on {{{{ alert.labels.host }}}}\n"
                f'    text: "Look at `{{{{ alert.title }}}}` and note what you see ({n})."\n'
            )
    return (
        "id: bench-fifty\ntitle: Fifty-step benchmark playbook\n"
        "match: {any: [{service: bench}]}\nsteps:\n" + "".join(steps)
    )


TARGET = """
import asyncio, sys
from fastapi import FastAPI
import uvicorn
app = FastAPI()
@app.post("/slow")
async def slow() -> dict:
    await asyncio.sleep(float(sys.argv[2]))
    return {"ok": True}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


async def settle(http: httpx.AsyncClient, deadline: float) -> float:
    began = time.monotonic()
    while time.monotonic() < deadline:
        checks = (await http.get("/readyz")).json()["checks"]
        if checks.get("deliveries_pending") == 0 and checks.get("outbox", {}).get("pending") == 0:
            return time.monotonic() - began
        await asyncio.sleep(0.25)
    raise RuntimeError("Warroom did not settle in time")


async def run(args: argparse.Namespace, work: Path) -> int:
    env = clean_env()
    target_port, slack_port, bot_port = free_port(), free_port(), free_port()
    (work / "target.py").write_text(TARGET)
    target_url = f"http://127.0.0.1:{target_port}"
    (work / "playbooks").mkdir()
    (work / "playbooks" / "bench.yaml").write_text(playbook(target_url))
    bench_dir = Path(__file__).parent
    servers: list[Server] = []
    try:
        servers.append(
            start(
                "target",
                [sys.executable, str(work / "target.py"), str(target_port), str(args.slow)],
                port=target_port,
                workdir=work,
                env=env,
            )
        )
        bot_url = f"http://127.0.0.1:{bot_port}"
        servers.append(
            start(
                "sandbox",
                [
                    sys.executable,
                    str(bench_dir / "sandbox_app.py"),
                    "--port",
                    str(slack_port),
                    "--bot-url",
                    bot_url,
                    "--signing-secret",
                    SECRET,
                    "--speed",
                    str(args.speed),
                ],
                port=slack_port,
                workdir=work,
                env=env,
            )
        )
        bot_env = {
            **env,
            "DATABASE_URL": f"sqlite:///{work / 'warroom.db'}",
            "SLACK_BOT_TOKEN": "xoxb-sandbox",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
            "ALERT_WEBHOOK_TOKEN": TOKEN,
            "API_TOKEN": API,
            "PLAYBOOKS_DIR": str(work / "playbooks"),
            "PLAYBOOK_HTTP_ALLOWED_HOSTS": "127.0.0.1",
            "SLACK_CHANNEL_POSTS_PER_SECOND": str(args.speed),
            "LOG_LEVEL": "WARNING",
        }
        bot = start(
            "warroom",
            [sys.executable, "-m", "bot", "serve", "--port", str(bot_port)],
            port=bot_port,
            workdir=work,
            env=bot_env,
        )
        servers.append(bot)
        await wait_up(servers[0], "/docs")
        await wait_up(servers[1], "/_bench/summary")
        await wait_up(bot, "/healthz")
        async with (
            httpx.AsyncClient(base_url=bot_url, timeout=30) as http,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{slack_port}", timeout=30) as slack,
        ):
            # Phase 1: attach and render the checklist for every incident.
            cpu_before, began = bot.cpu_seconds(), time.monotonic()
            headers = {"authorization": f"Bearer {TOKEN}"}
            for n in range(args.incidents):
                alert = {
                    "title": f"Host {n} unhealthy",
                    "dedup_key": f"bench-{n}",
                    "service": "bench",
                    "labels": {"host": f"host-{n}"},
                }
                (await http.post("/webhooks/generic", json=alert, headers=headers)).raise_for_status()
            await settle(http, time.monotonic() + 3600)
            attach_seconds, attach_cpu = time.monotonic() - began, bot.cpu_seconds() - cpu_before
            listed = (await http.get("/api/incidents?limit=500", headers={"authorization": f"Bearer {API}"})).json()
            summary = (await slack.get("/_bench/summary")).json()
            print(
                f"attach: {len(listed['incidents'])} incidents with a 50-step checklist in {attach_seconds:.1f} s "
                f"(Slack limits x{args.speed:g}); Warroom CPU {attach_cpu:.1f} s = "
                f"{attach_cpu / args.incidents * 1000:.1f} ms per incident"
            )
            print(f"        Slack calls: {summary['total_calls']}, bot messages: {summary['bot_messages']}")

            # Phase 2: 50 automated steps running against the slow target, clicks meanwhile.
            runs = 0
            while runs < 50:
                answer = (await slack.post("/_bench/click", params={"action_id": "step_run"})).json()
                if not answer.get("ok"):
                    break
                runs += 1
            await asyncio.sleep(1.0)  # let the runner pick them up
            clicks: list[float] = []
            deadline = time.monotonic() + min(args.slow - 1.5, 20)
            while time.monotonic() < deadline:
                answer = (await slack.post("/_bench/click", params={"action_id": "step_done"})).json()
                if answer.get("ok"):
                    clicks.append(float(answer["seconds"]))
            p50, p99 = percentile(clicks, 50) * 1000, percentile(clicks, 99) * 1000
            print(
                f"clicks: pressed Run on {runs} automated steps (each takes {args.slow:g} s at the target), "
                f"then {len(clicks)} Done clicks while they ran"
            )
            print(
                f"        click acknowledgement p50 {p50:.0f} ms, p99 {p99:.0f} ms; "
                f"Warroom peak RSS {bot.peak_rss_mb():.0f} MB"
            )
            verdict = "PASS" if p99 < 100 else "FAIL"
            print(f"target: click ack p99 < 100 ms while 50 automated steps run: {p99:.0f} ms {verdict}")
    finally:
        for server in reversed(servers):
            server.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--speed", type=float, default=100.0, help="Slack rate limits this many times faster")
    parser.add_argument("--slow", type=float, default=10.0, help="seconds the ops API takes per automated step")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warroom-bench-runbooks-") as work:
        return asyncio.run(run(args, Path(work)))


if __name__ == "__main__":
    raise SystemExit(main())
