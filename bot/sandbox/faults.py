"""Fault injection: make chosen Web API methods fail, throttle or stall on purpose, for N calls or until cleared."""

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Fault:
    """One planned misbehaviour. `delay` may combine with one outcome; delay alone then answers normally."""

    id: int
    method: str = "*"
    status: int | None = None
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    # calls left to affect; None = every call until cleared
    times: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The active faults of one workspace, matched in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(
        self,
        method: str = "*",
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int | None = None,
    ) -> Fault:
        """Plan a fault for `method` ("*" = every method); raises ValueError on a contradictory plan."""
        outcomes = [x for x in (status, error, retry_after) if x is not None]
        if len(outcomes) > 1:
            raise ValueError("give at most one of status, error, retry_after")
        if not outcomes and delay <= 0:
            raise ValueError("give status, error, retry_after or a positive delay")
        if status is not None and not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must not be negative")
        if delay < 0:
            raise ValueError("delay must not be negative")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for until cleared)")
        if not method:
            raise ValueError("method must not be empty")
        fault = Fault(self._next_id, method, status, error, retry_after, float(delay), times)
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def slack_down(self) -> Fault:
        """Every method answers HTTP 503 until cleared."""
        return self.add("*", status=503)

    def clear(self, method: str | None = None) -> int:
        """Remove all faults, or those planned for exactly `method`; returns how many were removed."""
        before = len(self._faults)
        self._faults = [f for f in self._faults if method is not None and f.method != method]
        return before - len(self._faults)

    def active(self) -> list[Fault]:
        return list(self._faults)

    def take(self, method: str) -> Fault | None:
        """The first fault that applies to this call, counting the call against its `times`."""
        for fault in self._faults:
            if fault.method in ("*", method):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None
