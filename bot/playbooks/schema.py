"""The playbook file format as frozen pydantic models (docs/playbooks.md describes it for people).

Fields that accept several spellings (`source: pagerduty` or a list, `severity: "<=2"`, `timeout:
30s`) are normalised by before-validators into one canonical form, so each mistake gives one
error message rather than one per member of a union.
"""

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, model_validator

from bot.alerts.models import Source

MAX_STEPS = 200
MAX_RULES = 100
MAX_TIMEOUT_SECONDS = 300.0

PLAYBOOK_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
STEP_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
INPUT_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")
USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
GROUP_HANDLE = re.compile(r"@[a-z0-9][a-z0-9._-]{0,79}")
HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
# Set by the HTTP client itself; a playbook setting them would break the request.
FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
COMMANDER = "commander"

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_COMPARISON = re.compile(r"\s*(<=|>=|==|!=|<|>|=)?\s*([0-9]+)\s*")
SEVERITIES = (1, 2, 3, 4)


class StepKind(StrEnum):
    MANUAL = "manual"  # a checklist item: Done / Skip
    INPUT = "input"  # a modal collects a value into inputs.<name>
    LINK = "link"  # a URL to open
    RUN = "run"  # an automated HTTP action


class HttpMethod(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


def _matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return AfterValidator(check)


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


def _label_values(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        raise ValueError("label values are strings; quote it (YAML reads true, yes, on and null as other types)")
    if isinstance(value, int | float):
        return [str(value)]
    return _one_or_many(value)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"invalid regular expression {pattern!r}: {error}") from None
    return pattern


def _regex(value: str) -> str:
    """A label value: `~` starts a regular expression, which must compile."""
    if value.startswith("~"):
        _compiles(value[1:])
    return value


def _severity_set(value: Any) -> Any:
    """A rule's `severity` as the sorted tuple of severities it admits."""
    if isinstance(value, bool):
        raise ValueError("severity is a number 1-4, a list of them, or a comparison such as '<=2'")
    if isinstance(value, int):
        value = [value]
    if isinstance(value, list):
        if not value or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ValueError("severity lists hold numbers 1-4")
        if any(v not in SEVERITIES for v in value):
            raise ValueError("severity is between 1 (most severe) and 4 (least)")
        return tuple(sorted(set(value)))
    if isinstance(value, str):
        found = _COMPARISON.fullmatch(value)
        if found is None:
            raise ValueError(f"cannot read severity {value!r}; write a number 1-4 or a comparison such as '<=2'")
        operator, number = found.group(1) or "==", int(found.group(2))
        if number not in SEVERITIES:
            raise ValueError(f"severity {value!r} compares with {number}; severities are 1 to 4")
        admitted = tuple(s for s in SEVERITIES if _compare(s, operator, number))
        if not admitted:
            raise ValueError(f"severity {value!r} admits no severity (1 is the most severe, 4 the least)")
        return admitted
    raise ValueError("severity is a number 1-4, a list of them, or a comparison such as '<=2'")


def _compare(severity: int, operator: str, number: int) -> bool:
    return {
        "<": severity < number,
        "<=": severity <= number,
        ">": severity > number,
        ">=": severity >= number,
        "!=": severity != number,
    }.get(operator, severity == number)


def parse_duration(value: Any) -> float:
    """Seconds from `500ms`, `30s`, `2m`, `1h`, `1m30s` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as 500ms, 30s, 2m, 1h")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
            return float(text)
        if _DURATION.fullmatch(text):
            return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
    raise ValueError(f"cannot read duration {value!r}; write e.g. 500ms, 30s, 2m or 1h")


def _timeout(value: float) -> float:
    if not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise ValueError(f"timeout must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g} s (5m)")
    return value


def _header_name(value: str) -> str:
    if not HEADER_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid HTTP header name")
    if value.lower() in FORBIDDEN_HEADERS:
        raise ValueError(f"header {value!r} is set by the HTTP client; leave it out")
    return value


def _actor(value: str) -> str:
    if value == COMMANDER or USER_ID.fullmatch(value) or GROUP_HANDLE.fullmatch(value):
        return value
    raise ValueError(f"{value!r} is not a Slack user id (U…/W…), a @group handle or 'commander'")


def _owner(value: str) -> str:
    if USER_ID.fullmatch(value) or GROUP_HANDLE.fullmatch(value):
        return value
    raise ValueError(f"{value!r} is not a Slack user id (U…/W…) or a @group handle")


NonEmpty = Annotated[str, Field(min_length=1)]
LabelValue = Annotated[NonEmpty, AfterValidator(_regex)]
Strings = Annotated[tuple[NonEmpty, ...], BeforeValidator(_one_or_many), Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rule(_Model):
    """One condition on an alert; every key given must hold."""

    source: Annotated[tuple[Source, ...], BeforeValidator(_one_or_many), Field(min_length=1)] | None = None
    service: Strings | None = None
    # Normalised to the severities admitted: `"<=2"` becomes (1, 2).
    severity: Annotated[tuple[int, ...], BeforeValidator(_severity_set)] | None = None
    # label -> accepted values: exact text, "*" (present), or "~regex" (fully matched).
    labels: (
        Annotated[
            dict[NonEmpty, Annotated[tuple[LabelValue, ...], BeforeValidator(_label_values), Field(min_length=1)]],
            Field(min_length=1),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _not_empty(self) -> "Rule":
        if self.source is None and self.service is None and self.severity is None and self.labels is None:
            raise ValueError("empty rule: give at least one of source, service, severity, labels")
        return self


class Match(_Model):
    """Which alerts start the playbook: any of the rules, or all of them (on one alert)."""

    any_of: tuple[Rule, ...] | None = Field(None, alias="any", min_length=1, max_length=MAX_RULES)
    all_of: tuple[Rule, ...] | None = Field(None, alias="all", min_length=1, max_length=MAX_RULES)

    @model_validator(mode="after")
    def _exactly_one(self) -> "Match":
        if (self.any_of is None) == (self.all_of is None):
            raise ValueError("needs exactly one of 'any' or 'all', each a non-empty list of rules")
        return self

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.any_of or self.all_of or ()

    @property
    def require_all(self) -> bool:
        return self.all_of is not None


class InputSpec(_Model):
    """A value a person types into a modal; stored as `inputs.<name>`."""

    name: Annotated[str, _matching(INPUT_NAME, "input name (a-z, 0-9, _; starting with a letter)")]
    label: Annotated[str, Field(min_length=1, max_length=2000)]
    # Fully matched against the value typed in (Python regular expression syntax).
    pattern: Annotated[str, Field(max_length=1000), AfterValidator(_compiles)] | None = None
    placeholder: Annotated[str, Field(max_length=150)] | None = None
    hint: Annotated[str, Field(max_length=2000)] | None = None


class HttpSpec(_Model):
    """The request an automated step sends; url, header values and body strings are templates."""

    method: HttpMethod = HttpMethod.POST
    url: NonEmpty
    headers: dict[Annotated[str, AfterValidator(_header_name)], str] = Field(default_factory=dict)
    json_body: JsonValue = Field(None, alias="json")
    form: dict[NonEmpty, str] | None = None

    @model_validator(mode="after")
    def _one_body(self) -> "HttpSpec":
        if self.json_body is not None and self.form is not None:
            raise ValueError("give at most one of json and form")
        return self


class RunSpec(_Model):
    """An automated action: what to send, how long to wait, how often to retry, what counts as success."""

    http: HttpSpec
    timeout: Annotated[float, BeforeValidator(parse_duration), AfterValidator(_timeout)] = 10.0
    retries: Annotated[int, Field(strict=True, ge=0, le=5)] = 0
    # Status codes that count as success; empty means any 2xx.
    expect: Annotated[
        tuple[Annotated[int, Field(strict=True, ge=100, le=599)], ...], BeforeValidator(_one_or_many)
    ] = ()


class Step(_Model):
    """One runbook step; `kind` follows from which of input, link, run is given (none: manual)."""

    id: Annotated[str, _matching(STEP_ID, "step id (a-z, 0-9, - and _; at most 63 characters)")]
    title: NonEmpty
    text: str | None = None
    requires: tuple[NonEmpty, ...] = ()
    input: InputSpec | None = None
    link: NonEmpty | None = None
    run: RunSpec | None = None
    confirm: NonEmpty | None = None
    run_by: Annotated[tuple[Annotated[str, AfterValidator(_actor)], ...], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Step":
        given = [name for name in ("input", "link", "run") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"a step has at most one of input, link, run; this one has {' and '.join(given)}")
        return self

    @property
    def kind(self) -> StepKind:
        if self.input is not None:
            return StepKind.INPUT
        if self.link is not None:
            return StepKind.LINK
        if self.run is not None:
            return StepKind.RUN
        return StepKind.MANUAL


class Playbook(_Model):
    """A runbook: when it applies (`match`) and what to do (`steps`)."""

    id: Annotated[str, _matching(PLAYBOOK_ID, "playbook id (a-z, 0-9 and -; at most 63 characters)")]
    title: Annotated[str, Field(min_length=1, max_length=150)]
    description: str | None = None
    owners: tuple[Annotated[str, AfterValidator(_owner)], ...] = ()
    # An incident opened for this playbook gets at least this severity (1 is the most severe).
    severity: Annotated[int, Field(strict=True, ge=1, le=4)] | None = None
    match: Match
    steps: tuple[Step, ...] = Field(min_length=1, max_length=MAX_STEPS)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def inputs(self) -> dict[str, InputSpec]:
        """Input name -> its spec, for every input step."""
        return {s.input.name: s.input for s in self.steps if s.input is not None}
