"""One case per kind of mistake: each must be reported on the line of the offending key.

In each case the line marked `# <-` is where the problem must be reported, and the text after
the marker (`warning:` first for warnings) is a fragment of the message.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.playbooks.problems import Level, Problem
from tests.playbooks.conftest import problem_at

HEAD = """\
id: sample
title: Sample
match:
  any:
    - labels: {alertname: Sample}
"""

CASES: dict[str, str] = {
    "missing required key": """\
id: sample  # <- title is required
match:
  any:
    - labels: {alertname: Sample}
steps:
  - {id: first, title: First}
""",
    "unknown top-level key": HEAD
    + """\
severty: 2  # <- unknown key 'severty' (did you mean 'severity'?)
steps:
  - {id: first, title: First}
""",
    "invalid playbook id": """\
id: DB_Full  # <- 'DB_Full' is not a valid playbook id
title: Sample
match:
  any:
    - labels: {alertname: Sample}
steps:
  - {id: first, title: First}
""",
    "playbook severity out of range": HEAD
    + """\
severity: 7  # <- severity: Input should be less than or equal to 4
steps:
  - {id: first, title: First}
""",
    "title that YAML reads as a number": """\
id: sample
title: 2024  # <- title: expected text, got 2024; quote it in YAML
match:
  any:
    - labels: {alertname: Sample}
steps:
  - {id: first, title: First}
""",
    "owner that is not a Slack id or handle": HEAD
    + """\
owners:
  - alice@example.com  # <- 'alice@example.com' is not a Slack user id
steps:
  - {id: first, title: First}
""",
    "match with both any and all": """\
id: sample
title: Sample
match:  # <- exactly one of 'any' or 'all'
  any: [{labels: {alertname: A}}]
  all: [{labels: {alertname: B}}]
steps:
  - {id: first, title: First}
""",
    "match with an empty list": """\
id: sample
title: Sample
match:
  any: []  # <- match.any: needs at least 1 item(s)
steps:
  - {id: first, title: First}
""",
    "empty rule": """\
id: sample
title: Sample
match:
  any:
    - {}  # <- empty rule
steps:
  - {id: first, title: First}
""",
    "unknown key in a rule": """\
id: sample
title: Sample
match:
  any:
    - servce: Payments DB  # <- unknown key 'servce' (did you mean 'service'?)
steps:
  - {id: first, title: First}
""",
    "unknown source": """\
id: sample
title: Sample
match:
  any:
    - source: datadog  # <- match.any[0].source: Input should be 'pagerduty', 'alertmanager', 'grafana' or 'generic'
steps:
  - {id: first, title: First}
""",
    "severity comparison that admits nothing": """\
id: sample
title: Sample
match:
  any:
    - severity: "<1"  # <- admits no severity
steps:
  - {id: first, title: First}
""",
    "severity outside 1-4": """\
id: sample
title: Sample
match:
  any:
    - severity: [1, 5]  # <- severity is between 1 (most severe) and 4
steps:
  - {id: first, title: First}
""",
    "invalid label regex": """\
id: sample
title: Sample
match:
  any:
    - labels:
        alertname: "~Postgres(("  # <- invalid regular expression
steps:
  - {id: first, title: First}
""",
    "label value YAML reads as a boolean": """\
id: sample
title: Sample
match:
  any:
    - labels:
        debug: yes  # <- quote it
steps:
  - {id: first, title: First}
""",
    "all: rules demanding different sources": """\
id: sample
title: Sample
match:
  all:
    - source: alertmanager
    - source: grafana  # <- no alert can satisfy every rule's source
steps:
  - {id: first, title: First}
""",
    "all: disjoint severities": """\
id: sample
title: Sample
match:
  all:
    - severity: "<=2"
      labels: {alertname: A}
    - severity: 4  # <- no alert can satisfy every rule's severity
steps:
  - {id: first, title: First}
""",
    "all: contradictory exact label values": """\
id: sample
title: Sample
match:
  all:
    - labels: {env: prod}
    - labels:
        env: staging  # <- no value of label 'env' satisfies every rule
steps:
  - {id: first, title: First}
""",
    "all: exact value that the other rule's regex refuses": """\
id: sample
title: Sample
match:
  all:
    - labels: {alertname: DiskFull}
    - labels:
        alertname: "~Postgres.*"  # <- no value of label 'alertname' satisfies every rule
steps:
  - {id: first, title: First}
""",
    "step without a title": HEAD
    + """\
steps:
  - id: first  # <- step 'first': title is required
    text: hello
""",
    "unknown key in a step": HEAD
    + """\
steps:
  - id: first
    title: First
    require: [x]  # <- step 'first': unknown key 'require' (did you mean 'requires'?)
""",
    "invalid step id": HEAD
    + """\
steps:
  - id: First Step  # <- 'First Step' is not a valid step id
    title: First
""",
    "duplicate step id": HEAD
    + """\
steps:
  - {id: first, title: First}
  - id: first  # <- step id 'first' is used by an earlier step
    title: Again
""",
    "two kinds in one step": HEAD
    + """\
steps:
  - id: first  # <- at most one of input, link, run; this one has link and run
    title: First
    link: https://example.com
    run: {http: {url: "https://example.com"}}
""",
    "duplicate input name": HEAD
    + """\
steps:
  - {id: a, title: A, input: {name: user_id, label: User}}
  - id: b
    title: B
    input:
      name: user_id  # <- input 'user_id' is collected by an earlier step
      label: User again
""",
    "invalid input name": HEAD
    + """\
steps:
  - id: a
    title: A
    input:
      name: User-Id  # <- 'User-Id' is not a valid input name
      label: User
""",
    "input pattern that does not compile": HEAD
    + """\
steps:
  - id: a
    title: A
    input:
      name: user_id
      label: User
      pattern: "usr_[a-z"  # <- invalid regular expression
""",
    "timeout over five minutes": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http: {url: "https://ops.example.com/x"}
      timeout: 10m  # <- step 'a': run.timeout: timeout must be more than 0 and at most 300 s
""",
    "unreadable duration": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http: {url: "https://ops.example.com/x"}
      timeout: soon  # <- cannot read duration 'soon'
""",
    "too many retries": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http: {url: "https://ops.example.com/x"}
      retries: 9  # <- run.retries: Input should be less than or equal to 5
""",
    "unknown HTTP method": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http:
        method: FETCH  # <- run.http.method: Input should be 'GET', 'POST', 'PUT', 'PATCH' or 'DELETE'
        url: "https://ops.example.com/x"
""",
    "json and form together": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http:  # <- give at most one of json and form
        url: "https://ops.example.com/x"
        json: {a: 1}
        form: {b: "2"}
""",
    "header the client sets itself": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http:
        url: "https://ops.example.com/x"
        headers:
          Host: evil.example.com  # <- header 'Host' is set by the HTTP client
""",
    "run_by entry that is nobody": HEAD
    + """\
steps:
  - id: a
    title: A
    run_by: [everyone]  # <- 'everyone' is not a Slack user id (U…/W…), a @group handle or 'commander'
    run: {http: {url: "https://ops.example.com/x"}}
""",
    "requires an unknown step": HEAD
    + """\
steps:
  - {id: verify, title: Verify}
  - id: grow
    title: Grow
    requires:
      - verfy  # <- step 'grow' requires unknown step 'verfy' (did you mean 'verify'?)
""",
    "requires itself": HEAD
    + """\
steps:
  - id: grow
    title: Grow
    requires: [grow]  # <- step 'grow' requires itself
""",
    "requires cycle": HEAD
    + """\
steps:
  - id: a
    title: A
    requires: [c]  # <- requires cycle: a → c → b → a
  - {id: b, title: B, requires: [a]}
  - {id: c, title: C, requires: [b]}
""",
    "step behind a cycle can never be acted on": HEAD
    + """\
steps:
  - {id: a, title: A, requires: [b]}
  - {id: b, title: B, requires: [a]}
  - id: c
    title: C
    requires: [b]  # <- step 'c' can never be acted on: it waits for 'b', which is in a requires cycle
""",
    "step behind an unknown step can never be acted on": HEAD
    + """\
steps:
  - {id: a, title: A, requires: [ghost]}
  - id: b
    title: B
    requires: [a]  # <- it waits for 'a', which requires unknown step 'ghost'
""",
    "template syntax error": HEAD
    + """\
steps:
  - id: a
    title: "Disk {{ alert.labels.instance"  # <- step 'a': title: template syntax error
""",
    "unknown variable": HEAD
    + """\
steps:
  - id: a
    title: "Runbook: {{ runbook_url }}"  # <- unknown variable 'runbook_url'
""",
    "input nobody collects": HEAD
    + """\
steps:
  - {id: a, title: A, input: {name: user_id, label: User}}
  - id: b
    title: "Logs for {{ inputs.userid }}"  # <- inputs.userid: no input step collects 'userid' (did you mean 'user_id'?)
""",
    "result of a later step": HEAD
    + """\
steps:
  - id: a
    title: "Grow answered {{ steps.grow.result.status_code }}"  # <- step 'grow' neither comes before 'a'
  - {id: grow, title: Grow, run: {http: {url: "https://ops.example.com/x"}}}
""",
    "result of an unknown step": HEAD
    + """\
steps:
  - id: a
    title: "{{ steps['nope'].status }}"  # <- steps.nope: no step 'nope'
""",
    "env outside headers": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http:
        url: "https://ops.example.com/x?token={{ env.OPS_API_TOKEN }}"  # <- env is only available in run.http.headers
""",
    "env read with a computed name": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http:
        url: "https://ops.example.com/x"
        headers:
          Authorization: "Bearer {{ env[alert.labels.token_name] }}"  # <- read env with a fixed name
""",
    "env naming one of Warroom's settings": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http:
        url: "https://ops.example.com/x"
        headers:
          Authorization: "Bearer {{ env.SLACK_BOT_TOKEN }}"  # <- one of Warroom's own settings
""",
    "|safe": HEAD
    + """\
steps:
  - id: a
    title: "{{ alert.title | safe }}"  # <- |safe is not allowed: it would bypass Slack escaping
""",
    "|attr": HEAD
    + """\
steps:
  - id: a
    title: "{{ alert | attr('title') }}"  # <- |attr is not allowed
""",
    "filter outside the allowed list": HEAD
    + """\
steps:
  - id: a
    title: "{{ alert.title | center(80) }}"  # <- filter |center is not available in playbook templates
""",
    "link that is not http(s)": HEAD
    + """\
steps:
  - id: a
    title: A
    link: "{{ alert.annotations.runbook_url }}"  # <- must be an http(s) URL
""",
    "run URL that is not http(s)": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http:
        url: "ftp://ops.example.com/grow"  # <- must be an http(s) URL
""",
    "duplicate YAML key": HEAD
    + """\
steps:
  - id: a
    title: A
    title: B  # <- duplicate key 'title'
""",
    "unquoted template": HEAD
    + """\
steps:
  - id: a
    title: {{ alert.title }}  # <- quote a value that starts with {{
""",
    "confirm on a step that does not run anything": HEAD
    + """\
steps:
  - id: a
    title: A
    confirm: Sure?  # <- warning: step 'a': confirm only applies to run steps
""",
    "run_by on a step that does not run anything": HEAD
    + """\
steps:
  - id: a
    title: A
    run_by: [commander]  # <- warning: step 'a': run_by only applies to run steps
""",
    "secrets over plain http": HEAD
    + """\
steps:
  - id: a
    title: A
    run:
      http:
        url: "http://ops.example.com/x"  # <- warning: secrets from env would travel over plain http
        headers: {Authorization: "Bearer {{ env.OPS_API_TOKEN }}"}
""",
}


def _expected(text: str) -> tuple[int, str, Level]:
    marked = [(number, line) for number, line in enumerate(text.splitlines(), 1) if "# <- " in line]
    assert len(marked) == 1, "mark exactly one line"
    number, line = marked[0]
    fragment = line.split("# <- ", 1)[1]
    if fragment.startswith("warning: "):
        return number, fragment.removeprefix("warning: "), Level.WARNING
    return number, fragment, Level.ERROR


@pytest.mark.parametrize("text", list(CASES.values()), ids=list(CASES))
def test_mistake_is_reported_on_its_line(text: str, lint_text: Callable[[str], tuple[Path, list[Problem]]]) -> None:
    line, fragment, level = _expected(text)
    path, problems = lint_text(text)
    problem = problem_at(problems, line, fragment, level)
    assert problem.file == str(path)


@pytest.mark.parametrize("text", [t for t in CASES.values() if "# <- warning" not in t], ids=str)
def test_a_file_with_an_error_does_not_load(text: str, lint_text: Callable[[str], tuple[Path, list[Problem]]]) -> None:
    from bot.playbooks.loader import read_playbook

    path, _ = lint_text(text)
    playbook, problems = read_playbook(path)
    assert playbook is None
    assert any(p.severity is Level.ERROR for p in problems)


def test_template_error_in_a_block_points_at_the_line_inside_the_block(
    lint_text: Callable[[str], tuple[Path, list[Problem]]],
) -> None:
    _, problems = lint_text(
        HEAD
        + """\
steps:
  - id: a
    title: A
    text: |
      Instance {{ alert.labels.instance }}
      is {{ alert.annotations.free }} full
      reported by {{ inputs.reporter }}
"""
    )
    problem_at(problems, 12, "inputs.reporter: no input step collects 'reporter'")


def test_too_many_steps(write: Callable[..., Path]) -> None:
    from bot.playbooks.lint import lint_file

    steps = "".join(f"  - {{id: s{i}, title: S}}\n" for i in range(201))
    problems = lint_file(write(HEAD + "steps:\n" + steps))
    problem_at(problems, 6, "201 steps; a playbook holds at most 200")


def test_a_clean_playbook_has_no_problems(lint_text: Callable[[str], tuple[Path, list[Problem]]]) -> None:
    _, problems = lint_text(
        HEAD
        + """\
steps:
  - {id: user, title: Who is it, input: {name: user_id, label: User id, pattern: "U[A-Z0-9]+"}}
  - id: logs
    title: "Logs for {{ inputs.user_id }}"
    link: "https://logs.example.com/?q=user%3A{{ inputs.user_id }}"
  - id: act
    title: Act
    requires: [logs]
    confirm: "Act on {{ inputs.user_id }}?"
    run_by: [commander, "@sre", U012ABCDEF]
    run:
      http:
        url: "https://ops.example.com/users/{{ inputs.user_id }}"
        headers: {Authorization: "Bearer {{ env.OPS_TOKEN }}"}
        json: {note: "{{ steps.logs.status }}", at: ["{{ alert.starts_at }}", 3]}
      timeout: 500ms
  - id: after
    title: "Answered {{ steps.act.result.status_code | default('?') }}"
    requires: [act]
"""
    )
    assert problems == []
