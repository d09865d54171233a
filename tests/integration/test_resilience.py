"""When Slack rate-limits or is down, nothing is lost and each incident's messages still go out in order."""

from itertools import pairwise
from typing import Any

from tests.support.live import Stack, live_stack, wait_for


def _for_channel(stack: Stack, channel_id: str) -> list[str]:
    """The Web API methods called for one channel, in the order Slack received them."""
    return [c.method for c in stack.workspace.calls if c.ok and c.args.get("channel") == channel_id]


async def _alert(stack: Stack, key: str) -> None:
    response = await stack.webhook("generic", {"title": f"{key} is failing", "dedup_key": key})
    assert response.status_code == 202


async def test_slack_down_then_back_everything_is_delivered_in_order(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        stack.workspace.faults.add("*", status=503)
        for key in ("payments", "search", "login"):
            await _alert(stack, key)

        async def failing() -> bool:
            return sum(1 for c in stack.workspace.calls if c.status == 503) >= 6

        await wait_for(failing, what="the relay to hit the outage a few times")
        ready = (await stack.http.get("/readyz")).json()["checks"]
        assert ready["outbox"]["pending"] >= 15  # 3 incidents x (channel, topic, invite, card, announce)
        assert not [c for c in stack.workspace.channels.values() if c.name.startswith("inc-")]
        assert stack.workspace.faults.clear() == 1
        await stack.settled(timeout=30)

        incidents = (await stack.api("/incidents"))["incidents"]
        assert len(incidents) == 3
        for incident in incidents:
            calls = _for_channel(stack, incident["channel_id"])
            assert calls[:3] == ["conversations.setTopic", "conversations.invite", "chat.postMessage"], calls
            assert calls.count("chat.postMessage") == 1
        metrics = (await stack.http.get("/metrics")).text
        assert 'warroom_slack_calls_total{method="conversations.create",outcome="server_error"}' in metrics


async def test_a_429_is_honoured_with_its_retry_after_and_recovers(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        stack.workspace.faults.add("conversations.create", retry_after=2, times=1)
        await _alert(stack, "payments")
        await stack.settled(timeout=20)
        creates = [c for c in stack.workspace.calls if c.method == "conversations.create"]
        assert [c.status for c in creates] == [429, 200]
        assert creates[1].time - creates[0].time >= 2.0
        metrics = (await stack.http.get("/metrics")).text
        assert 'warroom_slack_ratelimited_total{method="conversations.create"} 1.0' in metrics
        assert (await stack.api("/incidents/1"))["channel_id"]


async def test_posting_stays_under_the_per_channel_rate(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        for n in range(6):
            await _alert(stack, f"service-{n}")
        await stack.settled(timeout=30)
        announce = stack.workspace.channel_by_name("incidents")
        assert announce is not None
        posts = [
            c
            for c in stack.workspace.calls
            if c.method == "chat.postMessage" and c.args.get("channel") in ("#incidents", announce.id)
        ]
        assert len(posts) == 6 and all(c.status == 200 for c in posts)
        gaps = [b.time - a.time for a, b in pairwise(posts)]
        assert min(gaps) >= 0.9  # one message per second per channel, and no 429 from the sandbox


async def test_a_permanent_slack_error_does_not_block_the_rest_of_the_incident(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        stack.workspace.faults.add("conversations.setTopic", error="too_long", times=1)
        await _alert(stack, "payments")
        await stack.settled(timeout=20)
        incident: dict[str, Any] = await stack.api("/incidents/1")
        assert _for_channel(stack, incident["channel_id"]).count("chat.postMessage") == 1
        metrics = (await stack.http.get("/metrics")).text
        assert 'warroom_outbox_done_total{op="set_topic",outcome="dead"} 1.0' in metrics


async def test_channel_names_taken_by_archived_or_live_channels_get_a_suffix(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        old = stack.workspace.create_channel("inc-1-payments-is-failing", actor="U0ALICE")
        stack.workspace.archive(old.id, actor="U0ALICE")
        stack.workspace.create_channel("inc-1-payments-is-failing-2", actor="U0BOB")
        await _alert(stack, "payments")
        await stack.settled()
        incident = await stack.api("/incidents/1")
        assert incident["channel_name"] == "inc-1-payments-is-failing-3"
        assert stack.workspace.channels[incident["channel_id"]].creator == stack.workspace.bot_user_id
