"""Block Kit for postmortems: the summary message with its buttons, and the edit and request-changes modals."""

import hashlib
from typing import Any

from bot.postmortems.draft import SECTIONS
from bot.postmortems.facts import MAX_WHYS
from bot.postmortems.tables import Postmortem, PostmortemVersion, ReviewState
from bot.slack.blocks.elements import button, modal, text_input
from bot.slack.escape import escape, mention, truncate
from bot.slack.ids import CHANGES_FIELD, PostmortemAction, PostmortemView

INPUT_MAX = 3000  # plain_text_input max_length and initial_value
PARTS_MAX = 4  # a section longer than one input is split over up to four
# Slack refuses a view over 250 kB (view_too_large); pre-filled text is kept well below, UTF-8 bytes counted.
VIEW_TEXT_BUDGET = 150_000
STATE_TEXT = {
    ReviewState.DRAFT: "Draft",
    ReviewState.IN_REVIEW: "In review",
    ReviewState.CHANGES_REQUESTED: "Changes requested",
    ReviewState.APPROVED: "Approved",
}
LABELS = {
    "summary": "Summary",
    "impact": "Impact",
    "what_happened": "What happened?",
    **{f"why_{n}": f"Why {n}?" for n in range(1, MAX_WHYS + 1)},
    "lessons": "Lessons learned",
    "next_steps": "Next steps (one per line: @owner what by YYYY-MM-DD)",
}


def summary_blocks(
    number: int, postmortem: Postmortem, version: PostmortemVersion, *, url: str, open_questions: int
) -> list[dict[str, Any]]:
    """The message in the incident channel: where the review stands, and the four buttons."""
    state = STATE_TEXT.get(ReviewState(postmortem.state), postmortem.state)
    lines = [f"*Postmortem for incident #{number}* · {state} · version {version.number}"]
    if postmortem.state == ReviewState.APPROVED and postmortem.approved_by:
        lines.append(f"Approved by {mention(postmortem.approved_by)}.")
    if postmortem.state == ReviewState.CHANGES_REQUESTED and postmortem.changes_requested_by:
        lines.append(f"Changes requested by {mention(postmortem.changes_requested_by)}.")
    if open_questions:
        lines.append(f"{open_questions} open question{'s' * (open_questions != 1)} for the review.")
    if version.note:
        lines.append(f"_{escape(truncate(version.note, 500))}_")
    value = str(postmortem.id)
    buttons = [
        button("Open draft", PostmortemAction.OPEN, value, url=url),
        button("Edit", PostmortemAction.EDIT, value),
    ]
    if postmortem.state != ReviewState.APPROVED:
        buttons.append(
            button(
                "Approve",
                PostmortemAction.APPROVE,
                f"{value}:{version.number}",  # approves the version shown, not whatever is newest at the click
                style="primary",
                confirm={
                    "title": {"type": "plain_text", "text": "Approve the postmortem?"},
                    "text": {"type": "mrkdwn", "text": f"Version {version.number} becomes the approved text."},
                    "confirm": {"type": "plain_text", "text": "Approve"},
                    "deny": {"type": "plain_text", "text": "Not yet"},
                },
            )
        )
    buttons += [
        button("Request changes", PostmortemAction.REQUEST_CHANGES, value),
        button("Regenerate", PostmortemAction.REGENERATE, value),
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate("\n".join(lines), 3000)}},
        {"type": "actions", "block_id": f"postmortem_{postmortem.id}_v{postmortem.version}", "elements": buttons},
    ]


def parts(text: str) -> list[str]:
    """A section cut into input-sized parts at line ends where possible; at most PARTS_MAX."""
    found: list[str] = []
    rest = text
    while rest and len(found) < PARTS_MAX:
        if len(rest) <= INPUT_MAX:
            found.append(rest)
            break
        cut = rest.rfind("\n", 0, INPUT_MAX)
        cut = cut if cut > INPUT_MAX // 2 else INPUT_MAX
        found.append(rest[:cut])
        rest = rest[cut:]
    return found


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()[:10]


def loading_modal(title: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Loading…"}}],
    }


def notice_modal(title: str, text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def edit_modal(postmortem_id: int, based_on: int, current: dict[str, str], channel: str | None) -> dict[str, Any]:
    """Each section as a multi-line input, pre-filled; a long one is split over several inputs.

    `private_metadata` carries a fingerprint of each text shown, so a save counts as an edit
    only what the person changed, never what the timeline added while the form was open.
    """
    blocks: list[dict[str, Any]] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Leave a field empty to keep what the timeline says. Saving makes a new version.",
                }
            ],
        }
    ]
    shown: list[str] = []
    budget = VIEW_TEXT_BUDGET
    for name in SECTIONS:
        text = current.get(name, "")
        # Also when cutting at line ends would need more inputs than the form has: never a cut section.
        if len(text) > PARTS_MAX * INPUT_MAX or len(text.encode()) > budget or "".join(parts(text)) != text:
            # Cutting it to fit would save the cut text: leave it out of the form, untouched.
            note = f"*{LABELS[name]}* is {len(text):,} characters, longer than this form holds; it is kept as it is."
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
            continue
        budget -= len(text.encode())
        shown.append(f"{name}={fingerprint(text)}")
        texts = parts(text) or [""]
        for position, piece in enumerate(texts):
            label = LABELS[name] + (f" (part {position + 1} of {len(texts)})" if len(texts) > 1 else "")
            blocks.append(
                text_input(
                    f"{name}.{position}",
                    "text",
                    label,
                    max_length=INPUT_MAX,
                    initial=piece,
                    multiline=True,
                    optional=True,
                )
            )
    metadata = f"{postmortem_id}:{based_on}:{channel or ''}:{','.join(shown)}"
    return modal(PostmortemView.EDIT, "Edit postmortem", blocks, submit="Save version", metadata=metadata)


def edited_sections(values: dict[str, Any]) -> dict[str, str]:
    """Section name -> text, joined from its parts, from a submitted edit modal's state."""
    joined: dict[str, list[tuple[int, str]]] = {}
    for block_id, inputs in values.items():
        name, _, position = block_id.partition(".")
        if name not in SECTIONS or not position.isdigit():
            continue
        text = str(((inputs or {}).get("text") or {}).get("value") or "")
        joined.setdefault(name, []).append((int(position), text))
    return {name: "".join(t for _, t in sorted(pieces)) for name, pieces in joined.items()}


def changes_modal(postmortem_id: int, channel: str | None) -> dict[str, Any]:
    field = text_input(CHANGES_FIELD, CHANGES_FIELD, "What should change?", max_length=2000, multiline=True)
    return modal(
        PostmortemView.REQUEST_CHANGES,
        "Request changes",
        [field],
        submit="Send",
        metadata=f"{postmortem_id}:{channel or ''}",
    )


WHYS_FIELDS = ("what_happened", *(f"why_{n}" for n in range(1, MAX_WHYS + 1)))


def whys_modal(incident_id: int, number: int, recorded: dict[str, str], channel: str | None) -> dict[str, Any]:
    """Asked when an incident is resolved: what happened, and up to five whys, pre-filled with what was recorded."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"Incident *#{number}* is resolved. While it is fresh: what happened, and why? "
                "Each answer goes on the timeline and into the postmortem draft. Leave the rest empty.",
            },
        }
    ]
    labels = {"what_happened": "What happened?", "why_1": "Why did it happen? (why 1)"}
    labels |= {f"why_{n}": f"And why was that? (why {n})" for n in range(2, MAX_WHYS + 1)}
    for name in WHYS_FIELDS:
        blocks.append(
            text_input(
                f"{name}.0",
                "text",
                labels[name],
                max_length=INPUT_MAX,
                initial=recorded.get(name),
                multiline=True,
                optional=True,
            )
        )
    metadata = f"{incident_id}:{channel or ''}"
    return modal(PostmortemView.WHYS, "What happened?", blocks, submit="Save answers", close="Later", metadata=metadata)
