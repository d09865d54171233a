"""The payload copies in tests/fixtures/ must stay byte-identical to the shared originals."""

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[1] / "fixtures"
SHARED_FIXTURES = Path(__file__).parents[2].parent / "shared" / "fixtures"
COPIED = [
    "pagerduty_signature_test_vector.json",
    "pagerduty_v3_priority_updated_signed.body.json",
    "pagerduty_v3_incident_triggered.json",
    "pagerduty_v3_incident_responder_added.json",
    "alertmanager_webhook_v4.json",
    "alertmanager_webhook_v4_msteams.json",
    "grafana_webhook_firing_v11.json",
    "grafana_webhook_resolved_v9.json",
]


@pytest.mark.parametrize("name", COPIED)
def test_copy_matches_the_shared_original(name: str) -> None:
    original = SHARED_FIXTURES / name
    if not original.exists():
        pytest.skip(f"{SHARED_FIXTURES} is not available outside the workspace")
    assert (FIXTURES / name).read_bytes() == original.read_bytes()


def test_every_shared_alert_source_fixture_is_covered() -> None:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"{SHARED_FIXTURES} is not available outside the workspace")
    ours = {
        path.name
        for path in SHARED_FIXTURES.iterdir()
        if path.name.startswith(("pagerduty_", "alertmanager_", "grafana_"))
    }
    assert ours == set(COPIED)
