"""Events API: 📌 reactions put messages on the timeline; retried events are dropped by event id."""

from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import insert_ignore
from bot.incidents import service
from bot.outbox import Op, enqueue
from bot.slack.listeners.boundary import SlackDeps
from bot.slack.models import SlackEventSeen

log = structlog.get_logger(__name__)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.middleware
    async def drop_retried_events(body: dict[str, Any], next: Any) -> BoltResponse | None:
        """Slack retries while the first attempt may still run (PROTOCOLS.md 1.4): unique insert."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not event_id:
            return await next()  # type: ignore[no-any-return]
        async with deps.db.transaction() as session:
            values = {"team_id": str(body.get("team_id") or ""), "event_id": str(event_id)}
            first = await insert_ignore(session, SlackEventSeen, values, conflict=["team_id", "event_id"])
        if first is None:
            log.info("slack_event_duplicate", event_id=event_id)
            return BoltResponse(status=200, body="")
        return await next()  # type: ignore[no-any-return]

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if event.get("reaction") != "pushpin" or item.get("type") != "message":
            return
        channel, ts = str(item.get("channel") or ""), str(item.get("ts") or "")
        if not channel or not ts:
            return
        async with deps.db.transaction() as session:
            await _queue_pin(session, channel, ts, str(event.get("user") or ""))

    @app.event("reaction_removed")
    async def on_reaction_removed() -> None:
        """Unpinning leaves the timeline as it is: the record of what was seen stays."""


async def _queue_pin(session: AsyncSession, channel: str, ts: str, user: str) -> None:
    incident = await service.find_by_channel(session, channel)
    if incident is None or incident.id is None:
        return
    # Reading the message is Slack work too, so it goes through the outbox and survives a crash.
    await enqueue(session, Op.FETCH_PIN, incident_id=incident.id, payload={"channel": channel, "ts": ts, "user": user})
