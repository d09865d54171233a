"""What the sandbox page shows one user: the channel list, a channel's messages and their open modal, as HTML."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bot.sandbox.models import Channel, Ephemeral, Message, View
from bot.sandbox.ui.blockkit import EMOJI, RenderContext, mrkdwn, render_blocks, text_object
from bot.sandbox.workspace import INCIDENTS_CHANNEL_ID, Workspace

MESSAGES_SHOWN = 200

templates = Environment(
    loader=PackageLoader("bot.sandbox.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ChannelItem:
    id: str
    label: str
    section: str  # "channels", "incidents" or "dms"
    archived: bool
    member: bool


@dataclass(frozen=True)
class MessageItem:
    ts: str
    author: str
    is_bot: bool
    time: str
    when: str
    iso: str
    body: Markup
    dom_id: str
    edited: bool = False
    ephemeral: bool = False
    reply: bool = False
    system: bool = False
    pinned: bool = False
    reactions: list[tuple[str, int, str, bool]] = field(default_factory=list)  # emoji, count, who, mine
    files: list[tuple[str, str]] = field(default_factory=list)  # name, URL


def humans(workspace: Workspace) -> list[tuple[str, str]]:
    """(id, name) of the people one can act as, in seeding order."""
    return [(u.id, u.name) for u in workspace.users.values() if not u.is_bot and not u.deleted]


def context(workspace: Workspace, *, prefix: str, view: View | None = None) -> RenderContext:
    return RenderContext(
        users={u.id: u.name for u in workspace.users.values()},
        channels={c.id: c.name for c in workspace.channels.values() if not c.is_im},
        usergroups={g.id: g.handle for g in workspace.usergroups.values()},
        people=humans(workspace),
        state=view.state_values if view is not None else {},
        errors=view.errors if view is not None else {},
        id_prefix=prefix,
    )


def _dom_id(prefix: str, ts: str) -> str:
    return f"{prefix}-{ts.replace('.', '_')}"


class PageViews:
    """Renders fragments for `user` looking at `channel`; `incident_prefix` tells incident channels apart."""

    def __init__(self, workspace: Workspace, *, incident_prefix: str) -> None:
        self.workspace = workspace
        self.incident_prefix = incident_prefix

    # -- choosing --------------------------------------------------------------------------

    def pick_user(self, requested: str | None) -> str:
        people = humans(self.workspace)
        wanted = {uid for uid, _ in people}
        by_name = {name: uid for uid, name in people}
        if requested in wanted:
            return str(requested)
        if requested in by_name:
            return by_name[str(requested)]
        return people[0][0] if people else self.workspace.bot_user_id

    def pick_channel(self, requested: str | None, user: str) -> str:
        visible = {item.id for item in self.channel_items(user)}
        if requested in visible:
            return str(requested)
        if requested:
            named = self.workspace.channel_by_name(requested.removeprefix("#"))
            if named is not None and named.id in visible:
                return named.id
        if INCIDENTS_CHANNEL_ID in visible:
            return INCIDENTS_CHANNEL_ID
        return next(iter(sorted(visible)), "")

    # -- channel list ----------------------------------------------------------------------

    def channel_items(self, user: str) -> list[ChannelItem]:
        """#incidents first, then other channels by name, incident channels newest first, then the user's DMs."""
        items: list[ChannelItem] = []
        incidents: list[Channel] = []
        others: list[Channel] = []
        for channel in self.workspace.channels.values():
            if channel.is_im:
                if channel.im_user == user:
                    items.append(ChannelItem(channel.id, "Warroom", "dms", channel.is_archived, True))
                continue
            if channel.is_private and user not in channel.members:
                continue
            (incidents if channel.name.startswith(self.incident_prefix) else others).append(channel)
        others.sort(key=lambda c: (c.id != INCIDENTS_CHANNEL_ID, c.name))
        incidents.sort(key=lambda c: (c.created, c.id), reverse=True)
        ordered = [
            *(ChannelItem(c.id, c.name, "channels", c.is_archived, user in c.members) for c in others),
            *(ChannelItem(c.id, c.name, "incidents", c.is_archived, user in c.members) for c in incidents),
        ]
        return ordered + items

    # -- messages --------------------------------------------------------------------------

    def _time(self, ts: str, user: str) -> tuple[str, str, str]:
        zone_name = self.workspace.users[user].tz if user in self.workspace.users else "UTC"
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        at = datetime.fromtimestamp(float(ts), UTC).astimezone(zone)
        return at.strftime("%H:%M"), at.strftime(f"%Y-%m-%d %H:%M:%S ({zone_name})"), at.isoformat(timespec="seconds")

    def _author(self, user_id: str | None, bot_id: str | None) -> tuple[str, bool]:
        if bot_id or user_id == self.workspace.bot_user_id:
            return "Warroom", True
        known = self.workspace.users.get(user_id or "")
        return (known.real_name or known.name if known else user_id or "someone"), False

    def _body(self, text: str, blocks: list[dict[str, Any]], prefix: str) -> Markup:
        ctx = context(self.workspace, prefix=prefix)
        if blocks:
            return render_blocks(blocks, ctx)
        return Markup('<div class="bk-text">{}</div>').format(mrkdwn(text, ctx))

    def _message(self, message: Message, channel: Channel, user: str, *, reply: bool) -> MessageItem:
        dom_id = _dom_id("m", message.ts)
        author, is_bot = self._author(message.user, message.bot_id)
        time, when, iso = self._time(message.ts, user)
        names = {u.id: u.name for u in self.workspace.users.values()}
        reactions = [
            (EMOJI.get(name, f":{name}:"), len(who), ", ".join(names.get(w, w) for w in who), user in who)
            for name, who in message.reactions.items()
        ]
        files = [
            (self.workspace.files[f].name, f"/sandbox/_control/files/{f}/content")
            for f in message.files
            if f in self.workspace.files
        ]
        return MessageItem(
            ts=message.ts,
            author=author,
            is_bot=is_bot,
            time=time,
            when=when,
            iso=iso,
            body=self._body(message.text, message.blocks, dom_id),
            dom_id=dom_id,
            edited=message.edited is not None,
            reply=reply,
            system=message.subtype is not None,
            pinned=message.ts in channel.pins,
            reactions=reactions,
            files=files,
        )

    def _ephemeral(self, ephemeral: Ephemeral, user: str) -> MessageItem:
        dom_id = _dom_id("e", ephemeral.ts)
        time, when, iso = self._time(ephemeral.ts, user)
        author = "Slackbot" if ephemeral.source == "slackbot" else "Warroom"
        return MessageItem(
            ts=ephemeral.ts,
            author=author,
            is_bot=True,
            time=time,
            when=when,
            iso=iso,
            body=self._body(ephemeral.text, ephemeral.blocks, dom_id),
            dom_id=dom_id,
            ephemeral=True,
        )

    def message_items(self, channel_id: str, user: str) -> list[MessageItem]:
        """The channel as `user` sees it: messages with their thread replies under them, and their ephemerals."""
        channel = self.workspace.channels.get(channel_id)
        if channel is None:
            return []
        stored = self.workspace.messages.get(channel_id, [])[-MESSAGES_SHOWN:]
        present = {m.ts for m in stored}
        replies: dict[str, list[Message]] = {}
        roots: list[tuple[str, int, Message | Ephemeral]] = []
        for message in stored:
            if message.thread_ts and message.thread_ts != message.ts and message.thread_ts in present:
                replies.setdefault(message.thread_ts, []).append(message)
            else:
                roots.append((message.ts, 0, message))
        for ephemeral in self.workspace.ephemerals:
            if ephemeral.user == user and ephemeral.channel == channel_id:
                roots.append((ephemeral.ts, 1, ephemeral))
        items: list[MessageItem] = []
        for _, _, entry in sorted(roots, key=lambda r: (float(r[0]), r[1])):
            if isinstance(entry, Ephemeral):
                items.append(self._ephemeral(entry, user))
                continue
            items.append(self._message(entry, channel, user, reply=False))
            items.extend(self._message(r, channel, user, reply=True) for r in replies.get(entry.ts, []))
        return items

    # -- modal -----------------------------------------------------------------------------

    def open_view(self, user: str) -> View | None:
        stack = self.workspace.view_stacks.get(user) or []
        return self.workspace.views.get(stack[-1]) if stack else None

    @staticmethod
    def modal_key(view: View | None) -> str:
        """Changes exactly when the modal must be drawn again (never while someone only types in it)."""
        if view is None:
            return ""
        return f"{view.id}:{view.hash}:{sorted(view.errors.items())}"

    def modal_html(self, user: str) -> str:
        view = self.open_view(user)
        if view is None:
            return ""
        ctx = context(self.workspace, prefix=f"v-{view.id}", view=view)
        spec = view.view
        has_inputs = any(isinstance(b, dict) and b.get("type") == "input" for b in spec.get("blocks") or [])
        submit = spec.get("submit") or ({"type": "plain_text", "text": "Submit"} if has_inputs else None)
        return templates.get_template("_modal.html").render(
            view=view,
            title=text_object(spec.get("title") or "", ctx),
            body=render_blocks(spec.get("blocks") or [], ctx),
            submit=text_object(submit, ctx) if submit else None,
            close=text_object(spec.get("close") or {"type": "plain_text", "text": "Cancel"}, ctx),
            depth=len(self.workspace.view_stacks.get(user) or []),
        )

    # -- fragments -------------------------------------------------------------------------

    def fragments(self, user: str, channel_id: str) -> dict[str, str]:
        channel = self.workspace.channels.get(channel_id)
        items = self.channel_items(user)
        label = next((i.label for i in items if i.id == channel_id), channel.name if channel else "")
        shared = {"user": user, "channel": channel, "channel_id": channel_id, "label": label}
        view = self.open_view(user)
        return {
            "channels": templates.get_template("_channels.html").render(items=items, **shared),
            "header": templates.get_template("_header.html").render(**shared),
            "messages": templates.get_template("_messages.html").render(
                messages=self.message_items(channel_id, user), **shared
            ),
            "modal": self.modal_html(user),
            "modal_key": self.modal_key(view),
        }
