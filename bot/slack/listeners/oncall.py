"""`/oncall` (who, override, handoff, help) and the handoff note button and modal."""

import re
from datetime import datetime
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlmodel import col

from bot.columns import utcnow
from bot.errors import InvalidInput
from bot.oncall import handoffs, service
from bot.oncall.directory import OncallDirectory
from bot.oncall.rotation import OnCall
from bot.oncall.schema import Schedule
from bot.oncall.tables import HandoffNote, OncallOverride
from bot.oncall.windows import parse_window
from bot.slack.blocks.handoff import NOTE_BLOCK, NOTE_BUTTON, NOTE_INPUT, NOTE_MODAL, note_modal
from bot.slack.escape import escape
from bot.slack.gateway import SlackGateway
from bot.slack.listeners.boundary import Requester, SlackDeps, answered, open_modal
from bot.slack.members import MemberDirectory

log = structlog.get_logger(__name__)

HELP = """*`/oncall`* — who is on call
• `/oncall` — who is on call now and next, for every schedule
• `/oncall override @user 4h [schedule]` — `@user` covers from now for 4h (`90m`, `2d`, `1d12h`)
• `/oncall override @user 2026-12-24 2026-12-26 [schedule]` — or a start and an end in the schedule's zone
• `/oncall override list [schedule]` — overrides now and to come; `/oncall override cancel <id>`
• `/oncall handoff [schedule]` — post a handoff report of the shift so far, now
Without a schedule id, the schedule whose channel this is is meant (or the only one)."""

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def _when(at: datetime | None, schedule: Schedule) -> str:
    if at is None:
        return "further notice"
    return at.astimezone(schedule.zone).strftime("%a %d %b %H:%M")


def pick_schedule(
    schedules: dict[str, Schedule], args: list[str], channel_id: str | None, channel_name: str
) -> Schedule:
    """The schedule named in `args` (removed from them), else this channel's, else the only one."""
    for position, arg in enumerate(args):
        if arg in schedules:
            del args[position]
            return schedules[arg]
    if not schedules:
        raise InvalidInput("No on-call schedules are loaded. Add one under PLAYBOOKS_DIR/oncall/ (see docs/oncall.md).")
    here = [s for s in schedules.values() if s.channel in {channel_id, f"#{channel_name}"}]
    if len(here) == 1:
        return here[0]
    if len(schedules) == 1:
        return next(iter(schedules.values()))
    known = ", ".join(f"`{key}`" for key in sorted(schedules))
    raise InvalidInput(f"Which schedule? Name one of {known}.")


class OncallCommands:
    """Each command opens short sessions of its own: none is held while Slack or PagerDuty is asked."""

    def __init__(self, deps: SlackDeps, members: MemberDirectory, directory: OncallDirectory) -> None:
        self.deps, self.members, self.directory = deps, members, directory

    async def who(self, schedules: list[Schedule]) -> str:
        now = utcnow()
        lines = []
        for schedule in schedules:
            answer = await self.directory.rota(self.deps.db.session, schedule, now)
            current, following = answer.rota.now, answer.rota.next
            line = f"*{escape(schedule.title)}* · now {await self._person(current)}"
            if current.member is not None:
                line += f" until {_when(current.end, schedule)}"
            if following is not None:
                line += f" · next {await self._person(following)} from {_when(following.start, schedule)}"
            line += f" ({escape(schedule.timezone)})"
            if answer.source == "pagerduty":
                line += " · from PagerDuty"
            if answer.warning:
                line += f"\n> :warning: {escape(answer.warning)}"
            lines.append(line)
        return "\n".join(lines) or "No on-call schedules are loaded (see docs/oncall.md)."

    async def _person(self, on_call: OnCall) -> str:
        if on_call.member is None:
            return "nobody"
        text = await self.members.mention(on_call.member)
        return f"{text} (override)" if on_call.override else text

    async def handoff(self, schedule: Schedule, by: str) -> str:
        now = utcnow()
        answer = await self.directory.rota(self.deps.db.session, schedule, now)
        async with self.deps.db.transaction() as session:
            await handoffs.post_now(session, schedule, answer.rota, now=now, by=by)
        return f"Posting a handoff report for *{escape(schedule.title)}* to {escape(schedule.channel)}."

    async def override(self, who: Requester, args: list[str], channel_name: str) -> str:
        schedules = self.deps.schedules()
        if args and args[0] in {"list", "cancel"}:
            action, rest = args[0], args[1:]
            if action == "cancel":
                if len(rest) != 1 or not rest[0].isdigit():
                    raise InvalidInput(
                        "Say which override: `/oncall override cancel <id>` (ids are in `override list`)."
                    )
                async with self.deps.db.transaction() as session:
                    cancelled = await service.cancel_override(session, int(rest[0]))
                if not cancelled:
                    raise InvalidInput(f"There is no live override {rest[0]}.")
                return f"Override {rest[0]} cancelled."
            return await self._list(pick_schedule(schedules, rest, who.channel, channel_name))
        schedule = pick_schedule(schedules, args, who.channel, channel_name)
        if not args:
            raise InvalidInput("Who covers? `/oncall override @user 4h`.")
        member = await self._as_member(schedule, _member(args[0]))
        start, end = parse_window(args[1:], schedule.zone, utcnow())
        async with self.deps.db.transaction() as session:
            row = await service.add_override(session, schedule, member, start, end, by=who.user)
        return (
            f"Override {row.id}: {await self.members.mention(member)} is on call for *{escape(schedule.title)}* "
            f"from {_when(row.starts_at, schedule)} to {_when(row.ends_at, schedule)} ({escape(schedule.timezone)})."
        )

    async def _as_member(self, schedule: Schedule, person: str) -> str:
        """A mentioned user as the schedule names them (by email), so the same person is never two people."""
        if "@" in person:
            return person
        for layer in schedule.all_layers:
            for member in layer.members:
                if member == person or await self.members.user_id(member, strict=False) == person:
                    return member
        return person  # not in the rotation: an outsider covers, named by their user id

    async def _list(self, schedule: Schedule) -> str:
        stmt = (
            select(OncallOverride)
            .where(
                col(OncallOverride.schedule_id) == schedule.id,
                col(OncallOverride.cancelled_at).is_(None),
                col(OncallOverride.ends_at) > utcnow(),
            )
            .order_by(col(OncallOverride.starts_at))
            .limit(30)
        )
        async with self.deps.db.session() as session:
            rows = list((await session.execute(stmt)).scalars())
        if not rows:
            return f"No overrides now or to come for *{escape(schedule.title)}*."
        lines = [
            f"• `{r.id}` {await self.members.mention(r.member)} {_when(r.starts_at, schedule)} to "
            f"{_when(r.ends_at, schedule)}, set by {await self.members.mention(r.created_by)}"
            for r in rows
        ]
        return f"*Overrides for {escape(schedule.title)}* ({escape(schedule.timezone)})\n" + "\n".join(lines)


def _member(token: str) -> str:
    """A mention as Slack sends it with escaping on (`<@U123|bob>`), a user id, or an email."""
    found = _USER.fullmatch(token)
    if found:
        return found.group(1)
    cleaned = token.removeprefix("<mailto:").split("|")[0].rstrip(">")
    if re.fullmatch(r"[UW][A-Z0-9]{2,20}", cleaned) or re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", cleaned):
        return cleaned.lower() if "@" in cleaned else cleaned
    raise InvalidInput(f"I cannot tell who {escape(token)} is: mention them (`@bob`) or give their email.")


def register(app: AsyncApp, deps: SlackDeps) -> None:
    members = deps.members or MemberDirectory(SlackGateway(app.client))
    commands = OncallCommands(deps, members, deps.oncall or OncallDirectory(None))

    @app.command("/oncall")
    async def oncall_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()  # within Slack's 3 s; lookups and the database come after
        text = str(body.get("text") or "").strip()
        sub, _, rest = text.partition(" ")
        sub = sub.lower()
        args = rest.split()
        who = Requester.from_body(body)
        channel_name = str(body.get("channel_name") or "")
        schedules = deps.schedules()

        async def produce() -> str:
            if sub in {"", "who", "now"}:
                named = [schedules[a] for a in args if a in schedules]
                unknown = [a for a in args if a not in schedules]
                if unknown:
                    known = ", ".join(f"`{k}`" for k in sorted(schedules)) or "none"
                    raise InvalidInput(f"There is no schedule `{escape(unknown[0])}`. Schedules: {known}.")
                return await commands.who(named or [schedules[k] for k in sorted(schedules)])
            if sub == "override":
                return await commands.override(who, args, channel_name)
            if sub == "handoff":
                return await commands.handoff(pick_schedule(schedules, args, who.channel, channel_name), who.user)
            if sub == "help":
                return HELP
            raise InvalidInput("I don't know that sub-command. `/oncall help` lists them.")

        await answered(deps.db, who, produce)

    @app.action(NOTE_BUTTON)
    async def on_note_button(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        who = Requester.from_body(body)
        value = str(action.get("value") or "")

        async def build() -> dict[str, Any]:
            if not value.isdigit():
                raise InvalidInput("That handoff is unknown.")
            async with deps.db.session() as session:  # read-only and quick
                stmt = select(HandoffNote).where(col(HandoffNote.id) == int(value))
                note = (await session.execute(stmt)).scalar_one_or_none()
            if note is None:
                raise InvalidInput("That handoff is unknown.")
            schedule = deps.schedules().get(note.schedule_id)
            return note_modal(note.id or 0, schedule.title if schedule else note.schedule_id, note.text)

        await open_modal(deps.db, client, body, who, build)

    @app.view(NOTE_MODAL)
    async def on_note_saved(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        text = str(((values.get(NOTE_BLOCK) or {}).get(NOTE_INPUT) or {}).get("value") or "").strip()
        metadata = str(view.get("private_metadata") or "")
        user = str((body.get("user") or {}).get("id") or "")
        if not text:
            await ack(response_action="errors", errors={NOTE_BLOCK: "Write the note, or press Cancel."})
            return
        try:
            async with deps.db.transaction() as session:
                await handoffs.save_note(session, int(metadata or 0), text, author=user, now=utcnow())
        except (InvalidInput, ValueError) as error:
            message = str(error) if isinstance(error, InvalidInput) else "That handoff is unknown."
            await ack(response_action="errors", errors={NOTE_BLOCK: message[:150]})
            return
        await ack()
