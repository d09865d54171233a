"""Find the incident a command or click is about: the channel it came from, or a named number."""

import re

from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFound
from bot.incidents import service
from bot.incidents.models import Incident

_NUMBER = re.compile(r"^#?(\d{1,9})$")


async def target_incident(session: AsyncSession, channel_id: str | None, args: list[str]) -> tuple[Incident, list[str]]:
    """The incident of this channel (found by id, never by name), else `#12`/`12` as first argument.

    The channel wins: inside an incident channel `/incident sev 2` means severity 2, not incident #2.
    """
    if channel_id:
        incident = await service.find_by_channel(session, channel_id)
        if incident is not None:
            return incident, args
    if args and (match := _NUMBER.match(args[0])):
        return await service.get_by_number(session, int(match.group(1))), args[1:]
    raise NotFound("This is not an incident channel. Name the incident, e.g. `/incident status 12`.")
