"""Control endpoints under `/_control/`: call log, state, files, faults, rate limits, reset, sending to the bot."""

from dataclasses import asdict
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bot.sandbox.models import SlackError
from bot.sandbox.sender import SlackSender
from bot.sandbox.shapes import file_json, file_type
from bot.sandbox.workspace import Workspace


class FaultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str = "*"
    status: int | None = None
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    times: int | None = None


class RateLimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    speed: float | None = Field(default=None, gt=0)


SEND_KINDS = frozenset({"slash_command", "block_action", "view_submission", "event", "reaction_added"})


def _problem(status: int, error: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status_code=status)


def create_control_router(workspace: Workspace, *, signing_secret: str, bot_url: str | None) -> APIRouter:
    router = APIRouter(prefix="/_control", include_in_schema=False)

    @router.get("/calls")
    async def calls(
        method: str | None = None,
        error: str | None = None,
        status: int | None = None,
        ok: bool | None = None,
        since: float | None = None,
    ) -> dict[str, Any]:
        found = workspace.call_log(method=method, error=error, status=status, ok=ok, since=since)
        return {"ok": True, "calls": [asdict(c) for c in found]}

    @router.delete("/calls")
    async def clear_calls() -> dict[str, Any]:
        cleared = len(workspace.calls)
        workspace.calls.clear()
        return {"ok": True, "cleared": cleared}

    @router.get("/state")
    async def state() -> dict[str, Any]:
        return workspace.snapshot()

    @router.get("/files")
    async def files() -> dict[str, Any]:
        """Every shared file as files.info describes it (uploads not completed are left out, as in Slack)."""
        shared = [f for f in workspace.files.values() if f.completed]
        return {"ok": True, "files": [file_json(workspace, f) for f in shared]}

    @router.get("/files/{file_id}/content", response_model=None)
    async def file_content(file_id: str) -> Response:
        """The uploaded bytes, for tests that check what was sent (Slack's url_private needs a real login)."""
        file = workspace.files.get(file_id)
        if file is None or file.content is None:
            return _problem(404, "file_not_found")
        mimetype = file_type(file.name)[0]
        # Served from the bot's own origin in sandbox mode: text is shown as plain text, everything else
        # downloads, so an uploaded HTML or SVG file never runs as a page.
        media = "text/plain; charset=utf-8" if mimetype.startswith("text/") else "application/octet-stream"
        return Response(workspace.file_bytes(file_id), media_type=media, headers={"X-Content-Type-Options": "nosniff"})

    @router.get("/faults")
    async def faults() -> dict[str, Any]:
        return {"ok": True, "faults": [f.to_json() for f in workspace.faults.active()]}

    @router.post("/faults", response_model=None)
    async def add_fault(spec: FaultIn) -> dict[str, Any] | JSONResponse:
        try:
            fault = workspace.faults.add(**spec.model_dump())
        except ValueError as exc:
            return _problem(400, str(exc))
        return {"ok": True, "fault": fault.to_json()}

    @router.delete("/faults")
    async def clear_faults(method: str | None = None) -> dict[str, Any]:
        return {"ok": True, "cleared": workspace.faults.clear(method)}

    @router.get("/rate-limits")
    async def rate_limits() -> dict[str, Any]:
        return {"ok": True, "enabled": workspace.rate_limits.enabled, "speed": workspace.rate_limits.speed}

    @router.post("/rate-limits")
    async def set_rate_limits(change: RateLimitsIn) -> dict[str, Any]:
        if change.enabled is not None:
            workspace.rate_limits.enabled = change.enabled
        if change.speed is not None:
            workspace.rate_limits.speed = change.speed
        workspace.rate_limits.reset()
        return await rate_limits()

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        workspace.reset()
        return {"ok": True}

    @router.post("/send/{kind}", response_model=None)
    async def send(kind: str, request: Request) -> dict[str, Any] | JSONResponse:
        """Make the sandbox deliver something to the bot, for tests that drive it from another process."""
        if bot_url is None:
            return _problem(409, "no bot_url configured")
        if kind not in SEND_KINDS:
            return _problem(404, f"unknown kind {kind!r}; one of {sorted(SEND_KINDS)}")
        kwargs = await request.json()
        if not isinstance(kwargs, dict):
            return _problem(400, "body must be a JSON object of keyword arguments")
        sandbox_url = str(request.base_url).rstrip("/")
        async with SlackSender(bot_url, signing_secret, workspace, sandbox_url=sandbox_url) as sender:
            try:
                response = await getattr(sender, kind)(**kwargs)
            except TypeError as exc:
                return _problem(400, str(exc))
            except (LookupError, ValueError) as exc:
                return _problem(400, str(exc))
            except SlackError as exc:
                return _problem(400, exc.error)
            except httpx.HTTPError as exc:
                return _problem(502, f"bot unreachable: {exc!r}")
        return {"ok": True, "status": response.status_code, "body": response.text}

    return router
