"""Slack's input rules (channel names, Block Kit, modals, metadata) as functions that raise SlackError."""

import json
from typing import Any

from bot.sandbox.models import SlackError, invalid_arguments

CHANNEL_NAME_MAX = 80
TOPIC_MAX = 250
MESSAGE_TEXT_MAX = 40_000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
VIEW_BUTTON_TEXT_MAX = 24
PRIVATE_METADATA_MAX = 3_000
ID_MAX = 255

BLOCK_TYPES = frozenset(
    {
        "actions",
        "call",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)

# (block type, field, limit): the text limits real messages overflow first (PROTOCOLS.md 2.4)
_TEXT_LIMITS: tuple[tuple[str, str, int], ...] = (
    ("section", "text", 3_000),
    ("header", "text", 150),
    ("input", "label", 2_000),
    ("input", "hint", 2_000),
)
_ELEMENT_LIMITS = {"actions": 25, "context": 10}


def parse_json(value: Any, name: str, *, error: str = "invalid_arguments") -> Any:
    """Form posts carry JSON as a string field; JSON posts carry the object itself."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise SlackError(error, response_metadata={"messages": [f"[ERROR] invalid JSON in {name}"]}) from None


def check_channel_name(name: str) -> None:
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > CHANNEL_NAME_MAX:
        raise SlackError("invalid_name_maxlength")
    # letters without case (CJK, ...) are lower-case enough for Slack; anything cased must be lower
    if any(not (ch in "-_" or (ch.isalnum() and not ch.isupper())) for ch in name):
        raise SlackError("invalid_name_specials")
    if all(ch in "-_" for ch in name):
        raise SlackError("invalid_name_punctuation")


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return ""


def block_problems(blocks: Any, *, limit: int, pointer: str) -> list[str]:
    """Every rule `blocks` breaks, in Slack's `[ERROR] ... [json-pointer:...]` message format."""
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{pointer}]")
    seen_ids: set[str] = set()
    for index, block in enumerate(blocks):
        here = f"{pointer}/{index}"
        if not isinstance(block, dict):
            problems.append(f"[ERROR] must be an object [json-pointer:{here}]")
            continue
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            problems.append(f"[ERROR] unsupported type: {kind} [json-pointer:{here}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > ID_MAX:
                problems.append(f"[ERROR] must be a string of at most {ID_MAX} characters [json-pointer:{here}]")
            elif block_id in seen_ids:
                problems.append(f"[ERROR] duplicate block_id: {block_id} [json-pointer:{here}/block_id]")
            else:
                seen_ids.add(block_id)
        for block_type, key, max_len in _TEXT_LIMITS:
            if kind == block_type and len(_text_of(block.get(key))) > max_len:
                problems.append(f"[ERROR] must be less than {max_len + 1} characters [json-pointer:{here}/{key}/text]")
        if kind in _ELEMENT_LIMITS:
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                problems.append(f"[ERROR] must provide at least 1 item [json-pointer:{here}/elements]")
            elif len(elements) > _ELEMENT_LIMITS[kind]:
                problems.append(
                    f"[ERROR] no more than {_ELEMENT_LIMITS[kind]} items allowed [json-pointer:{here}/elements]"
                )
    return problems


def check_message_content(text: str | None, blocks: list[dict[str, Any]] | None) -> None:
    """Message text rules; `blocks` is already shape-checked by parse_blocks."""
    if not text and not blocks:
        raise SlackError("no_text")
    if text is not None and len(text) > MESSAGE_TEXT_MAX:
        raise SlackError("msg_too_long")


def parse_blocks(value: Any) -> list[dict[str, Any]] | None:
    """Decode and shape-check a `blocks` argument (JSON string or list) for a message."""
    if value is None or value == "":
        return None
    blocks = parse_json(value, "blocks", error="invalid_blocks_format")
    problems = block_problems(blocks, limit=MESSAGE_BLOCKS_MAX, pointer="/blocks")
    if problems:
        raise SlackError("invalid_blocks", response_metadata={"messages": problems})
    assert isinstance(blocks, list)
    return blocks


def parse_metadata(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    metadata = parse_json(value, "metadata", error="invalid_metadata_format")
    if not isinstance(metadata, dict):
        raise SlackError("invalid_metadata_format")
    if not isinstance(metadata.get("event_type"), str) or not isinstance(metadata.get("event_payload", {}), dict):
        raise SlackError("invalid_metadata_schema")
    return metadata


def check_view(view: Any) -> dict[str, Any]:
    """Decode a `view` argument and apply the modal limits; returns the view dict."""
    view = parse_json(view, "view")
    if not isinstance(view, dict):
        raise invalid_arguments("[ERROR] must be an object [json-pointer:/view]")
    problems: list[str] = []
    if view.get("type") != "modal":
        problems.append("[ERROR] must be one of: modal [json-pointer:/view/type]")
    if not _text_of(view.get("title")):
        problems.append("[ERROR] missing required field: title [json-pointer:/view/title]")
    for key in ("title", "submit", "close"):
        if len(_text_of(view.get(key))) > VIEW_BUTTON_TEXT_MAX:
            problems.append(
                f"[ERROR] must be less than {VIEW_BUTTON_TEXT_MAX + 1} characters [json-pointer:/view/{key}/text]"
            )
    if len(str(view.get("private_metadata", ""))) > PRIVATE_METADATA_MAX:
        problems.append(
            f"[ERROR] must be less than {PRIVATE_METADATA_MAX + 1} characters [json-pointer:/view/private_metadata]"
        )
    for key in ("callback_id", "external_id"):
        if len(str(view.get(key, ""))) > ID_MAX:
            problems.append(f"[ERROR] must be less than {ID_MAX + 1} characters [json-pointer:/view/{key}]")
    problems += block_problems(view.get("blocks", []), limit=VIEW_BLOCKS_MAX, pointer="/view/blocks")
    if problems:
        raise invalid_arguments(*problems)
    return view
