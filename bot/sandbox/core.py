"""The sandbox workspace's state containers, snapshot format and the lookups every operation shares."""

import json
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.sandbox.faults import Faults
from bot.sandbox.limits import RateLimiter
from bot.sandbox.models import (
    CallRecord,
    Channel,
    Ephemeral,
    File,
    Message,
    ResponseUrl,
    SlackError,
    Trigger,
    User,
    UserGroup,
    View,
)

DEFAULT_BOT_TOKEN = "xoxb-sandbox"  # noqa: S105 - the sandbox's documented fake token, not a secret
TEAM_ID = "T0SANDBOX"
BOT_USER_ID = "U0WARROOM"
BOT_ID = "B0WARROOM"
APP_ID = "A0WARROOM"
SNAPSHOT_VERSION = 1
CALL_LOG_MAX = 10_000

Clock = Callable[[], float]


def ts_to_micros(ts: str) -> int:
    """`"1712345678.000100"` -> 1712345678000100; raises ValueError on anything else."""
    seconds, _, fraction = ts.strip().partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > 6:
        raise ValueError(ts)
    return int(seconds) * 1_000_000 + int(fraction.ljust(6, "0"))


def micros_to_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


class WorkspaceCore:
    """State and shared lookups; the operations live in mixins, the public class in workspace.py."""

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        bot_token: str = DEFAULT_BOT_TOKEN,
        rate_limits: bool = True,
        speed: float = 1.0,
    ) -> None:
        self.clock = clock
        self.bot_token = bot_token
        self.team_id = TEAM_ID
        self.team_name = "Sandbox"
        self.domain = "sandbox"
        self.bot_user_id = BOT_USER_ID
        self.bot_id = BOT_ID
        self.app_id = APP_ID
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, UserGroup] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        # user id -> ids of that user's open modals, bottom first (Slack keeps one stack per user)
        self.view_stacks: dict[str, list[str]] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.files: dict[str, File] = {}
        self.calls: deque[CallRecord] = deque(maxlen=CALL_LOG_MAX)
        self.rate_limits = RateLimiter(clock, enabled=rate_limits, speed=speed)
        self.faults = Faults()
        # set by Workspace.open(): only a workspace loaded from the file may overwrite it
        self.state_path: Path | None = None
        self._counter = 0
        self._last_ts_us = 0
        self._listeners: list[Callable[[], None]] = []

    # -- time and identifiers -------------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def new_id(self, prefix: str) -> str:
        """Slack-looking ids (`C000000001`) that sort in creation order."""
        self._counter += 1
        return f"{prefix}{self._counter:09X}"

    def next_ts(self) -> str:
        """Message timestamps are unique and strictly increasing across the workspace, like Slack's."""
        micros = max(int(self.now() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = micros
        return micros_to_ts(micros)

    # -- change notification and persistence ----------------------------------------------

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every state change (a UI can push updates from here)."""
        self._listeners.append(callback)

    def changed(self) -> None:
        if self.state_path is not None:
            self.save(self.state_path)
        for callback in list(self._listeners):
            callback()

    def save(self, path: str | Path) -> None:
        """Write the snapshot atomically: a crash mid-write leaves the previous file intact."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.snapshot(), separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, target)

    def snapshot(self) -> dict[str, Any]:
        """All workspace state as JSON values (not the call log, faults or limiter counters)."""
        return {
            "version": SNAPSHOT_VERSION,
            "team_id": self.team_id,
            "counter": self._counter,
            "last_ts_us": self._last_ts_us,
            "users": [u.to_state() for u in self.users.values()],
            "usergroups": [g.to_state() for g in self.usergroups.values()],
            "channels": [c.to_state() for c in self.channels.values()],
            "messages": {cid: [m.to_state() for m in msgs] for cid, msgs in self.messages.items()},
            "ephemerals": [e.to_state() for e in self.ephemerals],
            "views": [v.to_state() for v in self.views.values()],
            "view_stacks": {user: list(stack) for user, stack in self.view_stacks.items()},
            "triggers": [t.to_state() for t in self.triggers.values()],
            "response_urls": [r.to_state() for r in self.response_urls.values()],
            "files": [f.to_state() for f in self.files.values()],
        }

    def load_state(self, data: dict[str, Any]) -> None:
        """Replace all state with a snapshot() result."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported sandbox snapshot version: {data.get('version')!r}")
        self._counter = int(data["counter"])
        self._last_ts_us = int(data["last_ts_us"])
        self.users = {u["id"]: User.from_state(u) for u in data["users"]}
        self.usergroups = {g["id"]: UserGroup.from_state(g) for g in data["usergroups"]}
        self.channels = {c["id"]: Channel.from_state(c) for c in data["channels"]}
        self.messages = {cid: [Message.from_state(m) for m in msgs] for cid, msgs in data["messages"].items()}
        self.ephemerals = [Ephemeral.from_state(e) for e in data["ephemerals"]]
        self.views = {v["id"]: View.from_state(v) for v in data["views"]}
        self.view_stacks = {user: list(stack) for user, stack in data["view_stacks"].items()}
        self.triggers = {t["id"]: Trigger.from_state(t) for t in data["triggers"]}
        self.response_urls = {r["token"]: ResponseUrl.from_state(r) for r in data["response_urls"]}
        # snapshots saved before file uploads existed have no "files": they load as a workspace without any
        self.files = {f["id"]: File.from_state(f) for f in data.get("files", [])}

    # -- lookups shared by the operations --------------------------------------------------

    def get_user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None or user.deleted:
            raise SlackError("user_not_found")
        return user

    def find_channel(self, ref: str) -> Channel:
        """A channel by id, `#name` or bare name (chat.postMessage accepts all three)."""
        channel = self.channels.get(ref)
        if channel is not None:
            return channel
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise SlackError("channel_not_found")

    def channel_by_name(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def get_message(self, channel_id: str, ts: str) -> Message:
        for message in self.messages.get(channel_id, []):
            if message.ts == ts:
                return message
        raise SlackError("message_not_found")

    def require_member(self, channel: Channel, user_id: str) -> None:
        if user_id not in channel.members:
            raise SlackError("not_in_channel")

    def require_open(self, channel: Channel) -> None:
        if channel.is_archived:
            raise SlackError("is_archived")
