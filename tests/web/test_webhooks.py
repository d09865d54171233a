"""Webhook intake over HTTP: what is refused is never stored, what is accepted is stored once."""

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.alerts.models import Delivery, Source
from bot.alerts.processor import parse_delivery
from bot.columns import utcnow
from bot.db import Database
from bot.errors import InvalidInput
from bot.web.webhooks import delivery_group, group_of
from tests.support.live import PAGERDUTY_SECRET, Stack, live_stack

FIXTURES = Path(__file__).parents[1] / "fixtures"
VECTOR = json.loads((FIXTURES / "pagerduty_signature_test_vector.json").read_text())
MISMATCH = VECTOR["x_pagerduty_signature_mismatch"]
SIGNED_BODY = (FIXTURES / "pagerduty_v3_priority_updated_signed.body.json").read_bytes()


async def _stored(stack: Stack) -> int:
    database = Database(stack.settings.database_url)
    try:
        async with database.session() as session:
            return int((await session.execute(select(func.count()).select_from(Delivery))).scalar_one())
    finally:
        await database.dispose()


@pytest.fixture
async def stack(sqlite_url: str):  # type: ignore[no-untyped-def]
    secrets = f"{PAGERDUTY_SECRET},{VECTOR['secret']}"  # two secrets configured: a rotation
    async with live_stack(sqlite_url, pagerduty_webhook_secret=secrets) as running:
        yield running


async def test_refusals_store_nothing(stack: Stack) -> None:
    generic = {"title": "Disk full", "dedup_key": "disk"}
    cases = [
        # (path, body, headers, status)
        ("/webhooks/generic", json.dumps(generic), {}, 401),
        ("/webhooks/generic", json.dumps(generic), {"authorization": "Bearer wrong"}, 401),
        ("/webhooks/alertmanager", "{}", {"authorization": "Basic dGVzdA=="}, 401),
        ("/webhooks/pagerduty", SIGNED_BODY.decode(), {"x-pagerduty-signature": MISMATCH}, 401),
        ("/webhooks/pagerduty", SIGNED_BODY.decode(), {}, 401),
        ("/webhooks/pagerduty", SIGNED_BODY.decode(), {"x-pagerduty-signature": "garbage,,v2=zz"}, 401),
    ]
    for path, body, headers, status in cases:
        response = await stack.http.post(path, content=body, headers={"content-type": "application/json", **headers})
        assert response.status_code == status, (path, headers, response.text)
    assert await _stored(stack) == 0


async def test_unparseable_and_oversized_bodies_get_a_reason(stack: Stack) -> None:
    not_json = await stack.webhook("alertmanager", b"{not json")
    assert not_json.status_code == 400 and "JSON" in not_json.json()["error"]
    wrong_shape = await stack.webhook("alertmanager", [1, 2, 3])
    assert wrong_shape.status_code == 400 and "alerts" in wrong_shape.json()["error"]
    no_title = await stack.webhook("generic", {"dedup_key": "x"})
    assert no_title.status_code == 400 and "title" in no_title.json()["error"]
    huge = {"title": "big", "annotations": {"blob": "x" * (1024 * 1024)}}
    assert (await stack.webhook("generic", huge)).status_code == 413
    # Without a Content-Length (chunked), the limit is enforced while streaming.

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 65536

    chunked = await stack.http.post(
        "/webhooks/generic", content=chunks(), headers={"authorization": "Bearer test-webhook-token"}
    )
    assert chunked.status_code == 413
    assert await _stored(stack) == 0


async def test_pagerduty_signatures_during_rotation_and_redelivery(stack: Stack) -> None:
    headers = {"content-type": "application/json", "x-webhook-id": "wh-1"}
    rotating = {**headers, "x-pagerduty-signature": VECTOR["rotation_header_example"].split(" (")[0]}
    first = await stack.http.post("/webhooks/pagerduty", content=SIGNED_BODY, headers=rotating)
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    again = await stack.http.post("/webhooks/pagerduty", content=SIGNED_BODY, headers=rotating)
    assert again.status_code == 202 and again.json()["status"] == "duplicate"
    assert await _stored(stack) == 1


async def test_unknown_pagerduty_events_are_accepted_and_ignored(stack: Stack) -> None:
    unsupported = (FIXTURES / "pagerduty_v3_incident_unsupported.json").read_bytes()
    ping = json.dumps({"event": {"id": "E1", "event_type": "pagey.ping", "data": None}}).encode()
    for body in (unsupported, ping):
        assert (await stack.webhook("pagerduty", body)).status_code == 202
    await stack.settled()
    assert (await stack.api("/incidents"))["incidents"] == []


async def test_same_content_is_one_delivery_and_alerts_for_one_group_are_one_incident(stack: Stack) -> None:
    alert = {"title": "Checkout 5xx above 2%", "dedup_key": "checkout-5xx", "severity": "critical"}
    statuses = [(await stack.webhook("generic", alert)).json()["status"] for _ in range(3)]
    assert statuses == ["accepted", "duplicate", "duplicate"]
    await stack.webhook("generic", {**alert, "annotations": {"value": "3%"}})
    await stack.settled()
    incidents = (await stack.api("/incidents"))["incidents"]
    assert len(incidents) == 1 and incidents[0]["severity"] == 1
    assert await _stored(stack) == 2


async def test_a_group_flipping_back_to_an_earlier_body_is_not_a_duplicate(stack: Stack) -> None:
    def notification(status: str) -> dict[str, object]:
        alert = {
            "status": status,
            "labels": {"alertname": "DiskFull", "instance": "db1"},
            "annotations": {"summary": "Disk full on db1"},
            "startsAt": "2026-11-23T09:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-23T09:10:00Z",
            "fingerprint": "f1",
        }
        return {"version": "4", "groupKey": '{}:{alertname="DiskFull"}', "status": status, "alerts": [alert]}

    firing, resolved = notification("firing"), notification("resolved")
    sequence = [firing, firing, resolved, resolved, firing, firing]
    statuses = [(await stack.webhook("alertmanager", body)).json()["status"] for body in sequence]
    assert statuses == ["accepted", "duplicate", "accepted", "duplicate", "accepted", "duplicate"]
    await stack.settled()
    incident = await stack.api("/incidents/1")
    assert incident["status"] == "triggered" and incident["alerts"][0]["status"] == "firing"
    assert len((await stack.api("/incidents"))["incidents"]) == 1


BAD_BODIES = [b"{not json", b"\xff\xfe\x00garbage", b"", b"[1, 2, 3]", b"null", b'"text"', b"{}", b'{"alerts": {}}']


@pytest.mark.parametrize("source", ["alertmanager", "grafana"])
async def test_bad_shapes_get_the_parsers_reason(stack: Stack, source: str) -> None:
    for body in BAD_BODIES:
        with pytest.raises(InvalidInput) as parsed:
            parse_delivery(source, body, utcnow())
        response = await stack.webhook(source, body)
        assert response.status_code == 400 and response.json() == {"error": str(parsed.value)}, body
    assert await _stored(stack) == 0


LONG_KEY = json.dumps({"groupKey": "k" * 1000, "orgId": 2, "alerts": [{"labels": {"alertname": "A"}}]}).encode()
GROUPED_BODIES = [
    ("alertmanager", (FIXTURES / "alertmanager_webhook_v4.json").read_bytes()),
    ("alertmanager", (FIXTURES / "alertmanager_webhook_v4_msteams.json").read_bytes()),
    ("grafana", (FIXTURES / "grafana_webhook_firing_v11.json").read_bytes()),
    ("grafana", (FIXTURES / "grafana_webhook_resolved_v9.json").read_bytes()),
    ("alertmanager", LONG_KEY),
    ("grafana", LONG_KEY),
    ("generic", b'[{"title": "a", "dedup_key": "x"}, {"title": "b", "dedup_key": "y"}]'),
]


@pytest.mark.parametrize(("source", "body"), GROUPED_BODIES)
def test_intake_files_a_delivery_under_the_group_of_its_parsed_alerts(source: str, body: bytes) -> None:
    alerts = parse_delivery(source, body, utcnow())
    assert alerts
    assert delivery_group(Source(source), body, utcnow()) == group_of(alerts)


async def test_concurrent_copies_are_stored_once(stack: Stack) -> None:
    def body(group: int) -> dict[str, object]:
        alert = {"labels": {"alertname": "Load", "instance": f"h{group}"}, "startsAt": "2026-11-23T09:00:00Z"}
        return {"version": "4", "groupKey": f"g{group}", "status": "firing", "alerts": [alert]}

    sends = [body(group) for group in range(20)] * 3  # three HA peers, all at once
    responses = await asyncio.gather(*(stack.webhook("alertmanager", sent) for sent in sends))
    statuses = [r.json()["status"] for r in responses]
    assert all(r.status_code == 202 for r in responses)
    assert statuses.count("accepted") == 20 and statuses.count("duplicate") == 40
    assert await _stored(stack) == 20


async def test_a_sender_that_never_finishes_its_body_holds_no_processing_back(stack: Stack) -> None:
    db: Database = stack.app.state.db
    host, port = stack.bot_url.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /webhooks/alertmanager HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 100000\r\n\r\n{"
        )
        await writer.drain()
        await asyncio.sleep(0.2)  # the handler is reading the body that never comes
        assert not db.intake_waiting()
        for n in range(20):  # one group: Slack's channel-creation limit stays out of the way
            assert (await stack.webhook("generic", {"title": f"Disk {n}", "dedup_key": "disk"})).status_code == 202
        started = asyncio.get_running_loop().time()
        await stack.settled(timeout=10)
        assert asyncio.get_running_loop().time() - started < 3  # one delivery per 0.5 s would take 10 s
    finally:
        writer.close()
        await writer.wait_closed()
