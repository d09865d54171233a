"""The sandbox's Web API `/api/{method}`, parsed, authenticated, throttled and answered like Slack; upload URLs."""

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from bot.sandbox.api_methods import HANDLERS
from bot.sandbox.args import Args
from bot.sandbox.faults import Fault
from bot.sandbox.files import UPLOAD_MAX, UploadRefused
from bot.sandbox.models import SlackError
from bot.sandbox.workspace import Workspace
from bot.web.requests import read_limited

_SERVER_ERRORS = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}
# Faults planned for this name (or "*") also hit upload URLs, which are not Web API methods.
UPLOAD_METHOD = "upload_url"


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


def _base_url(request: Request) -> str:
    """Where this sandbox is served, mount path included: the request's URL up to `/api/`."""
    return str(request.url.replace(path=request.url.path.rpartition("/api/")[0], query=""))


async def call_method(ws: Workspace, method: str, request: Request) -> Response:
    """One Web API call, start to finish, recorded in the workspace's call log."""
    started = ws.now()
    args: dict[str, Any] = {}
    headers: dict[str, str] = {}
    try:
        args, token = await read_arguments(request)
        status, body, headers = await _answer(ws, method, args, token, base_url=_base_url(request))
    except SlackError as exc:
        status, body = 200, exc.body()
    ws.record_call(method, args, status, body, started)
    return JSONResponse(body, status_code=status, headers=headers)


async def _answer(
    ws: Workspace, method: str, args: dict[str, Any], token: str | None, *, base_url: str = ""
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
        return 200, {"ok": True, **handler(ws, Args(args, base_url=base_url))}, {}
    except SlackError as exc:
        return 200, exc.body(), {}


async def _upload_answer(ws: Workspace, token: str, request: Request) -> tuple[int, str, dict[str, Any]]:
    fault = ws.faults.take(UPLOAD_METHOD)
    if fault is not None:
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        if fault.status is not None:
            return fault.status, f"fault injected: HTTP {fault.status}", {}
        if fault.retry_after is not None:
            return 429, "ratelimited", {}
        if fault.error is not None:
            return 400, fault.error, {}
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        # Slack also takes a multipart form; slack_sdk sends the raw bytes, and so must callers of the sandbox
        return 400, "the sandbox takes the file as the raw request body, not as a multipart form", {}
    data = await read_limited(request, UPLOAD_MAX)
    if data is None:
        return 413, f"larger than the sandbox's {UPLOAD_MAX} byte limit", {}
    try:
        file = ws.receive_upload(token, data)
    except UploadRefused as refused:
        return refused.status, refused.reason, {}
    # "OK - <bytes>" in text/plain is what Slack's upload host answers and what slack_sdk reads
    return 200, f"OK - {len(data)}", {"file": file.id, "bytes": len(data)}


def create_webapi_router(workspace: Workspace) -> APIRouter:
    """`GET|POST /api/{method}` and `POST /upload/v1/{token}` bound to one workspace."""
    router = APIRouter()

    @router.api_route("/api/{method}", methods=["GET", "POST"], include_in_schema=False)
    async def web_api(method: str, request: Request) -> Response:
        return await call_method(workspace, method, request)

    @router.post("/upload/v1/{token}", include_in_schema=False)
    async def upload(token: str, request: Request) -> Response:
        started = workspace.now()
        status, text, logged = await _upload_answer(workspace, token, request)
        body: dict[str, Any] = {"ok": True} if status == 200 else {"ok": False, "error": text}
        # the token is the upload's only credential: the log keeps a prefix, never the bytes
        workspace.record_call(UPLOAD_METHOD, {"token": token[:6] + "...", **logged}, status, body, started)
        return PlainTextResponse(text, status_code=status)

    return router
