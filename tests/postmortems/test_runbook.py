"""The proposed runbook: match rules from the alerts, steps from the notes, and a file lint accepts for any text."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.alerts.models import Alert, AlertRow, AlertStatus, Source
from bot.incidents.models import EventKind, Incident
from bot.playbooks.loader import read_playbook
from bot.playbooks.matcher import matches
from bot.playbooks.render import INDENT, preview
from bot.playbooks.schema import PLAYBOOK_ID, Playbook
from bot.playbooks.yamlsource import MAX_BYTES as LOADER_MAX_BYTES
from bot.postmortems import draft
from bot.postmortems.facts import Event, Facts, StepTaken
from bot.postmortems.runbook import FALLBACK_LABEL, MAX_BYTES, MAX_STEPS, literal, propose

OPENED = datetime(2024, 3, 9, 23, 50, tzinfo=UTC)

HOSTILE = [
    "key: value",
    "- a list item",
    "# a comment",
    "&anchor and *alias",
    "!!python/object:os.system",
    "| literal > folded",
    "'single' and \"double\" quotes",
    "%YAML 1.1 and 100% done",
    "{{ x }}",
    "{{ incident.__class__.__mro__ }}",
    "{% for i in range(10) %}boom{% endfor %}",
    "{# a comment #} stays",
    "{%- raw -%} and {% endraw %} and {{ 1 }}",
    "{{{{ nested }}}}",
    "ends with a brace {",
    "yes",
    "null",
    "~",
    "0x1F",
    "1e3",
    "- [ ] : {a: b}",
    "Grüße, 数据库 🔥, مرحبا",
    "tab\tseparated\tvalues",
    "first line\n\n  indented second\n- third: with colon\n```\nkubectl get pods\n```",
    "trailing spaces   \nnext   ",
    "bell \x07 and nul \x00 and del \x7f",
    "line\u2028separator and bom \ufeff",
    "&lt;!channel&gt; as Slack sends it",
    "```kubectl rollout restart deploy/api```",
    "it's ```x``` and '''y'''",
    "x" * 5000,
    "word " * 400,
]


def incident(**fields: object) -> Incident:
    values: dict[str, object] = {
        "id": 7,
        "number": 42,
        "title": "Postgres disk full on db-1",
        "severity": 2,
        "service": None,
        "source": "manual",
        "created_at": OPENED,
    }
    values.update(fields)
    return Incident(**values)


def alert_row(source: str, *, service: str | None = None, labels: dict[str, str] | None = None) -> AlertRow:
    return AlertRow(
        id=1,
        incident_id=7,
        source=source,
        fingerprint="fp",
        status="firing",
        severity=2,
        title="Disk almost full",
        service=service,
        labels=labels or {},
    )


def as_alert(row: AlertRow) -> Alert:
    return Alert(
        source=Source(row.source),
        group_key="g",
        fingerprint=row.fingerprint,
        status=AlertStatus.FIRING,
        title=row.title,
        severity=row.severity,
        service=row.service,
        labels=dict(row.labels),
    )


def note(number: int, text: str, kind: str = EventKind.NOTE, **data: object) -> Event:
    return Event(number, OPENED + timedelta(minutes=number), "U1", kind, text, dict(data))


def facts(
    the_incident: Incident | None = None,
    *,
    alerts: list[AlertRow] | None = None,
    events: list[Event] | None = None,
    steps: list[StepTaken] | None = None,
    playbooks: list[str] | None = None,
) -> Facts:
    return Facts(
        incident=the_incident or incident(),
        alerts=alerts or [],
        events=events or [],
        steps=steps or [],
        playbooks=playbooks or [],
        detected_at=OPENED,
        what_happened=None,
        whys=[],
        causes=[],
        lessons=[],
        actions=[],
    )


def lint(text: str, tmp_path: Path) -> Playbook:
    """The playbook in `text`, asserting `warroom playbooks lint` finds nothing at all (warnings included)."""
    path = tmp_path / "proposed.yaml"
    path.write_text(text, encoding="utf-8")
    playbook, problems = read_playbook(path)
    assert [p.format() for p in problems] == []
    assert playbook is not None
    return playbook


def proposed(the_facts: Facts, tmp_path: Path) -> tuple[str, Playbook]:
    text = propose(the_facts)
    assert text is not None
    return text, lint(text, tmp_path)


def rendered(playbook: Playbook) -> dict[str, dict[str, str]]:
    """step id -> field -> the text `warroom playbooks render` shows, read back from the preview lines."""
    sample = Alert(Source.GENERIC, "g", "fp", AlertStatus.FIRING, "Sample alert")
    shown = preview(playbook, [sample], {})
    assert shown.failures == 0
    steps: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    label = ""
    for line in shown.lines[2:]:
        if line.startswith(INDENT):
            current[label] += "\n" + line[len(INDENT) :]
        elif heading := re.fullmatch(r"\d+\. (\S+) \[manual\]", line):
            current = steps.setdefault(heading.group(1), {})
        elif line:
            label = line[:11].strip().rstrip(":")
            current[label] = line[len(INDENT) :]
    return steps


def expected_fields(text: str) -> dict[str, str]:
    """What a note should render as: its first line as the title and the rest as the text."""
    first, _, rest = text.strip().partition("\n")
    return {"title": first.strip(), "text": rest.strip()} if rest.strip() else {"title": first.strip()}


def test_an_incident_with_a_playbook_gets_no_proposal() -> None:
    assert propose(facts(events=[note(1, "restarted the primary")], playbooks=["Disk full"])) is None


def test_alertmanager_alerts_match_by_alertname(tmp_path: Path) -> None:
    row = alert_row("alertmanager", service="db", labels={"alertname": "PostgresDiskFull", "instance": "db-1"})
    text, playbook = proposed(facts(alerts=[row], events=[note(1, "grew the volume")]), tmp_path)
    assert yaml.safe_load(text)["match"] == {
        "any": [{"source": ["alertmanager"], "labels": {"alertname": ["PostgresDiskFull"]}}]
    }
    assert matches(playbook, as_alert(row))
    other = alert_row("alertmanager", service="db", labels={"alertname": "MySQLDiskFull"})
    assert not matches(playbook, as_alert(other))


def test_grafana_and_alertmanager_names_share_one_rule_in_first_seen_order(tmp_path: Path) -> None:
    rows = [
        alert_row("grafana", labels={"alertname": "B"}),
        alert_row("alertmanager", labels={"alertname": "A"}),
        alert_row("alertmanager", labels={"alertname": "B"}),
    ]
    text, playbook = proposed(facts(alerts=rows), tmp_path)
    assert yaml.safe_load(text)["match"]["any"] == [
        {"source": ["grafana", "alertmanager"], "labels": {"alertname": ["B", "A"]}}
    ]
    assert all(matches(playbook, as_alert(r)) for r in rows)


@pytest.mark.parametrize("name", ["*", "~Postgres.*", "~"])
def test_alertnames_that_look_like_patterns_match_only_themselves(name: str, tmp_path: Path) -> None:
    row = alert_row("alertmanager", labels={"alertname": name})
    _, playbook = proposed(facts(alerts=[row]), tmp_path)
    assert matches(playbook, as_alert(row))
    assert not matches(playbook, as_alert(alert_row("alertmanager", labels={"alertname": "PostgresDiskFull"})))


@pytest.mark.parametrize("source", ["pagerduty", "generic"])
def test_alerts_without_an_alertname_match_by_service_and_source(source: str, tmp_path: Path) -> None:
    row = alert_row(source, service="payments", labels={"team": "money"})
    text, playbook = proposed(facts(alerts=[row]), tmp_path)
    assert yaml.safe_load(text)["match"] == {"any": [{"source": source, "service": ["payments"]}]}
    assert matches(playbook, as_alert(row))
    assert not matches(playbook, as_alert(alert_row(source, service="search")))
    assert not matches(playbook, as_alert(alert_row("alertmanager" if source != "alertmanager" else "generic")))


def test_an_alertmanager_alert_without_alertname_falls_back_to_its_service(tmp_path: Path) -> None:
    row = alert_row("alertmanager", service="db", labels={"job": "node"})
    text, _ = proposed(facts(alerts=[row]), tmp_path)
    assert yaml.safe_load(text)["match"] == {"any": [{"source": "alertmanager", "service": ["db"]}]}


def test_an_alert_without_a_service_uses_the_incidents(tmp_path: Path) -> None:
    text, _ = proposed(facts(incident(service="checkout"), alerts=[alert_row("generic")]), tmp_path)
    assert yaml.safe_load(text)["match"] == {"any": [{"source": "generic", "service": ["checkout"]}]}


def test_a_declared_incident_with_a_service_matches_that_service(tmp_path: Path) -> None:
    text, playbook = proposed(facts(incident(service="checkout")), tmp_path)
    assert yaml.safe_load(text)["match"] == {"any": [{"service": "checkout"}]}
    assert matches(playbook, as_alert(alert_row("pagerduty", service="checkout")))


def test_a_declared_incident_without_service_matches_only_alerts_labelled_for_the_playbook(tmp_path: Path) -> None:
    text, playbook = proposed(facts(incident(service=None)), tmp_path)
    assert yaml.safe_load(text)["match"] == {"any": [{"labels": {FALLBACK_LABEL: playbook.id}}]}
    assert not matches(playbook, as_alert(alert_row("alertmanager", service="db", labels={"alertname": "X"})))
    assert matches(playbook, as_alert(alert_row("generic", labels={FALLBACK_LABEL: playbook.id})))


def test_id_title_severity_and_header(tmp_path: Path) -> None:
    text, playbook = proposed(facts(incident(title="  Postgres: disk FULL on db-1 (again!)  ", severity=1)), tmp_path)
    assert playbook.id == "postgres-disk-full-on-db-1-again"
    assert playbook.title == "Postgres: disk FULL on db-1 (again!)"
    assert playbook.severity == 1
    header = text.split("\nid:")[0]
    assert all(line.startswith("#") for line in header.splitlines())
    assert "incident #42 (2024-03-09 UTC)" in header
    assert "Review it" in header


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("数据库故障", "incident-42"),
        ("---", "incident-42"),
        ("Ünïcödé façade", "unicode-facade"),
        ("word " * 40, "word-" * 11 + "word"),  # 59 characters: a 13th word would make 64
        ("abcdefghijklmno " * 5, "abcdefghijklmno-" * 3 + "abcdefghijklmno"),  # four words are exactly 63
    ],
)
def test_playbook_ids_are_valid_slugs(title: str, expected: str, tmp_path: Path) -> None:
    _, playbook = proposed(facts(incident(title=title)), tmp_path)
    assert playbook.id == expected
    assert PLAYBOOK_ID.fullmatch(playbook.id)


def test_a_very_long_incident_title_is_cut_to_the_title_limit(tmp_path: Path) -> None:
    _, playbook = proposed(facts(incident(title="Disk " * 100)), tmp_path)
    assert len(playbook.title) <= 150
    assert len(playbook.id) <= 63


def test_steps_are_notes_and_pins_in_timeline_order_without_markers_whys_or_form_answers(tmp_path: Path) -> None:
    events = [
        note(1, "Checked df -h on db-1\nThe WAL volume was at 98 %"),
        note(2, "cause: WAL archiving was stuck"),
        note(3, "the archiver was stuck", kind=EventKind.WHY),
        note(4, "Grew the volume by 20 %", kind=EventKind.PINNED),
        note(5, "LESSON: alert earlier"),
        note(6, "action: @ana add a WAL-size alert by 2024-04-01"),
        note(7, "todo: runbook for this"),
        note(8, "learned: we lacked a dashboard"),
        note(9, "Status set to mitigated", kind=EventKind.STATUS),
        note(10, "The archiver hung on a full bucket", field="what_happened"),
        note(11, "Restarted the archiver"),
    ]
    _, playbook = proposed(facts(events=events), tmp_path)
    assert [(s.id, s.title, s.text) for s in playbook.steps] == [
        ("checked-df-h-on-db-1", "Checked df -h on db-1", "The WAL volume was at 98 %"),
        ("grew-the-volume-by-20", "Grew the volume by 20 %", None),
        ("restarted-the-archiver", "Restarted the archiver", None),
    ]


def test_finished_step_runs_join_the_notes_in_time_order(tmp_path: Path) -> None:
    def run(minute: int, title: str, status: str, result: str = "") -> StepTaken:
        return StepTaken("Disk", title.lower(), title, status, "U2", OPENED + timedelta(minutes=minute), result)

    steps = [
        run(2, "Check replication", "done", "HTTP 200 in 0.4 s"),
        run(4, "Fail over", "skipped"),
        run(5, "Page the DBA", "failed", "HTTP 500"),
    ]
    events = [note(1, "Looked at the dashboard"), note(3, "Paused the batch jobs")]
    _, playbook = proposed(facts(events=events, steps=steps), tmp_path)
    assert [(s.title, s.text) for s in playbook.steps] == [
        ("Looked at the dashboard", None),
        ("Check replication", "HTTP 200 in 0.4 s"),
        ("Paused the batch jobs", None),
    ]


def test_identical_texts_are_one_step_and_colliding_slugs_get_suffixes(tmp_path: Path) -> None:
    events = [
        note(1, "Restart the pod"),
        note(2, "Restart   the pod  "),
        note(3, "restart the pod", kind=EventKind.PINNED),
        note(4, "Restart the pod!"),
        note(5, "Restart the pod?"),
        note(6, "Restart the pod\nwith --force"),
    ]
    _, playbook = proposed(facts(events=events), tmp_path)
    assert [s.id for s in playbook.steps] == [
        "restart-the-pod",
        "restart-the-pod-2",
        "restart-the-pod-3",
        "restart-the-pod-4",
    ]
    assert [s.title for s in playbook.steps] == [
        "Restart the pod",
        "Restart the pod!",
        "Restart the pod?",
        "Restart the pod",
    ]


def test_at_most_thirty_steps_the_first_ones_and_the_header_says_how_many_were_left_out(tmp_path: Path) -> None:
    events = [note(n, f"Step number {n}") for n in range(1, 46)]
    text, playbook = proposed(facts(events=events), tmp_path)
    assert len(playbook.steps) == MAX_STEPS
    assert [s.title for s in playbook.steps] == [f"Step number {n}" for n in range(1, MAX_STEPS + 1)]
    assert "# 15 later note(s) were left out" in text


def test_huge_notes_in_a_multibyte_script_stay_under_the_file_limit(tmp_path: Path) -> None:
    events = [note(n, f"{n} " + "🔥" * 6000) for n in range(1, 31)]
    text, playbook = proposed(facts(events=events), tmp_path)
    size = len(text.encode("utf-8"))
    assert size <= MAX_BYTES < LOADER_MAX_BYTES
    assert 1 <= len(playbook.steps) < 30
    assert f"# {30 - len(playbook.steps)} later note(s) were left out" in text


def test_nothing_recorded_gives_a_placeholder_step_that_lints(tmp_path: Path) -> None:
    events = [note(1, ""), note(2, "   \n  "), note(3, "(message without text)", kind=EventKind.PINNED)]
    _, playbook = proposed(facts(events=events), tmp_path)
    assert [s.id for s in playbook.steps] == ["first-step"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_note_lints_clean_and_renders_as_written(text: str, tmp_path: Path) -> None:
    _, playbook = proposed(facts(events=[note(1, text)]), tmp_path)
    (step,) = playbook.steps
    shown = rendered(playbook)[step.id]
    expected = expected_fields(text)
    if len(expected["title"]) > 150:  # cut: the whole note goes to the text, itself within Slack's 3,000
        assert shown["title"] == expected["title"][:149].rstrip() + "…"
        whole = text.strip()
        assert shown["text"] == (whole if len(whole) <= 3000 else whole[:2999].rstrip() + "…")
    else:
        assert shown == expected


def test_all_hostile_notes_together_lint_clean_and_each_renders_as_written(tmp_path: Path) -> None:
    short = [t for t in HOSTILE if len(t) < 150]
    _, playbook = proposed(facts(events=[note(n, t) for n, t in enumerate(short, start=1)]), tmp_path)
    shown = rendered(playbook)
    assert [shown[s.id] for s in playbook.steps] == [expected_fields(t) for t in short]


def test_the_incident_title_and_alertname_are_data_not_yaml(tmp_path: Path) -> None:
    hostile = "x: y\n# {{ z }} &a *a !!str"
    row = alert_row("grafana", labels={"alertname": "yes: no # {{ 1 }}"})
    _, playbook = proposed(facts(incident(title=hostile, service="true"), alerts=[row]), tmp_path)
    assert playbook.title == "x: y # {{ z }} &a *a !!str"
    assert matches(playbook, as_alert(row))


@pytest.mark.parametrize(
    "text",
    ["plain", "{{ x }}", "{% endraw %}{{ x }}", "{#", "a{", "{{{", "{%- raw %}{% ENDRAW %}", "}} %} #}"],
)
def test_literal_templates_render_to_themselves(text: str, tmp_path: Path) -> None:
    assert (literal(text) == text) is ("{" not in text or not re.search(r"\{[{%#]", text))
    _, playbook = proposed(facts(events=[note(1, f"Title\n{text}")]), tmp_path)
    assert rendered(playbook)["title"]["text"] == text


def test_the_same_facts_propose_the_same_text() -> None:
    the_facts = facts(alerts=[alert_row("pagerduty", service="db")], events=[note(n, f"n{n}") for n in range(5)])
    assert propose(the_facts) == propose(the_facts)


def test_naive_timestamps_from_sqlite_sort_with_aware_ones(tmp_path: Path) -> None:
    naive = Event(1, datetime(2024, 3, 9, 23, 59), "U1", EventKind.NOTE, "Second")
    aware = note(0, "First")
    step = StepTaken("p", "s", "Third", "done", "U1", datetime(2024, 3, 10, 0, 1), "")
    _, playbook = proposed(facts(events=[naive, aware], steps=[step]), tmp_path)
    assert [s.title for s in playbook.steps] == ["First", "Second", "Third"]


def test_a_lone_surrogate_becomes_a_replacement_character_so_the_file_can_be_written(tmp_path: Path) -> None:
    _, playbook = proposed(facts(events=[note(1, "broken \ud800 text\r\nsecond line\rthird")]), tmp_path)
    (shown,) = rendered(playbook).values()
    assert shown == {"title": "broken \ufffd text", "text": "second line\nthird"}


def test_the_runbook_in_the_rendered_draft_lints_clean(tmp_path: Path) -> None:
    events = [note(n, t) for n, t in enumerate(HOSTILE, start=1)]
    the_facts = facts(incident(title="```Disk``` 'full'"), alerts=[alert_row("pagerduty", service="db")], events=events)
    values = draft.context(
        the_facts, {}, version=1, review_state="draft", action_items=[], proposed_runbook=propose(the_facts)
    )
    markdown, _ = draft.render(values)
    block = markdown.split("```yaml\n", 1)[1].split("\n```", 1)[0]
    playbook = lint(block, tmp_path)
    assert len(playbook.steps) == min(len(HOSTILE), MAX_STEPS)
