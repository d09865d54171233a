"""Channel operations of the sandbox workspace: create, invite, join, topic, purpose, archive."""

from typing import Any

from bot.sandbox.core import WorkspaceCore
from bot.sandbox.models import Channel, Message, SlackError
from bot.sandbox.validation import TOPIC_MAX, check_channel_name

INVITE_MAX = 100


class ChannelOps(WorkspaceCore):
    """Each method acts as `actor` (default: the bot) and enforces the rules Slack applies to it."""

    def _system_message(self, channel: Channel, user: str, subtype: str, text: str) -> None:
        # Slack records joins and topic changes as channel messages; history shows them too
        message = Message(channel=channel.id, ts=self.next_ts(), text=text, user=user, subtype=subtype)
        self.messages.setdefault(channel.id, []).append(message)

    def create_channel(self, name: str, *, actor: str | None = None, is_private: bool = False) -> Channel:
        check_channel_name(name)
        # archived channels keep their names, so reusing one fails the same way
        if self.channel_by_name(name) is not None:
            raise SlackError("name_taken")
        creator = actor or self.bot_user_id
        self.get_user(creator)
        channel = Channel(
            id=self.new_id("C"),
            name=name,
            creator=creator,
            created=int(self.now()),
            members=[creator],
            is_private=is_private,
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        self._system_message(channel, creator, "channel_join", f"<@{creator}> has joined the channel")
        self.changed()
        return channel

    def invite(
        self, channel_ref: str, user_ids: list[str], *, actor: str | None = None, force: bool = False
    ) -> tuple[Channel, list[dict[str, Any]]]:
        """Invite users; returns the channel and the per-user errors that `force` skipped past."""
        actor = actor or self.bot_user_id
        wanted = list(dict.fromkeys(u.strip() for u in user_ids if u.strip()))
        if not wanted:
            raise SlackError("no_user")
        if len(wanted) > INVITE_MAX:
            raise SlackError("too_many_users")
        channel = self.find_channel(channel_ref)
        self.require_open(channel)
        self.require_member(channel, actor)
        errors: list[dict[str, Any]] = []
        accepted: list[str] = []
        for user_id in wanted:
            user = self.users.get(user_id)
            if user is None or user.deleted:
                error = "user_not_found"
            elif user_id == actor:
                error = "cant_invite_self"
            elif user_id in channel.members:
                error = "already_in_channel"
            else:
                accepted.append(user_id)
                continue
            errors.append({"user": user_id, "ok": False, "error": error})
        # without force one bad id fails the whole call; with force only an all-bad list does
        if errors and (not force or not accepted):
            raise SlackError(errors[0]["error"], errors=errors)
        for user_id in accepted:
            channel.members.append(user_id)
            self._system_message(channel, user_id, "channel_join", f"<@{user_id}> has joined the channel")
        self.changed()
        return channel, errors

    def join(self, channel_ref: str, *, actor: str | None = None) -> tuple[Channel, bool]:
        """Join a public channel; the flag says the actor was a member already (Slack warns, not fails)."""
        actor = actor or self.bot_user_id
        channel = self.find_channel(channel_ref)
        self.require_open(channel)
        if actor in channel.members:
            return channel, True
        if channel.is_private:
            raise SlackError("method_not_supported_for_channel_type")
        channel.members.append(actor)
        self._system_message(channel, actor, "channel_join", f"<@{actor}> has joined the channel")
        self.changed()
        return channel, False

    def leave(self, channel_ref: str, *, actor: str | None = None) -> Channel:
        actor = actor or self.bot_user_id
        channel = self.find_channel(channel_ref)
        self.require_open(channel)
        if channel.is_general:
            raise SlackError("cant_leave_general")
        self.require_member(channel, actor)
        channel.members.remove(actor)
        self._system_message(channel, actor, "channel_leave", f"<@{actor}> has left the channel")
        self.changed()
        return channel

    def set_topic(self, channel_ref: str, topic: str, *, actor: str | None = None) -> Channel:
        actor = actor or self.bot_user_id
        channel = self.find_channel(channel_ref)
        self.require_open(channel)
        self.require_member(channel, actor)
        if len(topic) > TOPIC_MAX:
            raise SlackError("too_long")
        channel.topic, channel.topic_creator, channel.topic_last_set = topic, actor, int(self.now())
        self._system_message(channel, actor, "channel_topic", f"set the channel topic: {topic}")
        self.changed()
        return channel

    def set_purpose(self, channel_ref: str, purpose: str, *, actor: str | None = None) -> Channel:
        actor = actor or self.bot_user_id
        channel = self.find_channel(channel_ref)
        self.require_open(channel)
        self.require_member(channel, actor)
        if len(purpose) > TOPIC_MAX:
            raise SlackError("too_long")
        channel.purpose, channel.purpose_creator, channel.purpose_last_set = purpose, actor, int(self.now())
        self._system_message(channel, actor, "channel_purpose", f"set the channel description: {purpose}")
        self.changed()
        return channel

    def archive(self, channel_ref: str, *, actor: str | None = None) -> Channel:
        actor = actor or self.bot_user_id
        channel = self.find_channel(channel_ref)
        if channel.is_archived:
            raise SlackError("already_archived")
        if channel.is_general:
            raise SlackError("cant_archive_general")
        self.require_member(channel, actor)
        channel.is_archived = True
        self._system_message(channel, actor, "channel_archive", "archived the channel")
        self.changed()
        return channel

    def unarchive(self, channel_ref: str, *, actor: str | None = None) -> Channel:
        actor = actor or self.bot_user_id
        channel = self.find_channel(channel_ref)
        if not channel.is_archived:
            raise SlackError("not_archived")
        channel.is_archived = False
        if actor not in channel.members:
            channel.members.append(actor)
        self._system_message(channel, actor, "channel_unarchive", "un-archived the channel")
        self.changed()
        return channel

    def list_channels(self, *, types: set[str] | None = None, exclude_archived: bool = False) -> list[Channel]:
        """Channels in creation order; `types` uses Slack's names (public_channel, private_channel, im)."""
        types = types or {"public_channel"}
        return [c for c in self.channels.values() if _type_of(c) in types and not (exclude_archived and c.is_archived)]

    def open_im(self, user_id: str) -> tuple[Channel, bool]:
        """The bot's direct-message channel with `user_id`, and whether it was open already."""
        user = self.get_user(user_id)
        if user.is_bot or user.deleted:
            raise SlackError("cannot_dm_bot" if user.is_bot else "user_disabled")
        for channel in self.channels.values():
            if channel.is_im and channel.im_user == user_id:
                return channel, True
        # '@' never appears in channel names, so a DM can't collide with a channel name
        channel = Channel(
            id=self.new_id("D"),
            name=f"@{user.name}",
            creator=self.bot_user_id,
            created=int(self.now()),
            members=[self.bot_user_id, user_id],
            is_im=True,
            im_user=user_id,
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        self.changed()
        return channel, False


def _type_of(channel: Channel) -> str:
    if channel.is_im:
        return "im"
    return "private_channel" if channel.is_private else "public_channel"
