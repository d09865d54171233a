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
