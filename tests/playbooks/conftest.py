"""Helpers for playbook tests: write YAML into a temporary folder and look for a problem on a line."""

import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bot.playbooks.lint import lint_file
from bot.playbooks.problems import Level, Problem

MINIMAL = """\
id: sample
title: Sample
match:
  any:
    - labels: {alertname: Sample}
steps:
  - id: first
    title: First
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "playbook.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def lint_text(write: Callable[..., Path]) -> Callable[[str], tuple[Path, list[Problem]]]:
    def lint_text(text: str) -> tuple[Path, list[Problem]]:
        path = write(text)
        return path, lint_file(path)

    return lint_text


def problem_at(problems: Sequence[Problem], line: int, fragment: str, level: Level = Level.ERROR) -> Problem:
    """The problem on `line` whose message contains `fragment`; fails listing every problem otherwise."""
    for problem in problems:
        if problem.line == line and fragment in problem.message and problem.severity is level:
            return problem
    listing = "\n".join(p.format() for p in problems) or "(no problems)"
    raise AssertionError(f"no {level} on line {line} containing {fragment!r}; got:\n{listing}")
