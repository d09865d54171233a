"""People working an incident through Slack: buttons, /incident, pins, modals, over real HTTP."""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from tests.support.live import RESPONDER, Stack, buttons, live_stack, wait_for

ALICE, BOB = "U0ALICE", "U0BOB"


async def _open_incident(stack: Stack, title: str = "Checkout error rate above 5%") -> tuple[dict[str, Any], str]:
    response = await stack.webhook(
        "generic", {"title": title, "dedup_key": title, "severity": 3, "service": "checkout"}
    )
    assert response.status_code == 202
    await stack.settled()
    incident = await stack.api("/incidents/1")
    return incident, incident["channel_id"]


async def _command(stack: Stack, user: str, channel: str, text: str) -> str:
    return await stack.command(user, channel, "/incident", text)


async def _timeline(stack: Stack) -> list[dict[str, Any]]:
    return list((await stack.api("/incidents/1"))["timeline"])


async def test_two_people_press_acknowledge_at_once_and_it_acts_once(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        _, channel = await _open_incident(stack)
        card = stack.card(channel)
        clicks = await asyncio.gather(
            stack.sender.block_action(ALICE, channel, card.ts, "incident_acknowledge"),
            stack.sender.block_action(BOB, channel, card.ts, "incident_acknowledge"),
        )
        assert [c.status_code for c in clicks] == [200, 200]
        await stack.settled()
        incident = await stack.api("/incidents/1")
        assert incident["status"] == "acknowledged" and incident["commander"] in (ALICE, BOB)
        loser = BOB if incident["commander"] == ALICE else ALICE
        assert any("already acknowledged" in text for text in stack.replies(loser))
        assert [e["kind"] for e in await _timeline(stack)].count("status") == 1
        card = stack.card(channel)  # still one card, edited in place
        assert card.edited is not None and buttons(card) == ["Mitigate", "Resolve"]
        assert incident["commander"] in stack.workspace.channels[channel].members  # the acknowledger was invited


async def test_incident_commands_in_and_out_of_the_channel(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        _, channel = await _open_incident(stack)
        announce = stack.workspace.channel_by_name("incidents")
        assert announce is not None

        assert "Note added" in await _command(stack, BOB, channel, "note restarted the primary")
        assert "Five-whys" in await _command(stack, BOB, channel, "why <!channel> the disk filled up")
        assert "SEV1" in await _command(stack, ALICE, channel, "sev 1")
        assert "Give a severity" in await _command(stack, ALICE, channel, "sev high")
        status = await _command(stack, ALICE, announce.id, "status 1")
        assert "#1" in status and "SEV1" in status
        assert "not an incident channel" in await _command(stack, ALICE, announce.id, "status")
        timeline = await _command(stack, ALICE, channel, "timeline")
        assert "&lt;!channel&gt; the disk filled up" in timeline and "<!channel>" not in timeline
        assert "#1" in await _command(stack, ALICE, announce.id, "list")
        assert "/incident declare" in await _command(stack, ALICE, channel, "help")
        assert "don't know" in await _command(stack, ALICE, channel, "frobnicate")
        assert "is resolved" in await _command(stack, ALICE, channel, "resolve rolled back the deploy")
        assert "Nothing to do" in await _command(stack, ALICE, channel, "ack")
        await stack.settled()
        incident = await stack.api("/incidents/1")
        assert incident["status"] == "resolved" and incident["summary"] == "rolled back the deploy"
        assert buttons(stack.card(channel)) == []
        kinds = [e["kind"] for e in incident["timeline"]]
        assert {"note", "why", "severity"} <= set(kinds)


async def test_a_pushpin_puts_the_message_on_the_timeline_at_its_own_time_once(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        _, channel = await _open_incident(stack)
        message = stack.workspace.post_message(channel, text="Primary is at 99% disk <!here>", actor=RESPONDER)
        first = await stack.sender.reaction_added(ALICE, channel, message.ts)
        assert first.status_code == 200
        envelope_retry = await stack.sender.event(
            {
                "type": "reaction_added",
                "user": ALICE,
                "reaction": "pushpin",
                "item": {"type": "message", "channel": channel, "ts": message.ts},
            },
            event_id="Ev-retried",
        )
        retry = await stack.sender.event(
            {
                "type": "reaction_added",
                "user": ALICE,
                "reaction": "pushpin",
                "item": {"type": "message", "channel": channel, "ts": message.ts},
            },
            event_id="Ev-retried",
            retry_num=1,
            retry_reason="http_timeout",
        )
        assert envelope_retry.status_code == 200 and retry.status_code == 200
        await stack.settled()
        pinned = [e for e in await _timeline(stack) if e["kind"] == "pinned"]
        assert len(pinned) == 1
        assert pinned[0]["text"] == "Primary is at 99% disk <!here>" and pinned[0]["actor"] == RESPONDER
        assert datetime.fromisoformat(pinned[0]["at"]) == datetime.fromtimestamp(float(message.ts), tz=UTC)
        assert len(stack.calls("conversations.history")) == 2  # one fetch per distinct delivery; the retry was dropped


async def test_declare_without_a_title_opens_a_form_that_validates(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        announce = stack.workspace.channel_by_name("incidents")
        assert announce is not None
        response = await stack.sender.slash_command(ALICE, announce.id, "/incident", "declare")
        assert response.status_code == 200

        async def opened() -> list[Any]:
            return [v for v in stack.workspace.views.values() if v.user == ALICE]

        view = (await wait_for(opened, what="the declare form"))[0]
        empty = await stack.sender.view_submission(
            ALICE, view.id, {"declare_title": {"declare_title": {"type": "plain_text_input", "value": " "}}}
        )
        assert empty.status_code == 200 and empty.json()["response_action"] == "errors"
        values = {
            "declare_title": {"declare_title": {"type": "plain_text_input", "value": "Login page returns 502"}},
            "declare_severity": {"declare_severity": {"type": "static_select", "selected_option": {"value": "2"}}},
        }
        assert (await stack.sender.view_submission(ALICE, view.id, values)).status_code == 200
        await stack.settled()
        incident = await stack.api("/incidents/1")
        assert incident["title"] == "Login page returns 502" and incident["severity"] == 2
        assert incident["declared_by"] == ALICE
        assert ALICE in stack.workspace.channels[incident["channel_id"]].members


async def test_an_alert_titled_with_a_mention_notifies_nobody(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        _, channel = await _open_incident(stack, title="<!channel> <@U0ALICE> & <https://evil.example|click>")
        announce = stack.workspace.channel_by_name("incidents")
        assert announce is not None
        posted = [m for m in [*stack.messages(channel), *stack.messages(announce.id)] if m.bot_id and not m.subtype]
        assert len(posted) == 2
        for message in posted:
            mrkdwn = json.dumps([b for b in message.blocks if b["type"] != "header"]) + message.text
            assert "<!channel>" not in mrkdwn and "<@U0ALICE>" not in mrkdwn and "<https://evil" not in mrkdwn
