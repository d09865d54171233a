"""The in-memory fake Slack workspace: seeded users and channels, Slack's rules, snapshot and persistence."""

import json
import time
from pathlib import Path
from typing import Any, Self

from bot.sandbox.channels import ChannelOps
from bot.sandbox.core import DEFAULT_BOT_TOKEN, Clock
from bot.sandbox.files import FileOps
from bot.sandbox.interactions import InteractionOps
from bot.sandbox.models import CallRecord, Channel, SlackError, User, UserGroup

SEED_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("U0ALICE", "alice", "Alice Andersen", "Europe/Berlin"),
    ("U0BOB", "bob", "Bob Brown", "America/New_York"),
    ("U0CAROL", "carol", "Carol Chen", "Australia/Sydney"),
    ("U0DAVE", "dave", "Dave Desai", "Asia/Kolkata"),
)
INCIDENTS_CHANNEL_ID = "C0INCIDENTS"
GENERAL_CHANNEL_ID = "C0GENERAL"
ONCALL_CHANNEL_ID = "C0ONCALL"  # the shipped playbooks/oncall/platform.yaml posts its handoffs here


class Workspace(ChannelOps, InteractionOps, FileOps):
    """One Slack workspace (team `T0SANDBOX`) as plain state plus the operations the Web API exposes.

    Operations raise `SlackError` exactly where Slack answers `ok: false`; the optional `actor`
    argument (a user id, default the bot) lets a UI act as a human. Time comes from `clock`, so tests
    can freeze it; `Workspace.open(path)` also writes every change to that JSON file.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        bot_token: str = DEFAULT_BOT_TOKEN,
        rate_limits: bool = True,
        speed: float = 1.0,
    ) -> None:
        super().__init__(clock=clock, bot_token=bot_token, rate_limits=rate_limits, speed=speed)
        self._seed()

    def _seed(self) -> None:
        created = int(self.now())
        for user_id, name, real_name, tz in SEED_USERS:
            self.users[user_id] = User(user_id, name, real_name, f"{name}@example.com", tz)
        self.users[self.bot_user_id] = User(
            self.bot_user_id, "warroom", "Warroom", None, "UTC", is_bot=True, bot_id=self.bot_id
        )
        self.usergroups["S0SRE"] = UserGroup("S0SRE", "sre", "SRE", ["U0ALICE", "U0BOB"], "Site reliability")
        humans = [user_id for user_id, *_ in SEED_USERS]
        self.channels[GENERAL_CHANNEL_ID] = Channel(
            GENERAL_CHANNEL_ID, "general", "U0ALICE", created, list(humans), is_general=True
        )
        self.channels[INCIDENTS_CHANNEL_ID] = Channel(
            INCIDENTS_CHANNEL_ID,
            "incidents",
            "U0ALICE",
            created,
            [*humans, self.bot_user_id],
            purpose="Where incidents are declared",
        )
        self.messages = {channel_id: [] for channel_id in self.channels}
        self._seed_oncall_channel(created)

    def _seed_oncall_channel(self, created: int) -> None:
        # The bot is not a member, as in a real workspace: it joins when it first posts a handoff.
        if ONCALL_CHANNEL_ID in self.channels or self.channel_by_name("platform-oncall") is not None:
            return
        humans = [user_id for user_id, *_ in SEED_USERS if user_id in self.users]
        self.channels[ONCALL_CHANNEL_ID] = Channel(
            ONCALL_CHANNEL_ID, "platform-oncall", "U0ALICE", created, humans, purpose="Platform on-call handoffs"
        )
        self.messages[ONCALL_CHANNEL_ID] = []

    # -- construction from saved state -------------------------------------------------------

    @classmethod
    def from_snapshot(cls, data: dict[str, Any], **options: Any) -> Self:
        """A workspace holding a snapshot(); `options` are the constructor's keyword arguments."""
        workspace = cls(**options)
        workspace.load_state(data)
        # A workspace saved before on-call existed gains the channel the shipped schedule posts to.
        workspace._seed_oncall_channel(int(workspace.now()))
        return workspace

    @classmethod
    def open(cls, path: str | Path, **options: Any) -> Self:
        """The workspace saved at `path` (or a freshly seeded one), saving every later change there."""
        target = Path(path)
        if target.exists():
            workspace = cls.from_snapshot(json.loads(target.read_text(encoding="utf-8")), **options)
        else:
            workspace = cls(**options)
        workspace.state_path = target
        workspace.save(target)
        return workspace

    def reset(self) -> None:
        """Back to the seeded state; also clears the call log, faults and rate-limit counters."""
        self.users, self.usergroups, self.channels, self.messages = {}, {}, {}, {}
        self.ephemerals, self.views, self.view_stacks = [], {}, {}
        self.triggers, self.response_urls = {}, {}
        self.files = {}
        self.calls.clear()
        self.faults.clear()
        self.rate_limits.reset()
        self._seed()
        self.changed()

    # -- people ------------------------------------------------------------------------------

    def lookup_by_email(self, email: str) -> User:
        for user in self.users.values():
            if user.email and user.email.lower() == email.strip().lower() and not user.deleted:
                return user
        raise SlackError("users_not_found")

    def add_user(self, name: str, *, real_name: str | None = None, email: str | None = None, tz: str = "UTC") -> User:
        if any(u.name == name for u in self.users.values()):
            raise SlackError("name_taken")
        user = User(self.new_id("U"), name, real_name or name, email, tz)
        self.users[user.id] = user
        self.changed()
        return user

    def get_usergroup(self, usergroup_id: str) -> UserGroup:
        group = self.usergroups.get(usergroup_id)
        if group is None:
            raise SlackError("no_such_subteam")
        return group

    # -- call log ----------------------------------------------------------------------------

    def record_call(
        self, method: str, args: dict[str, Any], status: int, body: dict[str, Any], started: float
    ) -> CallRecord:
        record = CallRecord(
            method=method,
            args=args,
            status=status,
            ok=bool(body.get("ok")),
            error=body.get("error") if isinstance(body.get("error"), str) else None,
            time=started,
            duration=max(0.0, self.now() - started),
        )
        self.calls.append(record)
        return record

    def call_log(
        self,
        *,
        method: str | None = None,
        error: str | None = None,
        status: int | None = None,
        ok: bool | None = None,
        since: float | None = None,
    ) -> list[CallRecord]:
        """Recorded Web API calls, oldest first, narrowed by the given filters."""
        return [
            c
            for c in self.calls
            if (method is None or c.method == method)
            and (error is None or c.error == error)
            and (status is None or c.status == status)
            and (ok is None or c.ok == ok)
            and (since is None or c.time >= since)
        ]
