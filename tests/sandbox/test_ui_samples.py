"""The sandbox page's sample alerts: real payload shapes, resolutions that match their firing, valid signatures."""

import json
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from bot.alerts.sources import pagerduty
from bot.config import Settings
from bot.sandbox.ui.samples import SampleSender

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def sender() -> SampleSender:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        alert_webhook_token=SecretStr("hook-token"),
        pagerduty_webhook_secret=[SecretStr("pd-secret")],
    )
    return SampleSender(settings, "http://127.0.0.1:1")


def test_pagerduty_samples_are_signed_new_events_about_one_incident() -> None:
    samples = sender()
    fired, resolved = samples.body("pagerduty", "firing", NOW), samples.body("pagerduty", "resolved", NOW)
    headers = samples.headers("pagerduty", fired)
    assert pagerduty.verify(["pd-secret"], fired, headers["X-PagerDuty-Signature"])
    assert not pagerduty.verify(["another-secret"], fired, headers["X-PagerDuty-Signature"])
    first, last = json.loads(fired)["event"], json.loads(resolved)["event"]
    assert (first["event_type"], last["event_type"]) == ("incident.triggered", "incident.resolved")
    assert first["data"]["id"] == last["data"]["id"] and first["id"] != last["id"]
    assert last["data"]["status"] == "resolved" and first["occurred_at"] == "2026-03-02T09:30:00.000Z"


def test_grouped_samples_resolve_the_group_they_fired_with_its_start() -> None:
    samples = sender()
    for source in ("alertmanager", "grafana"):
        fired = json.loads(samples.body(source, "firing", NOW))
        resolved = json.loads(samples.body(source, "resolved", NOW + timedelta(minutes=5)))
        assert fired["groupKey"] == resolved["groupKey"] and (fired["status"], resolved["status"]) == (
            "firing",
            "resolved",
        )
        assert {a["status"] for a in resolved["alerts"]} == {"resolved"}
        assert resolved["alerts"][0]["startsAt"] == fired["alerts"][0]["startsAt"] == "2026-03-02T09:30:00.000Z"
        assert resolved["alerts"][0]["endsAt"] == "2026-03-02T09:35:00.000Z"
        assert samples.headers(source, b"{}")["Authorization"] == "Bearer hook-token"
    assert json.loads(samples.body("grafana", "resolved", NOW))["state"] == "ok"
