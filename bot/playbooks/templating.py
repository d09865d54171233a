"""Jinja2 for playbooks: one sandbox, a rendering mode per destination, and analysis for lint.

Modes differ only in what happens to each `{{ … }}` value (literal template text is kept as
written):

    text    Slack mrkdwn: `&`, `<`, `>` escaped (PLATFORM.md 7), so alert data cannot mention anyone
    url     percent-encoded with nothing safe, so a label cannot add `/`, `?`, `#` or `@` to a URL
    header  plain, and the only mode where `env` exists (secrets go in headers, nowhere else)
    body    plain: JSON body strings and form values

The sandbox allows a short list of filters and of str/dict/list methods; `|safe` (which would
bypass escaping), `|attr` (a sandbox bypass before 3.1.6) and include/import are refused at
compile time, so at lint time and again at run time. It bounds what a template can reach and how
much it prints, not how long it runs: playbooks are reviewed code.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, missing
from markupsafe import Markup

from bot.playbooks.context import TemplateContext, path_of
from bot.playbooks.problems import TemplateProblem
from bot.playbooks.schema import Step
from bot.text import slack_escape

CONTEXT_NAMES = frozenset({"incident", "alert", "alerts", "inputs", "steps"})
ELLIPSIS = "…"
# Slack's limits for where each field ends up (PROTOCOLS.md 2.4); the HTTP ones are ours.
LIMITS = {"title": 150, "text": 3000, "confirm": 300, "link": 3000, "url": 3000, "header": 8000, "body": 10_000}
MAX_RANGE = 10_000
MAX_REPEAT = 100_000  # the longest string or list `*` may build

FILTERS = frozenset(
    {
        "abs", "capitalize", "count", "default", "d", "dictsort", "filesizeformat", "first", "float",
        "groupby", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
        "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr", "sort", "string",
        "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip
REFUSED_FILTERS = {
    "safe": "|safe is not allowed: it would bypass Slack escaping",
    "attr": "|attr is not allowed in playbook templates",
    "e": "|e escapes for HTML, which Slack shows literally; values are already escaped for Slack",
    "escape": "|escape escapes for HTML, which Slack shows literally; values are already escaped for Slack",
    "forceescape": "|forceescape escapes for HTML, which Slack shows literally",
}
_STR_METHODS = frozenset(
    {
        "lower", "upper", "title", "capitalize", "casefold", "swapcase", "strip", "lstrip", "rstrip",
        "split", "rsplit", "splitlines", "partition", "rpartition", "startswith", "endswith", "find",
        "rfind", "index", "rindex", "count", "removeprefix", "removesuffix", "isdigit", "isalpha",
        "isalnum", "isspace", "islower", "isupper", "isnumeric", "isdecimal", "istitle",
    }
)  # fmt: skip
_DICT_METHODS = frozenset({"get", "items", "keys", "values"})
_BIG_FORMAT = re.compile(r"%[^a-zA-Z%]*(?:\*|[0-9]{5,})")


class Mode(StrEnum):
    TEXT = "text"
    URL = "url"
    HEADER = "header"
    BODY = "body"


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _slack(value: Any) -> str:
    # Markup is a fragment built in code (never from alert data), e.g. a "<@U123>" mention.
    return str(value) if isinstance(value, Markup) else slack_escape(value)


def _url(value: Any) -> str:
    return quote(_plain(value), safe="")


_FINALIZE: dict[Mode, Callable[[Any], str]] = {
    Mode.TEXT: _slack,
    Mode.URL: _url,
    Mode.HEADER: _plain,
    Mode.BODY: _plain,
}


class _Strict(StrictUndefined):
    """StrictUndefined whose message names the context path: "alert.labels has no 'instance'"."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name, obj = self._undefined_name, self._undefined_obj
        if obj is missing:
            if name == "env":
                return "env is only available in run.http.headers"
            return f"{name!r} is undefined"
        path = path_of(obj)
        if path is not None:
            return f"{path} has no {name!r}"
        if obj is None:
            return f"cannot read {name!r} of an empty value (None)"
        return str(super()._undefined_message)


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise OverflowError(f"range() is limited to {MAX_RANGE} numbers in playbook templates")
    return numbers


class _Sandbox(ImmutableSandboxedEnvironment):
    """The playbook sandbox: allow-listed filters and methods, bounded repetition and powers."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, LoopContext | Namespace):
            return True
        if isinstance(obj, str):
            return attr in _STR_METHODS
        if isinstance(obj, dict):
            return attr in _DICT_METHODS
        if isinstance(obj, list | tuple):
            return attr in {"count", "index"}
        return False  # anything else is reached by item lookup only

    def wrap_str_format(self, value: Any) -> None:
        # str.format / format_map stay out of reach entirely (widths like {:>999999999}).
        return None

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * times > MAX_REPEAT:
                    raise SecurityError(f"repetition would build more than {MAX_REPEAT} items")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and left.bit_length() * right > 10_000:
                raise SecurityError("the power is too large")
        elif operator == "%" and isinstance(left, str) and _BIG_FORMAT.search(left):
            raise SecurityError("format widths are limited to 4 digits")
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=4)
def environment(mode: Mode) -> _Sandbox:
    """The sandbox for `mode` (built on first use, never at import time)."""
    env = _Sandbox(autoescape=False, undefined=_Strict, finalize=_FINALIZE[mode])
    env.filters = {name: f for name, f in env.filters.items() if name in FILTERS}
    env.globals = {"range": _range, "dict": dict, "namespace": Namespace}
    return env


@dataclass(frozen=True)
class Ref:
    """`inputs.X`, `steps.X` or `env.X` read with a constant key, at `line` of the template."""

    root: str
    key: str
    line: int


@dataclass(frozen=True)
class Analysis:
    """What a template uses: free names, constant-key references, and roots used any other way."""

    names: frozenset[str]
    refs: tuple[Ref, ...]
    dynamic: frozenset[str]


def _parse(source: str, mode: Mode) -> nodes.Template:
    try:
        tree = environment(mode).parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"template syntax error: {error.message}", line=error.lineno) from None
    for node in tree.find_all((nodes.Filter, nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        if isinstance(node, nodes.Filter):
            if node.name in REFUSED_FILTERS:
                raise TemplateProblem(REFUSED_FILTERS[node.name], line=node.lineno)
            if node.name not in FILTERS:
                raise TemplateProblem(f"filter |{node.name} is not available in playbook templates", line=node.lineno)
        else:
            raise TemplateProblem("templates cannot include, import or extend others", line=node.lineno)
    for node in tree.find_all((nodes.EvalContextModifier, nodes.ScopedEvalContextModifier)):
        raise TemplateProblem("{% autoescape %} is not for Slack text; values are escaped already", line=node.lineno)
    return tree


@lru_cache(maxsize=2048)
def _compiled(source: str, mode: Mode) -> Any:
    tree = _parse(source, mode)
    try:
        return environment(mode).from_string(tree)
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"template error: {error.message}", line=error.lineno) from None


def check(source: str, mode: Mode = Mode.TEXT) -> None:
    """Compile `source` for `mode`; raises `TemplateProblem` (with the template line) if it cannot run."""
    _compiled(source, mode)


@lru_cache(maxsize=2048)
def analyse(source: str, mode: Mode = Mode.TEXT) -> Analysis:
    """The variables `source` uses; raises `TemplateProblem` like `check`."""
    check(source, mode)
    tree = _parse(source, mode)
    names = frozenset(meta.find_undeclared_variables(tree))
    refs: list[Ref] = []
    dynamic: set[str] = set()
    _collect(tree, None, names & {"inputs", "steps", "env"}, refs, dynamic)
    return Analysis(names=names, refs=tuple(refs), dynamic=frozenset(dynamic))


def _collect(
    node: nodes.Node, parent: nodes.Node | None, roots: frozenset[str], refs: list[Ref], dyn: set[str]
) -> None:
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name in roots:
        key: object = None
        if isinstance(parent, nodes.Getattr) and parent.node is node:
            key = parent.attr
        elif isinstance(parent, nodes.Getitem) and parent.node is node and isinstance(parent.arg, nodes.Const):
            key = parent.arg.value
        if isinstance(key, str) and key not in _DICT_METHODS:
            refs.append(Ref(node.name, key, node.lineno))
        else:
            dyn.add(node.name)
    for child in node.iter_child_nodes():
        _collect(child, node, roots, refs, dyn)


def render(source: str, context: TemplateContext, *, mode: Mode = Mode.TEXT, limit: int | None = None) -> str:
    """Render one template; raises `TemplateProblem` with a one-line message for anything that goes wrong.

    Text is cut to `limit` (default: the mode's) with an ellipsis; a URL, header or body value
    that is too long is an error instead, since a truncated one would be a different value.
    """
    limit = limit or LIMITS[str(mode)]
    template = _compiled(source, mode)
    variables = dict(context.variables)
    if mode is Mode.HEADER:
        variables["env"] = context.env
    pieces: list[str] = []
    size = 0
    try:
        for chunk in template.generate(variables):
            pieces.append(chunk)
            size += len(chunk)
            if size > limit:  # stop generating: the rest would be cut anyway
                break
    except TemplateProblem:
        raise
    except SecurityError as error:
        raise TemplateProblem(f"not allowed in playbook templates: {_one_line(error)}") from None
    except TemplateError as error:
        raise TemplateProblem(_one_line(error)) from None
    except Exception as error:  # the template's own arithmetic and conversions: still the template's fault
        raise TemplateProblem(f"template failed: {type(error).__name__}: {_one_line(error)}") from None
    text = "".join(pieces)
    if mode is Mode.TEXT:
        text = text.strip()  # block tags on their own lines leave blank lines that Slack would show
    if mode is Mode.HEADER and ("\r" in text or "\n" in text):
        raise TemplateProblem("a header value cannot contain a line break")
    if len(text) <= limit:
        return text
    if mode is not Mode.TEXT:
        raise TemplateProblem(f"the rendered {mode} value is longer than {limit} characters")
    return truncate(text, limit)


def render_value(value: Any, context: TemplateContext, *, mode: Mode = Mode.BODY) -> Any:
    """A JSON value with every string rendered as a template (keys are kept as written)."""
    if isinstance(value, str):
        return render(value, context, mode=mode)
    if isinstance(value, dict):
        return {k: render_value(v, context, mode=mode) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context, mode=mode) for v in value]
    return value


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis, never ending inside an `&amp;`-style entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&", len(cut) - 5)
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


@dataclass(frozen=True)
class TemplateField:
    """One template in a step: where it is (a path within the playbook file), its mode and length limit."""

    loc: tuple[str | int, ...]
    source: str
    mode: Mode
    limit: int


def template_fields(index: int, step: Step) -> Iterator[TemplateField]:
    """Every template of the step at `index`, with its location in the file."""
    at: tuple[str | int, ...] = ("steps", index)
    yield TemplateField((*at, "title"), step.title, Mode.TEXT, LIMITS["title"])
    if step.text is not None:
        yield TemplateField((*at, "text"), step.text, Mode.TEXT, LIMITS["text"])
    if step.confirm is not None:
        yield TemplateField((*at, "confirm"), step.confirm, Mode.TEXT, LIMITS["confirm"])
    if step.link is not None:
        yield TemplateField((*at, "link"), step.link, Mode.URL, LIMITS["link"])
    if step.run is not None:
        http = step.run.http
        yield TemplateField((*at, "run", "http", "url"), http.url, Mode.URL, LIMITS["url"])
        for name, value in http.headers.items():
            yield TemplateField((*at, "run", "http", "headers", name), value, Mode.HEADER, LIMITS["header"])
        yield from _body_fields((*at, "run", "http", "json"), http.json_body)
        for name, value in (http.form or {}).items():
            yield TemplateField((*at, "run", "http", "form", name), value, Mode.BODY, LIMITS["body"])


def _body_fields(loc: tuple[str | int, ...], value: Any) -> Iterator[TemplateField]:
    if isinstance(value, str):
        yield TemplateField(loc, value, Mode.BODY, LIMITS["body"])
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _body_fields((*loc, key), item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _body_fields((*loc, i), item)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
