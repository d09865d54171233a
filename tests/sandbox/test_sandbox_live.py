"""serve_app and `python -m bot.sandbox`: real servers that start, answer and stop cleanly."""

import asyncio
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from slack_sdk.web.async_client import AsyncWebClient

import bot.sandbox
from bot.sandbox import serve_app
from bot.sandbox.live import bind_socket

from .support import TOKEN


async def test_serve_app_yields_a_working_url_and_frees_the_port() -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    async with serve_app(app) as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        async with httpx.AsyncClient() as http:
            assert (await http.get(url + "/ping")).json() == {"pong": "yes"}
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_listening_socket_is_tcp_so_connections_get_nodelay() -> None:
    # asyncio sets TCP_NODELAY only when proto is IPPROTO_TCP; without it keep-alive answers stall 40 ms
    with bind_socket() as sock:
        assert sock.proto == socket.IPPROTO_TCP


async def test_a_failing_lifespan_is_an_error_not_a_hang() -> None:
    @asynccontextmanager
    async def broken(app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    with pytest.raises(RuntimeError, match="failed to start"):
        async with serve_app(FastAPI(lifespan=broken)):
            pass


async def test_lifespan_runs_on_start_and_stop() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("start")
        yield
        events.append("stop")

    async with serve_app(FastAPI(lifespan=lifespan)):
        assert events == ["start"]
    assert events == ["start", "stop"]


async def test_two_servers_side_by_side() -> None:
    async with serve_app(FastAPI()) as first, serve_app(FastAPI()) as second:
        assert first != second


async def test_standalone_sandbox_process(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox",
        "--port",
        "0",
        "--state",
        str(state),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        found = re.search(rb"url=(http://127\.0\.0\.1:\d+)", line)
        assert found, line
        url = found.group(1).decode()
        client = AsyncWebClient(token=TOKEN, base_url=url + "/api/")
        assert (await client.auth_test())["team_id"] == "T0SANDBOX"
        await client.conversations_create(name="survives-the-bot")
        assert "survives-the-bot" in state.read_text()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
        if process.stdout is not None:
            await process.stdout.read()


def test_public_names() -> None:
    assert sorted(bot.sandbox.__all__) == [
        "Fault",
        "Faults",
        "RateLimiter",
        "SlackError",
        "SlackSender",
        "Workspace",
        "create_sandbox_app",
        "create_webapi_router",
        "mount_sandbox",
        "serve_app",
        "supported_methods",
    ]


def test_import_starts_nothing() -> None:
    # a fresh interpreter: importing the package must not bind ports or start tasks
    code = "import threading, bot.sandbox; assert threading.active_count() == 1"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
