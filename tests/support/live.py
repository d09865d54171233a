"""The whole stack on loopback ports: the sandbox Slack, and Warroom pointed at it as at real Slack."""

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from bot.app import create_app
from bot.config import Settings
from bot.db import upgrade_async
from bot.sandbox import SlackSender, Workspace, create_sandbox_app, serve_app
from bot.sandbox.models import Channel, Message

SIGNING_SECRET = "test-signing-secret"
WEBHOOK_TOKEN = "test-webhook-token"
PAGERDUTY_SECRET = "test-pagerduty-secret"
API_TOKEN = "test-api-token"
RESPONDER = "U0CAROL"

T = TypeVar("T")


@dataclass
class Stack:
    bot_url: str
    sandbox_url: str
    workspace: Workspace
    sender: SlackSender
    http: httpx.AsyncClient
    app: FastAPI
    settings: Settings

    async def webhook(self, source: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST a body (dict/list -> JSON, bytes as is) with the right bearer token or signature."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"content-type": "application/json"}
        if source == "pagerduty":
            digest = hmac.new(PAGERDUTY_SECRET.encode(), raw, hashlib.sha256).hexdigest()
            sent["x-pagerduty-signature"] = f"v1={digest}"
        else:
            sent["authorization"] = f"Bearer {WEBHOOK_TOKEN}"
        sent.update(headers or {})
        return await self.http.post(f"/webhooks/{source}", content=raw, headers=sent)

    async def api(self, path: str) -> Any:
        response = await self.http.get(f"/api{path}", headers={"authorization": f"Bearer {API_TOKEN}"})
        response.raise_for_status()
        return response.json()

    async def settled(self, timeout: float = 20.0) -> None:
        """Wait until every delivery is processed and every Slack operation has been carried out."""

        async def idle() -> bool:
            checks = (await self.http.get("/readyz")).json()["checks"]
            return checks.get("deliveries_pending") == 0 and checks.get("outbox", {}).get("pending") == 0

        await wait_for(idle, timeout=timeout, what="the bot to settle")

    def channel(self, name_prefix: str) -> Channel:
        found = [c for c in self.workspace.channels.values() if c.name.startswith(name_prefix)]
        assert len(found) == 1, f"channels starting {name_prefix!r}: {[c.name for c in found]}"
        return found[0]

    def messages(self, channel_id: str) -> list[Message]:
        return list(self.workspace.messages.get(channel_id, []))

    def card(self, channel_id: str) -> Message:
        """The incident card in a channel; there must be exactly one (it is edited, never re-posted)."""
        cards = [
            m for m in self.messages(channel_id) if (m.metadata or {}).get("event_payload", {}).get("kind") == "card"
        ]
        assert len(cards) == 1, f"expected exactly one card, found {len(cards)}"
        return cards[0]

    def calls(self, method: str) -> list[Any]:
        return [call for call in self.workspace.calls if call.method == method]

    def replies(self, user: str) -> list[str]:
        """The ephemeral answers `user` has been shown, oldest first."""
        return [e.text for e in self.workspace.ephemerals if e.user == user]

    async def command(self, user: str, channel: str, command: str, text: str) -> str:
        """Run a slash command as `user` and return the ephemeral answer it produced."""
        before = len(self.replies(user))
        response = await self.sender.slash_command(user, channel, command, text)
        assert response.status_code == 200, response.text

        async def answered() -> list[str]:
            return self.replies(user)[before:]

        return str((await wait_for(answered, what=f"an answer to {command} {text}"))[0])


def _payload(message: Message) -> dict[str, Any]:
    return dict((message.metadata or {}).get("event_payload") or {})


def buttons(message: Message) -> list[str]:
    """The labels of a message's buttons, in order."""
    return [
        e["text"]["text"]
        for block in message.blocks
        if block["type"] == "actions"
        for e in block["elements"]
        if e["type"] == "button"
    ]


async def wait_for(check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def test_settings(db_url: str, sandbox_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "slack_bot_token": "xoxb-sandbox",
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": f"{sandbox_url}/api/",
        "alert_webhook_token": WEBHOOK_TOKEN,
        "pagerduty_webhook_secret": PAGERDUTY_SECRET,
        "incident_announce_channel": "#incidents",
        "incident_responders": RESPONDER,
        "api_token": API_TOKEN,
        "log_format": "console",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def sandbox_server(workspace: Workspace) -> AsyncIterator[str]:
    async with serve_app(create_sandbox_app(workspace, signing_secret=SIGNING_SECRET)) as url:
        yield url


@asynccontextmanager
async def live_stack(
    db_url: str, *, workspace: Workspace | None = None, sandbox_url: str | None = None, **overrides: Any
) -> AsyncIterator[Stack]:
    """Sandbox (unless one is given) plus Warroom; both torn down on exit."""
    workspace = workspace or Workspace()
    await upgrade_async(db_url)
    async with contextlib_nullable(sandbox_url, workspace) as slack_url:
        settings = test_settings(db_url, slack_url, **overrides)
        app = create_app(settings)
        async with (
            serve_app(app) as bot_url,
            httpx.AsyncClient(base_url=bot_url, timeout=10.0) as http,
            SlackSender(bot_url, SIGNING_SECRET, workspace, sandbox_url=slack_url) as sender,
        ):
            yield Stack(bot_url, slack_url, workspace, sender, http, app, settings)


@asynccontextmanager
async def contextlib_nullable(url: str | None, workspace: Workspace) -> AsyncIterator[str]:
    if url is not None:
        yield url
        return
    async with sandbox_server(workspace) as started:
        yield started
