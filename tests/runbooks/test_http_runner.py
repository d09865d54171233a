"""The HTTP action runner against a real local target: allow-list, idempotency, retries, timeouts, redaction."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from bot.runner.http import HttpActionRunner, HttpRequest, host_allowed
from bot.sandbox import serve_app


class Target:
    """A small ops API that records what it was sent and misbehaves on demand."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.failures_left = 0
        self.app = FastAPI()

        @self.app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
        async def anything(path: str, request: Request) -> Response:
            self.seen.append({"path": path, "headers": dict(request.headers), "body": (await request.body()).decode()})
            if path == "slow":
                await asyncio.sleep(2)
            if path == "flaky" and self.failures_left > 0:
                self.failures_left -= 1
                return Response("upstream hiccup", status_code=503)
            if path == "echo":
                return Response(f"you sent {request.headers.get('authorization')}", status_code=200)
            if path == "redirect":
                return Response(status_code=302, headers={"location": "https://elsewhere.example/"})
            if path == "conflict":
                return Response("already blocked", status_code=409)
            return Response('{"ok": true}', status_code=200, media_type="application/json")


@pytest.fixture
async def target() -> AsyncIterator[tuple[Target, str]]:
    ops = Target()
    async with serve_app(ops.app) as url:
        yield ops, url


async def _run(url: str, request: HttpRequest, secrets: set[str] | None = None) -> Any:
    async with httpx.AsyncClient() as client:
        runner = HttpActionRunner(client, ["127.0.0.1"], sleep=lambda _s: asyncio.sleep(0))
        return await runner.run(request, idempotency_key="warroom-7-grow-1", secrets=secrets or set())


async def test_retries_5xx_with_one_idempotency_key(target: tuple[Target, str]) -> None:
    ops, url = target
    ops.failures_left = 2
    outcome = await _run(url, HttpRequest("POST", f"{url}/flaky", json={"percent": 20}, retries=2))
    assert outcome.ok and outcome.result["attempts"] == 3 and outcome.result["status_code"] == 200
    keys = {seen["headers"]["idempotency-key"] for seen in ops.seen}
    assert keys == {"warroom-7-grow-1"} and ops.seen[0]["body"] == '{"percent":20}'


async def test_gives_up_after_its_retries(target: tuple[Target, str]) -> None:
    ops, url = target
    ops.failures_left = 5
    outcome = await _run(url, HttpRequest("POST", f"{url}/flaky", retries=1))
    assert not outcome.ok and outcome.result["attempts"] == 2 and "HTTP 503" in (outcome.error or "")


async def test_a_4xx_is_final_and_expected_codes_count_as_success(target: tuple[Target, str]) -> None:
    _, url = target
    failed = await _run(url, HttpRequest("PUT", f"{url}/conflict", retries=3))
    assert not failed.ok and failed.result["attempts"] == 1 and failed.error == "HTTP 409, expected 2xx"
    accepted = await _run(url, HttpRequest("PUT", f"{url}/conflict", expect=(200, 409)))
    assert accepted.ok and accepted.result["body"] == "already blocked"


async def test_the_timeout_is_honoured(target: tuple[Target, str]) -> None:
    _, url = target
    outcome = await _run(url, HttpRequest("GET", f"{url}/slow", timeout=0.3))
    assert not outcome.ok and outcome.error == "timed out after 0.3 s" and outcome.result["duration_ms"] < 1500


async def test_hosts_off_the_allow_list_are_never_called(target: tuple[Target, str]) -> None:
    ops, url = target
    outside = url.replace("127.0.0.1", "localhost")
    outcome = await _run(url, HttpRequest("POST", f"{outside}/ok"))
    assert not outcome.ok and "PLAYBOOK_HTTP_ALLOWED_HOSTS" in (outcome.error or "") and ops.seen == []
    redirected = await _run(url, HttpRequest("GET", f"{url}/redirect"))
    assert not redirected.ok and redirected.result["status_code"] == 302  # never followed off the list
    assert host_allowed("https://db.ops.example.com/x", ["*.example.com"])
    assert not host_allowed("https://example.com.evil.net/", ["*.example.com"])
    assert not host_allowed("ftp://ops.example.com/", ["ops.example.com"])
    assert not host_allowed("https://user@evil.net/", ["ops.example.com"])


async def test_secrets_are_redacted_from_what_is_recorded(target: tuple[Target, str]) -> None:
    ops, url = target
    secret = "tok-9f8e7d6c5b4a"
    request = HttpRequest("POST", f"{url}/echo", headers={"Authorization": f"Bearer {secret}"})
    outcome = await _run(url, request, secrets={secret})
    assert ops.seen[0]["headers"]["authorization"] == f"Bearer {secret}"  # the target did get it
    assert secret not in repr(outcome) and outcome.result["body"] == "you sent Bearer ***"
