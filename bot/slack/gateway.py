"""Every Slack Web API call goes through here: pacing, 429 handling and error classification.

    SlackFailure            a call did not succeed
    ├── RetryLater          transient (429, 5xx, timeout, connection): try again after `delay`
    └── SlackRefused        Slack answered ok=false with an error code the caller may handle

slack_sdk's own retry handlers are switched off: a blind retry of chat.postMessage after a
timeout can post twice (PLATFORM.md 6), so retries belong to the outbox relay, which checks.
"""

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
# Configuration errors: retrying cannot fix them quickly, but an operator can (new token), so the
# work waits instead of being dropped.
AUTH_ERRORS = frozenset({"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired"})
# Waiting this long or less for a channel's next posting slot is cheaper than rescheduling.
MAX_INLINE_WAIT = 2.0


class SlackFailure(Exception):
    pass


class RetryLater(SlackFailure):
    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay  # None: the relay's own backoff decides


class SlackRefused(SlackFailure):
    def __init__(self, method: str, error: str, response: dict[str, Any] | None = None) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error
        self.response = response or {}


CallObserver = Callable[[str, str], None]  # (method, outcome)


class SlackGateway:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        posts_per_second: float = 1.0,
        observe: CallObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._post_interval = 1.0 / posts_per_second if posts_per_second > 0 else 0.0
        self._next_post: dict[str, float] = {}
        self._blocked_until: dict[str, float] = {}
        self._observe = observe or (lambda method, outcome: None)
        self._clock = clock

    async def call(self, method: str, **arguments: Any) -> dict[str, Any]:
        """Call `method` (e.g. "chat.postMessage") with keyword arguments; returns Slack's data."""
        self._check_blocked(method)
        if method == "chat.postMessage":
            await self._pace(str(arguments.get("channel", "")))
        function = getattr(self.client, method.replace(".", "_"))
        try:
            response = await function(**arguments)
        except SlackApiError as error:
            raise self._classify(method, error) from error
        except (TimeoutError, aiohttp.ClientError, SlackClientError, OSError) as error:
            self._observe(method, "transport_error")
            raise RetryLater(f"{method}: {type(error).__name__}: {error}") from error
        self._observe(method, "ok")
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _check_blocked(self, method: str) -> None:
        remaining = self._blocked_until.get(method, 0.0) - self._clock()
        if remaining > 0:
            raise RetryLater(f"{method} is rate limited", delay=remaining)

    async def _pace(self, channel: str) -> None:
        """Stay under Slack's one message per second per channel."""
        now = self._clock()
        slot = max(now, self._next_post.get(channel, 0.0))
        wait = slot - now
        if wait > MAX_INLINE_WAIT:
            raise RetryLater(f"pacing posts in {channel}", delay=wait)
        self._next_post[channel] = slot + self._post_interval
        if wait > 0:
            await asyncio.sleep(wait)

    def _classify(self, method: str, error: SlackApiError) -> SlackFailure:
        response = error.response
        status = getattr(response, "status_code", 0)
        data = response.data if isinstance(response.data, dict) else {}
        code = str(data.get("error", "unknown_error"))
        if status == 429:
            retry_after = _retry_after(response.headers)
            self._blocked_until[method] = self._clock() + retry_after
            self._observe(method, "ratelimited")
            return RetryLater(f"{method}: ratelimited", delay=retry_after)
        if status >= 500 or code in TRANSIENT_ERRORS:
            self._observe(method, "server_error")
            return RetryLater(f"{method}: {code} (HTTP {status})")
        if code in AUTH_ERRORS:
            self._observe(method, "auth_error")
            return RetryLater(f"{method}: {code}: check SLACK_BOT_TOKEN", delay=60.0)
        self._observe(method, "refused")
        return SlackRefused(method, code, data)


def _retry_after(headers: Any) -> float:
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name) if headers is not None else None
        if value is not None:
            try:
                return max(1.0, float(value if isinstance(value, str) else value[0]))
            except (TypeError, ValueError, IndexError):
                break
    return 1.0
