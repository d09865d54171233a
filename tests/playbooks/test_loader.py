"""Loading a folder: which files count, duplicate ids, and what a loaded playbook looks like."""

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.playbooks.loader import load_folder, load_playbook, playbook_files
from bot.playbooks.problems import PlaybookInvalid
from bot.playbooks.schema import HttpMethod, StepKind
from tests.playbooks.conftest import MINIMAL


def test_folder_skips_oncall_templates_examples_hidden_and_other_files(write: Callable[..., Path]) -> None:
    kept = [write(MINIMAL, "a.yaml"), write(MINIMAL.replace("sample", "b"), "team/b.yml")]
    for name in ("oncall/platform.yaml", "templates/postmortem.yaml", "examples/x.yaml", ".hidden/c.yaml", ".d.yaml"):
        write("not: [a playbook", name)
    write("{}", "notes.json")
    assert playbook_files(kept[0].parent) == kept
    result = load_folder(kept[0].parent)
    assert sorted(result.playbooks) == ["b", "sample"]
    assert result.problems == []


def test_an_id_used_by_two_files_is_reported_in_both_and_neither_loads(write: Callable[..., Path]) -> None:
    first = write(MINIMAL, "one.yaml")
    second = write("# the same id again\n" + MINIMAL, "two.yaml")
    result = load_folder(first.parent)
    assert result.playbooks == {}
    assert [(p.file, p.line) for p in result.errors] == [(str(first), 1), (str(second), 2)]
    assert f"also used by {second}" in result.errors[0].message


def test_missing_folder_is_a_problem(tmp_path: Path) -> None:
    result = load_folder(tmp_path / "nope")
    assert [p.message for p in result.problems] == ["no such directory"]


def test_load_playbook_raises_with_every_problem(write: Callable[..., Path]) -> None:
    path = write(MINIMAL.replace("title: First", "title: '{{ nope }}'\n    requires: [ghost]"))
    with pytest.raises(PlaybookInvalid) as raised:
        load_playbook(path)
    assert len(raised.value.problems) == 2
    assert str(raised.value).startswith(f"{path}:8: ")
    assert str(raised.value).endswith("(and 1 more)")


def test_a_loaded_playbook_is_normalised(write: Callable[..., Path]) -> None:
    path = write(
        MINIMAL
        + """\
  - id: grow
    title: Grow
    run:
      http: {url: "https://ops.example.com/grow"}
      timeout: 1m30s
      expect: 202
"""
    )
    playbook = load_playbook(path)
    grow = playbook.step("grow")
    assert grow is not None and grow.run is not None
    assert (grow.kind, grow.run.timeout, grow.run.expect, grow.run.retries) == (StepKind.RUN, 90.0, (202,), 0)
    assert grow.run.http.method is HttpMethod.POST
    assert playbook.step("first") is not None and playbook.steps[0].kind is StepKind.MANUAL
    with pytest.raises(ValueError, match="frozen"):
        playbook.id = "other"  # type: ignore[misc]
