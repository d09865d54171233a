"""Small schedule builders for on-call tests (plain dicts through the real pydantic models)."""

from datetime import UTC, datetime
from typing import Any

from bot.oncall.schema import Schedule

A, B, C, D, E = (f"{name}@example.com" for name in ("alice", "bob", "carol", "dave", "erin"))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def rotation(timezone: str = "UTC", **layer: Any) -> Schedule:
    """A schedule with one layer; `layer` holds its keys (members, shift, handoff, start, ...)."""
    return Schedule.model_validate({"id": "team", "channel": "#team", "timezone": timezone, "rotation": layer})


def layered(*layers: dict[str, Any], timezone: str = "UTC") -> Schedule:
    """A schedule with several layers, lowest precedence first."""
    return Schedule.model_validate({"id": "team", "channel": "#team", "timezone": timezone, "layers": list(layers)})
