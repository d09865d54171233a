"""PagerDuty REST adapter: who is on call from `GET /oncalls`, cached, with every failure as PagerDutyUnavailable.

It lives outside `bot/oncall` because domain packages do not import httpx (tests/test_architecture.py);
what needs no network (reading entries, the cache) is in `bot/oncall/pagerduty.py`.
"""

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from bot.oncall.pagerduty import (
    LOOKAHEAD,
    AnswerCache,
    Kind,
    PagerDutyUnavailable,
    Target,
    rota_from_oncalls,
    target_of,
)
from bot.oncall.rotation import Rota
from bot.oncall.schema import Schedule

log = structlog.get_logger(__name__)

PAGE_SIZE = 100  # PagerDuty's maximum
MAX_PAGES = 10  # two weeks of one schedule or policy fits in far fewer; a bound against a looping `more`
# After a failure the same question is not asked again for this long, so a PagerDuty outage costs
# one timeout per schedule and minute instead of one per lookup.
FAILURE_HOLD = 10.0
MAX_RATE_LIMIT_HOLD = 60.0


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PagerDutyOncalls:
    """`OncallsPort` over PagerDuty's REST API v2 (`GET /oncalls`, read-only: scope `oncalls.read`)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_url: str,
        token: str,
        *,
        ttl: float = 60.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        cache_size: int = 256,
    ) -> None:
        self.client = client
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.ttl = ttl
        self.timeout = timeout
        self._clock = clock
        self._cache = AnswerCache(cache_size)
        self._asking: dict[tuple[Kind, str, int], asyncio.Future[Rota]] = {}
        self.host = urlsplit(self.api_url).hostname or self.api_url

    def __repr__(self) -> str:  # the token stays out of reprs, and so out of tracebacks and logs
        return f"PagerDutyOncalls(api_url={self.api_url!r}, ttl={self.ttl}, timeout={self.timeout})"

    async def rota(self, schedule: Schedule, at: datetime) -> Rota:
        """Who is on call at `at` and next; the answer for a schedule and minute is reused for `ttl` seconds."""
        target = target_of(schedule)
        if target is None:
            raise ValueError(f"schedule {schedule.id} does not name PagerDuty")
        key = AnswerCache.key(target, at)
        cached = self._cache.get(key, self._clock())
        if isinstance(cached, Rota):
            return cached
        if isinstance(cached, str):
            raise PagerDutyUnavailable(cached)
        # Lookups arriving while the same question is out (an alert storm opening incidents) share its answer.
        asking = self._asking.get(key)
        if asking is None:
            asking = asyncio.ensure_future(self._ask(key, target, at))
            self._asking[key] = asking
            asking.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(asking)

    def _finished(self, key: tuple[Kind, str, int], done: "asyncio.Future[Rota]") -> None:
        self._asking.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved, so a failure nobody waited for is not reported as unobserved

    async def _ask(self, key: tuple[Kind, str, int], target: Target, at: datetime) -> Rota:
        until = at + LOOKAHEAD
        try:
            items = await self._oncalls(target, at, until)
            answer = rota_from_oncalls(items, target, at, until)
        except _Held as held:
            self._cache.put(key, held.reason, self._clock() + held.hold)
            raise PagerDutyUnavailable(held.reason) from None
        except PagerDutyUnavailable as exc:
            self._cache.put(key, exc.reason, self._clock() + min(FAILURE_HOLD, self.ttl))
            raise
        self._cache.put(key, answer, self._clock() + self.ttl)
        return answer

    async def _oncalls(self, target: Target, since: datetime, until: datetime) -> list[Any]:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._pages(target, since, until)
        except (TimeoutError, httpx.TimeoutException):
            raise PagerDutyUnavailable(f"no answer from {self.host} within {self.timeout:g} s") from None
        except httpx.ConnectError:
            raise PagerDutyUnavailable(f"cannot connect to {self.host}") from None
        except httpx.HTTPError as exc:
            # The class name only: httpx messages can quote the URL, and nothing here should echo input.
            raise PagerDutyUnavailable(f"request to {self.host} failed ({type(exc).__name__})") from None

    async def _pages(self, target: Target, since: datetime, until: datetime) -> list[Any]:
        headers = {
            "Authorization": f"Token token={self._token}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        }
        items: list[Any] = []
        offset = 0
        for _ in range(MAX_PAGES):
            params: list[tuple[str, str | int | float | bool | None]] = [
                ("include[]", "users"),
                (target.param, target.id),
                ("since", _iso(since)),
                ("until", _iso(until)),
                ("time_zone", "UTC"),
                ("limit", str(PAGE_SIZE)),
                ("offset", str(offset)),
            ]
            response = await self.client.get(
                f"{self.api_url}/oncalls", params=params, headers=headers, timeout=self.timeout
            )
            page = self._page(response)
            items.extend(page["oncalls"])
            if page.get("more") is not True or not page["oncalls"]:
                return items
            offset += len(page["oncalls"])
        log.warning("pagerduty_oncalls_truncated", target=str(target), pages=MAX_PAGES)
        return items

    def _page(self, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 401:
            raise PagerDutyUnavailable("PagerDuty refused PAGERDUTY_API_TOKEN (HTTP 401); check the token")
        if status == 403:
            raise PagerDutyUnavailable(
                "PAGERDUTY_API_TOKEN may not read on-calls (HTTP 403); use a read-only API key or oncalls.read"
            )
        if status == 429:
            raise _Held("rate limited by PagerDuty (HTTP 429)", _reset_after(response))
        if not 200 <= status < 300:
            raise PagerDutyUnavailable(f"HTTP {status} from {self.host}{_error_message(response)}")
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise PagerDutyUnavailable(f"malformed JSON from {self.host}") from None
        if not isinstance(body, dict) or not isinstance(body.get("oncalls"), list):
            raise PagerDutyUnavailable(f"unexpected answer from {self.host}: no `oncalls` list")
        return body


class _Held(PagerDutyUnavailable):
    """A failure that says how long to wait before asking again (429 with `ratelimit-reset`)."""

    def __init__(self, reason: str, hold: float) -> None:
        super().__init__(reason)
        self.hold = hold


def _reset_after(response: httpx.Response) -> float:
    try:
        reset = float(response.headers.get("ratelimit-reset", ""))
    except ValueError:
        return FAILURE_HOLD
    return min(max(reset, FAILURE_HOLD), MAX_RATE_LIMIT_HOLD)


def _error_message(response: httpx.Response) -> str:
    """`: <message>` from PagerDuty's error body `{"error": {"message": ...}}`, short; empty otherwise."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    message = error.get("message") if isinstance(error, dict) else None
    return f": {message[:120]}" if isinstance(message, str) and message else ""
