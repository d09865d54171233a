"""`warroom oncall who` through `bot.cli.main`: text and JSON across daylight-saving changes, and bad input."""

import json
import textwrap
from pathlib import Path

import pytest

from bot.cli import main

PLATFORM = """\
id: platform
name: Platform
channel: "#platform-oncall"
timezone: Europe/Berlin
rotation:
  members: [alice@example.com, bob@example.com, carol@example.com]
  shift: 1w
  handoff: "monday 09:00"
  start: 2026-01-05
"""

# Two regions in their own zones with a gap between them (08:00-16:00 and 14:00-22:00 UTC in winter).
REGIONS = """\
id: regions
channel: "#regions"
timezone: America/New_York
layers:
  - {name: emea, timezone: Europe/Berlin, members: [dave@example.com], shift: 1w, handoff: "monday 09:00",
     start: 2026-01-05, hours: "09:00-17:00"}
  - {name: amer, members: [erin@example.com], shift: 1w, handoff: "monday 09:00", start: 2026-01-05,
     hours: "09:00-17:00"}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "oncall").mkdir()
    (tmp_path / "oncall" / "platform.yaml").write_text(PLATFORM)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["oncall", "who", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_across_the_spring_change(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 5 January to 23 March 2026 is 11 weeks: 11 % 3 == 2, carol; her week loses an hour to the change.
    code, out, err = run(capsys, "--dir", str(folder), "--at", "2026-03-29T12:00Z")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "platform (Platform), Europe/Berlin, at Sun 2026-03-29 14:00 CEST (2026-03-29 12:00 UTC)",
        "  now:  carol@example.com, since Mon 2026-03-23 09:00 CET (2026-03-23 08:00 UTC),"
        " until Mon 2026-03-30 09:00 CEST (2026-03-30 07:00 UTC)",
        "  next: alice@example.com, from Mon 2026-03-30 09:00 CEST (2026-03-30 07:00 UTC),"
        " until Mon 2026-04-06 09:00 CEST (2026-04-06 07:00 UTC)",
    ]


def test_an_offset_and_z_name_the_same_instant(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--dir", str(folder), "--at", "2026-03-29T14:00+02:00") == run(
        capsys, "--dir", str(folder), "--at", "2026-03-29T12:00Z"
    )


def test_json_across_the_autumn_change(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 5 January to 19 October 2026 is 41 weeks: 41 % 3 == 2, carol again; her week gains an hour.
    code, out, _ = run(capsys, "--dir", str(folder), "--at", "2026-10-25T12:00+01:00", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "schedule": "platform",
            "name": "Platform",
            "timezone": "Europe/Berlin",
            "at": "2026-10-25T11:00:00Z",
            "source": "file",
            "pagerduty": False,
            "now": {
                "member": "carol@example.com",
                "layer": "rotation",
                "start": "2026-10-19T07:00:00Z",
                "end": "2026-10-26T08:00:00Z",
                "start_local": "2026-10-19T09:00:00+02:00",
                "end_local": "2026-10-26T09:00:00+01:00",
            },
            "next": {
                "member": "alice@example.com",
                "layer": "rotation",
                "start": "2026-10-26T08:00:00Z",
                "end": "2026-11-02T08:00:00Z",
                "start_local": "2026-10-26T09:00:00+01:00",
                "end_local": "2026-11-02T09:00:00+01:00",
            },
        }
    ]


def test_every_schedule_by_default_and_one_with_schedule(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "oncall" / "regions.yaml").write_text(REGIONS)
    _, out, _ = run(capsys, "--dir", str(folder), "--at", "2027-01-13T07:00Z", "--json")
    assert [entry["schedule"] for entry in json.loads(out)] == ["platform", "regions"]
    code, out, _ = run(capsys, "--dir", str(folder), "--at", "2027-01-13T07:00Z", "--schedule", "regions")
    assert code == 0
    # 07:00 UTC is 08:00 in Berlin and 02:00 in New York: nobody until Berlin opens at 08:00 UTC.
    assert out.splitlines() == [
        "regions (regions), America/New_York, at Wed 2027-01-13 02:00 EST (2027-01-13 07:00 UTC)",
        "  now:  nobody (a gap in the schedule), since Tue 2027-01-12 17:00 EST (2027-01-12 22:00 UTC),"
        " until Wed 2027-01-13 03:00 EST (2027-01-13 08:00 UTC)",
        "  next: dave@example.com [emea], from Wed 2027-01-13 03:00 EST (2027-01-13 08:00 UTC),"
        " until Wed 2027-01-13 09:00 EST (2027-01-13 14:00 UTC)",
    ]


def test_a_single_member_has_no_next(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    solo = PLATFORM.replace("[alice@example.com, bob@example.com, carol@example.com]", "[alice@example.com]")
    (folder / "oncall" / "platform.yaml").write_text(solo)
    code, out, _ = run(capsys, "--dir", str(folder), "--at", "2026-06-01T00:00Z", "--json")
    assert code == 0
    entry = json.loads(out)[0]
    assert entry["now"]["member"] == "alice@example.com"
    assert (entry["now"]["start"], entry["now"]["end"], entry["next"]) == (None, None, None)
    _, text, _ = run(capsys, "--dir", str(folder), "--at", "2026-06-01T00:00Z")
    assert "since before the horizon looked at" in text
    assert "next: nobody else" in text


def test_a_pagerduty_schedule_says_the_file_is_shown(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "oncall" / "platform.yaml").write_text(PLATFORM + "pagerduty: {schedule: PABC123}\n")
    _, out, _ = run(capsys, "--dir", str(folder), "--at", "2026-03-29T12:00Z")
    assert "takes who is on call from PagerDuty; shown is its file rotation" in out
    _, out, _ = run(capsys, "--dir", str(folder), "--at", "2026-03-29T12:00Z", "--json")
    assert json.loads(out)[0]["pagerduty"] is True


@pytest.mark.parametrize(
    ("at", "fragment"),
    [
        ("2026-03-29T12:00", "has no UTC offset"),
        ("2026-03-29", "has no UTC offset"),
        ("tomorrow", "cannot read --at 'tomorrow'"),
        ("2026-02-30T12:00Z", "cannot read --at"),
    ],
)
def test_bad_at_is_a_one_line_refusal(folder: Path, capsys: pytest.CaptureFixture[str], at: str, fragment: str) -> None:
    code, out, err = run(capsys, "--dir", str(folder), "--at", at)
    assert (code, out) == (2, "")
    assert err.startswith("warroom: ") and fragment in err
    assert err.count("\n") == 1


def test_unknown_schedule_lists_the_known_ones(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "oncall" / "regions.yaml").write_text(REGIONS)
    code, out, err = run(capsys, "--dir", str(folder), "--schedule", "payments")
    assert (code, out) == (2, "")
    assert err == "warroom: unknown schedule 'payments'; known schedules: platform, regions\n"


def test_invalid_schedule_files_print_their_problems_and_exit_1(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = folder / "oncall" / "broken.yaml"
    broken.write_text(
        textwrap.dedent(PLATFORM.replace("platform", "broken").replace("Europe/Berlin", "Europe/Nowhere"))
    )
    code, out, err = run(capsys, "--dir", str(folder), "--json")
    assert (code, out) == (1, "")
    expected = "timezone: unknown time zone 'Europe/Nowhere'; use an IANA name such as Europe/Berlin or UTC"
    assert err.splitlines()[0] == f"{broken}:4: {expected}"


def test_missing_folder_and_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--dir", str(tmp_path / "nope"))
    assert (code, err) == (2, f"warroom: no such directory: {tmp_path / 'nope'}\n")
    code, _, err = run(capsys, "--dir", str(tmp_path))
    assert (code, err) == (2, f"warroom: no on-call schedules in {tmp_path / 'oncall'}\n")


def test_defaults_to_playbooks_dir_and_now(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAYBOOKS_DIR", str(folder))
    code, out, _ = run(capsys, "--json")
    assert code == 0
    assert json.loads(out)[0]["now"]["member"] in {"alice@example.com", "bob@example.com", "carol@example.com"}


@pytest.mark.parametrize("at", ["9999-12-30T00:00Z", "0001-01-02T00:00Z"])
def test_an_instant_off_the_calendar_is_refused_in_one_line(
    folder: Path, at: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["oncall", "who", "--dir", str(folder), "--at", at]) == 2
    assert capsys.readouterr().err.strip().endswith("give a time between 1970 and 2200")
