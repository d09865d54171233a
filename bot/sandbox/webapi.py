"""The sandbox's Web API endpoint: `/api/{method}` parsed, authenticated, throttled and answered like Slack."""

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bot.sandbox.api_methods import HANDLERS
from bot.sandbox.args import Args
from bot.sandbox.faults import Fault
from bot.sandbox.models import SlackError
from bot.sandbox.workspace import Workspace

_SERVER_ERRORS = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}


def supported_methods() -> list[str]:
    return sorted(HANDLERS)


async def read_arguments(request: Request) -> tuple[dict[str, Any], str | None]:
    """Merge query, form or JSON arguments (slack_sdk sends all three) and pick out the token."""
    args: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if raw:
        if content_type == "application/json":
            try:
                data = json.loads(raw)
            except ValueError:
                raise SlackError("invalid_json") from None
            if not isinstance(data, dict):
                raise SlackError("invalid_json")
            args.update(data)
        elif content_type in ("application/x-www-form-urlencoded", ""):
            args.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            raise SlackError("invalid_form_data")
    token: str | None = None
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip() or None
    form_token = args.pop("token", None)
    if token is None and isinstance(form_token, str) and form_token:
        token = form_token
    return args, token


def _fault_answer(fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]] | None:
    if fault.status is not None:
        error = _SERVER_ERRORS.get(fault.status, "fault_injected")
        return fault.status, {"ok": False, "error": error}, {}
    if fault.error is not None:
        return 200, {"ok": False, "error": fault.error}, {}
    if fault.retry_after is not None:
        return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(fault.retry_after)}
    return None


def _rate_key_channel(ws: Workspace, method: str, args: dict[str, Any]) -> str | None:
    if method != "chat.postMessage":
        return None
    ref = args.get("channel")
    if not isinstance(ref, str) or not ref:
        return None
    try:
        return ws.find_channel(ref).id
    except SlackError:
        return ref


async def call_method(ws: Workspace, method: str, request: Request) -> Response:
    """One Web API call, start to finish, recorded in the workspace's call log."""
    started = ws.now()
    args: dict[str, Any] = {}
    headers: dict[str, str] = {}
    try:
        args, token = await read_arguments(request)
        status, body, headers = await _answer(ws, method, args, token)
    except SlackError as exc:
        status, body = 200, exc.body()
    ws.record_call(method, args, status, body, started)
    return JSONResponse(body, status_code=status, headers=headers)


async def _answer(
    ws: Workspace, method: str, args: dict[str, Any], token: str | None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    handler = HANDLERS.get(method)
    if handler is None:
        return 404, {"ok": False, "error": "unknown_method", "req_method": method}, {}
    fault = ws.faults.take(method)
    if fault is not None:
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        injected = _fault_answer(fault)
        if injected is not None:
            return injected
    if token is None:
        return 200, {"ok": False, "error": "not_authed"}, {}
    if token != ws.bot_token:
        return 200, {"ok": False, "error": "invalid_auth"}, {}
    retry_after = ws.rate_limits.acquire(token, method, _rate_key_channel(ws, method, args))
    if retry_after is not None:
        return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
    try:
        return 200, {"ok": True, **handler(ws, Args(args))}, {}
    except SlackError as exc:
        return 200, exc.body(), {}


def create_webapi_router(workspace: Workspace) -> APIRouter:
    """`GET|POST /api/{method}` bound to one workspace."""
    router = APIRouter()

    @router.api_route("/api/{method}", methods=["GET", "POST"], include_in_schema=False)
    async def web_api(method: str, request: Request) -> Response:
        return await call_method(workspace, method, request)

    return router
