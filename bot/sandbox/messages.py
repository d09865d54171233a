"""Message operations of the sandbox workspace: post, update, history, ephemerals, reactions, pins, bookmarks."""

import re
from typing import Any
from urllib.parse import urlparse

from bot.sandbox.core import WorkspaceCore, ts_to_micros
from bot.sandbox.models import Bookmark, Channel, Ephemeral, Message, SlackError
from bot.sandbox.validation import check_message_content

PINS_MAX = 100
BOOKMARKS_MAX = 100
_EMOJI_NAME = re.compile(r"^[a-z0-9_+'-]+(::skin-tone-[2-6])?$")


class MessageOps(WorkspaceCore):
    """`actor` is the posting user; None means the bot, whose messages also carry its bot_id."""

    def _actor(self, actor: str | None) -> tuple[str, str | None]:
        if actor is None or actor == self.bot_user_id:
            return self.bot_user_id, self.bot_id
        self.get_user(actor)
        return actor, None

    def post_message(
        self,
        channel_ref: str,
        *,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        thread_ts: str | None = None,
        actor: str | None = None,
        require_membership: bool = True,
    ) -> Message:
        """Post to a channel; `require_membership=False` is for in_channel response_url replies."""
        check_message_content(text, blocks)
        user, bot_id = self._actor(actor)
        channel = self.find_channel(channel_ref)
        self.require_open(channel)
        if require_membership:
            self.require_member(channel, user)
        message = Message(
            channel=channel.id,
            ts=self.next_ts(),
            text=text or "",
            user=user,
            bot_id=bot_id,
            blocks=list(blocks or []),
            metadata=metadata,
            thread_ts=thread_ts or None,
        )
        self.messages.setdefault(channel.id, []).append(message)
        self.changed()
        return message

    def update_message(
        self,
        channel_ref: str,
        ts: str,
        *,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> Message:
        check_message_content(text, blocks)
        user, _ = self._actor(actor)
        channel = self.find_channel(channel_ref)
        self.require_open(channel)
        message = self.get_message(channel.id, ts)
        if message.user != user or message.subtype is not None:
            raise SlackError("cant_update_message")
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = list(blocks)
        if metadata is not None:
            message.metadata = metadata
        message.edited = {"user": user, "ts": self.next_ts()}
        self.changed()
        return message

    def delete_message(self, channel_ref: str, ts: str, *, actor: str | None = None) -> None:
        user, _ = self._actor(actor)
        channel = self.find_channel(channel_ref)
        message = self.get_message(channel.id, ts)
        if message.user != user:
            raise SlackError("cant_delete_message")
        self.messages[channel.id].remove(message)
        self.changed()

    def history(
        self,
        channel_ref: str,
        *,
        latest: str | None = None,
        oldest: str | None = None,
        inclusive: bool = False,
        actor: str | None = None,
    ) -> tuple[Channel, list[Message]]:
        """Top-level messages (and thread parents), newest first, as conversations.history orders them."""
        user, _ = self._actor(actor)
        channel = self.find_channel(channel_ref)
        self.require_member(channel, user)
        try:
            high = ts_to_micros(latest) if latest else None
        except ValueError:
            raise SlackError("invalid_ts_latest") from None
        try:
            low = ts_to_micros(oldest) if oldest else None
        except ValueError:
            raise SlackError("invalid_ts_oldest") from None
        selected: list[Message] = []
        for message in reversed(self.messages.get(channel.id, [])):
            if message.thread_ts not in (None, message.ts):
                continue
            at = ts_to_micros(message.ts)
            if high is not None and (at > high or (at == high and not inclusive)):
                continue
            if low is not None and (at < low or (at == low and not inclusive)):
                continue
            selected.append(message)
        return channel, selected

    def replies(self, channel_ref: str, ts: str, *, actor: str | None = None) -> list[Message]:
        """A thread: the parent first, then replies oldest first."""
        user, _ = self._actor(actor)
        channel = self.find_channel(channel_ref)
        self.require_member(channel, user)
        try:
            parent = self.get_message(channel.id, ts)
        except SlackError:
            raise SlackError("thread_not_found") from None
        thread = [m for m in self.messages[channel.id] if m.thread_ts == parent.ts and m is not parent]
        return [parent, *thread]

    def thread_summary(self, message: Message) -> dict[str, Any]:
        """reply_count / reply_users / latest_reply as Slack adds them to a thread parent."""
        replies = [m for m in self.messages.get(message.channel, []) if m.thread_ts == message.ts and m is not message]
        if not replies:
            return {}
        users = list(dict.fromkeys(m.user for m in replies if m.user))
        return {
            "thread_ts": message.ts,
            "reply_count": len(replies),
            "reply_users": users,
            "reply_users_count": len(users),
            "latest_reply": replies[-1].ts,
        }

    def post_ephemeral(
        self,
        channel_ref: str,
        user_id: str,
        *,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        source: str = "chat.postEphemeral",
    ) -> Ephemeral:
        check_message_content(text, blocks)
        channel = self.find_channel(channel_ref)
        self.require_open(channel)
        self.get_user(user_id)
        if source == "chat.postEphemeral":
            self.require_member(channel, self.bot_user_id)
            if user_id not in channel.members:
                raise SlackError("user_not_in_channel")
        ephemeral = Ephemeral(
            channel=channel.id,
            user=user_id,
            ts=self.next_ts(),
            text=text or "",
            blocks=list(blocks or []),
            source=source,
        )
        self.ephemerals.append(ephemeral)
        self.changed()
        return ephemeral

    def find_ephemeral(self, user_id: str, ts: str) -> Ephemeral | None:
        return next((e for e in self.ephemerals if e.user == user_id and e.ts == ts), None)

    def permalink(self, channel_ref: str, ts: str) -> str:
        channel = self.find_channel(channel_ref)
        message = self.get_message(channel.id, ts)
        link = f"https://{self.domain}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
        if message.thread_ts and message.thread_ts != message.ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return link

    def add_reaction(self, channel_ref: str, ts: str, name: str, *, actor: str | None = None) -> Message:
        user, _ = self._actor(actor)
        name = name.strip(":")
        if not _EMOJI_NAME.match(name):
            raise SlackError("invalid_name")
        channel = self.find_channel(channel_ref)
        message = self.get_message(channel.id, ts)
        users = message.reactions.setdefault(name, [])
        if user in users:
            raise SlackError("already_reacted")
        users.append(user)
        self.changed()
        return message

    def remove_reaction(self, channel_ref: str, ts: str, name: str, *, actor: str | None = None) -> Message:
        user, _ = self._actor(actor)
        channel = self.find_channel(channel_ref)
        message = self.get_message(channel.id, ts)
        users = message.reactions.get(name.strip(":"), [])
        if user not in users:
            raise SlackError("no_reaction")
        users.remove(user)
        if not users:
            del message.reactions[name.strip(":")]
        self.changed()
        return message

    def pin(self, channel_ref: str, ts: str, *, actor: str | None = None) -> None:
        user, _ = self._actor(actor)
        channel = self.find_channel(channel_ref)
        self.require_member(channel, user)
        self.get_message(channel.id, ts)
        if ts in channel.pins:
            raise SlackError("already_pinned")
        if len(channel.pins) >= PINS_MAX:
            raise SlackError("too_many_pins")
        channel.pins.append(ts)
        self.changed()

    def add_bookmark(
        self, channel_ref: str, *, title: str, link: str, emoji: str | None = None, actor: str | None = None
    ) -> Bookmark:
        user, _ = self._actor(actor)
        channel = self.find_channel(channel_ref)
        self.require_open(channel)
        self.require_member(channel, user)
        if not title:
            raise SlackError("invalid_arguments")
        parsed = urlparse(link)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SlackError("invalid_link")
        if len(channel.bookmarks) >= BOOKMARKS_MAX:
            raise SlackError("too_many_bookmarks")
        bookmark = Bookmark(
            id=self.new_id("Bk"),
            title=title,
            link=link,
            emoji=emoji,
            created_by=user,
            date_created=int(self.now()),
        )
        channel.bookmarks.append(bookmark.to_state())
        self.changed()
        return bookmark
