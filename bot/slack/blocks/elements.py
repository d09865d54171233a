"""Small Block Kit element builders shared by the card and the checklist."""

from typing import Any


def button(text: str, action_id: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
        **extra,
    }


def text_input(
    block_id: str,
    action_id: str,
    label: str,
    *,
    max_length: int,
    initial: str | None = None,
    multiline: bool = False,
    optional: bool = False,
) -> dict[str, Any]:
    """An input block with a plain text field; the pre-filled text is cut to what the field takes."""
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "max_length": max_length}
    if multiline:
        element["multiline"] = True
    if initial:
        element["initial_value"] = initial[:max_length]
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label[:2000]},
        "element": element,
    }
    if optional:
        block["optional"] = True
    return block


def modal(
    callback_id: str,
    title: str,
    blocks: list[dict[str, Any]],
    *,
    submit: str,
    close: str = "Cancel",
    metadata: str = "",
) -> dict[str, Any]:
    """A modal view; Slack caps titles at 24 characters and private_metadata at 3,000."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": metadata[:3000],
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": close},
        "blocks": blocks,
    }
