"""The real Prometheus Alertmanager as a subprocess on a loopback port, with a webhook receiver.

`running_alertmanager(...)` writes a config whose only receiver is a webhook with a bearer token
(PROTOCOLS.md 4.4), starts the binary with clustering off, waits for `/-/ready` and stops the
process on exit. Any exception raised inside the block comes back as an `AssertionError` that ends
with the tail of Alertmanager's own log and its notification counters, so a failure says what
Alertmanager tried to send and what it got back.
"""

import asyncio
import os
import shutil
import socket
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")
RECEIVER = "warroom"
LOG_LINES = 300
START_ATTEMPTS = 3


def find_binary() -> str | None:
    """The Alertmanager executable: `$WARROOM_TEST_ALERTMANAGER`, else the Debian or upstream name on PATH."""
    configured = os.environ.get("WARROOM_TEST_ALERTMANAGER")
    if configured:
        return shutil.which(configured)
    for name in BINARY_NAMES:
        found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/local/bin")
        if found:
            return found
    return None


def require_binary() -> str:
    """The binary's path; skip without it, except in CI where a missing binary is a failure."""
    binary = find_binary()
    if binary is not None:
        return binary
    message = (
        "prometheus-alertmanager is not installed (Debian package `prometheus-alertmanager`; "
        "or point WARROOM_TEST_ALERTMANAGER at the binary)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; it is required under CI=true (.ci/run installs it)")
    pytest.skip(message)


def go_time(moment: datetime) -> str:
    """RFC 3339 in UTC, as Alertmanager's API expects."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def postable_alert(
    labels: dict[str, str],
    *,
    annotations: dict[str, str] | None = None,
    starts_at: datetime,
    ends_at: datetime | None = None,
    generator_url: str | None = None,
) -> dict[str, Any]:
    """One element of the JSON array `POST /api/v2/alerts` takes (`postableAlert`)."""
    alert: dict[str, Any] = {"labels": labels, "annotations": annotations or {}, "startsAt": go_time(starts_at)}
    if ends_at is not None:
        alert["endsAt"] = go_time(ends_at)
    if generator_url is not None:
        alert["generatorURL"] = generator_url
    return alert


def config(
    webhook_url: str,
    token: str,
    *,
    group_by: tuple[str, ...] = ("alertname",),
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> dict[str, Any]:
    """`alertmanager.yml` as a dict: every alert goes to one webhook receiver pointed at Warroom."""
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": RECEIVER,
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {
                "name": RECEIVER,
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                    }
                ],
            }
        ],
    }


def _write_config(directory: Path, document: dict[str, Any]) -> Path:
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    (directory / "data").mkdir(exist_ok=True)
    return path


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Alertmanager:
    url: str
    process: asyncio.subprocess.Process
    http: httpx.AsyncClient
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))

    async def push(self, alerts: list[dict[str, Any]]) -> None:
        """`POST /api/v2/alerts` with a JSON array, as Prometheus does."""
        response = await self.http.post("/api/v2/alerts", json=alerts)
        assert response.status_code == 200, f"POST /api/v2/alerts -> {response.status_code}: {response.text}"

    async def alerts(self) -> list[dict[str, Any]]:
        """`GET /api/v2/alerts`: what Alertmanager holds (active, silenced and inhibited)."""
        response = await self.http.get("/api/v2/alerts")
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()
        return alerts

    async def counters(self) -> dict[str, float]:
        """Webhook notification counters from `/metrics`: sent, failed, and requests (attempts)."""
        response = await self.http.get("/metrics")
        response.raise_for_status()
        names = {
            "alertmanager_notifications_total": "sent",
            "alertmanager_notifications_failed_total": "failed",
            "alertmanager_notification_requests_total": "requests",
            "alertmanager_notification_requests_failed_total": "requests_failed",
        }
        totals = dict.fromkeys(names.values(), 0.0)
        for line in response.text.splitlines():
            name, _, rest = line.partition("{")
            if name in names and 'integration="webhook"' in rest:
                totals[names[name]] += float(line.rsplit(" ", 1)[1])
        return totals

    def stderr(self) -> str:
        return "\n".join(self.log)

    async def describe(self) -> str:
        """Alertmanager's side of the story, for assertion messages."""
        try:
            counters = str(await self.counters())
        except httpx.HTTPError as error:
            counters = f"unavailable ({error!r})"
        exit_code = self.process.returncode
        state = "running" if exit_code is None else f"exited with {exit_code}"
        return (
            f"--- Alertmanager at {self.url} ({state}); webhook counters: {counters}\n"
            f"--- Alertmanager stderr (last {LOG_LINES} lines):\n{self.stderr()}"
        )


async def _drain(stream: asyncio.StreamReader, log: deque[str]) -> None:
    """Keep reading stderr so the pipe never fills and blocks Alertmanager."""
    while line := await stream.readline():
        log.append(line.decode(errors="replace").rstrip())


async def _stop(process: asyncio.subprocess.Process, drain: asyncio.Task[None]) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()
    with suppress(TimeoutError):
        await asyncio.wait_for(drain, timeout=5)


async def _wait_ready(am: Alertmanager, timeout: float) -> bool:
    """True once `GET /-/ready` answers 200; False if the process exits first."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if am.process.returncode is not None:
            return False
        with suppress(httpx.TransportError):
            if (await am.http.get("/-/ready")).status_code == 200:
                return True
        await asyncio.sleep(0.05)
    raise AssertionError(f"Alertmanager not ready after {timeout}s\n{await am.describe()}")


@asynccontextmanager
async def running_alertmanager(
    binary: str,
    directory: Path,
    *,
    webhook_url: str,
    token: str,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    ready_timeout: float = 15.0,
) -> AsyncIterator[Alertmanager]:
    """Alertmanager on 127.0.0.1, sending every group to `webhook_url` with `token`; stopped on exit."""
    assert webhook_url.startswith(("http://127.0.0.1:", "http://[::1]:")), f"not a loopback URL: {webhook_url}"
    config_file = _write_config(
        directory,
        config(
            webhook_url, token, group_wait=group_wait, group_interval=group_interval, repeat_interval=repeat_interval
        ),
    )
    failures: list[str] = []
    for _ in range(START_ATTEMPTS):
        # The port is free now; another process might take it before Alertmanager binds it, hence the retries.
        port = _free_loopback_port()
        url = f"http://127.0.0.1:{port}"
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config_file}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}",
            "--cluster.listen-address=",  # empty: no HA cluster, no gossip ports
            "--log.level=debug",  # notification attempts and their errors are logged at debug
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
            am = Alertmanager(url, process, http)
            drain = asyncio.create_task(_drain(process.stderr, am.log), name=f"alertmanager stderr {port}")
            try:
                if not await _wait_ready(am, ready_timeout):
                    await _stop(process, drain)
                    failures.append(f"attempt on port {port} exited with {process.returncode}:\n{am.stderr()}")
                    continue
                try:
                    yield am
                except Exception as error:
                    raise AssertionError(f"{error}\n\n{await am.describe()}") from error
                return
            finally:
                await _stop(process, drain)
    raise AssertionError(f"Alertmanager did not start in {START_ATTEMPTS} attempts:\n" + "\n\n".join(failures))
