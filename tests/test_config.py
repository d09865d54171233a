"""Settings: read from the environment once, with clear refusals of unsafe values."""

import pytest
from pydantic import ValidationError

from bot.app import SANDBOX_API_TOKEN, SANDBOX_WEBHOOK_TOKEN, effective_settings
from bot.cli import main
from bot.config import Settings


def test_defaults_run_in_sandbox_mode_on_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "DATABASE_URL", "ALERT_WEBHOOK_TOKEN", "API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.sandbox_mode and settings.database_url.startswith("sqlite")
    filled = effective_settings(settings)
    assert filled.alert_webhook_token is not None and filled.api_token is not None
    assert filled.alert_webhook_token.get_secret_value() == SANDBOX_WEBHOOK_TOKEN
    assert filled.api_token.get_secret_value() == SANDBOX_API_TOKEN
    assert filled.incident_announce_channel == "#incidents"


def test_environment_lists_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGERDUTY_WEBHOOK_SECRET", "old-one, new-one")
    monkeypatch.setenv("INCIDENT_RESPONDERS", "U1,U2")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert [s.get_secret_value() for s in settings.pagerduty_webhook_secret] == ["old-one", "new-one"]
    assert settings.incident_responders == ["U1", "U2"]
    assert "old-one" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"alert_webhook_token": "change-me"}, "ALERT_WEBHOOK_TOKEN is still a placeholder"),
        ({"slack_bot_token": "xoxb-1"}, "SLACK_SIGNING_SECRET is required"),
        ({"incident_channel_template": "inc-{slug}"}, "must contain {number}"),
        ({"pagerduty_webhook_secret": "real-old-secret,changeme"}, "PAGERDUTY_WEBHOOK_SECRET is still a placeholder"),
    ],
)
def test_unsafe_settings_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_cli_turns_a_bad_setting_into_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("warroom: bad setting port") and err.count("\n") == 1


def test_empty_values_copied_from_the_example_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "")
    monkeypatch.setenv("API_TOKEN", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.sandbox_mode and settings.api_token is None
