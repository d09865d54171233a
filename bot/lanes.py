"""Who gets the single SQLite connection next: a lock that serves the most urgent waiter first.

SQLite has one writer connection (PLATFORM.md 4), so every transaction queues for it. Served first
come, first served, a webhook's 202 waited behind processor and relay transactions queued before
it (docs/performance.md). `PriorityLock` hands the connection over to the most urgent waiter, and
among equals to the one that asked first, so intake waits for at most the transaction in progress.
"""

import asyncio
import heapq
import itertools
from enum import IntEnum


class Lane(IntEnum):
    """Lower goes first."""

    INTAKE = 0  # a webhook sender is waiting for its 202
    NORMAL = 1  # people and everything else: Slack listeners, the API, the scheduler
    BACKGROUND = 2  # work nobody waits on: applying stored deliveries, the outbox relay


class PriorityLock:
    """An asyncio lock whose release wakes the waiter of the lowest `Lane`, first come first served within it.

    Not reentrant. A waiter cancelled after it was handed the lock passes it on.
    """

    def __init__(self) -> None:
        self._held = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._busy = [0] * len(Lane)  # holders, live waiters and entered work per lane
        self._idle_waiters: list[list[asyncio.Future[None]]] = [[] for _ in Lane]

    def busy(self, lane: Lane) -> int:
        """How many transactions of `lane` hold the lock or wait for it, plus those `enter`ed."""
        return self._busy[lane]

    def enter(self, lane: Lane) -> None:
        """Count work of `lane` that will want the lock soon as busy already (`leave` ends it)."""
        self._busy[lane] += 1

    def leave(self, lane: Lane) -> None:
        self._less_busy(lane)

    async def idle(self, lane: Lane) -> None:
        """Return once no transaction of `lane` holds the lock or waits for it."""
        while self._busy[lane]:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle_waiters[lane].append(future)
            try:
                await future  # woken when the count reached 0; it may have risen again since, so look again
            except asyncio.CancelledError:  # a waiter that gave up (a timeout) leaves nothing behind
                if future in self._idle_waiters[lane]:
                    self._idle_waiters[lane].remove(future)
                raise

    def _less_busy(self, lane: Lane) -> None:
        self._busy[lane] -= 1
        if not self._busy[lane]:
            waiters, self._idle_waiters[lane] = self._idle_waiters[lane], []
            for future in waiters:
                if not future.done():
                    future.set_result(None)

    async def acquire(self, lane: Lane) -> None:
        self._busy[lane] += 1
        if not self._held and not self._waiters:
            self._held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (int(lane), next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            self._less_busy(lane)
            if future.done() and not future.cancelled():  # handed over, then cancelled: pass it on
                self._hand_over()
            raise  # a cancelled future stays in the heap; `_hand_over` skips it

    def release(self, lane: Lane) -> None:
        if not self._held:
            raise RuntimeError("release of an unheld PriorityLock")
        self._hand_over()  # before counting down, so an idle() waiter sees a handed-over lane as busy
        self._less_busy(lane)

    def _hand_over(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)  # `_held` stays True: ownership passes directly
                return
        self._held = False
