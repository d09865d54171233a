"""Postmortem forms within Slack's limits: split long sections, leave out what cannot fit, never cut text."""

import json
from typing import Any

from bot.postmortems.tables import Postmortem, PostmortemVersion, ReviewState
from bot.slack.blocks.postmortem import INPUT_MAX, edit_modal, edited_sections, fingerprint, summary_blocks


def _inputs(view: dict[str, Any]) -> dict[str, str]:
    return {b["block_id"]: b["element"].get("initial_value", "") for b in view["blocks"] if b["type"] == "input"}


def test_a_long_section_is_split_and_joins_back_whole() -> None:
    text = "\n".join(f"line {n} " + "x" * 60 for n in range(120))  # ~8,000 characters
    view = edit_modal(7, 3, {"impact": text}, "C1")
    parts = {k: v for k, v in _inputs(view).items() if k.startswith("impact.")}
    assert len(parts) == 3 and all(len(p) <= INPUT_MAX for p in parts.values())
    state = {k: {"text": {"value": v}} for k, v in parts.items()}
    assert edited_sections(state) == {"impact": text}


def test_a_section_too_long_for_the_form_is_left_out_not_cut() -> None:
    view = edit_modal(7, 3, {"impact": "y" * 20_000, "summary": "short"}, None)
    inputs = _inputs(view)
    assert not any(k.startswith("impact.") for k in inputs) and inputs["summary.0"] == "short"
    assert any("20,000 characters" in json.dumps(b) for b in view["blocks"] if b["type"] == "context")
    # Only sections in the form carry a fingerprint: a left-out one can never turn into an edit.
    assert "impact=" not in view["private_metadata"] and f"summary={fingerprint('short')}" in view["private_metadata"]


def test_multibyte_text_stays_under_slacks_view_size() -> None:
    sections = {name: "ü漢" * 4_000 for name in ("summary", "impact", "what_happened", "lessons", "why_1", "why_2")}
    view = edit_modal(7, 3, sections, None)
    assert len(json.dumps(view, ensure_ascii=False).encode()) < 250_000


def test_a_section_that_line_cuts_would_not_fit_is_left_out() -> None:
    text = "\n".join("z" * 1_599 for _ in range(7))  # 11,199 characters, but 7 lines of 1,600 need 7 inputs
    view = edit_modal(7, 3, {"impact": text}, None)
    assert not any(k.startswith("impact.") for k in _inputs(view))


def test_approve_names_the_version_it_shows() -> None:
    postmortem = Postmortem(id=4, incident_id=1, current_version=3, state=ReviewState.IN_REVIEW)
    version = PostmortemVersion(postmortem_id=4, number=3, reason="edited", markdown="")
    blocks = summary_blocks(9, postmortem, version, url="http://x", open_questions=0)
    approve = next(e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["text"]["text"] == "Approve")
    assert approve["value"] == "4:3"
