"""Broken and hostile files become Problems with a line; reading never crashes or blows up."""

import time
from pathlib import Path

import pytest

from bot.playbooks.lint import lint_file
from bot.playbooks.loader import load_folder, load_playbook
from bot.playbooks.problems import Level, PlaybookInvalid
from bot.playbooks.yamlsource import MAX_BYTES
from tests.playbooks.conftest import MINIMAL

ALIAS_BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]
"""

HOSTILE: dict[str, tuple[bytes, int, str]] = {
    "not YAML": (b"id: x\ntitle: [unclosed\nsteps: {\n", 3, "invalid YAML"),
    "a list at the top": (b"- id: x\n- title: y\n", 1, "the top level is a list"),
    "a single value": (b"just words\n", 1, "the top level is a single value"),
    "empty": (b"", 1, "the file is empty"),
    "only a comment": (b"# nothing here\n", 1, "the file is empty"),
    "alias bomb": (ALIAS_BOMB.encode(), 2, "aliases (*name) are not allowed"),
    "merge key": (b"base: &base {title: T}\nstep:\n  <<: *base\n", 3, "aliases (*name) are not allowed"),
    "binary bytes": (b"id: x\n\x00\x01\x02\xff\xfe\x89PNG\r\n", 2, "not UTF-8"),
    "NUL in UTF-8 text": (b"id: x\ntitle: a\x00b\n", 2, "invalid YAML"),
    "two documents": (b"id: a\n---\nid: b\n", 2, "invalid YAML"),
    "python tag": (b"id: !!python/object/apply:os.system [echo hi]\n", 1, "YAML tag !!python/object/apply"),
    "python tag on a scalar": (b"id: !!python/name:os.system ''\n", 1, "invalid YAML"),
    "deep nesting": (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", 1, "nests deeper than"),
    "unhashable key": (b"? [a, b]\n: c\n", 1, "a mapping key must be a plain string"),
}


@pytest.mark.parametrize(("content", "line", "fragment"), list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_file_is_a_problem_with_a_line(tmp_path: Path, content: bytes, line: int, fragment: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content)
    problems = lint_file(path)
    assert any(p.line == line and fragment in p.message and p.file == str(path) for p in problems), problems
    with pytest.raises(PlaybookInvalid):
        load_playbook(path)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(MINIMAL.encode() + b"# " + b"x" * MAX_BYTES + b"\n")
    [problem] = lint_file(path)
    assert (problem.line, problem.severity) == (1, Level.ERROR)
    assert "limited to 256 KiB" in problem.message


def test_ten_thousand_steps_are_one_problem_and_quick(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    steps = "".join(f"- {{id: s{i}, title: t}}\n" for i in range(10_000))
    path.write_text(MINIMAL.replace("steps:\n  - id: first\n    title: First\n", "steps:\n" + steps))
    started = time.monotonic()
    problems = lint_file(path)
    assert time.monotonic() - started < 2
    [problem] = problems
    assert "more than 20000 YAML values" in problem.message


def test_a_folder_full_of_hostile_files_loads_what_is_good(tmp_path: Path) -> None:
    for index, (content, _, _) in enumerate(HOSTILE.values()):
        (tmp_path / f"h{index}.yaml").write_bytes(content)
    (tmp_path / "good.yml").write_text(MINIMAL)
    result = load_folder(tmp_path)
    assert list(result.playbooks) == ["sample"]
    assert result.files["sample"] == tmp_path / "good.yml"
    assert {p.file for p in result.errors} == {str(tmp_path / f"h{i}.yaml") for i in range(len(HOSTILE))}


def test_a_playbook_file_that_cannot_be_read_is_a_problem(tmp_path: Path) -> None:
    [problem] = lint_file(tmp_path / "missing.yaml")
    assert problem.line == 1
    assert "cannot read the file" in problem.message
