"""Sandbox mode: the offline workspace mounted at `/sandbox` on Warroom's own server."""

import html
from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from bot.config import Settings
from bot.sandbox.app import create_sandbox_app
from bot.sandbox.workspace import Workspace

log = structlog.get_logger(__name__)

MESSAGES_SHOWN = 20


def sandbox_state_path(settings: Settings) -> Path:
    """SANDBOX_STATE_FILE, else ./warroom-sandbox.json beside the default ./warroom.db."""
    if settings.sandbox_state_file:
        return Path(settings.sandbox_state_file)
    return Path("warroom-sandbox.json")


def mount_sandbox(app: FastAPI, *, settings: Settings, signing_secret: str) -> Workspace:
    workspace = Workspace.open(sandbox_state_path(settings))
    sandbox = create_sandbox_app(workspace, signing_secret=signing_secret, bot_url=f"http://127.0.0.1:{settings.port}")

    async def overview() -> str:
        return _overview(workspace, settings)

    # The URL printed at start is `/sandbox`; answer it directly rather than redirecting to `/sandbox/`.
    app.add_api_route("/sandbox", overview, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    sandbox.add_api_route("/", overview, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    app.mount("/sandbox", sandbox)
    app.state.sandbox = workspace
    log.info("sandbox_mounted", state_file=str(workspace.state_path))
    return workspace


def _overview(workspace: Workspace, settings: Settings) -> str:
    """A read-only look at the offline workspace; the interactive browser workspace is issue 6."""
    token = settings.alert_webhook_token.get_secret_value() if settings.alert_webhook_token else ""
    base = f"http://127.0.0.1:{settings.port}"
    sections = []
    for channel in sorted(workspace.channels.values(), key=lambda c: c.created):
        messages = [m for m in workspace.messages.get(channel.id, []) if not m.subtype][-MESSAGES_SHOWN:]
        items = "".join(
            f"<li><b>{html.escape(m.user or m.bot_id or '')}</b> {html.escape(m.text)}"
            f"{' <i>(edited)</i>' if m.edited else ''}</li>"
            for m in messages
        )
        topic = f" — {html.escape(channel.topic)}" if channel.topic else ""
        sections.append(f"<h2>#{html.escape(channel.name)}{topic}</h2><ul>{items or '<li>(no messages)</li>'}</ul>")
    curl = (
        f"curl -X POST {base}/webhooks/generic -H 'Authorization: Bearer {html.escape(token)}' "
        "-H 'Content-Type: application/json' "
        '-d \'{"title": "Checkout error rate above 5%", "dedup_key": "checkout-5xx", "severity": 2}\''
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Warroom sandbox (not Slack)</title>
<meta http-equiv="refresh" content="5"></head>
<body style="font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 1.4">
<h1>Warroom sandbox — a local, offline stand-in for Slack</h1>
<p>This is not Slack. Warroom is talking to a fake workspace inside this process. Send it an alert:</p>
<pre style="white-space: pre-wrap; background: #f4f4f4; padding: 1rem">{curl}</pre>
<p>Then watch the incident channel appear below (this page refreshes every 5 seconds). Drive it like Slack
through <code>POST /sandbox/_control/send/slash_command</code> with
<code>{{"user_id": "U0ALICE", "channel_id": "&lt;channel id&gt;", "command": "/incident", "text": "ack"}}</code>;
the whole workspace is at <a href="/sandbox/_control/state">/sandbox/_control/state</a>. The clickable browser
workspace arrives with the sandbox UI.</p>
{"".join(sections)}
</body></html>"""
