"""The real consumer: a Bolt AsyncApp behind HTTP accepts what SlackSender sends and talks back to the sandbox."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackSender, Workspace, create_sandbox_app, serve_app

from .support import SIGNING_SECRET, TOKEN

DECLARE_VIEW = {
    "type": "modal",
    "callback_id": "declare",
    "title": {"type": "plain_text", "text": "Declare incident"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}


def bolt_bot(sandbox_url: str, submitted: list[dict[str, Any]]) -> FastAPI:
    bolt = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=TOKEN, base_url=sandbox_url + "/api/"),
        # the listener finishes before the HTTP answer, so the test needs no polling
        process_before_response=True,
    )

    @bolt.command("/incident")
    async def open_modal(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=DECLARE_VIEW)
        await respond("Opening the form")

    @bolt.view("declare")
    async def declare(ack: Any, view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        submitted.append(view["state"]["values"])
        await client.chat_postMessage(channel="C0INCIDENTS", text=view["state"]["values"]["title"]["value"]["value"])

    handler = AsyncSlackRequestHandler(bolt)
    app = FastAPI()

    @app.post("/slack/events")
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return app


@pytest.fixture
async def bot_url(sandbox_url: str) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    submitted: list[dict[str, Any]] = []
    async with serve_app(bolt_bot(sandbox_url, submitted)) as url:
        yield url, submitted


async def test_command_modal_submission_round_trip(
    bot_url: tuple[str, list[dict[str, Any]]], sandbox_url: str, workspace: Workspace
) -> None:
    url, submitted = bot_url
    async with SlackSender(url, SIGNING_SECRET, workspace, sandbox_url=sandbox_url) as sender:
        acked = await sender.slash_command("U0ALICE", "C0INCIDENTS", "/incident")
        assert acked.status_code == 200
        assert [e.text for e in workspace.ephemerals] == ["Opening the form"]
        (view_id,) = workspace.view_stacks["U0ALICE"]
        values = {"title": {"value": {"type": "plain_text_input", "value": "Checkout is down"}}}
        submitted_answer = await sender.view_submission("U0ALICE", view_id, values)
    assert submitted_answer.status_code == 200
    assert submitted == [values]
    assert workspace.messages["C0INCIDENTS"][-1].text == "Checkout is down"
    assert "U0ALICE" not in workspace.view_stacks


async def test_bolt_rejects_a_wrong_secret(bot_url: tuple[str, list[dict[str, Any]]], workspace: Workspace) -> None:
    async with SlackSender(bot_url[0], "not-the-secret", workspace, sandbox_url="http://x.test") as sender:
        response = await sender.slash_command("U0ALICE", "C0INCIDENTS", "/incident")
    assert response.status_code == 401
    assert not workspace.view_stacks


async def test_control_send_delivers_from_the_sandbox_process(
    bot_url: tuple[str, list[dict[str, Any]]], workspace: Workspace
) -> None:
    # a second sandbox app over the same workspace, this time knowing where the bot is
    app = create_sandbox_app(workspace, signing_secret=SIGNING_SECRET, bot_url=bot_url[0])
    async with serve_app(app) as sandbox, httpx.AsyncClient(base_url=sandbox) as http:
        sent = await http.post(
            "/_control/send/slash_command",
            json={"user_id": "U0BOB", "channel_id": "C0INCIDENTS", "command": "/incident"},
        )
        assert sent.json()["status"] == 200
        unknown = await http.post("/_control/send/telepathy", json={})
        assert unknown.status_code == 404
    assert "U0BOB" in workspace.view_stacks
