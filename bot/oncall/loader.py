"""Load on-call schedule files (`<PLAYBOOKS_DIR>/oncall/*.yaml`), reporting problems by file and line.

Like playbooks, a schedule loads only when it has no error, so the bot never runs a schedule
that `warroom playbooks lint` rejects.
"""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from bot.oncall.schema import Schedule
from bot.playbooks.loader import SUFFIXES, schema_problems
from bot.playbooks.problems import Level, Problem
from bot.playbooks.yamlsource import Document, YamlProblem, read_document

ONCALL_DIR = "oncall"


@dataclass
class ScheduleLoad:
    schedules: dict[str, Schedule] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # schedule id -> its file


def schedule_files(playbooks_dir: Path | str) -> list[Path]:
    """The schedule files in `<playbooks_dir>/oncall/`, sorted; hidden files skipped."""
    folder = Path(playbooks_dir) / ONCALL_DIR
    if not folder.is_dir():
        return []
    names = (p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return sorted(p for p in names if p.name.endswith(SUFFIXES))


def read_schedule(path: Path | str) -> tuple[Schedule | None, list[Problem]]:
    """The schedule in `path` (None when it has errors) and every problem found in it."""
    file = str(path)
    try:
        document = read_document(Path(path))
    except YamlProblem as problem:
        # The shared YAML reader speaks of playbooks; this file is a schedule.
        message = problem.message.replace("a playbook is a YAML mapping", "a schedule is a YAML mapping")
        return None, [Problem(file, problem.line, message)]
    problems = [Problem(file, line, message) for line, message in document.problems]
    try:
        schedule = Schedule.model_validate(document.data)
    except ValidationError as error:
        return None, sorted({*problems, *schema_problems(error, document, file, Schedule)})
    problems += _warnings(schedule, document, file)
    return (None if any(p.severity is Level.ERROR for p in problems) else schedule), sorted(problems)


def _warnings(schedule: Schedule, document: Document, file: str) -> list[Problem]:
    found = []
    for position, layer in enumerate(schedule.all_layers):
        loc: tuple[str | int, ...] = ("rotation",) if schedule.rotation is not None else ("layers", position)
        twice = [m for m, n in Counter(layer.members).items() if n > 1]
        if twice:
            line = document.line_of((*loc, "members"))
            found.append(Problem(file, line, f"{', '.join(twice)} listed twice in one rotation", Level.WARNING))
    return found


def load_schedules(playbooks_dir: Path | str) -> ScheduleLoad:
    """Every valid schedule; an id or a service claimed by two files is an error in both."""
    result = ScheduleLoad()
    loaded: list[tuple[Path, Schedule]] = []
    for path in schedule_files(playbooks_dir):
        schedule, problems = read_schedule(path)
        result.problems += problems
        if schedule is not None:
            loaded.append((path, schedule))
    ids = Counter(s.id for _, s in loaded)
    owners: dict[str, list[str]] = {}
    for _, schedule in loaded:
        for service in schedule.services:
            owners.setdefault(service, []).append(schedule.id)
    for path, schedule in loaded:
        if ids[schedule.id] > 1:
            others = ", ".join(str(p) for p, s in loaded if s.id == schedule.id and p != path)
            result.problems.append(Problem(str(path), 1, f"schedule id {schedule.id!r} is also used by {others}"))
            continue
        shared = [f"{svc!r} ({', '.join(o for o in owners[svc] if o != schedule.id)})" for svc in schedule.services]
        shared = [text for svc, text in zip(schedule.services, shared, strict=True) if len(owners[svc]) > 1]
        if shared:
            message = f"services also mapped by another schedule: {', '.join(shared)}; an incident must have one"
            result.problems.append(Problem(str(path), 1, message))
            continue
        result.schedules[schedule.id] = schedule
        result.files[schedule.id] = path
    result.problems.sort()
    return result
