"""The sandbox as an ASGI app: Web API, response_url endpoint and control endpoints over one workspace."""

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.sandbox.control import create_control_router
from bot.sandbox.models import SlackError
from bot.sandbox.webapi import create_webapi_router
from bot.sandbox.workspace import Workspace

# Slack answers a dead response_url like a missing page
_GONE = frozenset({"expired_url", "used_url"})


def create_sandbox_app(workspace: Workspace, *, signing_secret: str, bot_url: str | None = None) -> FastAPI:
    """Everything is bound to `workspace`; `bot_url` lets `/_control/send/*` deliver to the bot."""
    app = FastAPI(title="Warroom Slack sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.workspace = workspace
    app.state.signing_secret = signing_secret
    app.state.bot_url = bot_url
    app.include_router(create_webapi_router(workspace))
    app.include_router(create_control_router(workspace, signing_secret=signing_secret, bot_url=bot_url))

    @app.post("/response/{token}", include_in_schema=False)
    async def response_url(token: str, request: Request) -> JSONResponse:
        started = workspace.now()
        raw = await request.body()
        body: dict[str, Any] = {}
        try:
            parsed = json.loads(raw) if raw else {}
            if not isinstance(parsed, dict):
                raise SlackError("invalid_payload")
            body = parsed
            workspace.respond(token, body)
        except ValueError:
            status, answer = 400, {"ok": False, "error": "invalid_payload"}
        except SlackError as exc:
            status, answer = (404 if exc.error in _GONE else 400), exc.body()
        else:
            status, answer = 200, {"ok": True}
        workspace.record_call("response_url", {"token": token[:6] + "...", **body}, status, answer, started)
        return JSONResponse(answer, status_code=status)

    return app
