"""Settings: the only place that reads the environment (and `.env`)."""

from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Values copied from examples that must never protect a real deployment.
PLACEHOLDER_SECRETS = frozenset({"change-me", "changeme", "changethis", "secret", "xxx", "todo"})

# Bodies above this are refused with 413 before anything is stored (issue 2, PROTOCOLS.md 3.2).
MAX_WEBHOOK_BYTES = 1024 * 1024


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob Warroom has; `.env.example` lists each with a comment."""

    # env_ignore_empty: `SLACK_BOT_TOKEN=` copied from .env.example means "not set", not "empty token".
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    database_url: str = "sqlite:///./warroom.db"
    host: str = "127.0.0.1"
    port: int = 3000
    # Where people reach this server; used in links (sandbox, postmortem pages).
    public_url: str = ""

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    incident_announce_channel: str = ""
    incident_responders: Annotated[list[str], NoDecode] = Field(default_factory=list)
    incident_channel_template: str = "inc-{number}-{slug}"

    pagerduty_webhook_secret: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    pagerduty_api_token: SecretStr | None = None
    pagerduty_api_url: str = "https://api.pagerduty.com"
    alert_webhook_token: SecretStr | None = None
    auto_resolve: bool = False

    playbooks_dir: str = "./playbooks"
    # Hosts automated runbook steps may call: exact names or `*.example.com`. Empty: none.
    playbook_http_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # A running step renews this lease every third of it; after a crash, the step is reported
    # failed-unknown once the lease has run out.
    runbook_run_lease_seconds: float = 30.0
    # A handoff missed (Warroom was down) by less than this is posted late, with a note; older ones are skipped.
    handoff_grace_seconds: float = Field(default=3600.0, ge=0)
    api_token: SecretStr | None = None
    # Signs the links to postmortem pages; rotating it revokes every link. Default: the Slack signing secret.
    postmortem_link_secret: SecretStr | None = None

    llm_api_url: str = ""
    llm_api_key: SecretStr | None = None
    llm_model: str = ""

    # Sandbox mode keeps its offline workspace here (default ./warroom-sandbox.json).
    sandbox_state_file: str = ""

    log_level: str = "INFO"
    log_format: str = "json"

    # Outbox relay tuning (why each default: docs/architecture.md, "Outbox").
    outbox_concurrency: int = 8
    outbox_lease_seconds: float = 60.0
    outbox_max_attempts: int = 50
    outbox_ready_backlog: int = 5000
    slack_timeout_seconds: float = 10.0
    # chat.postMessage per channel: Slack asks for no more than one message per second.
    slack_channel_posts_per_second: float = 1.0

    @field_validator("incident_responders", "pagerduty_webhook_secret", "playbook_http_allowed_hosts", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("incident_channel_template")
    @classmethod
    def _template_has_number(cls, value: str) -> str:
        # The number is what makes a channel name unique; a template without it would collide.
        if "{number}" not in value:
            raise ValueError("INCIDENT_CHANNEL_TEMPLATE must contain {number}")
        return value

    @model_validator(mode="after")
    def _secrets_are_real(self) -> "Settings":
        named = [
            ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
            ("ALERT_WEBHOOK_TOKEN", self.alert_webhook_token),
            ("API_TOKEN", self.api_token),
            *(("PAGERDUTY_WEBHOOK_SECRET", secret) for secret in self.pagerduty_webhook_secret),
        ]
        for name, value in named:
            if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} is still a placeholder; set a real secret")
        if self.slack_bot_token is not None and self.slack_signing_secret is None:
            # Without it every request from Slack would be refused as unsigned.
            raise ValueError("SLACK_SIGNING_SECRET is required when SLACK_BOT_TOKEN is set")
        return self

    @property
    def sandbox_mode(self) -> bool:
        """Without a bot token Warroom talks to its own offline workspace."""
        return self.slack_bot_token is None

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"
