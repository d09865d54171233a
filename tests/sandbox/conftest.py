"""Fixtures for the sandbox tests: a frozen clock, a fresh workspace, and that workspace served over HTTP."""

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Workspace, create_sandbox_app, serve_app

from .support import SIGNING_SECRET, TOKEN, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def workspace(clock: FakeClock) -> Workspace:
    return Workspace(clock=clock)


@pytest.fixture
async def sandbox_url(workspace: Workspace) -> AsyncIterator[str]:
    async with serve_app(create_sandbox_app(workspace, signing_secret=SIGNING_SECRET)) as url:
        yield url


@pytest.fixture
def slack(sandbox_url: str) -> AsyncWebClient:
    """The client the bot uses, pointed at the sandbox."""
    return AsyncWebClient(token=TOKEN, base_url=sandbox_url + "/api/")
