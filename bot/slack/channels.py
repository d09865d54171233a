"""Incident channel names that Slack accepts: lowercase, digits, `-`, `_`, at most 80 characters."""

import re
import unicodedata

MAX_NAME = 80
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def slugify(title: str) -> str:
    """ASCII slug of a title; non-Latin titles fall back to "incident" rather than an empty slug."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_ALLOWED.sub("-", ascii_text.lower()).strip("-_")
    return re.sub(r"-{2,}", "-", slug) or "incident"


def channel_name(template: str, number: int, title: str, attempt: int = 0) -> str:
    """The name for an incident channel; `attempt` > 0 adds a suffix after `name_taken`.

    The number stays whole and the suffix survives truncation, so names stay unique.
    """
    suffix = f"-{attempt + 1}" if attempt else ""
    slug = slugify(title)
    base = template.format(number=number, slug="\0")
    room = MAX_NAME - len(base.replace("\0", "")) - len(suffix)
    name = base.replace("\0", slug[: max(room, 0)].rstrip("-_"))
    name = _NOT_ALLOWED.sub("-", name.lower()).strip("-_")
    return re.sub(r"-{2,}", "-", name)[: MAX_NAME - len(suffix)] + suffix
