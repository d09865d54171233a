"""The incident loop end to end over real HTTP: webhook in, incident channel and card out, buttons back."""

import json
from pathlib import Path
from typing import Any

from tests.support.live import RESPONDER, buttons, live_stack

FIXTURES = Path(__file__).parents[1] / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


async def test_an_alertmanager_alert_opens_an_incident_channel_with_a_live_card(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        body = fixture("alertmanager_webhook_v4.json")
        response = await stack.webhook("alertmanager", body)
        assert response.status_code == 202, response.text
        await stack.settled()

        incident = await stack.api("/incidents/1")
        assert incident["status"] == "triggered" and len(incident["alerts"]) == 2
        channel = stack.channel("inc-1-")
        assert incident["channel_id"] == channel.id and incident["channel_name"] == channel.name
        assert RESPONDER in channel.members
        assert channel.topic == f"SEV{incident['severity']} · {incident['title']}"
        card = stack.card(channel.id)
        assert buttons(card) == ["Acknowledge", "Mitigate", "Resolve"]
        announce = stack.workspace.channel_by_name("incidents")
        assert announce is not None
        assert any(f"<#{channel.id}>" in json.dumps(m.blocks) for m in stack.messages(announce.id))

        # The same notification again changes nothing.
        again = await stack.webhook("alertmanager", body)
        assert again.status_code == 202 and again.json()["status"] == "duplicate"
        await stack.settled()
        assert len((await stack.api("/incidents"))["incidents"]) == 1
        assert len(stack.calls("chat.postMessage")) == 2  # the card and the announcement, once each
