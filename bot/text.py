"""Plain-text helpers shared by domain packages and adapters (no Slack client involved)."""


def slack_escape(value: object) -> str:
    """`value` as text that Slack shows literally: `&`, `<` and `>` become entities, `&` first.

    Slack decodes only these three entities, so nothing else is encoded (an apostrophe stays an
    apostrophe) and an alert titled `<!channel>` notifies nobody. None becomes the empty string.
    """
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def duration_text(seconds: float) -> str:
    """`45 min`, `3 h 5 min`, `2 d 4 h`: how long incidents and shifts lasted, for people."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
