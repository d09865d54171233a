"""Web API transport: every way slack_sdk and curl send arguments and tokens, and Slack's auth errors."""

import json

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Workspace, create_sandbox_app, serve_app, supported_methods

from .support import TOKEN


async def test_auth_test_identifies_the_bot(slack: AsyncWebClient) -> None:
    answer = await slack.auth_test()
    assert answer["team_id"] == "T0SANDBOX"
    assert answer["user_id"] == "U0WARROOM"
    assert answer["bot_id"] == "B0WARROOM"


async def test_missing_token_is_not_authed(sandbox_url: str) -> None:
    client = AsyncWebClient(token=None, base_url=sandbox_url + "/api/")
    with pytest.raises(SlackApiError) as caught:
        await client.auth_test()
    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "not_authed"


async def test_wrong_token_is_invalid_auth(sandbox_url: str) -> None:
    client = AsyncWebClient(token="xoxb-wrong", base_url=sandbox_url + "/api/")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0INCIDENTS", text="hi")
    assert caught.value.response["error"] == "invalid_auth"


async def test_configured_token_replaces_the_default() -> None:
    workspace = Workspace(bot_token="xoxb-other")
    async with serve_app(create_sandbox_app(workspace, signing_secret="s")) as url:
        assert (await AsyncWebClient(token="xoxb-other", base_url=url + "/api/").auth_test())["ok"]
        with pytest.raises(SlackApiError):
            await AsyncWebClient(token=TOKEN, base_url=url + "/api/").auth_test()


async def test_unknown_method_is_404(slack: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await slack.api_call("chat.sing")
    assert caught.value.response.status_code == 404
    assert caught.value.response["error"] == "unknown_method"


async def test_token_as_form_field_and_blocks_as_json_string(sandbox_url: str, workspace: Workspace) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*bold*"}}]
    async with httpx.AsyncClient() as http:
        response = await http.post(
            sandbox_url + "/api/chat.postMessage",
            data={"token": TOKEN, "channel": "C0INCIDENTS", "text": "hi", "blocks": json.dumps(blocks)},
        )
    assert response.json()["ok"] is True
    assert workspace.messages["C0INCIDENTS"][-1].blocks == blocks


async def test_get_with_query_parameters(sandbox_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            sandbox_url + "/api/conversations.info", params={"token": TOKEN, "channel": "C0INCIDENTS"}
        )
    assert response.json()["channel"]["name"] == "incidents"


async def test_json_body_needs_the_bearer_header(sandbox_url: str) -> None:
    async with httpx.AsyncClient() as http:
        bare = await http.post(sandbox_url + "/api/auth.test", json={})
        authed = await http.post(sandbox_url + "/api/auth.test", json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert bare.json() == {"ok": False, "error": "not_authed"}
    assert authed.json()["ok"] is True


async def test_malformed_json_body_is_invalid_json(sandbox_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            sandbox_url + "/api/auth.test",
            content=b"{not json",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
    assert response.json()["error"] == "invalid_json"


async def test_calls_are_logged_without_the_token(slack: AsyncWebClient, workspace: Workspace) -> None:
    await slack.chat_postMessage(channel="C0INCIDENTS", text="logged")
    with pytest.raises(SlackApiError):
        await slack.conversations_info(channel="C404")
    posted, failed = workspace.call_log()
    assert (posted.method, posted.status, posted.ok) == ("chat.postMessage", 200, True)
    assert posted.args["text"] == "logged"
    assert "token" not in posted.args
    assert (failed.method, failed.ok, failed.error) == ("conversations.info", False, "channel_not_found")


def test_the_brief_s_methods_are_all_served() -> None:
    required = {
        "auth.test",
        "bookmarks.add",
        "chat.getPermalink",
        "chat.postEphemeral",
        "chat.postMessage",
        "chat.update",
        "conversations.archive",
        "conversations.create",
        "conversations.history",
        "conversations.info",
        "conversations.invite",
        "conversations.join",
        "conversations.list",
        "conversations.members",
        "conversations.setPurpose",
        "conversations.setTopic",
        "conversations.unarchive",
        "pins.add",
        "reactions.add",
        "usergroups.list",
        "usergroups.users.list",
        "users.info",
        "users.list",
        "users.lookupByEmail",
        "views.open",
        "views.push",
        "views.update",
    }
    assert required <= set(supported_methods())
