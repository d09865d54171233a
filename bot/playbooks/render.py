"""`warroom playbooks render`: what each step would say and send for a sample alert payload.

No Slack, no HTTP, no database: the payload is parsed by the same source parsers the webhooks
use, and run steps show the request they would send, with values read from `env` as `***`.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bot.alerts.models import Alert, Source
from bot.alerts.processor import parse_delivery
from bot.config import MAX_WEBHOOK_BYTES
from bot.errors import InvalidInput
from bot.playbooks.context import REDACTED, IncidentFacts, StepFacts, TemplateContext, build_context
from bot.playbooks.matcher import effective_severity, matches
from bot.playbooks.problems import TemplateProblem
from bot.playbooks.schema import Playbook, RunSpec, Step
from bot.playbooks.templating import Ref, TemplateField, analyse, render, template_fields

INDENT = " " * 12  # continuation lines line up under the value


def detect_source(document: object) -> Source:
    """Which webhook a payload was meant for, by its shape."""
    if isinstance(document, dict):
        if isinstance(document.get("event"), dict):
            return Source.PAGERDUTY
        if isinstance(document.get("alerts"), list):
            if "orgId" in document or document.get("version") == "1":
                return Source.GRAFANA
            if "groupKey" in document or document.get("version") == "4":
                return Source.ALERTMANAGER
    return Source.GENERIC


def read_payload(path: Path, source: str | None = None) -> list[Alert]:
    """The alerts in a webhook payload file; raises `InvalidInput` with a one-line reason."""
    try:
        body = path.read_bytes()[: MAX_WEBHOOK_BYTES + 1]
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror or error}") from None
    if len(body) > MAX_WEBHOOK_BYTES:
        raise InvalidInput(f"{path} is larger than {MAX_WEBHOOK_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path} is not JSON: {error}") from None
    kind = source or detect_source(document)
    if kind not in set(Source):
        raise InvalidInput(f"unknown source {kind!r}; one of {', '.join(Source)}")
    alerts = parse_delivery(kind, body, datetime.now(UTC))
    if not alerts:
        raise InvalidInput(f"{path} holds no alerts (as a {kind} payload)")
    return alerts


def parse_inputs(pairs: Sequence[str], playbook: Playbook) -> dict[str, str]:
    """`NAME=VALUE` pairs checked against the playbook's input steps; raises `InvalidInput`."""
    declared = playbook.inputs
    values: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals:
            raise InvalidInput(f"--input {pair!r}: write NAME=VALUE")
        spec = declared.get(name)
        if spec is None:
            asked = ", ".join(sorted(declared)) or "nothing"
            raise InvalidInput(f"--input {name}: this playbook has no such input (it asks for: {asked})")
        if spec.pattern is not None and not _fullmatch(spec.pattern, value):
            raise InvalidInput(f"--input {name}: {value!r} does not match the pattern {spec.pattern!r}")
        values[name] = value
    return values


def _fullmatch(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


@dataclass
class Preview:
    """The rendered text, and how many fields failed to render (needing an input or a step result is fine)."""

    lines: list[str]
    failures: int = 0


def preview(playbook: Playbook, alerts: Sequence[Alert], inputs: dict[str, str], *, file: str = "") -> Preview:
    """What each step of `playbook` would show and send for `alerts`, as lines of text."""
    firing = [a for a in alerts if a.status == "firing"]
    first = (firing or list(alerts))[0]
    severity = effective_severity(playbook, first.severity)
    incident = IncidentFacts(number=0, title=first.title, severity=severity, service=first.service)
    steps = {s.id: StepFacts() for s in playbook.steps}
    context = build_context(incident=incident, alerts=alerts, inputs=inputs, steps=steps, environ={})
    started = any(matches(playbook, a) for a in firing)
    writer = _Writer(context, inputs)
    writer.lines.append(f"playbook {playbook.id}: {playbook.title}" + (f"  ({file})" if file else ""))
    writer.lines.append(
        f"payload: {first.source}, {len(alerts)} alert(s), {len(firing)} firing; "
        f"matches: {'yes' if started else 'no (this playbook would not start for it)'}; "
        f"incident severity: {severity}"
    )
    for index, step in enumerate(playbook.steps):
        writer.step(index, step)
    return Preview(lines=writer.lines, failures=writer.failures)


class _Writer:
    """Renders fields for the preview, counting the ones that fail."""

    def __init__(self, context: TemplateContext, inputs: dict[str, str]) -> None:
        self.context = context
        self.inputs = inputs
        self.lines: list[str] = []
        self.failures = 0

    def add(self, label: str, value: str) -> None:
        first, *rest = value.split("\n")
        self.lines.append(f"   {label + ':':<8} {first}")
        self.lines += [INDENT + line for line in rest]

    def step(self, index: int, step: Step) -> None:
        waits = f"  waits for: {', '.join(step.requires)}" if step.requires else ""
        self.lines += ["", f"{index + 1}. {step.id} [{step.kind}]{waits}"]
        fields = {f.loc[2:]: f for f in template_fields(index, step)}

        def show(*key: str | int) -> str:
            return self.field(fields[key])

        self.add("title", show("title"))
        if step.text is not None:
            self.add("text", show("text"))
        if step.input is not None:
            spec = step.input
            given = self.inputs.get(spec.name)
            self.add("input", f"{spec.name}: {spec.label}" + (f" (pattern {spec.pattern})" if spec.pattern else ""))
            self.add("value", given if given is not None else "(not given; pass --input NAME=VALUE)")
        if step.link is not None:
            self.add("link", show("link"))
        if step.run is not None:
            self.request(step.run, fields)
        if step.confirm is not None:
            self.add("confirm", show("confirm"))
        if step.run_by is not None:
            self.add("run by", ", ".join(step.run_by))

    def request(self, run: RunSpec, fields: dict[tuple[str | int, ...], TemplateField]) -> None:
        http = run.http
        lines = [f"{http.method} {self.field(fields[('run', 'http', 'url')])}"]
        for name in http.headers:
            field = fields[("run", "http", "headers", name)]
            env_names = sorted({r.key for r in _refs(field) if r.root == "env"})
            value = f"{REDACTED} (from env: {', '.join(env_names)})" if env_names else self.field(field)
            lines.append(f"{name}: {value}")
        typed = any(n.lower() == "content-type" for n in http.headers)
        if http.json_body is not None:
            lines += [] if typed else ["Content-Type: application/json"]
            body = self.body(http.json_body, ("run", "http", "json"), fields)
            lines.append(json.dumps(body, ensure_ascii=False))
        elif http.form is not None:
            lines += [] if typed else ["Content-Type: application/x-www-form-urlencoded"]
            lines.append(urlencode({k: self.field(fields[("run", "http", "form", k)]) for k in http.form}))
        self.add("request", "\n".join(lines))
        expect = ", ".join(map(str, run.expect)) or "any 2xx"
        self.add("policy", f"timeout {format_duration(run.timeout)}, retries {run.retries}, expect {expect}")

    def body(self, value: Any, loc: tuple[str | int, ...], fields: dict[tuple[str | int, ...], TemplateField]) -> Any:
        if isinstance(value, str):
            return self.field(fields[loc])
        if isinstance(value, dict):
            return {k: self.body(v, (*loc, k), fields) for k, v in value.items()}
        if isinstance(value, list):
            return [self.body(v, (*loc, i), fields) for i, v in enumerate(value)]
        return value

    def field(self, field: TemplateField) -> str:
        try:
            return render(field.source, self.context, mode=field.mode, limit=field.limit)
        except TemplateProblem as problem:
            # A preview has no inputs unless given and no step has run: those gaps are expected.
            refs = _refs(field)
            needed = sorted({r.key for r in refs if r.root == "inputs"} - set(self.inputs))
            if needed:
                return f"(needs input: {', '.join(needed)})"
            waits = sorted({r.key for r in refs if r.root == "steps"})
            if waits:
                return f"(needs the result of step: {', '.join(waits)})"
            self.failures += 1
            return f"(error: {problem})"


def _refs(field: TemplateField) -> tuple[Ref, ...]:
    try:
        return analyse(field.source, field.mode).refs
    except TemplateProblem:
        return ()


def format_duration(seconds: float) -> str:
    """`30s`, `2m`, `1m30s`, `500ms`: how durations are written in playbooks."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    text = (f"{int(minutes)}m" if minutes else "") + (f"{rest:g}s" if rest else "")
    return text or "0s"
