"""The browser workspace at `/sandbox`: the page, a polling endpoint, and what a click or a typed command sends."""

import json
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from bot.config import Settings
from bot.sandbox.models import SlackError
from bot.sandbox.sender import SlackSender
from bot.sandbox.ui.blockkit import find_option, input_values
from bot.sandbox.ui.samples import SOURCES, STATUSES, SampleSender
from bot.sandbox.ui.views import PageViews, humans, templates
from bot.sandbox.workspace import Workspace

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
COMMANDS = ("/incident", "/oncall")
POLL_MILLISECONDS = 1000


class Acting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(max_length=40)


class CommandIn(Acting):
    channel: str = Field(max_length=40)
    text: str = Field(max_length=4000)


class ActionIn(Acting):
    action_id: str = Field(max_length=255)
    block_id: str | None = Field(default=None, max_length=255)
    channel: str | None = Field(default=None, max_length=40)
    ts: str | None = Field(default=None, max_length=40)
    view_id: str | None = Field(default=None, max_length=40)
    selected: str | None = Field(default=None, max_length=255)  # a select's chosen value, a picker's date


class SubmitIn(Acting):
    view_id: str = Field(max_length=40)
    # block_id -> action_id -> what the form control holds
    fields: dict[str, dict[str, str | None]] = Field(default_factory=dict)


class CloseIn(Acting):
    view_id: str = Field(max_length=40)


class ReactIn(Acting):
    channel: str = Field(max_length=40)
    ts: str = Field(max_length=40)
    reaction: str = Field(default="pushpin", max_length=100)


class DismissIn(Acting):
    ts: str = Field(max_length=40)


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    status: str


def _problem(status: int, error: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status_code=status)


def _slack_escape(text: str) -> str:
    """What a Slack client does to typed text before sending it: only &, < and > are escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SandboxUI:
    """One workspace's browser UI; clicks and commands reach the bot at `bot_url` through SlackSender."""

    def __init__(self, workspace: Workspace, *, settings: Settings, signing_secret: str, bot_url: str) -> None:
        self.workspace = workspace
        self.settings = settings
        self.signing_secret = signing_secret
        self.bot_url = bot_url.rstrip("/")
        # response_urls must be reachable by the bot: the sandbox is mounted on the bot's own server
        self.sandbox_url = f"{self.bot_url}/sandbox"
        incident_prefix = settings.incident_channel_template.split("{", 1)[0]
        self.views = PageViews(workspace, incident_prefix=incident_prefix or "inc-")
        self.samples = SampleSender(settings, self.bot_url)
        self.version = 0
        workspace.add_listener(self._bump)

    def _bump(self) -> None:
        self.version += 1

    def sender(self) -> SlackSender:
        return SlackSender(self.bot_url, self.signing_secret, self.workspace, sandbox_url=self.sandbox_url)

    # -- the page ------------------------------------------------------------------------

    async def page(self, user: str | None = None, channel: str | None = None) -> HTMLResponse:
        who = self.views.pick_user(user)
        where = self.views.pick_channel(channel, who)
        fragments = self.views.fragments(who, where)
        html = templates.get_template("sandbox.html").render(
            user=who,
            channel_id=where,
            people=[(uid, name, self.workspace.users[uid].tz) for uid, name in humans(self.workspace)],
            version=self.version,
            poll_ms=POLL_MILLISECONDS,
            sources=SOURCES,
            statuses=STATUSES,
            fragments=fragments,
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    def attach(self, app: FastAPI, sandbox: FastAPI) -> None:
        """`/sandbox` on the bot's app; everything else under the mounted sandbox app at `/sandbox/ui/`."""
        # The URL printed at start is `/sandbox`; answer it directly rather than redirecting to `/sandbox/`.
        app.add_api_route("/sandbox", self.page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
        sandbox.add_api_route("/", self.page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
        sandbox.include_router(self.router())
        sandbox.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="sandbox-ui-static")

    # -- endpoints -----------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/ui", include_in_schema=False)

        @router.get("/poll")
        async def poll(user: str | None = None, channel: str | None = None, version: int = -1) -> dict[str, Any]:
            """Fragments for this user and channel, or only the version when nothing changed since `version`."""
            current = self.version
            if version == current:
                return {"version": current}
            who = self.views.pick_user(user)
            where = self.views.pick_channel(channel, who)
            return {"version": current, "user": who, "channel": where, **self.views.fragments(who, where)}

        @router.post("/command", response_model=None)
        async def command(sent: CommandIn) -> dict[str, Any] | JSONResponse:
            """A slash command typed into the message box, or a plain message posted as the user."""
            text = sent.text.strip()
            if not text:
                return _problem(400, "empty message")
            try:
                self.workspace.get_user(sent.user)
                channel = self.workspace.find_channel(sent.channel)
                if not text.startswith("/"):
                    if sent.user not in channel.members and not channel.is_private:
                        self.workspace.join(channel.id, actor=sent.user)  # Slack joins you when you post
                    message = self.workspace.post_message(channel.id, text=_slack_escape(text), actor=sent.user)
                    return {"ok": True, "ts": message.ts}
                name, _, rest = text.partition(" ")
                if name not in COMMANDS:
                    note = f"{name} is not a valid command. This sandbox knows {' and '.join(COMMANDS)}."
                    self.workspace.post_ephemeral(channel.id, sent.user, text=_slack_escape(note), source="slackbot")
                    return _problem(400, note)
                async with self.sender() as sender:
                    response = await sender.slash_command(sent.user, channel.id, name, rest.strip())
            except SlackError as exc:
                return _problem(400, exc.error)
            except httpx.HTTPError as exc:
                return _problem(502, f"Warroom did not answer: {exc!r}")
            return self._after_command(sent, channel.id, name, response)

        @router.post("/action", response_model=None)
        async def action(sent: ActionIn) -> dict[str, Any] | JSONResponse:
            """A button press or select change: block_actions, exactly as Slack sends it."""
            try:
                selected_option = self._selected_option(sent)
                async with self.sender() as sender:
                    response = await sender.block_action(
                        sent.user,
                        sent.channel,
                        sent.ts,
                        sent.action_id,
                        block_id=sent.block_id,
                        selected_option=selected_option,
                        view_id=sent.view_id,
                    )
            except SlackError as exc:
                return _problem(400, exc.error)
            except (LookupError, ValueError) as exc:
                return _problem(400, str(exc))
            except httpx.HTTPError as exc:
                return _problem(502, f"Warroom did not answer: {exc!r}")
            if response.status_code != 200:
                return _problem(502, f"Warroom answered {response.status_code}")
            return {"ok": True}

        @router.post("/submit", response_model=None)
        async def submit(sent: SubmitIn) -> dict[str, Any] | JSONResponse:
            """The modal's submit button: view_submission; `response_action: errors` stays open with messages."""
            try:
                view = self.workspace.get_view(sent.view_id)
                if view.user != sent.user:
                    return _problem(403, f"this modal is open for {view.user}, not {sent.user}")
                values = input_values(view.view, sent.fields)
                async with self.sender() as sender:
                    response = await sender.view_submission(sent.user, sent.view_id, values)
            except SlackError as exc:
                return _problem(400, exc.error)
            except LookupError as exc:
                return _problem(400, str(exc))
            except httpx.HTTPError as exc:
                return _problem(502, f"Warroom did not answer: {exc!r}")
            if response.status_code != 200:
                return _problem(502, f"Warroom answered {response.status_code}")
            still_open = self.workspace.views.get(sent.view_id)
            return {"ok": True, "errors": still_open.errors if still_open is not None else {}}

        @router.post("/close", response_model=None)
        async def close(sent: CloseIn) -> dict[str, Any] | JSONResponse:
            """Cancel or Esc: Slack closes the modal (Warroom asks for no view_closed, so none is sent)."""
            view = self.workspace.views.get(sent.view_id)
            if view is None:
                return {"ok": True}
            if view.user != sent.user:
                return _problem(403, f"this modal is open for {view.user}, not {sent.user}")
            self.workspace.close_view(sent.view_id)
            return {"ok": True}

        @router.post("/react", response_model=None)
        async def react(sent: ReactIn) -> dict[str, Any] | JSONResponse:
            """📌 toggles, as in Slack: reactions.add plus reaction_added, or the removal and reaction_removed."""
            try:
                channel = self.workspace.find_channel(sent.channel)
                message = self.workspace.get_message(channel.id, sent.ts)
                async with self.sender() as sender:
                    if sent.user in message.reactions.get(sent.reaction, []):
                        self.workspace.remove_reaction(channel.id, sent.ts, sent.reaction, actor=sent.user)
                        event = {
                            "type": "reaction_removed",
                            "user": sent.user,
                            "reaction": sent.reaction,
                            "item_user": message.user,
                            "item": {"type": "message", "channel": channel.id, "ts": sent.ts},
                            "event_ts": self.workspace.next_ts(),
                        }
                        response = await sender.event(event)
                    else:
                        response = await sender.reaction_added(sent.user, channel.id, sent.ts, sent.reaction)
            except SlackError as exc:
                return _problem(400, exc.error)
            except httpx.HTTPError as exc:
                return _problem(502, f"Warroom did not answer: {exc!r}")
            return {"ok": response.status_code == 200, "status": response.status_code}

        @router.post("/dismiss")
        async def dismiss(sent: DismissIn) -> dict[str, Any]:
            """The "Dismiss" link under an ephemeral message: it goes away for this user only."""
            before = len(self.workspace.ephemerals)
            self.workspace.ephemerals = [
                e for e in self.workspace.ephemerals if not (e.user == sent.user and e.ts == sent.ts)
            ]
            if len(self.workspace.ephemerals) != before:
                self.workspace.changed()
            return {"ok": True}

        @router.post("/alert", response_model=None)
        async def alert(sent: AlertIn) -> dict[str, Any] | JSONResponse:
            """Send a sample delivery to Warroom's real webhook endpoint, signed as its sender signs it."""
            if sent.source not in SOURCES or sent.status not in STATUSES:
                return _problem(404, f"no sample for {sent.source!r} {sent.status!r}")
            try:
                async with httpx.AsyncClient(timeout=10.0) as http:
                    response = await self.samples.send(http, sent.source, sent.status)
            except httpx.HTTPError as exc:
                return _problem(502, f"Warroom did not answer: {exc!r}")
            log.info("sandbox_sample_alert", source=sent.source, status=sent.status, answer=response.status_code)
            return {
                "ok": response.status_code == 202,
                "status": response.status_code,
                "body": response.text[:500],
                "source": SOURCES[sent.source],
            }

        return router

    # -- helpers -------------------------------------------------------------------------

    def _selected_option(self, sent: ActionIn) -> dict[str, Any] | None:
        """The option object a static select's chosen value stands for, as Slack puts it in the payload."""
        if sent.selected is None:
            return None
        blocks: list[dict[str, Any]]
        if sent.view_id is not None:
            blocks = list(self.workspace.get_view(sent.view_id).view.get("blocks") or [])
        else:
            if sent.channel is None or sent.ts is None:
                raise ValueError("a message action needs channel and ts")
            ephemeral = self.workspace.find_ephemeral(sent.user, sent.ts)
            found = ephemeral or self.workspace.get_message(self.workspace.find_channel(sent.channel).id, sent.ts)
            blocks = found.blocks
        for block in blocks:
            if sent.block_id is not None and block.get("block_id") != sent.block_id:
                continue
            for element in [*(block.get("elements") or []), block.get("accessory")]:
                if not isinstance(element, dict) or element.get("action_id") != sent.action_id:
                    continue
                if element.get("type") not in ("static_select", "overflow"):
                    # SlackSender builds selected_option payloads only; a users_select would need selected_user.
                    raise ValueError(f"the sandbox cannot send a {element.get('type')} change yet")
                option = find_option(element, sent.selected)
                if option is None:
                    raise LookupError(f"no option {sent.selected!r} in {sent.action_id}")
                return option
        raise LookupError(f"no element with action_id {sent.action_id!r}")

    def _after_command(
        self, sent: CommandIn, channel_id: str, name: str, response: httpx.Response
    ) -> dict[str, Any] | JSONResponse:
        """Slack shows a failed command to its sender only, and an acknowledgement's text as an ephemeral."""
        if response.status_code != 200:
            note = f"{name} failed with the error \u201cdispatch_failed\u201d (Warroom answered {response.status_code})"
            self.workspace.post_ephemeral(channel_id, sent.user, text=_slack_escape(note), source="slackbot")
            return _problem(502, note)
        body = response.text.strip()
        if body:
            try:
                answer = json.loads(body)
            except ValueError:
                answer = {"text": body}
            if isinstance(answer, dict) and (answer.get("text") or answer.get("blocks")):
                self.workspace.post_ephemeral(
                    channel_id, sent.user, text=answer.get("text"), blocks=answer.get("blocks"), source="ack"
                )
        return {"ok": True, "status": response.status_code}
