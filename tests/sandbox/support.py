"""Shared helpers for the sandbox tests: a controllable clock and Slack error extraction."""

import time
from collections.abc import Awaitable
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

SIGNING_SECRET = "test-signing-secret"
TOKEN = "xoxb-sandbox"


class FakeClock:
    """Frozen time that moves only when a test says so; starts at the real now (Bolt checks freshness)."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def for_verifier(self) -> "VerifierClock":
        return VerifierClock(self)


class VerifierClock:
    """The `clock` shape slack_sdk's SignatureVerifier wants: an object with now()."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock()


async def error_of(call: Awaitable[Any]) -> str:
    """The Slack error a Web API call fails with (and the test fails if it succeeds)."""
    with pytest.raises(SlackApiError) as caught:
        await call
    error: str = caught.value.response["error"]
    return error
