"""Sandbox mode: the offline workspace mounted at `/sandbox` on Warroom's own server, with its browser UI."""

from pathlib import Path

import structlog
from fastapi import FastAPI

from bot.config import Settings
from bot.sandbox.app import create_sandbox_app
from bot.sandbox.ui import SandboxUI
from bot.sandbox.workspace import Workspace

log = structlog.get_logger(__name__)


def sandbox_state_path(settings: Settings) -> Path:
    """SANDBOX_STATE_FILE, else ./warroom-sandbox.json beside the default ./warroom.db."""
    if settings.sandbox_state_file:
        return Path(settings.sandbox_state_file)
    return Path("warroom-sandbox.json")


def mount_sandbox(app: FastAPI, *, settings: Settings, signing_secret: str) -> Workspace:
    workspace = Workspace.open(sandbox_state_path(settings))
    bot_url = f"http://127.0.0.1:{settings.port}"
    sandbox = create_sandbox_app(workspace, signing_secret=signing_secret, bot_url=bot_url)
    ui = SandboxUI(workspace, settings=settings, signing_secret=signing_secret, bot_url=bot_url)
    ui.attach(app, sandbox)
    app.mount("/sandbox", sandbox)
    app.state.sandbox = workspace
    app.state.sandbox_ui = ui
    log.info("sandbox_mounted", state_file=str(workspace.state_path))
    return workspace
