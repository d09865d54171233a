"""The playbooks shipped in `playbooks/` lint clean and render against their example payloads."""

from pathlib import Path

import pytest

from bot.cli import main
from bot.playbooks.lint import lint_folder
from bot.playbooks.loader import load_folder

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
SHIPPED = sorted(PLAYBOOKS.glob("*.yaml"))
FIXTURES = sorted((ROOT / "tests" / "fixtures").glob("*.json"))


def test_shipped_playbooks_lint_without_errors_or_warnings() -> None:
    assert lint_folder(PLAYBOOKS) == []
    assert sorted(load_folder(PLAYBOOKS).playbooks) == [
        "account-flooding-backend",
        "app-frozen-for-one-user",
        "db-storage-full",
    ]


@pytest.mark.parametrize("playbook", SHIPPED, ids=lambda p: p.stem)
def test_each_renders_against_its_example_and_matches_it(playbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = PLAYBOOKS / "examples" / f"{playbook.stem}.json"
    assert main(["playbooks", "render", str(playbook), "--alert", str(example)]) == 0
    out = capsys.readouterr().out
    assert "matches: yes" in out
    assert "(error:" not in out


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
@pytest.mark.parametrize("playbook", SHIPPED, ids=lambda p: p.stem)
def test_each_renders_against_every_fixture_without_crashing(
    playbook: Path, fixture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["playbooks", "render", str(playbook), "--alert", str(fixture)])
    out, err = capsys.readouterr()
    if code == 2:  # not an alert payload (a signature test vector, an event type without alerts)
        assert err.startswith("warroom: ") and err.count("\n") == 1
    else:
        assert code in (0, 1)
        assert out.startswith(f"playbook {playbook.stem}: ")
