"""Slack's Web API rate limits (PROTOCOLS.md 2.1): method tiers per rolling minute, 1 post/s/channel."""

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

TIER_2 = 20
TIER_3 = 50
TIER_4 = 100

# calls per rolling minute, per token; the tier table of PROTOCOLS.md 2.1
METHOD_LIMITS: dict[str, int] = {
    "auth.test": 100,
    "bookmarks.add": TIER_2,
    # "Special" without a published number: treated as Tier 4
    "chat.getPermalink": TIER_4,
    "chat.postEphemeral": TIER_4,
    # the workspace-wide ceiling; the per-channel bucket below applies on top
    "chat.postMessage": 100,
    "chat.update": TIER_3,
    "conversations.archive": TIER_2,
    "conversations.create": TIER_2,
    "conversations.history": TIER_3,
    "conversations.info": TIER_3,
    "conversations.invite": TIER_3,
    "conversations.join": TIER_3,
    "conversations.list": TIER_2,
    "conversations.members": TIER_4,
    "conversations.open": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.setPurpose": TIER_2,
    "conversations.setTopic": TIER_2,
    "conversations.unarchive": TIER_2,
    "files.completeUploadExternal": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.info": TIER_4,
    "pins.add": TIER_2,
    "reactions.add": TIER_3,
    "usergroups.list": TIER_2,
    "usergroups.users.list": TIER_2,
    "users.info": TIER_4,
    "users.list": TIER_2,
    "users.lookupByEmail": TIER_3,
    "views.open": TIER_4,
    "views.push": TIER_4,
    "views.update": TIER_4,
}
DEFAULT_LIMIT = TIER_3
WINDOW_SECONDS = 60.0
POSTS_PER_SECOND_PER_CHANNEL = 1.0
POST_BURST = 3


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Counts calls against Slack's limits on the workspace clock; `speed` > 1 shrinks every window."""

    def __init__(self, clock: Callable[[], float], *, enabled: bool = True, speed: float = 1.0) -> None:
        self._clock = clock
        self.enabled = enabled
        self._speed = 1.0
        self.speed = speed
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if not value > 0:
            raise ValueError("speed must be positive")
        self._speed = float(value)

    def reset(self) -> None:
        self._windows.clear()
        self._buckets.clear()

    def acquire(self, token: str, method: str, channel: str | None = None) -> int | None:
        """Take a slot for one call: None when allowed, else the Retry-After seconds (>= 1)."""
        if not self.enabled:
            return None
        now = self._clock()
        window = WINDOW_SECONDS / self._speed
        calls = self._windows.setdefault((token, method), deque())
        while calls and calls[0] <= now - window:
            calls.popleft()
        waits: list[float] = []
        if len(calls) >= METHOD_LIMITS.get(method, DEFAULT_LIMIT):
            waits.append(calls[0] + window - now)
        bucket: _Bucket | None = None
        if method == "chat.postMessage" and channel:
            rate = POSTS_PER_SECOND_PER_CHANNEL * self._speed
            bucket = self._buckets.setdefault((token, channel), _Bucket(float(POST_BURST), now))
            bucket.tokens = min(float(POST_BURST), bucket.tokens + max(0.0, now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                waits.append((1.0 - bucket.tokens) / rate)
        if waits:
            # rounding first keeps float noise (1.0000000002) from adding a whole second
            return max(1, math.ceil(round(max(waits), 6)))
        calls.append(now)
        if bucket is not None:
            bucket.tokens -= 1.0
        return None
