"""Web API arguments as Slack reads them: strings from forms and queries, JSON values from JSON bodies."""

import base64
from collections.abc import Sequence
from typing import Any, TypeVar

from bot.sandbox.models import SlackError, invalid_arguments

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on"})


class Args:
    """Typed access to one call's arguments, raising Slack's errors for bad values.

    `base_url` is where the sandbox is being served (it can be mounted under a path), for answers
    that hand out URLs of the sandbox itself.
    """

    def __init__(self, data: dict[str, Any], *, base_url: str = "") -> None:
        self.data = data
        self.base_url = base_url.rstrip("/")

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)

    def need(self, name: str, error: str | None = None) -> str:
        """A required non-empty argument; Slack names some misses (`channel_not_found`), others generically."""
        value = self.text(name)
        if not value:
            if error is not None:
                raise SlackError(error)
            raise invalid_arguments(f"[ERROR] missing required field: {name}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in _TRUE

    def number(self, name: str, default: int, *, maximum: int | None = None) -> int:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise invalid_arguments(f"[ERROR] must be an integer [json-pointer:/{name}]") from None
        if number < 0:
            raise invalid_arguments(f"[ERROR] must be positive [json-pointer:/{name}]")
        # Slack treats 0 as "no limit given"
        number = number or default
        return min(number, maximum) if maximum is not None else number


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        kind, _, offset = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "offset":
            raise ValueError(cursor)
        return int(offset)
    except ValueError:
        raise SlackError("invalid_cursor") from None


def paginate(items: Sequence[T], args: Args, *, default: int, maximum: int) -> tuple[list[T], str]:
    """One page of `items` and the `next_cursor` ("" on the last page), like Slack's cursor pagination."""
    limit = args.number("limit", default, maximum=maximum)
    cursor = args.text("cursor")
    start = _decode_cursor(cursor) if cursor else 0
    page = list(items[start : start + limit])
    end = start + len(page)
    return page, _encode_cursor(end) if end < len(items) else ""
