"""Schedule files: problems by file and line, ids and services claimed twice, and `warroom playbooks lint`."""

import textwrap
from pathlib import Path

import pytest

from bot.cli import main
from bot.oncall.loader import load_schedules, read_schedule, schedule_files
from bot.playbooks.problems import Level, Problem

GOOD = """\
id: platform
channel: "#platform-oncall"
timezone: Europe/Berlin
services: [API Gateway]
rotation:
  members: [alice@example.com, bob@example.com]
  shift: 1w
  handoff: "monday 09:00"
  start: 2026-01-05
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / "oncall" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def lines(problems: list[Problem]) -> list[tuple[int, str, Level]]:
    return [(p.line, p.message, p.severity) for p in problems]


def test_a_good_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "platform.yaml", GOOD)
    schedule, problems = read_schedule(path)
    assert problems == []
    assert schedule is not None
    assert (schedule.id, schedule.services) == ("platform", ("API Gateway",))
    loaded = load_schedules(tmp_path)
    assert list(loaded.schedules) == ["platform"]
    assert loaded.files == {"platform": path}


def test_which_files_are_read(tmp_path: Path) -> None:
    assert schedule_files(tmp_path) == []  # no oncall folder at all
    good = write(tmp_path, "b.yaml", GOOD)
    other = write(tmp_path, "a.yml", GOOD.replace("platform", "web").replace("API Gateway", "Web"))
    write(tmp_path, ".hidden.yaml", "not: [valid")
    write(tmp_path, "README.md", "# notes")
    assert schedule_files(tmp_path) == [other, good]
    assert load_schedules(tmp_path).problems == []


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (GOOD.replace("Europe/Berlin", "Europe/Berlín"), 3, "unknown time zone 'Europe/Berlín'"),
        (GOOD.replace('"monday 09:00"', '"mondays at 9"'), 8, "cannot read handoff 'mondays at 9'"),
        (GOOD.replace("shift: 1w", "shift: 12h"), 5, "a handoff on a weekday needs a shift of whole weeks"),
        (GOOD.replace("bob@example.com", "bob"), 6, "'bob' is not an email address or a Slack user id"),
        (GOOD.replace("  start:", "  strat:"), 9, "unknown key 'strat' (did you mean 'start'?)"),
        (GOOD.replace("channel:", "# no channel\nchanel:"), 3, "unknown key 'chanel' (did you mean 'channel'?)"),
        (GOOD + "  hours: 09:00-09:00\n", 10, "hours '09:00-09:00' is empty"),
        (GOOD + "  days: [mon, funday]\n", 10, "'funday' is not a weekday"),
        (
            GOOD + "layers:\n  - {members: [carol@example.com], shift: 1d, handoff: '09:00', start: 2026-01-05}\n",
            10,
            "not both",
        ),
        (GOOD + "id: again\n", 10, "duplicate key 'id'"),
        (GOOD.replace("  shift: 1w", "   shift: 1w"), 7, "invalid YAML"),
        (
            GOOD.replace('"monday 09:00"', "9:30").replace("1w", "1d"),
            8,
            'the number 570; quote it, e.g. handoff: "09:30"',
        ),
        ("- platform\n", 1, "the top level is a list; a schedule is a YAML mapping"),
    ],
)
def test_problems_point_at_the_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, "platform.yaml", text)
    schedule, problems = read_schedule(path)
    assert schedule is None
    assert any(p.line == line and fragment in p.message and p.file == str(path) for p in problems), problems


def test_the_line_of_a_bad_member_in_a_block_list(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  members: [alice@example.com, bob@example.com]",
        "  members:\n    - alice@example.com\n    - bob@\n    - carol@example.com",
    )
    _, problems = read_schedule(write(tmp_path, "platform.yaml", text))
    assert lines(problems) == [
        (8, "rotation.members[1]: 'bob@' is not an email address or a Slack user id (U…)", Level.ERROR)
    ]


def test_a_member_listed_twice_is_a_warning_and_the_schedule_loads(tmp_path: Path) -> None:
    text = GOOD.replace("bob@example.com]", "bob@example.com, Alice@example.com]")
    schedule, problems = read_schedule(write(tmp_path, "platform.yaml", text))
    assert schedule is not None
    assert lines(problems) == [(6, "alice@example.com listed twice in one rotation", Level.WARNING)]


def test_the_same_id_in_two_files_is_an_error_in_both(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", GOOD)
    second = write(tmp_path, "b.yaml", "# the same team, copied\n" + GOOD.replace("API Gateway", "Other"))
    loaded = load_schedules(tmp_path)
    assert loaded.schedules == {}
    assert [(p.file, p.line, p.message) for p in loaded.problems] == [
        (str(first), 1, f"schedule id 'platform' is also used by {second}"),
        (str(second), 1, f"schedule id 'platform' is also used by {first}"),
    ]


def test_a_service_mapped_by_two_schedules_is_an_error_in_both(tmp_path: Path) -> None:
    write(tmp_path, "platform.yaml", GOOD.replace("[API Gateway]", "[API Gateway, Payments DB]"))
    write(tmp_path, "web.yaml", GOOD.replace("platform", "web").replace("[API Gateway]", "[Web App, API Gateway]"))
    write(tmp_path, "db.yaml", GOOD.replace("platform", "db").replace("[API Gateway]", "[Postgres]"))
    loaded = load_schedules(tmp_path)
    assert list(loaded.schedules) == ["db"]
    assert sorted((Path(p.file).name, p.line, p.message) for p in loaded.problems) == [
        (
            "platform.yaml",
            1,
            "services also mapped by another schedule: 'API Gateway' (web); an incident must have one",
        ),
        (
            "web.yaml",
            1,
            "services also mapped by another schedule: 'API Gateway' (platform); an incident must have one",
        ),
    ]


def test_a_broken_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", "id: [unclosed\n")
    write(tmp_path, "platform.yaml", GOOD)
    loaded = load_schedules(tmp_path)
    assert list(loaded.schedules) == ["platform"]
    assert [Path(p.file).name for p in loaded.problems] == ["broken.yaml"]


def test_lint_reports_a_bad_schedule_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "platform.yaml", GOOD.replace("shift: 1w", "shift: 12h"))
    assert main(["playbooks", "lint", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    expected = "rotation: a handoff on a weekday needs a shift of whole weeks (1w, 2w); write only the time"
    assert out.splitlines() == [f"{path}:5: {expected}"]
    assert "1 error, 0 warnings" in err


def test_lint_passes_a_good_schedule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "platform.yaml", GOOD)
    assert main(["playbooks", "lint", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""


def test_the_shipped_schedule_is_valid_and_covers_the_shipped_playbooks() -> None:
    shipped = Path(__file__).resolve().parents[2] / "playbooks"
    loaded = load_schedules(shipped)
    assert loaded.problems == []
    platform = loaded.schedules["platform"]
    assert platform.timezone == "Europe/Berlin"
    assert platform.all_layers[0].members == ("alice@example.com", "bob@example.com", "carol@example.com")
    # Every PagerDuty service a shipped playbook matches on is answered for by this schedule.
    matched = {"API Gateway", "Public API", "Customer Support Escalations"}
    for path in shipped.glob("*.yaml"):
        for line in path.read_text().splitlines():
            if line.strip().startswith("service:"):
                value = line.split(":", 1)[1].strip().strip("[]")
                assert {part.strip() for part in value.split(",")} <= matched, path
    assert matched <= set(platform.services)
