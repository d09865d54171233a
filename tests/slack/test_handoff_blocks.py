"""Handoff Block Kit: alert and user text escaped, long lists counted, lateness and manual posts said plainly."""

import json
from typing import Any

from bot.slack.blocks.handoff import incoming_blocks, note_modal, note_request_blocks, report_blocks


def _incident(number: int, title: str, *, resolved: bool = False) -> dict[str, Any]:
    return {
        "number": number,
        "title": title,
        "severity": 2,
        "status": "resolved" if resolved else "acknowledged",
        "service": "payments",
        "channel_id": f"C{number:04d}",
        "opened_at": "2026-11-23T10:00:00+00:00",
        "resolved_at": "2026-11-23T11:30:00+00:00" if resolved else None,
        "duration_seconds": 5400,
    }


def _report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "schedule": {"id": "platform", "title": "Platform", "timezone": "Europe/Berlin"},
        "since": "2026-11-23T08:00:00+00:00",
        "until": "2026-11-24T08:00:00+00:00",
        "outgoing": "alice@example.com",
        "incoming": "bob@example.com",
        "opened": {"items": [], "more": 0},
        "resolved": {"items": [], "more": 0},
        "still_open": {"items": [], "more": 0},
        "unfinished_steps": {"items": [], "more": 0},
        "note": None,
        "kind": "scheduled",
        "late_by_seconds": 0,
        "posted_by": None,
    }
    report.update(changes)
    return report


def _mention(member: str | None) -> str:
    return {"alice@example.com": "<@U0ALICE>", "bob@example.com": "<@U0BOB>"}.get(member or "", "nobody")


def _all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_a_quiet_shift_names_both_people_and_the_shift_in_local_time() -> None:
    blocks = report_blocks(_report(), _mention)
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Handoff: Platform"}}
    assert blocks[1]["text"]["text"] == "<@U0ALICE> hands over to <@U0BOB>."
    # 08:00 UTC is 09:00 in Berlin in November.
    assert "Mon 23 Nov 09:00 to Tue 24 Nov 09:00 (Europe/Berlin)" in blocks[2]["elements"][0]["text"]
    assert "A quiet shift" in _all_text(blocks)


def test_incident_titles_and_notes_from_people_are_escaped() -> None:
    report = _report(
        still_open={"items": [_incident(7, "<!channel> payments down & out")], "more": 0},
        note={"text": "ping <!here> about <db>\nsecond line", "author": "alice@example.com"},
    )
    text = _all_text(report_blocks(report, _mention))
    assert "<!channel>" not in text and "<!here>" not in text
    assert "&lt;!channel&gt; payments down &amp; out" in text
    assert "> ping &lt;!here&gt; about &lt;db&gt;\\n> second line" in text
    assert "*Note from <@U0ALICE>*" in text


def test_sections_list_incidents_with_durations_links_and_a_count_of_the_rest() -> None:
    report = _report(
        opened={"items": [_incident(n, f"Incident {n}") for n in range(1, 16)], "more": 4},
        resolved={"items": [_incident(3, "Fixed", resolved=True)], "more": 0},
        unfinished_steps={
            "items": [{"incident": 7, "channel_id": "C7", "step": "Grow storage", "status": "failed"}],
            "more": 0,
        },
    )
    blocks = report_blocks(report, _mention)
    opened = next(b["text"]["text"] for b in blocks if "Opened during the shift" in b.get("text", {}).get("text", ""))
    assert opened.startswith("*Opened during the shift (19)*")
    assert "…and 4 more" in opened
    assert "• *#1* Incident 1 · SEV2 · acknowledged for 1 h 30 min · <#C0001>" in opened
    text = _all_text(blocks)
    assert "resolved after 1 h 30 min" in text
    assert "• *#7* Grow storage (failed)" in text


def test_long_titles_and_notes_are_shortened_or_split_never_cut_off() -> None:
    titles = [_incident(n, "x" * 300 + f" & <{n}>") for n in range(1, 16)]
    note_lines = [f"line {n} & <b>" for n in range(290)]
    report = _report(
        still_open={"items": titles, "more": 3},
        note={"text": "\n".join(note_lines)[:2900], "author": "alice@example.com"},
    )
    blocks = report_blocks(report, _mention)
    listing = next(b["text"]["text"] for b in blocks if "Still open" in b.get("text", {}).get("text", ""))
    assert listing.endswith("…and 3 more") and len(listing) <= 3000
    assert listing.count("• *#") == 15
    note_text = "".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    kept = "\n".join(note_lines)[:2900].splitlines()
    assert all(
        f"> {line.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}" in note_text for line in kept
    )
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")


def test_late_and_manual_reports_say_so() -> None:
    late = _all_text(report_blocks(_report(late_by_seconds=40 * 60), _mention))
    assert "Posted 40 min late" in late
    on_time = _all_text(report_blocks(_report(late_by_seconds=20), _mention))
    assert "late" not in on_time
    manual = _all_text(report_blocks(_report(kind="manual", posted_by="bob@example.com"), _mention))
    assert "Posted on request by <@U0BOB>; the shift goes on." in manual


def test_the_incoming_dm_leads_with_what_is_theirs() -> None:
    blocks = incoming_blocks(_report(), _mention)
    assert blocks[0]["text"]["text"].startswith("You are on call for *Platform* from now.")
    assert blocks[1]["text"]["text"] == "<@U0ALICE> hands over to <@U0BOB>."


def test_the_note_request_and_modal_stay_within_slacks_limits() -> None:
    payload = {
        "note_id": 12,
        "schedule": {"id": "platform", "title": "Platform <ops>", "timezone": "Europe/Berlin"},
        "shift_start": "2026-11-24T08:00:00+00:00",
    }
    request = note_request_blocks(payload)
    assert request[0]["accessory"]["value"] == "12"
    assert "Platform &lt;ops&gt;" in request[0]["text"]["text"] and "Tue 24 Nov 09:00" in request[0]["text"]["text"]
    modal = note_modal(12, "Platform", "x" * 5000)
    element = modal["blocks"][0]["element"]
    assert modal["private_metadata"] == "12" and len(element["initial_value"]) == element["max_length"] <= 3000
