"""Intake benchmark (`make bench`): Alertmanager load against Warroom and a bare endpoint, in one run.

Three server processes on loopback, each a single uvicorn worker:

- Warroom itself, started as in production (`warroom serve`: migrations, JSON logs at LOG_LEVEL),
  on a fresh SQLite file (WAL), talking to
- the sandbox Slack (`bench/sandbox_app.py`), which enforces Slack's rate limits with every window
  `--speed` times shorter, and
- a bare FastAPI endpoint that only parses the JSON (`bench/bare_app.py`): the yardstick.

This process only generates load (a thin HTTP/1.1 client, `bench/loadgen.py`) and reads results.
Phases: 1 throughput (closed loop), 2 latency at a fixed rate (open loop), 3 an alert storm with
button clicks and rate limits, then a summary of every target with PASS/FAIL. Figures are printed,
never asserted: the exit status is 0 for a completed report and 2 when the run itself broke.
Results and how to read them: docs/performance.md.
"""

import argparse
import asyncio
import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import loadgen
import payloads

from bot.config import Settings
from bot.sandbox.limits import DEFAULT_LIMIT, METHOD_LIMITS, POSTS_PER_SECOND_PER_CHANNEL

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
WEBHOOK_TOKEN = "bench-webhook-token"
SIGNING_SECRET = "bench-signing-secret"
API_TOKEN = "bench-api-token"
BOT_TOKEN = "xoxb-sandbox"
STARTUP_SECONDS = 30.0
STOP_SECONDS = 25.0
POLL_SECONDS = 0.2

# Targets (issue 2, part 10)
TARGET_RATE = 1000.0
TARGET_RATIO = 0.25
TARGET_P99_MS = 50.0
TARGET_CLICK_P99_MS = 100.0
TARGET_RSS_MB = 250.0

# `warroom serve` under cProfile. uvicorn re-raises SIGTERM after its graceful shutdown, which
# would kill the process before `python -m cProfile` writes anything: dump from the handler instead.
PROFILED_SERVE = """
import cProfile, signal, sys
from bot.cli import main
out, argv = sys.argv[1], sys.argv[2:]
profile = cProfile.Profile()
def dump(*_):
    profile.disable()
    profile.dump_stats(out)
    raise SystemExit(0)
signal.signal(signal.SIGTERM, dump)
profile.enable()
main(argv)
dump()
"""


class Broken(Exception):
    """The run itself failed (a server did not start or died): no report can be trusted."""


# -- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _status(self, key: str) -> int:
        """A /proc/<pid>/status figure in kB (VmHWM: peak resident set, VmRSS: current)."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def peak_rss_mb(self) -> float:
        return self._status("VmHWM") / 1024

    def rss_mb(self) -> float:
        return self._status("VmRSS") / 1024

    def cpu_seconds(self) -> float:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return 0.0

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise Broken(f"{self.name} exited with {self.process.returncode}; log tail:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL after STOP_SECONDS; only this server's own pid."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start(name: str, argv: list[str], *, port: int, workdir: Path, env: dict[str, str]) -> Server:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Server(name, port, process, log_path)


async def wait_up(server: Server, path: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(base_url=server.url, timeout=2.0) as http:
        while time.monotonic() < deadline:
            server.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(path)).status_code < 500:
                    return
            await asyncio.sleep(0.1)
    raise Broken(f"{server.name} did not answer {path} within {STARTUP_SECONDS} s:\n{server.log_tail()}")


def clean_env() -> dict[str, str]:
    """This environment minus anything Warroom's Settings would read, so the run is reproducible."""
    names = {name.upper() for name in Settings.model_fields}
    return {k: v for k, v in os.environ.items() if k.upper() not in names}


# -- Warroom-side observations ------------------------------------------------------------------


@dataclass
class Settled:
    processed: float | None = None  # seconds from `since` until no delivery was pending
    delivered: float | None = None  # ... until, in addition, no outbox row was pending
    last_checks: dict[str, Any] = field(default_factory=dict)


class Observer:
    """Reads Warroom's /readyz, /api and /metrics, the sandbox's summary, and the SQLite file."""

    def __init__(self, bot: Server, sandbox: Server, db_path: Path) -> None:
        self.bot = bot
        self.sandbox = sandbox
        self.db_path = db_path
        self.http = httpx.AsyncClient(base_url=bot.url, timeout=30.0)
        self.slack = httpx.AsyncClient(base_url=sandbox.url, timeout=30.0)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.slack.aclose()

    async def checks(self) -> dict[str, Any]:
        self.bot.check_alive()
        self.sandbox.check_alive()
        checks: dict[str, Any] = (await self.http.get("/readyz")).json()["checks"]
        return checks

    async def settle(self, since: float, within: float, *, until: Callable[[], bool] | None = None) -> Settled:
        """Poll /readyz until no delivery and no outbox row is pending (or `within` s after `since`)."""
        result = Settled()
        deadline = since + within
        while True:
            checks = await self.checks()
            now = time.perf_counter()
            result.last_checks = checks
            deliveries = checks.get("deliveries_pending")
            outbox = (checks.get("outbox") or {}).get("pending")
            if deliveries == 0 and result.processed is None:
                result.processed = now - since
            if deliveries == 0 and outbox == 0 and (until is None or until()):
                result.delivered = now - since
                return result
            if now > deadline:
                return result
            await asyncio.sleep(POLL_SECONDS)

    async def slack_summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = (await self.slack.get("/_bench/summary")).json()
        return summary

    async def click(self) -> dict[str, Any]:
        answer: dict[str, Any] = (await self.slack.post("/_bench/click")).json()
        return answer

    async def incidents(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        headers = {"authorization": f"Bearer {API_TOKEN}"}
        for offset in range(0, 100_000, 500):
            page = await self.http.get("/api/incidents", params={"limit": 500, "offset": offset}, headers=headers)
            page.raise_for_status()
            batch = page.json()["incidents"]
            found += batch
            if len(batch) < 500:
                break
        return found

    async def metrics(self) -> dict[str, float]:
        """`warroom_*` counters summed over labels except `outcome`/`method` kept in the key."""
        text = (await self.http.get("/metrics")).text
        totals: dict[str, float] = {}
        for line in text.splitlines():
            match = re.match(r"^(warroom_[a-z_]+_total)(\{[^}]*\})? ([0-9.e+-]+)$", line)
            if not match:
                continue
            name, labels, value = match.group(1), match.group(2) or "", float(match.group(3))
            outcome = re.search(r'outcome="([^"]+)"', labels)
            key = f"{name}[{outcome.group(1)}]" if outcome else name
            totals[key] = totals.get(key, 0.0) + value
        return totals

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read-only SQL on Warroom's SQLite file (WAL lets us read while it writes)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)) as conn:
            return list(conn.execute(sql, params).fetchall())


def slack_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for method, counts in after["calls"].items():
        diff = Counter(counts)
        diff.subtract(before["calls"].get(method, {}))
        kept = Counter({k: v for k, v in diff.items() if v})
        if kept:
            out[method] = kept
    return out


def rate_limit_floor(calls: dict[str, Counter[str]], max_posts_in_channel: int) -> tuple[float, str]:
    """Minimum real-time seconds Slack's published limits need for these successful calls."""
    worst, why = 0.0, "none"
    for method, counts in calls.items():
        if method == "response_url":
            continue
        ok = counts.get("ok", 0)
        seconds = ok / METHOD_LIMITS.get(method, DEFAULT_LIMIT) * 60.0
        if seconds > worst:
            worst, why = seconds, f"{ok} x {method} at {METHOD_LIMITS.get(method, DEFAULT_LIMIT)}/min"
    channel_seconds = max_posts_in_channel / POSTS_PER_SECOND_PER_CHANNEL
    if channel_seconds > worst:
        worst, why = channel_seconds, f"{max_posts_in_channel} posts in one channel at 1/s"
    return worst, why


# -- printing -------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1000:.1f} ms"  # NaN check


def describe(label: str, result: loadgen.Result) -> None:
    p50, p99 = loadgen.percentile(result.latencies, 50), loadgen.percentile(result.latencies, 99)
    worst = max(result.latencies, default=float("nan"))
    print(
        f"  {label:<28} {len(result.latencies):>6} answered in {result.elapsed:6.2f} s = "
        f"{len(result.latencies) / result.elapsed:8.0f}/s   p50 {ms(p50)}  p99 {ms(p99)}  max {ms(worst)}"
    )
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items()))
    bodies = ", ".join(f"{k}: {v}" for k, v in sorted(result.bodies.items()))
    extra = f"  errors: {len(result.errors)} ({result.errors[0]})" if result.errors else ""
    late = f"  late starts: {result.late_starts}" if result.late_starts else ""
    print(f"  {'':<28} HTTP {statuses or '-'}; 202 bodies {bodies or '-'}{extra}{late}")


def print_calls(calls: dict[str, Counter[str]]) -> None:
    for method, counts in sorted(calls.items()):
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"    {method:<26} {sum(counts.values()):>6}  ({detail})")


def fmt_settled(settled: Settled, speed: float) -> str:
    processed = f"{settled.processed:.1f} s" if settled.processed is not None else "NOT within the timeout"
    delivered = f"{settled.delivered:.1f} s" if settled.delivered is not None else "NOT within the timeout"
    return f"every delivery processed after {processed}; every Slack operation delivered after {delivered}" + (
        f" (rate limits sped up x{speed:g})" if speed != 1 else ""
    )


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Plan:
    quick: bool
    notifications: int
    concurrency: int
    rate: float
    rate_seconds: float
    storm_alerts: int
    storm_groups: int
    storm_rounds: int
    speed: float
    click_interval: float
    settle_timeout: float
    log_level: str
    keep: bool
    profile: str | None
    phases: frozenset[int]


@dataclass
class Verdict:
    name: str
    measured: str
    passed: bool | None  # None: not measured


class Bench:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.db_path = workdir / "warroom.db"
        self.servers: list[Server] = []
        self.verdicts: list[Verdict] = []

    # servers

    async def start_servers(self) -> tuple[Server, Server, Server]:
        bot_port, sandbox_port, bare_port = free_port(), free_port(), free_port()
        python = sys.executable
        env = clean_env()
        sandbox = start(
            "sandbox",
            [
                python,
                str(BENCH / "sandbox_app.py"),
                f"--port={sandbox_port}",
                f"--bot-url=http://{HOST}:{bot_port}",
                f"--signing-secret={SIGNING_SECRET}",
                f"--speed={self.plan.speed}",
            ],
            port=sandbox_port,
            workdir=self.workdir,
            env=env,
        )
        self.servers.append(sandbox)
        bare = start(
            "bare", [python, str(BENCH / "bare_app.py"), str(bare_port)], port=bare_port, workdir=self.workdir, env=env
        )
        self.servers.append(bare)
        bot_env = env | {
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": f"http://{HOST}:{sandbox_port}/api/",
            "ALERT_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "API_TOKEN": API_TOKEN,
            "INCIDENT_ANNOUNCE_CHANNEL": "#incidents",
            "INCIDENT_RESPONDERS": "U0CAROL",
            "LOG_LEVEL": self.plan.log_level,
            "LOG_FORMAT": "json",
            # The bot's own per-channel pacing follows the sandbox's speed-up, or it would be the bottleneck.
            "SLACK_CHANNEL_POSTS_PER_SECOND": f"{POSTS_PER_SECOND_PER_CHANNEL * self.plan.speed:g}",
        }
        argv = [str(Path(sys.executable).parent / "warroom"), "serve", f"--port={bot_port}"]
        if self.plan.profile:
            argv = [python, "-c", PROFILED_SERVE, self.plan.profile, *argv[1:]]
        bot = start("warroom", argv, port=bot_port, workdir=self.workdir, env=bot_env)
        self.servers.append(bot)
        await asyncio.gather(wait_up(sandbox, "/_bench/summary"), wait_up(bare, "/healthz"), wait_up(bot, "/healthz"))
        return bot, sandbox, bare

    def stop_servers(self) -> None:
        for server in reversed(self.servers):  # Warroom first, while the sandbox can still answer it
            server.stop()

    # helpers

    def requests(self, server: Server, bodies: list[bytes], *, auth: bool) -> list[bytes]:
        headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.28.1"}
        if auth:
            headers["Authorization"] = f"Bearer {WEBHOOK_TOKEN}"
        return [loadgen.encode_post(HOST, server.port, "/webhooks/alertmanager", body, headers) for body in bodies]

    def verdict(self, name: str, measured: str, passed: bool | None) -> None:
        self.verdicts.append(Verdict(name, measured, passed))

    async def run(self) -> None:
        plan = self.plan
        print(
            f"Warroom intake benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ({'quick' if plan.quick else 'full'})"
        )
        print(
            f"  Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}, "
            f"SQLite {sqlite3.sqlite_version} (WAL), LOG_LEVEL={plan.log_level}, workdir {self.workdir}"
        )
        bot, sandbox, bare = await self.start_servers()
        obs = Observer(bot, sandbox, self.db_path)
        try:
            await self.warm_up(obs, bot, bare)
            if 1 in plan.phases:
                await self.throughput(obs, bot, bare)
            if 2 in plan.phases:
                await self.latency(obs, bot, bare)
            if 3 in plan.phases:
                await self.storm(obs, bot)
            await self.finish(obs, bot)
        finally:
            await obs.aclose()

    async def warm_up(self, obs: Observer, bot: Server, bare: Server) -> None:
        bodies = payloads.rolling("warm", 200, 5)
        await loadgen.closed_loop(HOST, bare.port, self.requests(bare, bodies, auth=False), 10)
        await loadgen.closed_loop(HOST, bot.port, self.requests(bot, bodies, auth=True), 10)
        await obs.settle(time.perf_counter(), self.plan.settle_timeout)

    async def throughput(self, obs: Observer, bot: Server, bare: Server) -> None:
        plan = self.plan
        groups = 50
        print(
            f"\n1. Throughput: {plan.notifications} distinct Alertmanager notifications "
            f"(5 alerts each, {groups} groups), {plan.concurrency} connections, closed loop"
        )
        bodies = payloads.rolling("tp", plan.notifications, groups)
        bare_requests = self.requests(bare, bodies, auth=False)
        bare_cpu0, client_cpu0 = bare.cpu_seconds(), time.process_time()
        bare_result = await loadgen.closed_loop(HOST, bare.port, bare_requests, plan.concurrency)
        bare_cpu, client_cpu = bare.cpu_seconds() - bare_cpu0, time.process_time() - client_cpu0
        describe("bare FastAPI endpoint", bare_result)
        print(
            f"  {'':<28} CPU use during the bare run: server {bare_cpu / bare_result.elapsed:.0%}, "
            f"load generator {client_cpu / bare_result.elapsed:.0%} of one core"
        )
        before = await obs.slack_summary()
        cpu0 = bot.cpu_seconds()
        since = time.perf_counter()
        result = await loadgen.closed_loop(HOST, bot.port, self.requests(bot, bodies, auth=True), plan.concurrency)
        cpu_intake = bot.cpu_seconds() - cpu0
        describe("Warroom /webhooks/alertmanager", result)
        settled = await obs.settle(since, plan.settle_timeout)
        cpu_all = bot.cpu_seconds() - cpu0
        after = await obs.slack_summary()
        rate = result.accepted / result.elapsed
        bare_rate = len(bare_result.latencies) / bare_result.elapsed
        ratio = rate / bare_rate if bare_rate else 0.0
        print(f"  accepted/s {rate:.0f}  = {ratio:.1%} of the bare endpoint ({bare_rate:.0f}/s)")
        print(f"  {fmt_settled(settled, plan.speed)}")
        print(
            f"  Warroom CPU: {cpu_intake:.1f} s while accepting ({cpu_intake / max(1, result.accepted) * 1000:.2f} ms/"
            f"notification, processing included), {cpu_all:.1f} s until settled"
        )
        calls = slack_diff(before, after)
        print(f"  Slack calls: {sum(sum(c.values()) for c in calls.values())}")
        print_calls(calls)
        print(f"  Warroom peak RSS so far: {bot.peak_rss_mb():.0f} MB")
        self.verdict("accepted notifications/s (1 worker)", f"{rate:.0f}/s", rate >= TARGET_RATE)
        self.verdict("ratio to the bare endpoint", f"{ratio:.1%} (bare {bare_rate:.0f}/s)", ratio >= TARGET_RATIO)

    async def latency(self, obs: Observer, bot: Server, bare: Server) -> None:
        plan = self.plan
        count = int(plan.rate * plan.rate_seconds)
        print(
            f"\n2. Latency at a fixed {plan.rate:.0f} notifications/s for {plan.rate_seconds:.0f} s "
            f"(open loop, {count} sent)"
        )
        bodies = payloads.rolling("lat", count, 20)
        bare_result = await loadgen.open_loop(HOST, bare.port, self.requests(bare, bodies, auth=False), plan.rate)
        describe("bare FastAPI endpoint", bare_result)
        since = time.perf_counter()
        result = await loadgen.open_loop(HOST, bot.port, self.requests(bot, bodies, auth=True), plan.rate)
        describe("Warroom /webhooks/alertmanager", result)
        settled = await obs.settle(since, plan.settle_timeout)
        print(f"  {fmt_settled(settled, plan.speed)}")
        p99 = loadgen.percentile(result.latencies, 99)
        lost = count - result.accepted
        self.verdict(
            f"p99 accept latency at {plan.rate:.0f}/s",
            f"{ms(p99)} (p50 {ms(loadgen.percentile(result.latencies, 50))})"
            + (f", {lost} not accepted" if lost else ""),
            p99 * 1000 < TARGET_P99_MS and lost == 0,
        )

    async def storm(self, obs: Observer, bot: Server) -> None:
        plan = self.plan
        per_group = plan.storm_alerts // plan.storm_groups
        rounds = payloads.storm("storm", plan.storm_alerts, plan.storm_groups, plan.storm_rounds)
        sizes = [len(round_[0]) for round_ in rounds]
        print(
            f"\n3. Storm: {plan.storm_alerts} alerts in {plan.storm_groups} groups ({per_group} per group), "
            f"sent as {plan.storm_rounds} rounds of one notification per group carrying the group as it grows "
            f"({len(rounds) * plan.storm_groups} notifications, {sizes[0] // 1024}-{sizes[-1] // 1024} KiB), "
            f"{plan.concurrency} connections; rate limits on, sped up x{plan.speed:g}; "
            f"a person clicks Acknowledge every {plan.click_interval:g} s"
        )
        idle = await self.idle_clicks(obs)
        before = await obs.slack_summary()
        metrics_before = await obs.metrics()
        cpu0 = bot.cpu_seconds()
        stop_clicking = asyncio.Event()
        clicks: list[tuple[float, float, int]] = []  # (at, seconds, status)
        misses = Counter[str]()
        since = time.perf_counter()

        async def clicker() -> None:
            while not stop_clicking.is_set():
                answer = await obs.click()
                if answer.get("ok"):
                    clicks.append((time.perf_counter() - since, float(answer["seconds"]), int(answer["status"])))
                else:
                    misses[str(answer.get("error"))] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop_clicking.wait(), plan.click_interval)

        click_task = asyncio.create_task(clicker())
        results: list[loadgen.Result] = []
        try:
            for round_ in rounds:
                results.append(
                    await loadgen.closed_loop(HOST, bot.port, self.requests(bot, round_, auth=True), plan.concurrency)
                )
            sent_for = time.perf_counter() - since
            settled = await obs.settle(since, plan.settle_timeout)
        finally:
            stop_clicking.set()
            await click_task
        # Clicks keep adding Slack work until they stop: wait for that too before counting.
        final = await obs.settle(since, plan.settle_timeout)
        cpu = bot.cpu_seconds() - cpu0
        after = await obs.slack_summary()
        metrics_after = await obs.metrics()

        merged = loadgen.Result(started=results[0].started, finished=results[-1].finished)
        for r in results:
            merged.latencies += r.latencies
            merged.errors += r.errors
            merged.statuses = dict(Counter(merged.statuses) + Counter(r.statuses))
            merged.bodies = dict(Counter(merged.bodies) + Counter(r.bodies))
        describe("Warroom, storm notifications", merged)
        print(f"  all notifications answered after {sent_for:.1f} s; {fmt_settled(settled, plan.speed)}")
        if final.delivered is not None and settled.delivered is not None and final.delivered > settled.delivered + 1:
            print(f"  (the work added by the last clicks was delivered after {final.delivered:.1f} s)")
        print(f"  Warroom CPU during the storm: {cpu:.1f} s")

        # What the database holds
        storm_like = '%group="storm-g%'
        incidents, groups, with_channel, with_card, with_announce = obs.query(
            "SELECT count(*), count(DISTINCT group_key), count(channel_id), count(card_ts), count(announce_ts) "
            "FROM incident WHERE group_key LIKE ?",
            storm_like,
        )[0]
        alerts = obs.query(
            "SELECT count(*) FROM alert JOIN incident ON incident.id = alert.incident_id "
            "WHERE incident.group_key LIKE ?",
            storm_like,
        )[0][0]
        deliveries = dict(obs.query("SELECT status, count(*) FROM delivery GROUP BY status"))
        outbox = dict(obs.query("SELECT status, count(*) FROM outbox GROUP BY status"))
        dead = obs.query("SELECT op, last_error FROM outbox WHERE status = 'dead' LIMIT 5")
        acked = obs.query(
            "SELECT count(*) FROM incident WHERE group_key LIKE ? AND acknowledged_at IS NOT NULL", storm_like
        )[0][0]
        api_incidents = [i for i in await obs.incidents() if "storm-g" in str(i.get("group_key"))]
        calls = slack_diff(before, after)
        posts_before = before.get("posts_per_channel", {})
        limited = sum(c.get("ratelimited", 0) for c in calls.values())
        failed_calls = {m: {k: v for k, v in c.items() if k.startswith("error:")} for m, c in calls.items()}
        failed_calls = {m: c for m, c in failed_calls.items() if c}
        max_posts = max(
            (n - posts_before.get(ch, 0) for ch, n in after.get("posts_per_channel", {}).items()), default=0
        )
        floor, floor_why = rate_limit_floor(calls, max_posts)
        unrecovered = outbox.get("dead", 0) + outbox.get("pending", 0)
        bot_limited = metrics_after.get("warroom_slack_ratelimited_total", 0) - metrics_before.get(
            "warroom_slack_ratelimited_total", 0
        )

        print(
            f"  incidents: {incidents} (API: {len(api_incidents)}; distinct groups {groups}), "
            f"with channel {with_channel}, card {with_card}, announcement {with_announce}; "
            f"acknowledged by clicks {acked}"
        )
        print(f"  alerts stored for them: {alerts} of {per_group * plan.storm_groups}")
        print(f"  deliveries by status (whole run): {deliveries}; outbox rows by status (whole run): {outbox}")
        for op, error in dead:
            print(f"    dead outbox row: {op}: {error}")
        print(
            f"  Slack calls during the storm: {sum(sum(c.values()) for c in calls.values())}, 429 answers: {limited} "
            f"(Warroom counted {bot_limited:.0f}); unrecovered (dead or never delivered): {unrecovered}"
        )
        print_calls(calls)
        if failed_calls:
            print(f"  Slack calls refused: {failed_calls}")
        if final.delivered is not None:
            print(
                f"  drain: {final.delivered:.1f} s at x{plan.speed:g}; projected at Slack's real limits: "
                f"{final.delivered * plan.speed / 60:.1f} min (drain x speed, an upper bound), "
                f"at least {floor / 60:.1f} min ({floor_why})"
            )

        click_times = [s for _, s, _ in clicks]
        processed_at = settled.processed if settled.processed is not None else float("inf")
        during = [s for at, s, _ in clicks if at <= processed_at]
        bad_clicks = sum(1 for _, _, status in clicks if status != 200)
        print(
            f"  Acknowledge clicks: {len(clicks)} (HTTP non-200: {bad_clicks}; "
            f"no card to click: {sum(misses.values())})  ack p50 {ms(loadgen.percentile(click_times, 50))}  "
            f"p99 {ms(loadgen.percentile(click_times, 99))}  "
            f"max {ms(max(click_times, default=float('nan')))}"
        )
        print(
            f"    while alerts were still being processed ({len(during)} clicks): "
            f"p50 {ms(loadgen.percentile(during, 50))}  p99 {ms(loadgen.percentile(during, 99))}"
        )
        if idle:
            print(
                f"    reference, the same clicks on an idle Warroom before the storm ({len(idle)} clicks): "
                f"p50 {ms(loadgen.percentile(idle, 50))}  p99 {ms(loadgen.percentile(idle, 99))}"
            )
        print(f"  Warroom peak RSS so far: {bot.peak_rss_mb():.0f} MB")

        nothing_lost = (
            alerts == per_group * plan.storm_groups
            and merged.accepted == len(rounds) * plan.storm_groups
            and deliveries.get("failed", 0) == 0
            and deliveries.get("pending", 0) == 0
            and with_card == incidents
            and with_announce == incidents
        )
        self.verdict(
            f"storm: exactly {plan.storm_groups} incidents",
            f"{incidents} incidents, {alerts} alerts, {merged.accepted} accepted"
            + ("" if nothing_lost else " (SOMETHING LOST)"),
            incidents == plan.storm_groups and len(api_incidents) == plan.storm_groups and nothing_lost,
        )
        if final.delivered is not None:
            self.verdict(
                f"storm drain (info, limits x{plan.speed:g})",
                f"{final.delivered:.0f} s; real limits {floor / 60:.0f}-{final.delivered * plan.speed / 60:.0f} min",
                None,
            )
        self.verdict("storm: no unrecovered 429", f"{limited} x 429 seen, {unrecovered} unrecovered", unrecovered == 0)
        click_p99 = loadgen.percentile(click_times, 99)
        reference = f", idle {ms(loadgen.percentile(idle, 99))}" if idle else ""
        self.verdict(
            "click-ack p99 during the storm",
            f"{ms(click_p99)} over {len(clicks)} clicks{reference}",
            bool(clicks) and click_p99 * 1000 < TARGET_CLICK_P99_MS and bad_clicks == 0,
        )

    async def idle_clicks(self, obs: Observer, count: int = 20) -> list[float]:
        """Acknowledge clicks on an idle Warroom (cards left by phases 1 and 2): the reference for the storm.

        Each click waits until the Slack work of the previous one has been delivered, so nothing else runs.
        """
        seconds: list[float] = []
        for _ in range(count):
            await obs.settle(time.perf_counter(), self.plan.settle_timeout)
            answer = await obs.click()
            if not answer.get("ok"):
                break
            seconds.append(float(answer["seconds"]))
        await obs.settle(time.perf_counter(), self.plan.settle_timeout)
        return seconds

    async def finish(self, obs: Observer, bot: Server) -> None:
        peak = bot.peak_rss_mb()
        self.verdict("peak RSS of the Warroom process", f"{peak:.0f} MB", peak < TARGET_RSS_MB)
        metrics = await obs.metrics()
        calls = {k: v for k, v in metrics.items() if k.startswith("warroom_slack_calls_total")}
        print(f"\nWarroom's own counters: {', '.join(f'{k} {v:.0f}' for k, v in sorted(calls.items()))}")


def print_summary(verdicts: list[Verdict], plan: Plan) -> None:
    print("\nSummary" + (" (quick run: the storm is scaled down, figures are a smoke test)" if plan.quick else ""))
    width = max(len(v.name) for v in verdicts) + 2
    targets = {
        "accepted": f">= {TARGET_RATE:.0f}/s",
        "ratio": f">= {TARGET_RATIO:.0%}",
        "p99 accept": f"< {TARGET_P99_MS:.0f} ms",
        "storm: exactly": "exactly, nothing lost",
        "storm: no": "0",
        "storm drain": "(no target)",
        "click-ack": f"< {TARGET_CLICK_P99_MS:.0f} ms",
        "peak RSS": f"< {TARGET_RSS_MB:.0f} MB",
    }
    print(f"  {'target':<{width}}{'wanted':<24}{'measured':<44}result")
    for v in verdicts:
        wanted = next((t for k, t in targets.items() if v.name.startswith(k)), "")
        result = "" if v.passed is None else "PASS" if v.passed else "FAIL"
        print(f"  {v.name:<{width}}{wanted:<24}{v.measured:<44}{result}")


def parse_args(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (about a minute)")
    parser.add_argument("--notifications", type=int, help="phase 1 notifications (5000; quick 1000)")
    parser.add_argument("--concurrency", type=int, default=50, help="connections in closed-loop phases")
    parser.add_argument("--rate", type=float, default=200.0, help="phase 2 notifications per second")
    parser.add_argument("--rate-seconds", type=float, help="phase 2 duration (10; quick 3)")
    parser.add_argument("--storm-alerts", type=int, help="phase 3 alerts (20000; quick 2000)")
    parser.add_argument("--storm-groups", type=int, help="phase 3 groups (200; quick 20)")
    parser.add_argument("--storm-rounds", type=int, default=4, help="notifications per group as it grows")
    parser.add_argument("--speed", type=float, default=30.0, help="sandbox rate-limit windows run this much faster")
    parser.add_argument("--click-interval", type=float, default=0.25, help="seconds between Acknowledge clicks")
    parser.add_argument("--settle-timeout", type=float, default=300.0, help="seconds to wait for each drain")
    parser.add_argument("--log-level", default="INFO", help="Warroom's LOG_LEVEL (production default INFO)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, logs)")
    parser.add_argument("--phases", default="1,2,3", help="which phases to run, e.g. 1,2 (default all)")
    parser.add_argument("--profile", metavar="FILE", help="run Warroom under cProfile and write its stats to FILE")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    return Plan(
        quick=quick,
        notifications=args.notifications or (1000 if quick else 5000),
        concurrency=args.concurrency,
        rate=args.rate,
        rate_seconds=args.rate_seconds or (3.0 if quick else 10.0),
        storm_alerts=args.storm_alerts or (2000 if quick else 20000),
        storm_groups=args.storm_groups or (20 if quick else 200),
        storm_rounds=args.storm_rounds,
        speed=args.speed,
        click_interval=args.click_interval,
        settle_timeout=args.settle_timeout,
        log_level=args.log_level,
        keep=bool(args.keep),
        profile=os.path.abspath(args.profile) if args.profile else None,
        phases=frozenset(int(p) for p in args.phases.split(",") if p.strip()),
    )


def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="warroom-bench-"))
    bench = Bench(plan, workdir)
    began = time.monotonic()
    status = 0
    try:
        runner_factory: Any = None
        with contextlib.suppress(ImportError):
            import uvloop

            runner_factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=runner_factory) as runner:
            runner.run(bench.run())
    except Broken as error:
        print(f"\nBENCHMARK BROKEN: {error}", file=sys.stderr)
        status = 2
    except Exception as error:
        print(f"\nBENCHMARK BROKEN: {type(error).__name__}: {error}", file=sys.stderr)
        status = 2
        import traceback

        traceback.print_exc()
    finally:
        bench.stop_servers()
    if bench.verdicts:
        print_summary(bench.verdicts, plan)
    print(f"\nTotal run time {time.monotonic() - began:.0f} s.")
    if plan.keep or status:
        print(f"Work directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
