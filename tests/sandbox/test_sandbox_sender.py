"""SlackSender: signatures Slack's own verifier accepts, and payloads in Slack's wire formats."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from slack_sdk.signature import SignatureVerifier

from bot.sandbox import SlackSender, Workspace, serve_app

from .support import SIGNING_SECRET, FakeClock

# copied from ../shared/fixtures (provenance in its "_source" field) so the suite runs anywhere
VECTOR = json.loads((Path(__file__).parent / "fixtures" / "slack_signature_test_vector.json").read_text())

BUTTONS = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*SEV2* api errors"}},
    {
        "type": "actions",
        "block_id": "incident_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "ack",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "value": "inc-7",
            }
        ],
    },
]


class Receiver:
    """A stand-in bot: records what arrives at /slack/events and answers with `reply`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.reply: tuple[int, str, str] = (200, "", "text/plain")
        self.app = FastAPI()
        self.app.add_api_route("/slack/events", self.events, methods=["POST"])

    async def events(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        status, body, media_type = self.reply
        return Response(body, status_code=status, media_type=media_type)

    @property
    def last_form(self) -> dict[str, list[str]]:
        return parse_qs(self.requests[-1][1].decode(), keep_blank_values=True)

    @property
    def last_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.last_form["payload"][0])
        return payload


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    bot = Receiver()
    async with serve_app(bot.app) as url:
        yield bot, url


@pytest.fixture
async def sender(receiver: tuple[Receiver, str], workspace: Workspace) -> AsyncIterator[SlackSender]:
    async with SlackSender(
        receiver[1], SIGNING_SECRET, workspace, sandbox_url="http://sandbox.test/sandbox"
    ) as slack_sender:
        yield slack_sender


def assert_signed(headers: dict[str, str], body: bytes, clock: FakeClock) -> None:
    verifier = SignatureVerifier(SIGNING_SECRET, clock=clock.for_verifier())
    assert verifier.is_valid_request(body, headers)
    assert headers["x-slack-signature"].startswith("v0=")


def test_signing_matches_slack_s_known_answer() -> None:
    frozen = FakeClock(float(VECTOR["x_slack_request_timestamp"]))
    sender = SlackSender("http://bot.test", VECTOR["signing_secret"], Workspace(clock=frozen))
    headers = sender.signed_headers(VECTOR["raw_body"], "application/x-www-form-urlencoded")
    assert headers["X-Slack-Request-Timestamp"] == VECTOR["x_slack_request_timestamp"]
    assert headers["X-Slack-Signature"] == VECTOR["x_slack_signature"]
    verifier = SignatureVerifier(VECTOR["signing_secret"], clock=frozen.for_verifier())
    assert verifier.is_valid_request(VECTOR["raw_body"], headers)


async def test_slash_command_form(
    sender: SlackSender, receiver: tuple[Receiver, str], workspace: Workspace, clock: FakeClock
) -> None:
    response = await sender.slash_command("U0ALICE", "C0INCIDENTS", "/incident", "declare db down & out")
    assert response.status_code == 200
    headers, body = receiver[0].requests[-1]
    assert_signed(headers, body, clock)
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in receiver[0].last_form.items()}
    assert form["command"] == "/incident"
    assert form["text"] == "declare db down & out"
    assert (form["team_id"], form["channel_name"], form["user_name"]) == ("T0SANDBOX", "incidents", "alice")
    assert form["trigger_id"] in workspace.triggers
    token = form["response_url"].removeprefix("http://sandbox.test/sandbox/response/")
    assert workspace.response_urls[token].user == "U0ALICE"


async def test_block_action_is_a_payload_form_field(
    sender: SlackSender, receiver: tuple[Receiver, str], workspace: Workspace, clock: FakeClock
) -> None:
    message = workspace.post_message("C0INCIDENTS", text="SEV2", blocks=BUTTONS)
    await sender.block_action("U0BOB", "C0INCIDENTS", message.ts, "ack")
    headers, body = receiver[0].requests[-1]
    assert body.startswith(b"payload=%7B%22type%22%3A%22block_actions%22")
    assert_signed(headers, body, clock)
    payload = receiver[0].last_payload
    assert payload["user"]["id"] == "U0BOB"
    assert payload["container"] == {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": "C0INCIDENTS",
        "is_ephemeral": False,
    }
    assert payload["message"]["blocks"] == BUTTONS
    action = payload["actions"][0]
    assert (action["action_id"], action["block_id"], action["type"], action["value"]) == (
        "ack",
        "incident_actions",
        "button",
        "inc-7",
    )
    assert payload["trigger_id"] in workspace.triggers
    assert payload["response_url"].startswith("http://sandbox.test/sandbox/response/")


async def test_block_action_on_a_missing_button_is_a_test_bug(sender: SlackSender, workspace: Workspace) -> None:
    message = workspace.post_message("C0INCIDENTS", text="SEV2", blocks=BUTTONS)
    with pytest.raises(LookupError):
        await sender.block_action("U0BOB", "C0INCIDENTS", message.ts, "resolve")


async def test_view_submission_uses_the_stored_view_and_applies_the_answer(
    sender: SlackSender, receiver: tuple[Receiver, str], workspace: Workspace
) -> None:
    view_spec = {
        "type": "modal",
        "callback_id": "declare",
        "private_metadata": "C0INCIDENTS",
        "title": {"type": "plain_text", "text": "Declare"},
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": {"type": "plain_text", "text": "Title"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }
    view = workspace.open_view(workspace.issue_trigger("U0ALICE"), view_spec)
    values = {"title": {"value": {"type": "plain_text_input", "value": "DB down"}}}
    receiver[0].reply = (
        200,
        json.dumps({"response_action": "errors", "errors": {"title": "Too vague"}}),
        "application/json",
    )
    await sender.view_submission("U0ALICE", view.id, values)
    payload = receiver[0].last_payload
    assert payload["type"] == "view_submission"
    assert (payload["view"]["callback_id"], payload["view"]["private_metadata"]) == ("declare", "C0INCIDENTS")
    assert payload["view"]["state"]["values"] == values
    assert workspace.views[view.id].errors == {"title": "Too vague"}

    receiver[0].reply = (200, "", "text/plain")
    await sender.view_submission("U0ALICE", view.id, values)
    assert view.id not in workspace.views
    assert "U0ALICE" not in workspace.view_stacks


async def test_event_envelope_and_retry_headers(
    sender: SlackSender, receiver: tuple[Receiver, str], clock: FakeClock
) -> None:
    event = {"type": "app_mention", "user": "U0ALICE", "text": "<@U0WARROOM> status", "channel": "C0INCIDENTS"}
    await sender.event(event, event_id="Ev0001", retry_num=1, retry_reason="http_timeout")
    headers, body = receiver[0].requests[-1]
    assert_signed(headers, body, clock)
    assert headers["content-type"] == "application/json"
    assert (headers["x-slack-retry-num"], headers["x-slack-retry-reason"]) == ("1", "http_timeout")
    envelope = json.loads(body)
    assert envelope["type"] == "event_callback"
    assert (envelope["event_id"], envelope["team_id"], envelope["event"]) == ("Ev0001", "T0SANDBOX", event)
    assert envelope["authorizations"][0]["user_id"] == "U0WARROOM"
    await sender.event(event)
    assert "x-slack-retry-num" not in receiver[0].requests[-1][0]


async def test_reaction_added_reacts_then_tells_the_bot(
    sender: SlackSender, receiver: tuple[Receiver, str], workspace: Workspace
) -> None:
    message = workspace.post_message("C0INCIDENTS", text="decision: roll back")
    await sender.reaction_added("U0CAROL", "C0INCIDENTS", message.ts)
    assert message.reactions == {"pushpin": ["U0CAROL"]}
    event = json.loads(receiver[0].requests[-1][1])["event"]
    assert (event["type"], event["reaction"], event["item"]) == (
        "reaction_added",
        "pushpin",
        {"type": "message", "channel": "C0INCIDENTS", "ts": message.ts},
    )
    assert event["item_user"] == "U0WARROOM"


async def test_sender_without_sandbox_url_cannot_issue_response_urls(workspace: Workspace) -> None:
    async with SlackSender("http://127.0.0.1:9", SIGNING_SECRET, workspace) as sender:
        with pytest.raises(RuntimeError, match="sandbox_url"):
            await sender.slash_command("U0ALICE", "C0INCIDENTS", "/incident")


async def test_sender_uses_a_given_client(workspace: Workspace, receiver: tuple[Receiver, str]) -> None:
    async with httpx.AsyncClient() as client:
        sender = SlackSender(receiver[1], SIGNING_SECRET, workspace, client)
        await sender.event({"type": "app_home_opened", "user": "U0ALICE"})
        await sender.aclose()
        # the caller's client stays open for the caller
        assert not client.is_closed
    assert len(receiver[0].requests) == 1
