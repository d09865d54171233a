"""SlackSender: delivers signed slash commands, interactions and events to the bot exactly as Slack does."""

import json
import secrets
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.models import Message
from bot.sandbox.shapes import message_json, view_json
from bot.sandbox.workspace import Workspace

VERIFICATION_TOKEN = "sandbox-verification-token"  # noqa: S105 - Slack's deprecated field, no secret


def _find_element(blocks: list[dict[str, Any]], action_id: str, block_id: str | None) -> tuple[str, dict[str, Any]]:
    """The block_id and element behind an action_id, searching actions, section accessories and inputs."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        candidates = list(block.get("elements") or [])
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                candidates.append(block[key])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id", "")), element
    raise LookupError(f"no element with action_id {action_id!r} in these blocks")


class SlackSender:
    """Plays Slack's side of the inbound protocol against `POST {bot_url}/slack/events`.

    Payload ids (trigger_id, response_url) are issued by `workspace`, so the bot's follow-up Web API
    calls are checked against them; `sandbox_url` is where the sandbox app is served (response_url base).
    """

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        workspace: Workspace,
        client: httpx.AsyncClient | None = None,
        *,
        sandbox_url: str | None = None,
        events_path: str = "/slack/events",
    ) -> None:
        self.bot_url = bot_url.rstrip("/")
        self.workspace = workspace
        self.sandbox_url = sandbox_url.rstrip("/") if sandbox_url else None
        self.events_url = self.bot_url + events_path
        self._verifier = SignatureVerifier(signing_secret)
        self._owns_client = client is None
        # Slack gives up after 3 s; a little more keeps slow-ack bugs visible as slow, not as errors
        self.client = client if client is not None else httpx.AsyncClient(timeout=10.0)

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- signing -----------------------------------------------------------------------------

    def signed_headers(self, body: str | bytes, content_type: str) -> dict[str, str]:
        """Slack's v0 signature over the raw body, timestamped with the workspace clock."""
        timestamp = str(int(self.workspace.now()))
        signature = self._verifier.generate_signature(timestamp=timestamp, body=body)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": str(signature),
        }

    async def post(self, body: str, content_type: str, extra_headers: dict[str, str] | None = None) -> httpx.Response:
        headers = self.signed_headers(body, content_type) | (extra_headers or {})
        return await self.client.post(self.events_url, content=body.encode("utf-8"), headers=headers)

    def response_url(self, token: str) -> str:
        if self.sandbox_url is None:
            raise RuntimeError("SlackSender needs sandbox_url to hand out response_urls")
        return f"{self.sandbox_url}/response/{token}"

    # -- payload pieces ----------------------------------------------------------------------

    def _team(self) -> dict[str, Any]:
        return {"id": self.workspace.team_id, "domain": self.workspace.domain}

    def _user(self, user_id: str) -> dict[str, Any]:
        user = self.workspace.get_user(user_id)
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": self.workspace.team_id}

    async def _interaction(self, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        return await self.post(body, "application/x-www-form-urlencoded")

    # -- what Slack sends --------------------------------------------------------------------

    async def slash_command(self, user_id: str, channel_id: str, command: str, text: str = "") -> httpx.Response:
        ws = self.workspace
        user = ws.get_user(user_id)
        channel = ws.find_channel(channel_id)
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": ws.team_id,
            "team_domain": ws.domain,
            "channel_id": channel.id,
            "channel_name": channel.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "api_app_id": ws.app_id,
            "is_enterprise_install": "false",
            "response_url": self.response_url(ws.issue_response_url(user.id, channel.id)),
            "trigger_id": ws.issue_trigger(user.id, channel.id),
        }
        return await self.post(urlencode(fields), "application/x-www-form-urlencoded")

    async def block_action(  # noqa: PLR0917 - positional order documented for the test-suite
        self,
        user_id: str,
        channel_id: str | None,
        message_ts: str | None,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        selected_option: dict[str, Any] | None = None,
        view_id: str | None = None,
    ) -> httpx.Response:
        """A click on an element of a stored message (or ephemeral), or of an open modal with `view_id`."""
        ws = self.workspace
        user = self._user(user_id)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": user,
            "api_app_id": ws.app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": ws.issue_trigger(user_id, channel_id),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if view_id is not None:
            view = ws.get_view(view_id)
            blocks = list(view.view.get("blocks", []))
            payload["container"] = {"type": "view", "view_id": view.id}
            payload["view"] = view_json(ws, view)
            payload["state"] = {"values": view.state_values}
        else:
            if channel_id is None or message_ts is None:
                raise ValueError("a message action needs channel_id and message_ts")
            channel = ws.find_channel(channel_id)
            ephemeral = ws.find_ephemeral(user_id, message_ts)
            message: Message | None = None
            if ephemeral is None:
                message = ws.get_message(channel.id, message_ts)
            blocks = ephemeral.blocks if ephemeral is not None else message.blocks if message else []
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel.id,
                "is_ephemeral": ephemeral is not None,
            }
            payload["channel"] = {"id": channel.id, "name": channel.name}
            if message is not None:
                payload["message"] = message_json(ws, message)
            payload["state"] = {"values": {}}
            token = ws.issue_response_url(
                user_id, channel.id, message_ts=message_ts, is_ephemeral=ephemeral is not None
            )
            payload["response_url"] = self.response_url(token)
        found_block_id, element = _find_element(blocks, action_id, block_id)
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": found_block_id,
            "type": element.get("type", "button"),
            "action_ts": ws.next_ts(),
        }
        if "text" in element:
            action["text"] = element["text"]
        if value is not None or "value" in element:
            action["value"] = value if value is not None else element["value"]
        if selected_option is not None:
            action["selected_option"] = selected_option
        payload["actions"] = [action]
        return await self._interaction(payload)

    async def view_submission(
        self, user_id: str, view_id: str, values: dict[str, dict[str, dict[str, Any]]]
    ) -> httpx.Response:
        """Submit an open modal with `values[block_id][action_id]`; Slack's handling of the answer is applied."""
        ws = self.workspace
        view = ws.get_view(view_id)
        if view.user != user_id:
            raise LookupError(f"view {view_id} is open for {view.user}, not {user_id}")
        input_ids = {b.get("block_id") for b in view.view.get("blocks", []) if b.get("type") == "input"}
        unknown = set(values) - input_ids
        if unknown:
            raise LookupError(f"no input blocks {sorted(unknown)} in view {view_id}")
        ws.set_view_state(view_id, values)
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": ws.app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": ws.issue_trigger(user_id),
            "view": view_json(ws, view),
            "response_urls": [],
            "enterprise": None,
            "is_enterprise_install": False,
        }
        response = await self._interaction(payload)
        if response.status_code == 200:
            answer = response.json() if response.content.strip() else None
            ws.apply_view_response(view_id, answer if isinstance(answer, dict) else None)
        return response

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> httpx.Response:
        """An Events API delivery; pass the same event_id with retry_num to replay a retry."""
        ws = self.workspace
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": ws.team_id,
            "context_team_id": ws.team_id,
            "context_enterprise_id": None,
            "api_app_id": ws.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(ws.now()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": ws.team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return await self.post(json.dumps(envelope), "application/json", headers)

    async def reaction_added(self, user_id: str, channel_id: str, ts: str, reaction: str = "pushpin") -> httpx.Response:
        """The user reacts in the workspace, then Slack tells the bot."""
        ws = self.workspace
        channel = ws.find_channel(channel_id)
        message = ws.add_reaction(channel.id, ts, reaction, actor=user_id)
        event = {
            "type": "reaction_added",
            "user": user_id,
            "reaction": reaction,
            "item_user": message.user,
            "item": {"type": "message", "channel": channel.id, "ts": ts},
            "event_ts": ws.next_ts(),
        }
        return await self.event(event)
