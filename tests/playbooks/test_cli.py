"""`warroom playbooks lint` and `warroom playbooks render` through `bot.cli.main`."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.playbooks.render import detect_source
from tests.playbooks.conftest import MINIMAL

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
BROKEN = MINIMAL.replace("title: First", "title: '{{ nope }}'")
WARNED = MINIMAL + "    confirm: Sure?\n"


def test_lint_clean_folder_exits_0(write: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write(MINIMAL)
    assert main(["playbooks", "lint", str(path.parent)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("no problems\n")


def test_lint_errors_exit_1_with_file_line_message(
    write: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = write(BROKEN, "broken.yaml")
    warned = write(WARNED.replace("sample", "warned"), "warned.yaml")
    assert main(["playbooks", "lint", str(broken.parent)]) == 1
    out, err = capsys.readouterr()
    known = "templates see alert, alerts, incident, inputs, steps"
    assert out.splitlines() == [
        f"{broken}:8: step 'first': title: unknown variable 'nope'; {known}",
        f"{warned}:9: warning: step 'first': confirm only applies to run steps",
    ]
    assert "1 error, 1 warning" in err


def test_lint_warnings_alone_exit_0(write: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write(WARNED)
    assert main(["playbooks", "lint", str(path.parent)]) == 0
    assert capsys.readouterr().out.startswith(f"{path}:9: warning: ")


def test_lint_json_for_ci(write: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    broken = write(BROKEN, "broken.yaml")
    write(WARNED.replace("sample", "warned"), "warned.yaml")
    assert main(["playbooks", "lint", str(broken.parent), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report[0] == {
        "file": str(broken),
        "line": 8,
        "severity": "error",
        "message": "step 'first': title: unknown variable 'nope'; templates see alert, alerts, incident, inputs, steps",
    }
    assert [entry["severity"] for entry in report] == ["error", "warning"]


def test_lint_json_clean_is_an_empty_array(write: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write(MINIMAL)
    assert main(["playbooks", "lint", str(path.parent), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_lint_defaults_to_playbooks_dir(
    write: Callable[..., Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(BROKEN)
    monkeypatch.setenv("PLAYBOOKS_DIR", str(path.parent))
    assert main(["playbooks", "lint"]) == 1
    assert str(path) in capsys.readouterr().out


def test_lint_missing_folder_is_a_one_line_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["playbooks", "lint", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"warroom: no such directory: {tmp_path / 'nope'}\n"


def test_render_shows_steps_requests_and_hides_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_API_TOKEN", "s3cr3t-value")
    playbook = ROOT / "playbooks" / "db-storage-full.yaml"
    payload = ROOT / "playbooks" / "examples" / "db-storage-full.json"
    assert main(["playbooks", "render", str(playbook), "--alert", str(payload)]) == 0
    out = capsys.readouterr().out
    assert "s3cr3t" not in out
    assert "matches: yes" in out
    assert "2. grow [run]  waits for: verify" in out
    assert "POST https://ops.example.com/api/v1/databases/db-payments-1.prod%3A5432/storage/grow" in out
    assert "Authorization: *** (from env: OPS_API_TOKEN)" in out
    assert '{"percent": 20, "reason": "Incident 0: Postgres volume on db-payments-1.prod:5432 is 97% full"}' in out
    assert "timeout 30s, retries 2, expect 200, 202" in out
    assert "run by:  commander, @dba" in out


def test_render_with_and_without_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    playbook = ROOT / "playbooks" / "app-frozen-for-one-user.yaml"
    payload = ROOT / "playbooks" / "examples" / "app-frozen-for-one-user.json"
    assert main(["playbooks", "render", str(playbook), "--alert", str(payload)]) == 0
    assert "link:    (needs input: user_id)" in capsys.readouterr().out
    args = ["playbooks", "render", str(playbook), "--alert", str(payload), "--input", "user_id=usr_7h2k9x4m1q3z"]
    assert main(args) == 0
    assert "https://logs.example.com/app/search?q=user_id%3Ausr_7h2k9x4m1q3z&from=now-1h" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input", "user_id"], "--input 'user_id': write NAME=VALUE"),
        (["--input", "account=1"], "--input account: this playbook has no such input (it asks for: user_id)"),
        (["--input", "user_id=bob"], "does not match the pattern 'usr_[a-z0-9]{12}'"),
    ],
)
def test_render_refuses_bad_inputs(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    playbook = ROOT / "playbooks" / "app-frozen-for-one-user.yaml"
    payload = ROOT / "playbooks" / "examples" / "app-frozen-for-one-user.json"
    assert main(["playbooks", "render", str(playbook), "--alert", str(payload), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_render_a_broken_playbook_prints_its_problems(
    write: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(BROKEN)
    assert main(["playbooks", "render", str(path), "--alert", str(FIXTURES / "alertmanager_webhook_v4.json")]) == 1
    assert capsys.readouterr().out.startswith(f"{path}:8: step 'first': title: unknown variable 'nope'")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("missing.json", "cannot read"),
        ("notjson.json", "is not JSON"),
        ("empty-pd.json", "holds no alerts"),
    ],
)
def test_render_bad_payloads_fail_in_one_line(
    payload: str, message: str, write: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    playbook = write(MINIMAL)
    write("{not json", "notjson.json")
    write('{"event": {"event_type": "pagey.ping", "data": {}}}', "empty-pd.json")
    assert main(["playbooks", "render", str(playbook), "--alert", str(playbook.parent / payload)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_render_missing_playbook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["playbooks", "render", str(tmp_path / "x.yaml"), "--alert", "p.json"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_render_reports_a_field_that_cannot_render_for_this_payload(capsys: pytest.CaptureFixture[str]) -> None:
    playbook = ROOT / "playbooks" / "db-storage-full.yaml"
    payload = FIXTURES / "alertmanager_webhook_v4.json"  # no `instance` label to grow
    assert main(["playbooks", "render", str(playbook), "--alert", str(payload)]) == 1
    out = capsys.readouterr().out
    assert "matches: no" in out
    assert "POST (error: alert.labels has no 'instance')" in out


@pytest.mark.parametrize(
    ("fixture", "source"),
    [
        ("alertmanager_webhook_v4.json", "alertmanager"),
        ("grafana_webhook_firing_v11.json", "grafana"),
        ("grafana_webhook_resolved_v9.json", "grafana"),
        ("pagerduty_v3_incident_triggered.json", "pagerduty"),
    ],
)
def test_detect_source_by_shape(fixture: str, source: str) -> None:
    assert detect_source(json.loads((FIXTURES / fixture).read_text())) == source
    assert detect_source({"title": "x"}) == "generic"
    assert detect_source([{"title": "x"}]) == "generic"
