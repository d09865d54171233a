"""Sample PagerDuty, Alertmanager and Grafana deliveries, signed as the real senders sign them."""

# The bodies are real payloads: samples/pagerduty_incident_triggered.json is tests/fixtures' PagerDuty v3
# incident.triggered (title and service renamed so a shipped playbook matches), samples/alertmanager_firing.json
# is playbooks/examples/db-storage-full.json, and samples/grafana_firing.json is tests/fixtures' Grafana 11
# notification. The resolved variants are the same incident or group with the fields its sender changes.

import copy
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings

SAMPLES_DIR = Path(__file__).parent / "samples"
SOURCES = {"pagerduty": "PagerDuty", "alertmanager": "Alertmanager", "grafana": "Grafana"}
STATUSES = ("firing", "resolved")
_FILES = {
    "pagerduty": "pagerduty_incident_triggered.json",
    "alertmanager": "alertmanager_firing.json",
    "grafana": "grafana_firing.json",
}
_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def load(source: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SAMPLES_DIR / _FILES[source]).read_text(encoding="utf-8"))
    return document


def _pagerduty(status: str, now: datetime) -> dict[str, Any]:
    document = load("pagerduty")
    event = document["event"]
    # A fresh event id each time: PagerDuty's event id is the delivery key, so a second press is a new event.
    event["id"] = "".join(secrets.choice(_ULID_ALPHABET) for _ in range(26))
    event["occurred_at"] = _iso(now)
    if status == "resolved":
        event["event_type"] = "incident.resolved"
        event["data"]["status"] = "resolved"
        event["data"]["assignees"] = []
    return document


def _grouped(source: str, status: str, now: datetime, started: datetime | None) -> dict[str, Any]:
    """Alertmanager and Grafana share the webhook shape: the group's status and each alert's."""
    document = load(source)
    begun = _iso(started or now)
    for alert in document["alerts"]:
        alert["status"] = status
        alert["startsAt"] = begun
        alert["endsAt"] = _iso(now) if status == "resolved" else "0001-01-01T00:00:00Z"
    document["status"] = status
    if source == "grafana" and status == "resolved":
        document["state"] = "ok"
        document["title"] = str(document.get("title", "")).replace("[FIRING:", "[RESOLVED:", 1)
    return document


class SampleSender:
    """POSTs samples to Warroom's own webhook endpoints with the token or signature they check."""

    def __init__(self, settings: Settings, bot_url: str) -> None:
        self.bot_url = bot_url.rstrip("/")
        self.token = settings.alert_webhook_token.get_secret_value() if settings.alert_webhook_token else ""
        secrets_ = settings.pagerduty_webhook_secret
        self.pagerduty_secret = secrets_[0].get_secret_value() if secrets_ else ""
        # when each group last fired here, so its resolution reports the same start as a real sender would
        self._fired: dict[str, datetime] = {}

    def body(self, source: str, status: str, now: datetime | None = None) -> bytes:
        if source not in SOURCES or status not in STATUSES:
            raise LookupError(f"no sample for {source} {status}")
        at = now or datetime.now(UTC)
        if source == "pagerduty":
            document = _pagerduty(status, at)
        else:
            if status == "firing":
                self._fired.setdefault(source, at)
            started = self._fired.get(source) if status == "firing" else self._fired.pop(source, None)
            document = _grouped(source, status, at, started)
        return json.dumps(copy.deepcopy(document), indent=2).encode("utf-8")

    def headers(self, source: str, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": f"Warroom sandbox ({SOURCES[source]} sample)"}
        if source == "pagerduty":
            digest = hmac.new(self.pagerduty_secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-PagerDuty-Signature"] = f"v1={digest}"
            headers["X-Webhook-Id"] = secrets.token_hex(16)
        else:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def send(self, http: httpx.AsyncClient, source: str, status: str) -> httpx.Response:
        body = self.body(source, status)
        return await http.post(f"{self.bot_url}/webhooks/{source}", content=body, headers=self.headers(source, body))
