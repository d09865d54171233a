"""What templates see (`incident`, `alert`, `alerts`, `inputs`, `steps`, and `env` in headers).

Built from plain values, never database rows, so rendering stays pure and testable. Dicts are
wrapped in `Named` so that a missing key reads "alert.labels has no 'instance'" rather than
Jinja's "'dict object' has no attribute 'instance'".
"""

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from bot.playbooks.problems import TemplateProblem

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
REDACTED = "***"


class AlertLike(Protocol):
    """What the context needs of an alert: `bot.alerts.models.Alert` and the stored alert row both fit."""

    @property
    def source(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def severity(self) -> int: ...
    @property
    def service(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def annotations(self) -> Mapping[str, str]: ...
    @property
    def starts_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class IncidentFacts:
    number: int
    title: str
    severity: int
    status: str = "triggered"
    service: str | None = None
    commander: str | None = None  # a Slack user id; templates write <@{{ incident.commander }}>
    channel_id: str | None = None


@dataclass(frozen=True)
class StepFacts:
    status: str = "pending"  # pending, done, skipped, running, succeeded, failed: whatever the runner records
    result: Mapping[str, Any] | None = None  # a run step's {status_code, body, duration_ms}


class Named(dict[str, Any]):
    """A dict that knows where it sits in the context, for readable messages about missing keys."""

    __slots__ = ("_path",)

    def __init__(self, path: str, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        # Private, so a label called `path` still reads as the label (the sandbox hides `_` names).
        self._path = path


def path_of(value: object) -> str | None:
    """Where a context dict sits (`alert.labels`), or None for anything else."""
    return value._path if isinstance(value, Named) else None


class _Example(Named):
    """Placeholder data for lint: any key reads as an example value."""

    __slots__ = ()

    def __missing__(self, key: str) -> str:
        return "example"


class EnvReader:
    """`env` in header templates: reads one named variable at a time, remembers what it read.

    It cannot be listed or iterated, refuses Warroom's own settings (the Slack token must never
    leave through a playbook) and raises `TemplateProblem` naming a variable that is unset.
    """

    __slots__ = ("_environ", "_read")

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._read: dict[str, str] = {}

    def __getitem__(self, name: object) -> str:
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
            raise TemplateProblem(f"env.{name} is not an environment variable name")
        if name.upper() in reserved_env_names():
            raise TemplateProblem(f"env.{name} is one of Warroom's own settings; playbooks cannot read it")
        value = self._environ.get(name)
        if not value:
            raise TemplateProblem(f"environment variable {name} is not set")
        self._read[name] = value
        return value

    def __iter__(self) -> Any:
        raise TypeError("env cannot be listed")

    def __repr__(self) -> str:
        return "env"


@cache
def reserved_env_names() -> frozenset[str]:
    """Variables that configure Warroom itself (every Settings field): never readable from playbooks."""
    from bot.config import Settings

    return frozenset(name.upper() for name in Settings.model_fields)


@dataclass(frozen=True)
class TemplateContext:
    variables: Mapping[str, Any]
    env: EnvReader = field(default_factory=EnvReader)


def build_context(
    *,
    incident: IncidentFacts,
    alerts: Sequence[AlertLike] = (),
    inputs: Mapping[str, str] | None = None,
    steps: Mapping[str, StepFacts] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TemplateContext:
    """The context for one incident; `alert` is the first firing alert (else the first alert).

    Without alerts (an incident declared by hand) `alert` still has every key, empty, so that
    `alert.labels.x | default(...)` works rather than failing on `alert`.
    """
    firing = [a for a in alerts if str(a.status) == "firing"]
    first = (firing or list(alerts))[:1]
    variables = {
        "incident": Named("incident", _incident_vars(incident)),
        "alert": _alert(first[0], "alert") if first else _no_alert(incident),
        "alerts": [_alert(a, f"alerts[{i}]") for i, a in enumerate(alerts)],
        "inputs": Named("inputs", dict(inputs or {})),
        "steps": Named("steps", {sid: _step(sid, facts) for sid, facts in (steps or {}).items()}),
    }
    return TemplateContext(variables=variables, env=EnvReader(environ))


def example_context(input_names: Iterable[str], step_ids: Iterable[str]) -> TemplateContext:
    """Placeholder data in the shape of a real context, for checks that need to render (lint)."""
    example_alert = _Example(
        "alert",
        {
            "source": "alertmanager",
            "title": "Example alert",
            "severity": 2,
            "service": "example",
            "status": "firing",
            "fingerprint": "0123456789abcdef",
            "labels": _Example("alert.labels", {}),
            "annotations": _Example("alert.annotations", {}),
            "starts_at": "2026-01-01T00:00:00+00:00",
        },
    )
    incident = IncidentFacts(number=1, title="Example incident", severity=2, service="example")
    result = {"status_code": 200, "body": _Example("body", {}), "duration_ms": 10}
    variables = {
        "incident": Named("incident", _incident_vars(incident)),
        "alert": example_alert,
        "alerts": [example_alert],
        "inputs": Named("inputs", dict.fromkeys(input_names, "example")),
        "steps": Named("steps", {s: Named(f"steps.{s}", {"status": "done", "result": result}) for s in step_ids}),
    }
    return TemplateContext(variables=variables, env=EnvReader({}))


def secret_values(context: TemplateContext) -> set[str]:
    """The environment values templates read through `env` so far: redact these from anything recorded."""
    return set(context.env._read.values())


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***` (longest first, so overlapping secrets vanish whole)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _incident_vars(incident: IncidentFacts) -> dict[str, Any]:
    return {
        "number": incident.number,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "service": incident.service,
        "commander": incident.commander,
        "channel_id": incident.channel_id,
    }


def _alert(alert: AlertLike, path: str) -> Named:
    return Named(
        path,
        {
            "source": str(alert.source),
            "title": alert.title,
            "severity": alert.severity,
            "service": alert.service,
            "status": str(alert.status),
            "fingerprint": alert.fingerprint,
            "labels": Named(f"{path}.labels", alert.labels),
            "annotations": Named(f"{path}.annotations", alert.annotations),
            "starts_at": alert.starts_at.isoformat() if alert.starts_at is not None else None,
        },
    )


def _no_alert(incident: IncidentFacts) -> Named:
    return Named(
        "alert",
        {
            "source": None,
            "title": incident.title,
            "severity": incident.severity,
            "service": incident.service,
            "status": None,
            "fingerprint": None,
            "labels": Named("alert.labels", {}),
            "annotations": Named("alert.annotations", {}),
            "starts_at": None,
        },
    )


def _step(step_id: str, facts: StepFacts) -> Named:
    path = f"steps.{step_id}"
    result = _plain(facts.result, f"{path}.result") if facts.result is not None else None
    return Named(path, {"status": facts.status, "result": result})


def _plain(value: Any, path: str) -> Any:
    # Copies, so a template can never observe (or, through a bug, change) the caller's objects.
    if isinstance(value, Mapping):
        return Named(path, {str(k): _plain(v, f"{path}.{k}") for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value
