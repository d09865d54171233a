"""Checks on a playbook that passed the schema: step references, templates, and match rules.

Each finding points at the line of the offending key. The loader runs these too, so the bot
never runs a playbook that lint rejects.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from urllib.parse import urlsplit

import yaml

from bot.playbooks.context import ENV_NAME, TemplateContext, example_context, reserved_env_names
from bot.playbooks.matcher import contradictions
from bot.playbooks.problems import Level, Problem, TemplateProblem
from bot.playbooks.schema import Playbook, StepKind
from bot.playbooks.templating import (
    CONTEXT_NAMES,
    Mode,
    Ref,
    TemplateField,
    analyse,
    environment,
    render,
    template_fields,
)
from bot.playbooks.yamlsource import Document, Loc

Report = Callable[[Loc, str, Level], None]


def check_playbook(playbook: Playbook, document: Document, file: str) -> list[Problem]:
    """Everything wrong with `playbook` beyond its shape, as problems in `file`."""
    problems: list[Problem] = []

    def report(loc: Loc, message: str, level: Level = Level.ERROR) -> None:
        problems.append(Problem(file, document.line_of(loc), message, level))

    _unique(playbook, report)
    _requires(playbook, report)
    _templates(playbook, document, file, problems)
    for loc, message in contradictions(playbook.match):
        report(("match", *loc), message, Level.ERROR)
    for index, step in enumerate(playbook.steps):
        if step.kind is not StepKind.RUN:
            for key in ("confirm", "run_by"):
                if getattr(step, key) is not None:
                    report(("steps", index, key), f"step {step.id!r}: {key} only applies to run steps", Level.WARNING)
    return problems


def _hint(word: str, choices: Sequence[str]) -> str:
    close = get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unique(playbook: Playbook, report: Report) -> None:
    seen_steps: set[str] = set()
    seen_inputs: set[str] = set()
    for index, step in enumerate(playbook.steps):
        if step.id in seen_steps:
            report(("steps", index, "id"), f"step id {step.id!r} is used by an earlier step", Level.ERROR)
        seen_steps.add(step.id)
        if step.input is not None:
            if step.input.name in seen_inputs:
                message = f"input {step.input.name!r} is collected by an earlier step"
                report(("steps", index, "input", "name"), message, Level.ERROR)
            seen_inputs.add(step.input.name)


def _requires(playbook: Playbook, report: Report) -> None:
    ids = [s.id for s in playbook.steps]
    index_of = {sid: i for i, sid in reversed(list(enumerate(ids)))}
    edges: dict[str, list[str]] = {}
    bad: dict[str, str] = {}  # step id -> why it can never be acted on
    for index, step in enumerate(playbook.steps):
        edges[step.id] = []
        for position, required in enumerate(step.requires):
            loc = ("steps", index, "requires", position)
            if required == step.id:
                report(loc, f"step {step.id!r} requires itself", Level.ERROR)
                bad[step.id] = "requires itself"
            elif required not in index_of:
                report(loc, f"step {step.id!r} requires unknown step {required!r}{_hint(required, ids)}", Level.ERROR)
                bad[step.id] = f"requires unknown step {required!r}"
            else:
                edges[step.id].append(required)
    for cycle in _cycles(edges):
        first = cycle[0]
        report(("steps", index_of[first], "requires"), "requires cycle: " + " → ".join([*cycle, first]), Level.ERROR)
        for sid in cycle:
            bad.setdefault(sid, "is in a requires cycle")
    for index, step in enumerate(playbook.steps):
        if step.id in bad:
            continue
        blocker = next((sid for sid in _ancestors(step.id, edges) if sid in bad), None)
        if blocker is not None:
            message = f"step {step.id!r} can never be acted on: it waits for {blocker!r}, which {bad[blocker]}"
            report(("steps", index, "requires"), message, Level.ERROR)


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Each elementary cycle found by depth-first search, once, starting at its first-declared step."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in edges.get(node, []):
            if nxt in path:
                cycle = path[path.index(nxt) :]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    order = list(edges)
                    start = min(range(len(cycle)), key=lambda i: order.index(cycle[i]))
                    found.append(cycle[start:] + cycle[:start])
            elif nxt not in done:
                visit(nxt, [*path, nxt])
        done.add(node)

    for node in edges:
        if node not in done:
            visit(node, [node])
    return found


def _ancestors(step_id: str, edges: dict[str, list[str]]) -> list[str]:
    """Every step `step_id` waits for, directly or through others, nearest first."""
    order: list[str] = []
    queue = list(edges.get(step_id, []))
    while queue:
        current = queue.pop(0)
        if current not in order and current != step_id:
            order.append(current)
            queue.extend(edges.get(current, []))
    return order


@dataclass(frozen=True)
class _Names:
    """What templates of one playbook may refer to."""

    inputs: list[str]
    steps: list[str]
    declared: frozenset[str]
    example: TemplateContext


def _templates(playbook: Playbook, document: Document, file: str, problems: list[Problem]) -> None:
    ids = [s.id for s in playbook.steps]
    inputs = sorted(playbook.inputs)
    names = _Names(
        inputs=inputs,
        steps=ids,
        declared=CONTEXT_NAMES | frozenset(environment(Mode.TEXT).globals),
        example=example_context(inputs, ids),
    )
    edges = {s.id: [r for r in s.requires if r in ids] for s in playbook.steps}
    for index, step in enumerate(playbook.steps):
        earlier = set(ids[:index]) | set(_ancestors(step.id, edges))
        reads_env = False
        for field in template_fields(index, step):
            for message, line in _field_findings(field, step.id, earlier, names):
                where = _template_line(document, field.loc, line)
                problems.append(Problem(file, where, f"step {step.id!r}: {_dotted(field.loc[2:])}: {message}"))
            reads_env = reads_env or (field.mode is Mode.HEADER and _reads_env(field))
        if reads_env and step.run is not None and step.run.http.url.startswith("http://"):
            loc = ("steps", index, "run", "http", "url")
            message = f"step {step.id!r}: run.http.url: secrets from env would travel over plain http"
            problems.append(Problem(file, document.line_of(loc), message, Level.WARNING))


def _field_findings(
    field: TemplateField, step_id: str, earlier: set[str], names: _Names
) -> list[tuple[str, int | None]]:
    """(message, line within the template) for each problem of one template."""
    try:
        analysis = analyse(field.source, field.mode)
    except TemplateProblem as problem:
        return [(str(problem), problem.line)]
    found: list[tuple[str, int | None]] = []
    allowed = names.declared | ({"env"} if field.mode is Mode.HEADER else set())
    for name in sorted(analysis.names - allowed):
        if name == "env":
            found.append(("env is only available in run.http.headers", None))
        else:
            found.append((f"unknown variable {name!r}; templates see {', '.join(sorted(CONTEXT_NAMES))}", None))
    if "env" in analysis.dynamic and field.mode is Mode.HEADER:
        found.append(("read env with a fixed name, like env.API_TOKEN", None))
    for ref in analysis.refs:
        message = _ref_problem(ref, field.mode, step_id, earlier, names)
        if message is not None:
            found.append((message, ref.line))
    if field.mode is Mode.URL and not found:
        found += [(m, None) for m in _url_problem(field, names.example)]
    return found


def _reads_env(field: TemplateField) -> bool:
    try:
        return any(ref.root == "env" for ref in analyse(field.source, field.mode).refs)
    except TemplateProblem:
        return False


def _ref_problem(ref: Ref, mode: Mode, step_id: str, earlier: set[str], names: _Names) -> str | None:
    root, key = ref.root, ref.key
    if root == "inputs" and key not in names.inputs:
        return f"inputs.{key}: no input step collects {key!r}{_hint(key, names.inputs)}"
    if root == "steps" and key not in names.steps:
        return f"steps.{key}: no step {key!r}{_hint(key, names.steps)}"
    if root == "steps" and key not in earlier:
        return f"steps.{key}: step {key!r} neither comes before {step_id!r} nor is required by it"
    if root == "env" and mode is Mode.HEADER:
        if not ENV_NAME.fullmatch(key):
            return f"env.{key} is not an environment variable name"
        if key.upper() in reserved_env_names():
            return f"env.{key} is one of Warroom's own settings; playbooks cannot read it"
    return None


def _url_problem(field: TemplateField, example: TemplateContext) -> list[str]:
    try:
        url = render(field.source, example, mode=Mode.URL)
    except TemplateProblem:
        return []  # depends on data the example cannot stand in for; the run-time check still applies
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"must be an http(s) URL; with example data it renders as {url[:80]!r}"]
    return []


def _template_line(document: Document, loc: Loc, template_line: int | None) -> int:
    """The file line of `template_line` (1-based) inside the template at `loc`."""
    line = document.line_of(loc)
    node = document.node_at(loc)
    if template_line is None or not isinstance(node, yaml.ScalarNode):
        return line
    first = node.start_mark.line + 1 + (1 if node.style in ("|", ">") else 0)
    return min(first + template_line - 1, node.end_mark.line + 1)


def _dotted(loc: Sequence[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(loc))
