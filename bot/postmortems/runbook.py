"""The proposed runbook: a playbook skeleton made from what people did during an incident that had none."""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from bot.alerts.models import AlertRow, Source
from bot.columns import as_utc
from bot.incidents.models import EventKind, Incident
from bot.playbooks.schema import PLAYBOOK_ID, SEVERITIES, STEP_ID
from bot.playbooks.tables import StepStatus
from bot.playbooks.templating import LIMITS
from bot.postmortems.facts import Facts, marker_of

MAX_STEPS = 30  # a proposal longer than this is a transcript, not a checklist
MAX_VALUES = 20  # alert names or services in one rule: an alert storm must not become a 500-name rule
# The loader refuses files over 256 KiB; leave room for the reviewer's edits.
MAX_BYTES = 200 * 1024
TITLE_LIMIT = LIMITS["title"]
TEXT_LIMIT = LIMITS["text"]
STEP_SLUG_LIMIT = 40
ELLIPSIS = "…"
# Sources whose alerts carry Prometheus-style labels, where `alertname` names the rule that fired.
LABELLED_SOURCES = (Source.ALERTMANAGER, Source.GRAFANA)
# The label of the rule written when an incident had neither alerts nor a service: it fires only for
# alerts that carry it, so an unreviewed proposal never starts for unrelated alerts.
FALLBACK_LABEL = "warroom_playbook"
# What the pin handler records for a message without text (bot/slack/ops.py): nothing to do there.
EMPTY_PIN = "(message without text)"
_OPENER = re.compile(r"\{(?=[{%#])")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class _Entry:
    title: str
    text: str | None
    slug_source: str


def propose(facts: Facts) -> str | None:
    """A playbook YAML made from the incident's notes, pins and steps, or None when a playbook was attached.

    The result loads without errors (`warroom playbooks lint`): every value goes through the YAML
    dumper, never string formatting, and text copied from notes is wrapped so the template engine
    shows `{{`, `{%` and `{#` literally.
    """
    if facts.playbooks:
        return None
    incident = facts.incident
    entries = _entries(facts)
    omitted = max(0, len(entries) - MAX_STEPS)
    entries = entries[:MAX_STEPS]
    playbook_id = _playbook_id(incident)
    while True:
        document = _document(incident, playbook_id, facts.alerts, entries)
        text = _header(incident, omitted) + _dump(document)
        # Huge notes in a script with multi-byte characters can overflow the file limit: drop from the end.
        if len(text.encode("utf-8")) <= MAX_BYTES or len(entries) <= 1:
            return text
        entries = entries[:-1]
        omitted += 1


def _entries(facts: Facts) -> list[_Entry]:
    """Notes, pins and finished steps in timeline order, once each (by their whitespace-normalised text)."""
    timed: list[tuple[datetime, int, _Entry]] = []
    for position, event in enumerate(facts.events):
        if event.kind not in (EventKind.NOTE, EventKind.PINNED):
            continue
        # Resolve-form answers ("what happened") are narrative for the postmortem, not something done.
        if "field" in event.data:
            continue
        marker, _ = marker_of(event.text)
        if marker is not None:  # causes, lessons and action items have their own sections
            continue
        entry = _entry(event.text)
        if entry is not None:
            timed.append((as_utc(event.at), position, entry))
    offset = len(facts.events)
    for position, step in enumerate(facts.steps):
        if step.status != StepStatus.DONE:
            continue
        body = step.title if not step.result else f"{step.title}\n{step.result}"
        entry = _entry(body)
        if entry is not None:
            timed.append((as_utc(step.at), offset + position, entry))
    timed.sort(key=lambda item: (item[0], item[1]))
    seen: set[str] = set()
    unique: list[_Entry] = []
    for _, _, entry in timed:
        key = " ".join(f"{entry.title}\n{entry.text or ''}".split()).casefold()
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    return unique


def _clean(text: str) -> str:
    # Lone surrogates cannot be written as UTF-8; Jinja turns \r\n and \r into \n when rendering anyway.
    text = _SURROGATE.sub("\ufffd", text)
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _entry(raw: str) -> _Entry | None:
    text = _clean(raw)
    if not text or text == EMPTY_PIN:
        return None
    first, _, rest = text.partition("\n")
    first = first.strip()
    # A title that has to be cut leaves the whole note to the text, so nothing is lost.
    body = (rest.strip() or None) if len(first) <= TITLE_LIMIT else text
    return _Entry(title=_cut(first, TITLE_LIMIT), text=_cut(body, TEXT_LIMIT) if body else None, slug_source=first)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def literal(text: str) -> str:
    """`text` as a playbook template that renders as exactly `text` (before Slack escaping of values).

    Wrapped in `{% raw %}` when it holds something Jinja would read as a tag; a text that itself
    contains `endraw` could close that block early, so there each tag opener's `{` is printed by an
    expression instead.
    """
    if _OPENER.search(text) is None:
        return text
    if "endraw" not in text.casefold():
        return "{% raw %}" + text + "{% endraw %}"
    return _OPENER.sub("{{ '{' }}", text)


def slug(text: str, limit: int) -> str:
    """Lower-case ASCII letters, digits and `-` from `text`, at most `limit` characters ('' if none)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(words) <= limit:
        return words
    cut = words[: limit + 1]
    # End at a word boundary when there is one: `restart-the-primary`, not `restart-the-pri`.
    return (cut[: cut.rfind("-")] if "-" in cut else cut[:limit]).rstrip("-")


def _playbook_id(incident: Incident) -> str:
    found = slug(incident.title, 63)
    return found if PLAYBOOK_ID.fullmatch(found) else f"incident-{incident.number}"


def _step_ids(entries: Iterable[_Entry]) -> list[str]:
    ids: list[str] = []
    used: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        base = slug(entry.slug_source, STEP_SLUG_LIMIT)
        if not STEP_ID.fullmatch(base):
            base = f"step-{number}"
        candidate, suffix = base, 2
        while candidate in used:
            candidate, suffix = f"{base}-{suffix}", suffix + 1
        used.add(candidate)
        ids.append(candidate)
    return ids


def _document(incident: Incident, playbook_id: str, alerts: list[AlertRow], entries: list[_Entry]) -> dict[str, Any]:
    title = " ".join(incident.title.split())[:TITLE_LIMIT] or f"Incident #{incident.number}"
    document: dict[str, Any] = {
        "id": playbook_id,
        "title": title,
        "description": f"Proposed from what people did during incident #{incident.number}; review every step.",
    }
    if incident.severity in SEVERITIES:
        document["severity"] = incident.severity
    document["match"] = {"any": match_rules(incident, alerts, playbook_id)}
    if entries:
        steps: list[dict[str, str]] = []
        for step_id, entry in zip(_step_ids(entries), entries, strict=True):
            step = {"id": step_id, "title": literal(entry.title)}
            if entry.text:
                step["text"] = literal(entry.text)
            steps.append(step)
    else:
        steps = [
            {
                "id": "first-step",
                "title": "Write the first step here",
                "text": "Nobody recorded a note or pinned a message during the incident.",
            }
        ]
    document["steps"] = steps
    return document


def match_rules(incident: Incident, alerts: list[AlertRow], playbook_id: str) -> list[dict[str, Any]]:
    """`match.any` rules for alerts like this incident's.

    An `alertname` label where the source has one (the alerting rule that fired); else the
    alert's service and source; without alerts the incident's service; without that a label
    only an alert meant for this playbook carries.
    """
    names: dict[str, None] = {}  # dicts keep first-seen order
    named_sources: dict[str, None] = {}
    services: dict[str, dict[str, None]] = {}  # source -> services
    for alert in alerts:
        source = alert.source if alert.source in set(Source) else None
        name = alert.labels.get("alertname") if isinstance(alert.labels, dict) else None
        if source in LABELLED_SOURCES and isinstance(name, str) and name.strip():
            names[name] = None
            named_sources[source] = None
            continue
        service = (alert.service or incident.service or "").strip()
        if service and source is not None:
            services.setdefault(source, {})[service] = None
    rules: list[dict[str, Any]] = []
    if names:
        values = [_exact(n) for n in list(names)[:MAX_VALUES]]
        rules.append({"source": list(named_sources), "labels": {"alertname": values}})
    for source, found in services.items():
        rules.append({"source": source, "service": list(found)[:MAX_VALUES]})
    if rules:
        return rules
    service = (incident.service or "").strip()
    if service:
        return [{"service": service}]
    return [{"labels": {FALLBACK_LABEL: playbook_id}}]


def _exact(value: str) -> str:
    """A label condition matching exactly `value`: `*` and a leading `~` would mean present and regex."""
    if value == "*" or value.startswith("~"):
        return "~" + re.escape(value)
    return value


def _header(incident: Incident, omitted: int) -> str:
    day = as_utc(incident.created_at).strftime("%Y-%m-%d")
    lines = [
        f"# Proposed by Warroom from incident #{incident.number} ({day} UTC) from the notes, pinned",
        "# messages and steps recorded during it. Review it before committing it to playbooks/:",
        "# reword the steps, drop what was not needed, and check which alerts `match` should start it for.",
    ]
    if omitted:
        lines.append(f"# {omitted} later note(s) were left out: a proposal keeps at most {MAX_STEPS} steps.")
    return "\n".join(lines) + "\n"


class _Dumper(yaml.SafeDumper):
    """SafeDumper (plain data only) that writes multi-line text as `|` blocks, readable in review.

    The wide line width keeps a title on one line rather than folded where a reviewer would trip on it.
    """


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # The emitter falls back to double quotes by itself when a block cannot hold the text exactly.
    # Text with a code fence is never single-quoted: the draft turns ``` into ''' to keep its own
    # fence closed, which would end a single-quoted scalar early and break the YAML there.
    style = "|" if "\n" in value or "```" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)
