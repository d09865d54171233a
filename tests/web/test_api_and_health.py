"""JSON API authorisation, liveness/readiness/metrics, and Slack request verification, over HTTP."""

import json
import time

from slack_sdk.signature import SignatureVerifier

from tests.support.live import API_TOKEN, SIGNING_SECRET, live_stack, wait_for


async def test_the_json_api_needs_its_token_and_is_off_without_one(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        await stack.webhook("generic", {"title": "Queue backlog", "dedup_key": "q", "service": "orders"})
        await stack.settled()
        assert (await stack.http.get("/api/incidents")).status_code == 401
        wrong = await stack.http.get("/api/incidents", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        listed = await stack.http.get(
            "/api/incidents?status=triggered", headers={"authorization": f"Bearer {API_TOKEN}"}
        )
        assert [i["number"] for i in listed.json()["incidents"]] == [1]
        assert (await stack.api("/incidents?status=resolved"))["incidents"] == []
        one = await stack.api("/incidents/1")
        assert one["service"] == "orders" and one["alerts"][0]["title"] == "Queue backlog"
        assert [e["kind"] for e in one["timeline"]][:2] == ["opened", "alert"]
        missing = await stack.http.get("/api/incidents/99", headers={"authorization": f"Bearer {API_TOKEN}"})
        assert missing.status_code == 404 and "#99" in missing.json()["detail"]
    async with live_stack(sqlite_url, api_token=None) as stack:
        off = await stack.http.get("/api/incidents", headers={"authorization": f"Bearer {API_TOKEN}"})
        assert off.status_code == 403 and "API_TOKEN" in off.json()["detail"]


async def test_health_readiness_and_metrics(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        health = await stack.http.get("/healthz")
        assert health.json() == {"status": "ok"} and health.headers["x-request-id"]
        await stack.webhook("alertmanager", {"bad": "shape"})
        await stack.webhook("generic", {"title": "Disk", "dedup_key": "d"})
        await stack.settled()
        ready = await stack.http.get("/readyz")
        body = ready.json()
        assert ready.status_code == 200 and body["ready"] is True
        assert body["checks"]["database"] == "ok" and body["checks"]["worker_outbox"] == "running"
        metrics = (await stack.http.get("/metrics")).text
        assert 'warroom_intake_total{outcome="invalid",source="alertmanager"} 1.0' in metrics
        assert 'warroom_intake_total{outcome="accepted",source="generic"} 1.0' in metrics
        assert "warroom_outbox_pending 0.0" in metrics
        assert 'warroom_slack_calls_total{method="chat.postMessage",outcome="ok"} 2.0' in metrics
        assert "warroom_incidents_opened_total 1.0" in metrics


async def test_a_backlog_over_its_limit_is_reported_but_leaves_the_replica_ready(sqlite_url: str) -> None:
    async with live_stack(sqlite_url, outbox_ready_backlog=2) as stack:
        stack.workspace.faults.add("*", status=503)  # Slack is down: work piles up
        await stack.webhook("generic", {"title": "Disk", "dedup_key": "d"})

        async def over_limit() -> dict[str, object] | None:
            answer = await stack.http.get("/readyz")
            outbox = answer.json()["checks"]["outbox"]
            return {"status": answer.status_code, **outbox} if outbox["over_limit"] else None

        seen = await wait_for(over_limit, what="the backlog to pass its limit")
        assert seen["status"] == 200 and int(str(seen["pending"])) > 2


async def test_slack_requests_must_be_signed_and_url_verification_answers(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        form = "command=%2Fincident&text=list&user_id=U0ALICE&channel_id=C1&team_id=T0SANDBOX"
        unsigned = await stack.http.post(
            "/slack/events", content=form, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert unsigned.status_code == 401
        stale = str(int(time.time()) - 600)
        signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stale, body=form)
        replayed = await stack.http.post(
            "/slack/events",
            content=form,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "x-slack-request-timestamp": stale,
                "x-slack-signature": signature,
            },
        )
        assert replayed.status_code == 401
        challenge = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
        verified = await stack.sender.post(challenge, "application/json")
        assert verified.status_code == 200 and "abc123" in verified.text
