"""Block Kit for handoffs: the report, the incoming person's DM, the note request and its modal."""

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.slack.blocks.elements import button, modal, text_input
from bot.slack.escape import escape, truncate
from bot.text import duration_text

NOTE_BUTTON = "handoff_note_open"
NOTE_MODAL = "handoff_note_modal"
NOTE_BLOCK = "handoff_note"
NOTE_INPUT = "handoff_note_text"
NOTE_MAX = 2900  # what the note form accepts
TITLE_MAX = 120  # an incident title or step in a list, so 15 of them fit a 3,000-character section
SECTION_TEXT = 2800  # note text per section, leaving room for its heading

Mention = Callable[[str | None], str]


def _when(iso: str, zone: str) -> str:
    local = datetime.fromisoformat(iso).astimezone(ZoneInfo(zone))
    return local.strftime("%a %d %b %H:%M")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 3000)}]}


def _incident_line(item: dict[str, Any]) -> str:
    where = f"<#{item['channel_id']}>" if item.get("channel_id") else f"#{item['number']}"
    if item.get("resolved_at"):
        how_long = f"resolved after {duration_text(item['duration_seconds'])}"
    else:
        how_long = f"{escape(item['status'])} for {duration_text(item['duration_seconds'])}"
    title = escape(truncate(item["title"], TITLE_MAX))
    return f"• *#{item['number']}* {title} · SEV{item['severity']} · {how_long} · {where}"


def _listing(title: str, section: dict[str, Any], line: Callable[[dict[str, Any]], str]) -> dict[str, Any] | None:
    items, more = section["items"], section["more"]
    if not items:
        return None
    lines = [line(item) for item in items] + ([f"…and {more} more"] if more else [])
    # 15 lines of at most ~170 characters each fit one section's 3,000: nothing is cut off silently.
    return _section(f"*{title} ({len(items) + more})*\n" + "\n".join(lines))


def _step_line(item: dict[str, Any]) -> str:
    state = {"failed": " (failed)", "failed_unknown": " (outcome unknown)"}.get(item["status"], "")
    return f"• *#{item['incident']}* {truncate(item['step'], TITLE_MAX)}{state}"


def report_blocks(report: dict[str, Any], mention: Mention) -> list[dict[str, Any]]:
    """The handoff report; `mention` turns a member (email or user id) into text for Slack."""
    zone = report["schedule"]["timezone"]
    title = escape(report["schedule"]["title"])
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(f"Handoff: {report['schedule']['title']}", 150)},
        },
        _section(f"{mention(report['outgoing'])} hands over to {mention(report['incoming'])}."),
        _context(f"Shift {_when(report['since'], zone)} to {_when(report['until'], zone)} ({escape(zone)}) · {title}"),
    ]
    if report.get("kind") == "manual":
        blocks.append(_context(f"Posted on request by {mention(report.get('posted_by'))}; the shift goes on."))
    late = int(report.get("late_by_seconds") or 0)
    if late >= 60:
        blocks.append(_context(f":warning: Posted {duration_text(late)} late: Warroom was not running at the handoff."))
    sections = [
        _listing("Still open", report["still_open"], _incident_line),
        _listing("Opened during the shift", report["opened"], _incident_line),
        _listing("Resolved during the shift", report["resolved"], _incident_line),
        _listing("Unfinished runbook steps", report["unfinished_steps"], _step_line),
    ]
    found = [s for s in sections if s is not None]
    blocks += found or [_section("A quiet shift: no incidents for this schedule.")]
    note = report.get("note")
    if note:
        quoted = "\n".join(f"> {line}" for line in escape(note["text"]).splitlines() or [""])
        heading = f"*Note from {mention(note.get('author'))}*\n"
        # Escaping and quoting make a note longer than typed: give it as many sections as it needs.
        for n, start in enumerate(range(0, len(quoted), SECTION_TEXT)):
            blocks.append(_section((heading if n == 0 else "") + quoted[start : start + SECTION_TEXT]))
    return blocks


def report_text(report: dict[str, Any]) -> str:
    """The notification text (and the fallback where blocks are not shown)."""
    return f"Handoff for {report['schedule']['title']}"


def incoming_blocks(report: dict[str, Any], mention: Mention) -> list[dict[str, Any]]:
    """The DM to the incoming person: the report, led by what is theirs now."""
    lead = _section(
        f"You are on call for *{escape(report['schedule']['title'])}* from now. Here is what you take over."
    )
    return [lead, *report_blocks(report, mention)[1:]]


def note_request_blocks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    zone = payload["schedule"]["timezone"]
    at = _when(payload["shift_start"], zone)
    text = (
        f"Your shift on *{escape(payload['schedule']['title'])}* ends at {at} ({escape(zone)}). "
        "Anything the next person should know? Your note goes into the handoff report."
    )
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": text},
            "accessory": button("Add a handoff note", NOTE_BUTTON, str(payload["note_id"])),
        }
    ]


def note_modal(note_id: int, schedule_title: str, current: str | None) -> dict[str, Any]:
    label = f"For the next on-call of {schedule_title}"
    field = text_input(NOTE_BLOCK, NOTE_INPUT, label, max_length=NOTE_MAX, initial=current, multiline=True)
    return modal(NOTE_MODAL, "Handoff note", [field], submit="Save", metadata=str(note_id))
