"""Build the Bolt AsyncApp and its Web API client, and register every listener."""

from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.listeners import actions, commands, events, oncall, postmortem, steps, views
from bot.slack.listeners.boundary import SlackDeps

log = structlog.get_logger(__name__)


def make_client(token: str, base_url: str, timeout: float) -> AsyncWebClient:
    """One Web API client; its built-in retries are off because the outbox relay owns retries."""
    client = AsyncWebClient(token=token, base_url=base_url, timeout=int(max(1, timeout)))
    client.retry_handlers = []
    return client


def build_bolt(deps: SlackDeps, *, client: AsyncWebClient, signing_secret: str) -> AsyncApp:
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        # Acks return at once and listeners run after; nothing durable is left to post-ack work
        # except one short transaction (PLATFORM.md 2.3).
        process_before_response=False,
    )

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("bolt_listener_error", error=repr(error), type=body.get("type"))

    for module in (commands, actions, steps, views, events, oncall, postmortem):
        module.register(app, deps)
    return app
