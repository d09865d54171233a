"""Schedule members (emails or user ids) as Slack users: looked up once, remembered for an hour."""

import time
from collections.abc import Callable

import structlog

from bot.slack.escape import escape, is_user_id
from bot.slack.gateway import SlackFailure, SlackGateway, SlackRefused

log = structlog.get_logger(__name__)

REMEMBER_SECONDS = 3600.0  # people rarely change email; an hour bounds how long a fix takes to show
MAX_REMEMBERED = 5000


class MemberDirectory:
    def __init__(self, gateway: SlackGateway, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.gateway, self.clock = gateway, clock
        self._known: dict[str, tuple[float, str | None]] = {}

    async def user_id(self, member: str, *, strict: bool = True) -> str | None:
        """The user id of `member`; None when Slack has no such user.

        `strict=False` (for replies to people) also answers None when Slack cannot be asked
        right now, instead of raising: an email is a fine stand-in for a mention.
        """
        if is_user_id(member):
            return member
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

    async def mention(self, member: str | None) -> str:
        """`<@U…>` for a known user, else the escaped email; "nobody" for None."""
        if not member:
            return "nobody"
        user_id = await self.user_id(member, strict=False)
        return f"<@{user_id}>" if user_id else escape(member)
