"""Load playbook files into `Playbook`s, reporting every problem with its file and line.

A playbook is loaded only when it has no error at all (schema, references, templates, match),
so the bot never runs a playbook that `warroom playbooks lint` rejects.
"""

import os
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.playbooks.checks import check_playbook
from bot.playbooks.problems import Level, PlaybookInvalid, Problem
from bot.playbooks.schema import MAX_STEPS, Playbook
from bot.playbooks.yamlsource import Document, YamlProblem, read_document

# Sub-folders of PLAYBOOKS_DIR that hold other things: schedules, template overrides, sample payloads.
IGNORED_DIRS = frozenset({"oncall", "templates", "examples"})
SUFFIXES = (".yaml", ".yml")
MAX_PROBLEMS_PER_FILE = 25


@dataclass
class LoadResult:
    """The playbooks that loaded cleanly, by id, and every problem found in the folder."""

    playbooks: dict[str, Playbook] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # playbook id -> its file

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Level.ERROR]


def playbook_files(directory: Path | str) -> list[Path]:
    """Every `*.yaml`/`*.yml` under `directory` in a stable order, skipping hidden and IGNORED_DIRS folders."""
    base = Path(directory)
    found: list[Path] = []
    for root, dirs, names in os.walk(base):  # does not follow symlinked folders: no loops
        top = Path(root) == base
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (top and d in IGNORED_DIRS))
        found += [Path(root) / n for n in sorted(names) if n.endswith(SUFFIXES) and not n.startswith(".")]
    return found


def read_playbook(path: Path | str) -> tuple[Playbook | None, list[Problem]]:
    """The playbook in `path` (None when it has errors) and all problems found in it, by line."""
    playbook, problems, _ = _read(Path(path))
    return (None if any(p.severity is Level.ERROR for p in problems) else playbook), problems


def load_playbook(path: Path | str) -> Playbook:
    """The playbook in `path`; raises `PlaybookInvalid` (an InvalidInput) listing the problems."""
    playbook, problems = read_playbook(path)
    if playbook is None:
        raise PlaybookInvalid(problems)
    return playbook


def load_folder(directory: Path | str) -> LoadResult:
    """Every playbook in `directory`; ids used by two files load neither (which one was meant?)."""
    base = Path(directory)
    result = LoadResult()
    if not base.is_dir():
        result.problems.append(Problem(str(base), 1, "no such directory"))
        return result
    by_id: dict[str, list[tuple[Path, Document | None, Playbook | None]]] = {}
    for path in playbook_files(base):
        playbook, problems, document = _read(path)
        result.problems += problems
        valid = playbook if not any(p.severity is Level.ERROR for p in problems) else None
        identifier = playbook.id if playbook is not None else _raw_id(document)
        if identifier is not None:
            by_id.setdefault(identifier, []).append((path, document, valid))
    for identifier, entries in sorted(by_id.items()):
        if len(entries) > 1:
            for path, document, _ in entries:
                others = ", ".join(str(p) for p, _, _ in entries if p != path)
                line = document.line_of(("id",)) if document is not None else 1
                message = f"playbook id {identifier!r} is also used by {others}; neither file is loaded"
                result.problems.append(Problem(str(path), line, message))
        elif entries[0][2] is not None:
            result.playbooks[identifier] = entries[0][2]
            result.files[identifier] = entries[0][0]
    result.problems.sort()
    return result


def _raw_id(document: Document | None) -> str | None:
    data = document.data if document is not None else None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _read(path: Path) -> tuple[Playbook | None, list[Problem], Document | None]:
    file = str(path)
    try:
        document = read_document(path)
    except YamlProblem as problem:
        return None, [Problem(file, problem.line, problem.message)], None
    problems = [Problem(file, line, message) for line, message in document.problems]
    data = document.data
    steps = data.get("steps")
    if isinstance(steps, list) and len(steps) > MAX_STEPS:
        message = f"{len(steps)} steps; a playbook holds at most {MAX_STEPS} (split it)"
        return None, [*problems, Problem(file, document.line_of(("steps",)), message)], document
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as error:
        problems += schema_problems(error, document, file, Playbook)
        return None, _capped(problems), document
    problems += check_playbook(playbook, document, file)
    return playbook, _capped(problems), document


def _capped(problems: list[Problem]) -> list[Problem]:
    unique = sorted(set(problems), key=lambda p: (p.line, p.severity is Level.WARNING, p.message))
    if len(unique) <= MAX_PROBLEMS_PER_FILE:
        return unique
    kept = unique[:MAX_PROBLEMS_PER_FILE]
    return [*kept, Problem(kept[-1].file, kept[-1].line, f"… and {len(unique) - len(kept)} more problems")]


def schema_problems(error: ValidationError, document: Document, file: str, model: type[BaseModel]) -> list[Problem]:
    """One problem per validation error of `model`, at the line of the offending key."""
    details = error.errors(include_url=False)
    inner = [tuple(d["loc"]) for d in details]
    return [
        Problem(file, document.line_of(tuple(detail["loc"])), _message(detail, document.data, model))
        for detail in details
        # A list whose only items were invalid is also "too short": the item's own error says more.
        if not (detail["type"] == "too_short" and any(_within(loc, tuple(detail["loc"])) for loc in inner))
    ]


def _within(loc: tuple[int | str, ...], parent: tuple[int | str, ...]) -> bool:
    return len(loc) > len(parent) and loc[: len(parent)] == parent


def _message(detail: ErrorDetails, data: Any, model: type[BaseModel]) -> str:
    loc = tuple(detail["loc"])
    kind = detail["type"]
    if kind in ("missing", "extra_forbidden") and loc:
        where, key = _where(loc[:-1], data), str(loc[-1])
        if kind == "missing":
            return f"{where}{key} is required"
        close = get_close_matches(key, _keys_at(loc[:-1], model), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{where}unknown key {key!r}{hint}"
    message = detail["msg"].removeprefix("Value error, ")
    given, limits = detail.get("input"), detail.get("ctx", {})
    if kind == "string_type" and isinstance(given, int | float | bool | date):
        message = f"expected text, got {given!r}; quote it in YAML"
    elif kind == "too_short":
        message = f"needs at least {limits.get('min_length')} item(s)"
    elif kind == "too_long":
        message = f"holds at most {limits.get('max_length')} items"
    elif kind == "string_too_short":
        message = "must not be empty"
    return f"{_where(loc, data)}{message}"


# Lists whose items are named in messages by their own key: `step 'grow': …`, `layer 'emea': …`.
_NAMED_ITEMS = {"steps": ("step", "id"), "layers": ("layer", "name")}


def _where(loc: Sequence[int | str], data: Any) -> str:
    """`step 'grow': run.timeout: ` for a location; list indexes the author did not write are left out."""
    prefix, node = "", data
    parts: list[str] = []
    for position, part in enumerate(loc):
        if (isinstance(part, int) and not isinstance(node, list)) or part == "[key]":
            continue  # a single value the schema wrapped into a list; pydantic's marker for a mapping key
        child = _get(node, part)
        if position == 1 and loc[0] in _NAMED_ITEMS and isinstance(part, int):
            noun, key = _NAMED_ITEMS[str(loc[0])]
            name = child.get(key) if isinstance(child, dict) else None
            prefix = f"{noun} {name!r}: " if isinstance(name, str) else f"{loc[0]}[{part}]: "
            parts = []
        else:
            parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
        node = child
    dotted = "".join(parts).lstrip(".")
    return f"{prefix}{dotted}: " if dotted else prefix


def _get(node: Any, part: int | str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _keys_at(loc: Sequence[int | str], model: type[BaseModel]) -> list[str]:
    """The keys the schema accepts at `loc` (for "did you mean"), or [] when not at a model."""
    for part in loc:
        if isinstance(part, int):
            continue
        found = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        inner = _model_in(found.annotation) if found is not None else None
        if inner is None:
            return []
        model = inner
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
