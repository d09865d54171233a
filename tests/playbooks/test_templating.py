"""Templates: Slack escaping, strictness, the sandbox, URL encoding, env and redaction, length limits."""

from datetime import UTC, datetime

import pytest
from markupsafe import Markup

from bot.alerts.models import Alert, AlertStatus, Source
from bot.playbooks.context import (
    IncidentFacts,
    StepFacts,
    TemplateContext,
    build_context,
    redact,
    secret_values,
)
from bot.playbooks.problems import TemplateProblem
from bot.playbooks.templating import LIMITS, Mode, analyse, render, truncate

HOSTILE_TITLE = "We're down <!channel> & <https://evil.example|click>"


def alert(**changes: object) -> Alert:
    values: dict[str, object] = {
        "source": Source.ALERTMANAGER,
        "group_key": "g",
        "fingerprint": "f1",
        "status": AlertStatus.FIRING,
        "title": HOSTILE_TITLE,
        "severity": 2,
        "service": "payments-db",
        "labels": {"alertname": "PostgresDiskFull", "instance": "a/b?c#d@e"},
        "annotations": {"free": "3 %"},
        "starts_at": datetime(2026, 3, 2, 9, 41, tzinfo=UTC),
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


def context(environ: dict[str, str] | None = None, **inputs: str) -> TemplateContext:
    incident = IncidentFacts(number=42, title="Disk full", severity=2, commander="U012ABCDEF", channel_id="C1")
    steps = {"grow": StepFacts(status="succeeded", result={"status_code": 202, "body": {"id": "r-1"}})}
    return build_context(
        incident=incident, alerts=[alert()], inputs=inputs, steps=steps, environ=environ or {"OPS_API_TOKEN": "s3cr3t"}
    )


def test_text_mode_escapes_values_for_slack_and_keeps_apostrophes() -> None:
    rendered = render("*{{ alert.title }}*", context())
    assert rendered == "*We're down &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;*"


def test_text_mode_lets_markup_built_in_code_through() -> None:
    ctx = build_context(incident=IncidentFacts(number=1, title="t", severity=1), inputs={"who": Markup("<@U1>")})
    assert render("{{ inputs.who }} & {{ alert.title }}", ctx) == "<@U1> & t"


def test_the_context_holds_what_the_brief_lists() -> None:
    rendered = render(
        "{{ incident.number }} {{ incident.commander }} {{ alert.source }} {{ alert.starts_at }} "
        "{{ alerts | length }} {{ steps.grow.result.body.id }} {{ alert.labels.items() | list | length }}",
        context(),
    )
    assert rendered == "42 U012ABCDEF alertmanager 2026-03-02T09:41:00+00:00 1 r-1 2"


def test_alert_is_the_first_firing_one_and_exists_without_alerts() -> None:
    resolved = alert(status=AlertStatus.RESOLVED, title="old")
    ctx = build_context(incident=IncidentFacts(1, "t", 3), alerts=[resolved, alert(title="now")])
    assert render("{{ alert.title }}/{{ alerts[0].title }}", ctx) == "now/old"
    bare = build_context(incident=IncidentFacts(1, "Declared by hand", 3))
    assert render("{{ alert.title }}: {{ alert.labels.instance | default('?') }}", bare) == "Declared by hand: ?"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ alert.labels.missing }}", "alert.labels has no 'missing'"),
        ("{{ nothing }}", "'nothing' is undefined"),
        ("{{ steps.nope.status }}", "steps has no 'nope'"),
        ("{{ inputs.user_id }}", "inputs has no 'user_id'"),
    ],
)
def test_a_missing_value_is_a_readable_template_problem(source: str, message: str) -> None:
    with pytest.raises(TemplateProblem) as raised:
        render(source, context())
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ alert.__class__.__mro__ }}",
        "{{ alert.labels.update({'a': 1}) }}",
        "{{ alert.labels.pop('instance') }}",
        "{{ 'x{}'.format(1) }}",
        "{{ alert.labels | attr('copy') }}",
        "{{ 'x' | safe }}",
        "{% include 'other' %}",
        "{{ 'x' * 10000000 }}",
        "{{ 10 ** 100000 }}",
        "{{ '%999999s' % 1 }}",
        "{{ range(100000000) | list }}",
        "{{ 1 / 0 }}",
        "{{ 'x' | int + 'y' }}",
        "{% for x in 1 %}{% endfor %}",
        "{{ unclosed",
    ],
)
def test_the_sandbox_refuses_with_a_template_problem_never_a_raw_error(source: str) -> None:
    with pytest.raises(TemplateProblem):
        render(source, context())


def test_syntax_errors_carry_the_template_line() -> None:
    with pytest.raises(TemplateProblem) as raised:
        render("line one\nline two {{ oops(", context())
    assert raised.value.line == 2


def test_url_mode_percent_encodes_every_value_and_keeps_the_literal_parts() -> None:
    rendered = render("https://ops.example.com/db/{{ alert.labels.instance }}/grow?x=1#top", context(), mode=Mode.URL)
    assert rendered == "https://ops.example.com/db/a%2Fb%3Fc%23d%40e/grow?x=1#top"


def test_header_mode_reads_env_and_remembers_it_for_redaction() -> None:
    ctx = context()
    assert render("Bearer {{ env.OPS_API_TOKEN }}", ctx, mode=Mode.HEADER) == "Bearer s3cr3t"
    assert secret_values(ctx) == {"s3cr3t"}
    assert redact("sent Authorization: Bearer s3cr3t", secret_values(ctx)) == "sent Authorization: Bearer ***"


@pytest.mark.parametrize("mode", [Mode.TEXT, Mode.URL, Mode.BODY])
def test_env_exists_only_in_headers(mode: Mode) -> None:
    ctx = context()
    with pytest.raises(TemplateProblem, match=r"env is only available in run\.http\.headers"):
        render("{{ env.OPS_API_TOKEN }}", ctx, mode=mode)
    assert secret_values(ctx) == set()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ env.MISSING_TOKEN }}", "environment variable MISSING_TOKEN is not set"),
        ("{{ env.SLACK_BOT_TOKEN }}", "one of Warroom's own settings"),
        ("{{ env.DATABASE_URL }}", "one of Warroom's own settings"),
        ("{% for name in env %}{{ name }}{% endfor %}", "env cannot be listed"),
        ("{{ env.items() }}", "not set"),
    ],
)
def test_env_reads_one_named_variable_only(source: str, message: str) -> None:
    environ = {"OPS_API_TOKEN": "s3cr3t", "SLACK_BOT_TOKEN": "xoxb-1", "DATABASE_URL": "postgresql://x"}
    with pytest.raises(TemplateProblem, match=message):
        render(source, context(environ), mode=Mode.HEADER)


def test_a_header_value_cannot_smuggle_a_line_break() -> None:
    ctx = build_context(incident=IncidentFacts(1, "t", 3), alerts=[alert(labels={"team": "a\r\nX-Evil: 1"})])
    with pytest.raises(TemplateProblem, match="line break"):
        render("{{ alert.labels.team }}", ctx, mode=Mode.HEADER)


def test_body_mode_is_plain() -> None:
    assert render("{{ alert.title }}", context(), mode=Mode.BODY) == HOSTILE_TITLE


@pytest.mark.parametrize(("field", "limit"), [("title", 150), ("text", 3000), ("confirm", 300)])
def test_text_is_cut_to_its_limit(field: str, limit: int) -> None:
    rendered = render("{% for i in range(5000) %}word {% endfor %}", context(), limit=LIMITS[field])
    assert len(rendered) == limit
    assert rendered.endswith("…")


def test_text_defaults_to_slack_section_limit_and_stops_rendering_early() -> None:
    assert len(render("{% for i in range(10000) %}{{ alert.title }}{% endfor %}", context())) == 3000


def test_a_url_over_its_limit_is_an_error_not_a_different_url() -> None:
    with pytest.raises(TemplateProblem, match="longer than 3000"):
        render("https://x.example/{% for i in range(4000) %}a{% endfor %}", context(), mode=Mode.URL)


def test_truncation_never_leaves_half_an_entity() -> None:
    assert truncate("abcdef&amp;gh", 9) == "abcdef…"
    assert truncate("short", 9) == "short"


def test_analyse_finds_constant_references() -> None:
    found = analyse("{{ inputs.user_id }} {{ steps['grow'].status }} {{ inputs.get('x') }}")
    assert {(r.root, r.key) for r in found.refs} == {("inputs", "user_id"), ("steps", "grow")}
    assert found.dynamic == {"inputs"}
    assert found.names == {"inputs", "steps"}


def test_redact_removes_overlapping_secrets_whole() -> None:
    assert redact("token abc123 and abc", {"abc", "abc123", ""}) == "token *** and ***"
