"""Fault injection through the Python API and the control endpoints: 5xx, Slack errors, forced 429, delays."""

import asyncio

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Faults, Workspace

from .support import TOKEN


async def test_next_two_calls_answer_503(slack: AsyncWebClient, workspace: Workspace) -> None:
    workspace.faults.add("chat.postMessage", status=503, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            await slack.chat_postMessage(channel="C0INCIDENTS", text="x")
        assert caught.value.response.status_code == 503
    assert (await slack.auth_test())["ok"]
    assert (await slack.chat_postMessage(channel="C0INCIDENTS", text="x"))["ok"]
    assert len(workspace.messages["C0INCIDENTS"]) == 1


async def test_slack_down_until_cleared(slack: AsyncWebClient, workspace: Workspace) -> None:
    workspace.faults.slack_down()
    for _ in range(3):
        with pytest.raises(SlackApiError) as caught:
            await slack.auth_test()
        assert caught.value.response.status_code == 503
    with pytest.raises(SlackApiError):
        await slack.conversations_list()
    workspace.faults.clear()
    assert (await slack.auth_test())["ok"]


async def test_injected_slack_error(slack: AsyncWebClient, workspace: Workspace) -> None:
    workspace.faults.add("conversations.create", error="restricted_action", times=1)
    with pytest.raises(SlackApiError) as caught:
        await slack.conversations_create(name="inc-1")
    assert (caught.value.response.status_code, caught.value.response["error"]) == (200, "restricted_action")
    assert (await slack.conversations_create(name="inc-1"))["ok"]


async def test_forced_429_carries_the_given_retry_after(slack: AsyncWebClient, workspace: Workspace) -> None:
    workspace.faults.add("*", retry_after=17, times=1)
    with pytest.raises(SlackApiError) as caught:
        await slack.users_list()
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "17"
    assert workspace.call_log(status=429)[0].method == "users.list"


async def test_delay_makes_a_client_time_out(sandbox_url: str, workspace: Workspace) -> None:
    workspace.faults.add("chat.postMessage", delay=0.5, times=1)
    impatient = AsyncWebClient(token=TOKEN, base_url=sandbox_url + "/api/", timeout=0.1)
    with pytest.raises(asyncio.TimeoutError):
        await impatient.chat_postMessage(channel="C0INCIDENTS", text="slow")


async def test_delay_alone_answers_normally_afterwards(slack: AsyncWebClient, workspace: Workspace) -> None:
    workspace.faults.add("auth.test", delay=0.05, times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await slack.auth_test())["ok"]
    assert loop.time() - started >= 0.05


async def test_control_endpoints(sandbox_url: str, slack: AsyncWebClient) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        added = await http.post("/_control/faults", json={"method": "users.info", "status": 500})
        assert added.json()["fault"]["status"] == 500
        listed = (await http.get("/_control/faults")).json()["faults"]
        assert [f["method"] for f in listed] == ["users.info"]
        with pytest.raises(SlackApiError) as caught:
            await slack.users_info(user="U0ALICE")
        assert caught.value.response.status_code == 500
        bad = await http.post("/_control/faults", json={"status": 503, "error": "x"})
        assert bad.status_code == 400
        cleared = await http.delete("/_control/faults")
        assert cleared.json()["cleared"] == 1
    assert (await slack.users_info(user="U0ALICE"))["ok"]


def test_fault_plans_are_validated() -> None:
    faults = Faults()
    with pytest.raises(ValueError, match="at most one"):
        faults.add(status=503, retry_after=1)
    with pytest.raises(ValueError, match="positive delay"):
        faults.add()
    with pytest.raises(ValueError, match="HTTP error status"):
        faults.add(status=200)
    with pytest.raises(ValueError, match="times"):
        faults.add(error="x", times=0)


def test_faults_match_in_order_and_clear_by_method() -> None:
    faults = Faults()
    faults.add("chat.update", error="first", times=1)
    faults.add("*", error="everything")
    taken = faults.take("chat.update")
    assert taken is not None and taken.error == "first"
    again = faults.take("chat.update")
    assert again is not None and again.error == "everything"
    assert faults.clear("chat.update") == 0
    assert faults.clear("*") == 1
    assert faults.take("chat.update") is None
