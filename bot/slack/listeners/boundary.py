"""The error boundary for Slack input: one transaction, a reply, and an error id people can quote."""

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.grouping import Policy
from bot.config import Settings
from bot.db import Database
from bot.errors import WarroomError
from bot.oncall.directory import OncallDirectory
from bot.oncall.schema import Schedule
from bot.outbox import Op, enqueue
from bot.playbooks.registry import PlaybookRegistry
from bot.postmortems.setup import PostmortemSetup
from bot.slack.members import MemberDirectory

log = structlog.get_logger(__name__)

Work = Callable[[AsyncSession], Awaitable[str | None]]


@dataclass(frozen=True)
class SlackDeps:
    db: Database
    settings: Settings
    policy: Policy
    registry: PlaybookRegistry | None = None  # on-call schedules; None where a test needs none
    members: MemberDirectory | None = None  # shared with the relay, so lookups are cached once
    oncall: OncallDirectory | None = None  # who is on call, PagerDuty-aware; None: the files only
    postmortems: PostmortemSetup | None = None  # template folder, page links, the optional model

    def schedules(self) -> dict[str, Schedule]:
        return dict(self.registry.current.schedules) if self.registry is not None else {}


@dataclass(frozen=True)
class Requester:
    """Who asked, and where an answer goes (a response_url, else an ephemeral message)."""

    user: str
    channel: str | None
    response_url: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "Requester":
        user = body.get("user_id") or (body.get("user") or {}).get("id") or ""
        channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
        urls: list[dict[str, Any]] = body.get("response_urls") or []
        url = body.get("response_url") or (urls[0].get("response_url") if urls else None)
        return cls(user=str(user), channel=channel, response_url=url)


async def reply(session: AsyncSession, to: Requester, text: str) -> None:
    """Queue an ephemeral answer; its own ordering key keeps it out of any incident's queue."""
    payload = {
        "text": text,
        "response_type": "ephemeral",
        "replace_original": False,
        "response_url": to.response_url,
        "channel": to.channel,
        "user": to.user,
    }
    await enqueue(session, Op.RESPOND, payload=payload, ordering_key=f"respond:{to.user}")


async def answered(db: Database, to: Requester, produce: Callable[[], Awaitable[str | None]]) -> None:
    """Like `guarded`, for work that asks Slack or PagerDuty: it opens its own short sessions as it needs
    them, so no database connection is held while it waits on the network (SQLite has only one)."""

    text: str | None
    try:
        text = await produce()
    except WarroomError as error:
        text = str(error)
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        log.exception("slack_input_failed", error_id=error_id, user=to.user)
        text = f"Something went wrong on our side (error id `{error_id}`)."

    async def work(session: AsyncSession) -> str | None:
        return text

    await guarded(db, to, work)


async def guarded(db: Database, to: Requester, work: Work) -> None:
    """Run `work` in one transaction and reply with what it returns, or with what went wrong."""
    try:
        async with db.transaction() as session:
            text = await work(session)
            if text:
                await reply(session, to, text)
        return
    except WarroomError as error:
        text = str(error)
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        log.exception("slack_input_failed", error_id=error_id, user=to.user)
        text = f"Something went wrong on our side (error id `{error_id}`). Nothing was changed."
    async with db.transaction() as session:
        await reply(session, to, text)


async def open_modal(
    db: Database,
    client: AsyncWebClient,
    body: dict[str, Any],
    to: Requester,
    build: Callable[[], Awaitable[dict[str, Any]]],
    *,
    loading: dict[str, Any] | None = None,
) -> None:
    """views.open straight after the ack (the trigger_id dies 3 s after Slack sent it); a failure is told to `to`.

    With `loading`, that view opens first and the built one replaces it (views.update has no deadline).

    `build` may do one quick read; a WarroomError it raises (an unknown step, say) is the reply.
    """
    opened_id: str | None = None
    try:
        if loading is None:
            view = await build()
            await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
        else:
            # Open at once, then fill in: building may take longer than the trigger_id lives.
            opened = await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=loading)
            opened_id = str(opened["view"]["id"])
            view = await build()
            await client.views_update(view_id=opened_id, view=view)
    except Exception as error:
        if isinstance(error, WarroomError):
            message = str(error)
        elif isinstance(error, SlackApiError):
            message = "I could not open the form in time; try again."
        else:
            log.exception("modal_failed", user=to.user)
            message = "Something went wrong opening the form; nothing was changed."
        if opened_id is not None:  # do not leave a "Loading…" form open
            with contextlib.suppress(Exception):
                await client.views_update(view_id=opened_id, view=_notice(message))
        async with db.transaction() as session:
            await reply(session, to, message)


def _notice(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Warroom"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": text[:3000]}}],
    }
