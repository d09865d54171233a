"""Carry out one automated HTTP step: allow-listed host, Idempotency-Key, timeout, bounded retries.

What is recorded (status, duration, a truncated body, an error) has every secret value that went
into the request replaced by `***`, so tokens from `{{ env.NAME }}` never reach Slack, the logs
or the timeline, even when the target echoes them back.
"""

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.playbooks.context import redact

MAX_BODY = 2000
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds before retry 1, 2, …: short, an operator is waiting


@dataclass(frozen=True)
class HttpRequest:
    """A request whose templates are already rendered."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    timeout: float = 10.0
    retries: int = 0
    expect: tuple[int, ...] = ()  # empty: any 2xx


@dataclass(frozen=True)
class HttpOutcome:
    ok: bool
    result: dict[str, Any]  # status_code, duration_ms, body, attempts
    error: str | None


def host_allowed(url: str, allowed: Iterable[str]) -> bool:
    """Exact host names, or `*.example.com` for sub-domains; scheme must be http or https."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    return any(host == rule.lower() or (rule.startswith("*.") and fnmatch(host, rule.lower())) for rule in allowed)


class HttpActionRunner:
    def __init__(
        self,
        client: httpx.AsyncClient,
        allowed_hosts: Iterable[str],
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.allowed_hosts = tuple(h.strip() for h in allowed_hosts if h.strip())
        self._sleep = sleep

    async def run(self, request: HttpRequest, *, idempotency_key: str, secrets: set[str]) -> HttpOutcome:
        if not host_allowed(request.url, self.allowed_hosts):
            host = urlsplit(request.url).hostname or request.url
            return HttpOutcome(
                False,
                {"attempts": 0},
                f"{redact(host, secrets)} is not in PLAYBOOK_HTTP_ALLOWED_HOSTS; nothing was sent",
            )
        # The same key on every retry of this run: a target that saw the first attempt can tell.
        headers = {**request.headers, "Idempotency-Key": idempotency_key}
        attempts = 0
        started = time.monotonic()
        error: str | None = None
        response: httpx.Response | None = None
        for attempt in range(request.retries + 1):
            attempts = attempt + 1
            response, error = await self._attempt(request, headers)
            retryable = response is None or response.status_code >= 500
            if not retryable or attempt == request.retries:
                break
            await self._sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
        result: dict[str, Any] = {"attempts": attempts, "duration_ms": int((time.monotonic() - started) * 1000)}
        if response is None:
            return HttpOutcome(False, result, redact(error or "no answer", secrets))
        result["status_code"] = response.status_code
        result["body"] = redact(response.text[:MAX_BODY], secrets)
        expected = response.status_code in request.expect if request.expect else response.is_success
        if expected:
            return HttpOutcome(True, result, None)
        wanted = ", ".join(map(str, request.expect)) if request.expect else "2xx"
        return HttpOutcome(False, result, f"HTTP {response.status_code}, expected {wanted}")

    async def _attempt(self, request: HttpRequest, headers: dict[str, str]) -> tuple[httpx.Response | None, str | None]:
        try:
            response = await self.client.request(
                request.method,
                request.url,
                headers=headers,
                json=request.json if request.form is None else None,
                data=request.form,
                timeout=request.timeout,
                follow_redirects=False,  # a redirect could leave the allow-list
            )
        except httpx.TimeoutException:
            return None, f"timed out after {request.timeout:g} s"
        except httpx.HTTPError as error:
            return None, f"{type(error).__name__}: {error}"
        return response, None
