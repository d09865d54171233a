"""A background loop that wakes on demand or on a poll interval, used by the relay and the processor."""

import asyncio
import contextlib
from abc import ABC, abstractmethod

import structlog

log = structlog.get_logger(__name__)


class Worker(ABC):
    """Subclasses implement `run_once` (returns how much it did); `wake()` skips the wait.

    The poll interval covers work added by other replicas, which cannot wake this one.
    """

    name = "worker"
    poll_seconds = 1.0

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.last_tick: float = 0.0

    @abstractmethod
    async def run_once(self) -> int:
        """Do one batch of work; return how many items it handled (0 means idle)."""

    def wake(self) -> None:
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self.last_tick = loop.time()
            # Cleared before the pass, so a wake() that arrives during it is not lost.
            self._wake.clear()
            try:
                did = await self.run_once()
            except Exception:  # the loop must survive a database blip; the next tick retries
                log.exception("worker_iteration_failed", worker=self.name)
                did = 0
            if did or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
