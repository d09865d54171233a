"""Helpers every source parser shares: bounded strings, string maps, UTC timestamps and safe links."""

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

MAX_TITLE = 300
MAX_KEY = 100
MAX_VALUE = 2_000
MAX_ENTRIES = 100
MAX_LINKS = 10
MAX_LINK_TITLE = 100
MAX_URL = 2_000
# Longer identifiers (group keys, fingerprints, incident ids) are replaced by their hash: truncating
# could make two different groups collide, hashing keeps them apart.
MAX_IDENTITY = 200
ELLIPSIS = "…"

_TIMESTAMP = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]"
    r"(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})(?:[.,](?P<fraction>[0-9]+))?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
# Go's zero `time.Time`: what Alertmanager and Grafana send as `endsAt` while an alert fires.
_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
_WHITESPACE = re.compile(r"\s+")
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")
# NUL and lone surrogates (both legal in JSON strings) cannot be stored in PostgreSQL text or sent on.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def as_object(value: object) -> dict[str, Any] | None:
    """`value` if it is a JSON object, else None."""
    return value if isinstance(value, dict) else None


def bound(value: str, limit: int) -> str:
    """`value` made storable and cut to at most `limit` characters, marking the cut with an ellipsis."""
    value = _UNSTORABLE.sub("\ufffd", value[: limit + 1])
    return value if len(value) <= limit else value[: limit - 1] + ELLIPSIS


def scalar_text(value: object, limit: int = MAX_VALUE) -> str | None:
    """A JSON scalar as stripped, bounded text; None for null, empty strings, objects and arrays."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float):
        text = str(value)
    else:
        return None
    return bound(text, limit) if text else None


def text(value: object, limit: int = MAX_VALUE) -> str | None:
    """A JSON string as stripped, bounded text; None for anything else or an empty string."""
    return scalar_text(value, limit) if isinstance(value, str) else None


def title_text(value: object) -> str | None:
    """A string as a one-line title: whitespace runs collapsed, at most `MAX_TITLE` characters."""
    if not isinstance(value, str):
        return None
    # Collapse before bounding so a huge run of whitespace cannot eat the budget; cap the work first.
    collapsed = _WHITESPACE.sub(" ", value[: MAX_TITLE * 4]).strip()
    return bound(collapsed, MAX_TITLE) if collapsed else None


def first(*candidates: str | None) -> str | None:
    """The first candidate that is not None (or empty)."""
    return next((candidate for candidate in candidates if candidate), None)


def summary_of(reference: object, limit: int = MAX_VALUE) -> str | None:
    """The `summary` of a PagerDuty-style reference object, if it has one."""
    obj = as_object(reference)
    return text(obj.get("summary"), limit) if obj is not None else None


def string_map(*sources: object, erase: tuple[str, ...] = ()) -> dict[str, str]:
    """Merge JSON objects of scalars into bounded `str -> str`; earlier sources win on equal keys.

    Non-objects are ignored, as are entries whose value is not a scalar. Each string in `erase` is
    removed from the values; entries left empty are dropped.
    """
    result: dict[str, str] = {}
    for source in sources:
        if not isinstance(source, dict):
            continue
        for raw_key, raw_value in source.items():
            if len(result) >= MAX_ENTRIES:
                return result
            key = text(raw_key, MAX_KEY)
            value = scalar_text(raw_value, MAX_VALUE)
            for junk in erase:
                value = (value or "").replace(junk, "").strip()
            if key is None or not value or key in result:
                continue
            result[key] = value
    return result


def identity(value: str) -> str:
    """`value` itself, or its SHA-256 when too long to store as a key."""
    if len(value) <= MAX_IDENTITY:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def key_text(value: object) -> str | None:
    """A JSON string used as an identifier: stripped, never cut (see `identity`); None if empty."""
    if not isinstance(value, str) or not value.strip():
        return None
    return identity(_UNSTORABLE.sub("\ufffd", value.strip()))


def canonical_json(value: object) -> str:
    """`value` as JSON with sorted keys and no spaces: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def short_hash(value: object) -> str:
    """`sha256:` + 16 hex digits of the canonical JSON of `value` (a stable made-up identifier)."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode("ascii")).hexdigest()[:16]


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 / RFC 3339 timestamp as an aware UTC datetime, or None.

    Accepts `Z` or `±hh:mm` offsets (no offset means UTC) and fractional seconds of any length
    (Alertmanager sends nanoseconds; Python keeps microseconds). Go's zero time and anything
    unparseable give None.
    """
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day = (int(part) for part in match["date"].split("-"))
    hour, minute, second = (int(part) for part in match["time"].split(":"))
    micro = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    zone = match["zone"]
    try:
        tz = UTC if zone is None or zone in {"Z", "z"} else _offset(zone)
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):  # month 13, offset beyond ±24h, year 1 shifted below year 1
        return None
    return None if moment == _GO_ZERO_TIME else moment


def _offset(zone: str) -> timezone:
    digits = zone[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-delta if zone[0] == "-" else delta)


def http_url(value: object) -> str | None:
    """`value` if it is an absolute http(s) URL that is safe to link to, else None."""
    url = text(value, MAX_URL + 1)
    if url is None or len(url) > MAX_URL or _UNSAFE_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return url


def links(candidates: Iterable[tuple[str, object]]) -> list[dict[str, str]]:
    """`{"title", "url"}` links from (title, url) pairs: http(s) only, no repeats, at most `MAX_LINKS`."""
    result: list[dict[str, str]] = []
    seen: set[str] = set()
    for title, candidate in candidates:
        url = http_url(candidate)
        if url is None or url in seen:
            continue
        seen.add(url)
        result.append({"title": bound(title, MAX_LINK_TITLE), "url": url})
        if len(result) >= MAX_LINKS:
            break
    return result


def mapping_get(source: Mapping[str, str], *keys: str) -> str | None:
    """The value of the first of `keys` present in `source`."""
    return first(*(source.get(key) for key in keys))
