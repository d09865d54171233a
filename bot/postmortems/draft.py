"""Render a postmortem's Markdown from its facts and people's edits, with a template teams can override.

The template sees plain values that are already made safe for where they go (table cells
have no `|` or line breaks; list items are one line; a section's text has no headings of its
own and closes any code fence it opens; all text has `<`, `>` and `&` as entities), so a
template needs no filters and a title such as `<script>`, `| x |` or a note with an unclosed
code fence cannot break the document. Teams override the template with
`PLAYBOOKS_DIR/templates/postmortem.md.j2`; a broken override falls back to the built-in one
and the draft says so.
"""

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.columns import as_utc
from bot.postmortems.facts import Facts
from bot.text import duration_text

TEMPLATE = "postmortem.md.j2"
BUILTIN = Path(__file__).parent / "templates"
MAX_OUTPUT = 5 * 1024 * 1024  # a template loop gone wrong must not fill the disk
# The sections people can write over in Slack or on the web; the rest always comes from the facts.
SECTIONS = ("summary", "impact", "what_happened", "why_1", "why_2", "why_3", "why_4", "why_5", "lessons", "next_steps")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^( {0,3})(#{1,6})(?=\s|$)")


def md_text(value: object) -> str:
    """Plain text safe in Markdown prose: no raw HTML."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_cell(value: object) -> str:
    """Text safe in a Markdown table cell: one line, no column separators."""
    return " ".join(md_text(value).split()).replace("|", "\\|")


def md_line(value: object) -> str:
    """Text safe as one list item: one line (a line break would end the list), no code fence at its start."""
    line = " ".join(md_text(value).split())
    return "\\" + line if line.startswith(("```", "~~~")) else line


def md_block(value: object) -> str:
    """Paragraphs safe as a section's body: no raw HTML, no headings of their own, every code fence closed.

    A fence left open would turn the rest of the document into code.
    """
    lines: list[str] = []
    fence: str | None = None
    for line in md_text(value).splitlines():
        found = _FENCE.match(line)
        if fence is None and found:
            fence = found.group(1)
        elif fence is None:
            lines.append(_HEADING.sub(r"\1\\\2", line))  # `\#`: a literal hash, not a heading
            continue
        elif found and found.group(1).startswith(fence) and not line.strip().strip(fence[0]):
            fence = None
        lines.append(line)
    if fence is not None:
        lines.append(fence)
    return "\n".join(lines)


def _utc(at: datetime | None) -> str | None:
    return as_utc(at).strftime("%Y-%m-%d %H:%M:%S") if at is not None else None


def _duration(seconds: float | None) -> str | None:
    return duration_text(seconds) if seconds is not None else None


def context(
    facts: Facts,
    edits: Mapping[str, Any],
    *,
    version: int,
    review_state: str,
    action_items: list[dict[str, Any]],
    proposed_runbook: str | None = None,
    people: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the template sees: the facts, with each edited section taking the place of the recorded one."""
    names = dict(people or {})

    def who(actor: str | None) -> str:
        return md_cell(names.get(actor or "", actor or "Warroom"))

    i = facts.incident
    # The model's wording (when one is configured) is below people's edits and the timeline's own answers.
    found = edits.get("model")
    model: Mapping[str, str] = found if isinstance(found, Mapping) else {}
    whys = []
    for why in facts.whys:
        edited = edits.get(f"why_{why.number}") or (None if why.answer else model.get(f"why_{why.number}"))
        if edited:
            whys.append({"number": why.number, "answer": md_line(edited), "cites": [], "question": None})
        else:
            answer = md_line(why.answer) if why.answer else None
            question = md_line(why.question) if why.question else None
            whys.append({"number": why.number, "answer": answer, "cites": list(why.cites), "question": question})
    summary = edits.get("summary") or model.get("summary") or _summary(facts)
    written_impact = edits.get("impact") or model.get("impact")
    impact = written_impact or "**Open question:** who was affected, how many, and for how long?"
    happened = edits.get("what_happened") or facts.what_happened
    lessons = edits.get("lessons") or "\n".join(f"- {md_line(e.text)}" for e in facts.lessons)
    return {
        "incident": {
            "number": i.number,
            "title": md_line(i.title),
            "severity": i.severity,
            "service": md_cell(i.service) if i.service else None,
            "status": i.status,
            "commander": who(i.commander) if i.commander else None,
        },
        "version": version,
        "review_state": review_state.replace("_", " "),
        "summary": md_block(summary),
        "impact": md_block(impact) if written_impact else impact,
        "what_happened": md_block(happened) if happened else "**Open question:** what happened, in a few sentences?",
        "times": {
            "detected": _utc(facts.detected_at),
            "acknowledged": _utc(i.acknowledged_at),
            "mitigated": _utc(i.mitigated_at),
            "resolved": _utc(i.resolved_at),
        },
        "durations": {key: _duration(value) for key, value in facts.durations.items()},
        "alerts": [
            {
                "title": md_line(a.title),
                "source": a.source,
                "severity": a.severity,
                "status": a.status,
                "starts_at": _utc(a.starts_at),
                "ends_at": _utc(a.ends_at),
            }
            for a in facts.alerts
        ],
        "whys": whys,
        "causes": [{"id": e.id, "text": md_line(e.text)} for e in facts.causes],
        "steps": [
            {
                "at": _utc(s.at),
                "title": md_line(s.title),
                "playbook": md_line(s.playbook),
                "status": s.status.replace("_", " "),
                "actor": who(s.actor) if s.actor else None,
                "result": md_line(s.result),
            }
            for s in facts.steps
        ],
        "playbooks": [md_line(p) for p in facts.playbooks],
        "lessons": md_block(lessons) if edits.get("lessons") else (lessons or _no_lessons()),
        "action_items": [
            {"text": md_line(a["text"]), "owner": who(a.get("owner")) if a.get("owner") else None, "due": a.get("due")}
            for a in action_items
        ],
        "timeline": [
            {"id": e.id, "at": _utc(e.at), "who": who(e.actor), "text": md_cell(e.text)} for e in facts.events
        ],
        # Fenced with more backticks than any run inside (CommonMark), so the YAML is shown exactly as
        # written, code blocks in people's notes included, and nothing in it can close the fence.
        "proposed_runbook": proposed_runbook.removesuffix("\n") if proposed_runbook else None,
        "runbook_fence": _fence_for(proposed_runbook or ""),
    }


def _fence_for(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _summary(facts: Facts) -> str:
    i = facts.incident
    service = f" on {i.service}" if i.service else ""
    took = _duration(facts.durations["resolve"])
    ended = f" It was resolved after {took}." if took else " It is not resolved yet."
    return f"SEV{i.severity} incident{service}: {i.title}.{ended}"


def _no_lessons() -> str:
    return "**Open question:** what did we learn? (Notes starting `lesson:` are collected here.)"


def _environment(template_dir: Path | None) -> ImmutableSandboxedEnvironment:
    loaders = [FileSystemLoader(str(template_dir))] if template_dir is not None and template_dir.is_dir() else []
    return ImmutableSandboxedEnvironment(
        loader=ChoiceLoader([*loaders, FileSystemLoader(str(BUILTIN))]),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def render(values: dict[str, Any], *, template_dir: Path | None = None) -> tuple[str, str | None]:
    """(Markdown, a note when the team's template failed and the built-in one was used)."""
    try:
        text = _environment(template_dir).get_template(TEMPLATE).render(values)
        note = None
    except (TemplateError, OSError) as error:
        if template_dir is None:
            raise
        failure = f"{type(error).__name__}: {error}"
        note = f"The team template {template_dir / TEMPLATE} failed ({failure}); used the built-in one."
        text = _environment(None).get_template(TEMPLATE).render(values)
    if len(text) > MAX_OUTPUT:
        text = text[:MAX_OUTPUT] + "\n\n(cut: the draft exceeded 5 MiB)\n"
    return text, note


def recorded_sections(facts: Facts, action_items: list[dict[str, Any]]) -> dict[str, str]:
    """Each editable section as the timeline has it, in plain text: what the edit form starts from."""
    recorded = {
        "summary": _summary(facts),
        "what_happened": facts.what_happened or "",
        "lessons": "\n".join(f"- {e.text}" for e in facts.lessons),  # a list, as the draft shows them
        "next_steps": "\n".join(_item_line(item) for item in action_items),
    }
    for why in facts.whys:
        recorded[f"why_{why.number}"] = why.answer or ""
    return recorded


def _item_line(item: dict[str, Any]) -> str:
    owner = f"<@{item['owner']}> " if item.get("owner") else ""
    due = f" by {item['due']}" if item.get("due") else ""
    return f"{owner}{item['text']}{due}"
