"""Rate limits: chat.postMessage per channel, tiers per rolling minute, switching off and speeding up."""

import contextlib

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import RateLimiter, Workspace

from .support import TOKEN, FakeClock


async def test_burst_into_one_channel_is_throttled(
    slack: AsyncWebClient, workspace: Workspace, clock: FakeClock
) -> None:
    for n in range(3):
        await slack.chat_postMessage(channel="C0INCIDENTS", text=f"burst {n}")
    with pytest.raises(SlackApiError) as caught:
        await slack.chat_postMessage(channel="C0INCIDENTS", text="one too many")
    response = caught.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response["error"] == "ratelimited"
    assert len(workspace.messages["C0INCIDENTS"]) == 3
    assert [c.status for c in workspace.call_log(method="chat.postMessage")] == [200, 200, 200, 429]

    clock.advance(1.0)
    assert (await slack.chat_postMessage(channel="C0INCIDENTS", text="a second later"))["ok"]


async def test_other_channels_have_their_own_allowance(slack: AsyncWebClient) -> None:
    other = (await slack.conversations_create(name="inc-9"))["channel"]["id"]
    for n in range(3):
        await slack.chat_postMessage(channel="C0INCIDENTS", text=str(n))
    assert (await slack.chat_postMessage(channel=other, text="elsewhere"))["ok"]


async def test_tier_two_allows_twenty_a_minute(slack: AsyncWebClient, clock: FakeClock) -> None:
    for n in range(20):
        await slack.conversations_create(name=f"t2-{n}")
    with pytest.raises(SlackApiError) as caught:
        await slack.conversations_create(name="t2-20")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "60"
    clock.advance(59)
    with pytest.raises(SlackApiError):
        await slack.conversations_create(name="t2-20")
    clock.advance(1)
    assert (await slack.conversations_create(name="t2-20"))["ok"]


async def test_speed_factor_shrinks_the_window(slack: AsyncWebClient, workspace: Workspace, clock: FakeClock) -> None:
    workspace.rate_limits.speed = 10
    for n in range(20):
        await slack.conversations_create(name=f"fast-{n}")
    with pytest.raises(SlackApiError) as caught:
        await slack.conversations_create(name="fast-20")
    assert caught.value.response.headers["Retry-After"] == "6"
    clock.advance(6)
    assert (await slack.conversations_create(name="fast-20"))["ok"]


async def test_limits_off_never_throttle(slack: AsyncWebClient, workspace: Workspace) -> None:
    workspace.rate_limits.enabled = False
    for n in range(10):
        await slack.chat_postMessage(channel="C0INCIDENTS", text=str(n))
    assert not workspace.call_log(status=429)


async def test_control_endpoint_switches_limits(sandbox_url: str, workspace: Workspace) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        off = await http.post("/_control/rate-limits", json={"enabled": False, "speed": 4})
        assert off.json() == {"ok": True, "enabled": False, "speed": 4.0}
        assert (await http.post("/_control/rate-limits", json={"speed": 0})).status_code == 422
        for n in range(5):
            posted = await http.post(
                "/api/chat.postMessage", data={"token": TOKEN, "channel": "C0INCIDENTS", "text": str(n)}
            )
            assert posted.status_code == 200
    assert workspace.rate_limits.speed == 4.0


async def test_429s_are_in_the_call_log_endpoint(slack: AsyncWebClient, sandbox_url: str) -> None:
    for n in range(4):
        with contextlib.suppress(SlackApiError):
            await slack.chat_postMessage(channel="C0INCIDENTS", text=str(n))
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        log = (await http.get("/_control/calls", params={"status": 429})).json()["calls"]
    assert [(c["method"], c["error"]) for c in log] == [("chat.postMessage", "ratelimited")]


def test_post_message_has_a_workspace_wide_ceiling() -> None:
    clock = FakeClock(1_000.0)
    limiter = RateLimiter(clock)
    # 34 channels x burst 3 would allow 102; the workspace-wide 100/min stops it first
    allowed = sum(limiter.acquire(TOKEN, "chat.postMessage", f"C{n}") is None for n in range(34) for _ in range(3))
    assert allowed == 100
    assert limiter.acquire(TOKEN, "chat.postMessage", "C-fresh") == 60


def test_tiers_are_per_method_and_per_token() -> None:
    limiter = RateLimiter(FakeClock(1_000.0))
    for _ in range(20):
        assert limiter.acquire(TOKEN, "pins.add") is None
    assert limiter.acquire(TOKEN, "pins.add") == 60
    assert limiter.acquire(TOKEN, "reactions.add") is None
    assert limiter.acquire("xoxb-other", "pins.add") is None


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(FakeClock(), speed=0)
