"""Text safety for Slack: mrkdwn escaping, mentions, and truncation to Block Kit limits."""

import re

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def escape(text: object) -> str:
    """Escape Slack's control characters; `&` first so `&lt;` does not become `&amp;lt;`.

    Nothing else is entity-encoded: Slack decodes only these three (PROTOCOLS.md 2.5), so an
    alert titled `<!channel>` shows literally and notifies nobody.
    """
    s = "" if text is None else str(text)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_user_id(actor: str | None) -> bool:
    return bool(actor and _USER_ID.match(actor))


def mention(actor: str | None) -> str:
    """A Slack user id as a mention; any other actor (an alert source, a PagerDuty user) escaped."""
    if actor is None:
        return "someone"
    return f"<@{actor}>" if is_user_id(actor) else escape(actor)


def link(url: str, label: str) -> str:
    """A mrkdwn link, or just the escaped label when the URL could break out of `<url|label>`."""
    if not url.startswith(("https://", "http://")) or any(c in url for c in "<>| \n"):
        return escape(label)
    return f"<{escape(url)}|{escape(label).replace('|', '¦')}>"
