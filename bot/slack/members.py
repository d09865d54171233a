"""Schedule members (emails or user ids) as Slack users: looked up once, remembered for an hour."""

import re
import time
from collections.abc import Callable

import structlog

from bot.slack.escape import escape, is_user_id
from bot.slack.gateway import SlackFailure, SlackGateway, SlackRefused

log = structlog.get_logger(__name__)

REMEMBER_SECONDS = 3600.0  # people rarely change email; an hour bounds how long a fix takes to show
MAX_REMEMBERED = 5000
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
MAX_PAGES = 50  # users.list pages of 200: workspaces of up to 10,000 people


class MemberDirectory:
    def __init__(self, gateway: SlackGateway, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.gateway, self.clock = gateway, clock
        self._known: dict[str, tuple[float, str | None]] = {}
        self._handles: tuple[float, dict[str, str]] | None = None

    async def user_id(self, member: str, *, strict: bool = True) -> str | None:
        """The user id of `member`; None when Slack has no such user.

        `strict=False` (for replies to people) also answers None when Slack cannot be asked
        right now, instead of raising: an email is a fine stand-in for a mention.
        """
        if is_user_id(member):
            return member
        if member.startswith("@"):
            return await self._by_handle(member[1:], strict=strict)
        if not _EMAIL.fullmatch(member):
            return None  # a name (a PagerDuty user without an email, say): nothing Slack can look up
        known = self._known.get(member)
        if known is not None and self.clock() - known[0] < REMEMBER_SECONDS:
            return known[1]
        try:
            data = await self.gateway.call("users.lookupByEmail", email=member)
            found: str | None = str(data["user"]["id"])
        except SlackRefused as error:
            if error.error != "users_not_found":
                if strict:
                    raise
                return None
            found = None
        except SlackFailure:
            if strict:
                raise
            log.warning("member_lookup_failed", member=member)
            return None
        if len(self._known) >= MAX_REMEMBERED:
            self._known.clear()
        self._known[member] = (self.clock(), found)
        return found

    async def _by_handle(self, handle: str, *, strict: bool) -> str | None:
        """`@bob` as typed in a note: the workspace's users by name, listed once an hour."""
        if self._handles is None or self.clock() - self._handles[0] >= REMEMBER_SECONDS:
            names: dict[str, str] = {}
            cursor = ""
            try:
                for _ in range(MAX_PAGES):
                    page = await self.gateway.call("users.list", limit=200, cursor=cursor or None)
                    for user in page.get("members", []):
                        if not user.get("deleted") and user.get("name"):
                            names[str(user["name"]).lower()] = str(user["id"])
                    cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
                    if not cursor:
                        break
            except SlackFailure:
                if strict:
                    raise
                log.warning("member_list_failed")
                return None
            self._handles = (self.clock(), names)
        return self._handles[1].get(handle.lower())

    async def mention(self, member: str | None) -> str:
        """`<@U…>` for a known user, else the escaped email; "nobody" for None."""
        if not member:
            return "nobody"
        user_id = await self.user_id(member, strict=False)
        return f"<@{user_id}>" if user_id else escape(member)
