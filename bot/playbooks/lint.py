"""`warroom playbooks lint`: every problem in a playbooks folder, as text lines or JSON for CI."""

import json
from collections.abc import Sequence
from pathlib import Path

from bot.oncall.loader import load_schedules
from bot.playbooks.loader import load_folder, read_playbook
from bot.playbooks.problems import Level, Problem


def lint_folder(directory: Path | str) -> list[Problem]:
    """Every problem in every playbook and on-call schedule under `directory`, sorted."""
    return sorted(load_folder(directory).problems + load_schedules(directory).problems)


def lint_file(path: Path | str) -> list[Problem]:
    """Every problem in one playbook file (ids shared with other files are not checked)."""
    return read_playbook(path)[1]


def has_errors(problems: Sequence[Problem]) -> bool:
    return any(p.severity is Level.ERROR for p in problems)


def format_text(problems: Sequence[Problem]) -> str:
    """One `file:line: message` line per problem (`file:line: warning: message` for warnings)."""
    return "".join(p.format() + "\n" for p in problems)


def format_json(problems: Sequence[Problem]) -> str:
    """A JSON array of {"file", "line", "severity", "message"}, for CI annotations."""
    return json.dumps([p.as_dict() for p in problems], indent=2, ensure_ascii=False) + "\n"


def summary(problems: Sequence[Problem]) -> str:
    errors = sum(p.severity is Level.ERROR for p in problems)
    warnings = len(problems) - errors
    if not problems:
        return "no problems"
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
