"""Plain-text helpers shared by domain packages and adapters (no Slack client involved)."""


def slack_escape(value: object) -> str:
    """`value` as text that Slack shows literally: `&`, `<` and `>` become entities, `&` first.

    Slack decodes only these three entities, so nothing else is encoded (an apostrophe stays an
    apostrophe) and an alert titled `<!channel>` notifies nobody. None becomes the empty string.
    """
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
