"""The browser workspace at `/sandbox`, driven over HTTP through the real app in sandbox mode (no browser)."""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bot.app import SANDBOX_API_TOKEN, create_app
from bot.config import Settings
from bot.db import upgrade_async
from bot.sandbox import Workspace
from bot.sandbox.live import bind_socket, serve_app
from bot.sandbox.models import Channel, Message
from tests.support.live import wait_for

HOSTILE_TITLE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@dataclass
class Sandbox:
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def workspace(self) -> Workspace:
        workspace: Workspace = self.app.state.sandbox
        return workspace

    async def ui(self, path: str, **body: Any) -> dict[str, Any]:
        response = await self.http.post(f"/sandbox/ui/{path}", json=body)
        answer: dict[str, Any] = response.json()
        assert response.status_code == 200, answer
        return answer

    async def poll(self, user: str, channel: str | None = None) -> dict[str, Any]:
        params = {"user": user, **({"channel": channel} if channel else {})}
        answer: dict[str, Any] = (await self.http.get("/sandbox/ui/poll", params=params)).json()
        return answer

    async def incident(self, number: int) -> dict[str, Any]:
        response = await self.http.get(
            f"/api/incidents/{number}", headers={"authorization": f"Bearer {SANDBOX_API_TOKEN}"}
        )
        if response.status_code == 404:
            return {}
        answer: dict[str, Any] = response.json()
        return answer

    async def channel(self, prefix: str) -> Channel:
        async def found() -> Channel | None:
            return next((c for c in self.workspace.channels.values() if c.name.startswith(prefix)), None)

        return await wait_for(found, what=f"a channel named {prefix}…")

    async def card(self, channel: Channel) -> Message:
        async def posted() -> Message | None:
            for message in self.workspace.messages.get(channel.id, []):
                if any(b.get("type") == "actions" for b in message.blocks):
                    return message
            return None

        return await wait_for(posted, what=f"the card in #{channel.name}")


@pytest.fixture
async def sandbox(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Sandbox]:
    await upgrade_async(sqlite_url)
    # Sandbox mode points Warroom's Slack client and SlackSender at its own port, so it must be known first.
    probe = bind_socket()
    port = probe.getsockname()[1]
    probe.close()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=sqlite_url,
        port=port,
        sandbox_state_file=str(tmp_path / "sandbox.json"),
        log_format="console",
    )
    assert settings.sandbox_mode
    app = create_app(settings)
    async with serve_app(app, port=port) as url, httpx.AsyncClient(base_url=url, timeout=10.0) as http:
        yield Sandbox(app, http)


async def test_page_is_the_workspace_with_banner_people_channels_and_sample_buttons(sandbox: Sandbox) -> None:
    page = await sandbox.http.get("/sandbox", params={"user": "U0BOB"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Local sandbox — not Slack" in html and 'data-testid="sandbox-banner"' in html
    switcher = re.search(r'<select id="user-switcher" data-testid="user-switcher">(.*?)</select>', html, re.DOTALL)
    assert switcher is not None
    assert re.findall(r'<option value="(\w+)"', switcher.group(1)) == ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"]
    assert '<option value="U0BOB" selected>bob (America/New_York)</option>' in switcher.group(1)
    channels = re.findall(r'data-testid="channel-item" data-channel-id="(\w+)" data-channel-name="([\w-]+)"', html)
    assert channels[0] == ("C0INCIDENTS", "incidents") and ("C0ONCALL", "platform-oncall") in channels
    assert 'aria-current="page"' in html  # #incidents is open by default
    for testid in ("message-box", "message-list", "sample-alert-pagerduty-firing", "sample-alert-grafana-resolved"):
        assert f'data-testid="{testid}"' in html
    # Nothing from the network: every script and stylesheet is served by Warroom itself.
    assert re.findall(r'(?:src|href)="(https?:[^"]*)"', html) == []
    for asset in ("sandbox.js", "sandbox.css"):
        assert (await sandbox.http.get(f"/sandbox/ui/static/{asset}")).status_code == 200
    # The sandbox's own API and control endpoints still work beside the page.
    assert (await sandbox.http.get("/sandbox/_control/state")).json()["team_id"] == "T0SANDBOX"
    assert (await sandbox.http.post("/sandbox/api/auth.test", data={"token": "xoxb-sandbox"})).json()["ok"]


async def test_declare_from_the_message_box_as_bob_opens_a_channel_and_the_card_button_acknowledges(
    sandbox: Sandbox,
) -> None:
    await sandbox.ui("command", user="U0BOB", channel="C0INCIDENTS", text="/incident declare Checkout is down")
    channel = await sandbox.channel("inc-1-checkout-is-down")
    card = await sandbox.card(channel)

    async def invited() -> bool:
        return "U0BOB" in channel.members  # whoever declares is invited

    await wait_for(invited, what="bob invited to the incident channel")
    shown = await sandbox.poll("U0BOB", channel.id)
    assert shown["channel"] == channel.id and 'data-channel-name="inc-1-checkout-is-down"' in shown["channels"]
    assert "#1 Checkout is down" in shown["messages"] and 'data-action-id="incident_acknowledge"' in shown["messages"]

    actions = next(b for b in card.blocks if b["type"] == "actions")
    assert await sandbox.ui(
        "action",
        user="U0ALICE",
        channel=channel.id,
        ts=card.ts,
        action_id="incident_acknowledge",
        block_id=actions["block_id"],
    ) == {"ok": True}

    async def acknowledged() -> bool:
        incident = await sandbox.incident(1)
        return incident.get("status") == "acknowledged" and incident.get("commander") == "U0ALICE"

    await wait_for(acknowledged, what="the acknowledgement from the card button")

    async def redrawn() -> bool:
        messages = (await sandbox.poll("U0ALICE", channel.id))["messages"]
        return "Acknowledged" in messages and 'data-action-id="incident_acknowledge"' not in messages

    await wait_for(redrawn, what="the card redrawn without Acknowledge")

    # The severity select sends the chosen option object, as Slack does.
    card = await sandbox.card(channel)
    actions = next(b for b in card.blocks if b["type"] == "actions")
    await sandbox.ui(
        "action",
        user="U0ALICE",
        channel=channel.id,
        ts=card.ts,
        action_id="incident_severity",
        block_id=actions["block_id"],
        selected="1",
    )

    async def sev1() -> bool:
        return (await sandbox.incident(1)).get("severity") == 1

    await wait_for(sev1, what="SEV1 from the select")


async def test_declare_form_shows_warroom_errors_under_the_field_then_submits(sandbox: Sandbox) -> None:
    await sandbox.ui("command", user="U0CAROL", channel="C0INCIDENTS", text="/incident declare")

    async def modal() -> dict[str, Any] | None:
        shown = await sandbox.poll("U0CAROL")
        return shown if shown["modal"] else None

    shown = await wait_for(modal, what="the declare modal for carol")
    assert 'data-testid="modal"' in shown["modal"] and "Declare an incident" in shown["modal"]
    assert (await sandbox.poll("U0DAVE"))["modal"] == ""  # a modal is one person's
    view_id = re.search(r'data-view-id="(\w+)"', shown["modal"])
    assert view_id is not None
    refused = await sandbox.ui(
        "submit", user="U0CAROL", view_id=view_id.group(1), fields={"declare_title": {"declare_title": "   "}}
    )
    assert refused["ok"] and set(refused["errors"]) == {"declare_title"}
    again = await sandbox.poll("U0CAROL")
    assert 'data-testid="field-error"' in again["modal"] and again["modal_key"] != shown["modal_key"]

    fields = {"declare_title": {"declare_title": "Search is slow"}, "declare_severity": {"declare_severity": "2"}}
    accepted = await sandbox.ui("submit", user="U0CAROL", view_id=view_id.group(1), fields=fields)
    assert accepted == {"ok": True, "errors": {}}
    assert (await sandbox.poll("U0CAROL"))["modal"] == ""
    await sandbox.channel("inc-1-search-is-slow")

    async def sev2() -> bool:
        return (await sandbox.incident(1)).get("severity") == 2

    await wait_for(sev2, what="the declared incident at SEV2")


async def test_ephemeral_answers_are_shown_to_their_user_only(sandbox: Sandbox) -> None:
    await sandbox.ui("command", user="U0DAVE", channel="C0INCIDENTS", text="/incident help")

    async def answered() -> str | None:
        messages = (await sandbox.poll("U0DAVE", "C0INCIDENTS"))["messages"]
        return messages if 'data-ephemeral="true"' in messages else None

    messages = await wait_for(answered, what="the help for dave")
    assert "Only visible to you" in messages and "/incident" in messages
    assert 'data-ephemeral="true"' not in (await sandbox.poll("U0ALICE", "C0INCIDENTS"))["messages"]
    ts = re.search(r'data-ts="([\d.]+)"\s+data-author="Warroom" data-ephemeral="true"', messages)
    assert ts is not None
    await sandbox.ui("dismiss", user="U0DAVE", ts=ts.group(1))
    assert 'data-ephemeral="true"' not in (await sandbox.poll("U0DAVE", "C0INCIDENTS"))["messages"]


async def test_unknown_commands_are_refused_like_slack_does(sandbox: Sandbox) -> None:
    response = await sandbox.http.post(
        "/sandbox/ui/command", json={"user": "U0BOB", "channel": "C0INCIDENTS", "text": "/deploy now"}
    )
    assert response.status_code == 400 and "not a valid command" in response.json()["error"]
    assert "not a valid command" in (await sandbox.poll("U0BOB", "C0INCIDENTS"))["messages"]


async def test_plain_messages_post_as_the_user_and_pin_puts_them_on_the_timeline(sandbox: Sandbox) -> None:
    await sandbox.ui("command", user="U0BOB", channel="C0INCIDENTS", text="/incident declare Pins work")
    channel = await sandbox.channel("inc-1-pins-work")
    await sandbox.card(channel)
    posted = await sandbox.ui("command", user="U0DAVE", channel=channel.id, text="p99 back under <200ms> & falling")
    message = sandbox.workspace.get_message(channel.id, posted["ts"])
    assert message.user == "U0DAVE" and message.text == "p99 back under &lt;200ms&gt; &amp; falling"
    shown = (await sandbox.poll("U0DAVE", channel.id))["messages"]
    assert "p99 back under &lt;200ms&gt; &amp; falling" in shown

    assert (await sandbox.ui("react", user="U0DAVE", channel=channel.id, ts=posted["ts"]))["ok"]
    assert message.reactions == {"pushpin": ["U0DAVE"]}

    async def pinned() -> bool:
        timeline = (await sandbox.incident(1)).get("timeline", [])
        return any("p99 back under" in event["text"] for event in timeline)

    await wait_for(pinned, what="the pinned message on the timeline")
    assert 'data-mine="true"' in (await sandbox.poll("U0DAVE", channel.id))["messages"]
    await sandbox.ui("react", user="U0DAVE", channel=channel.id, ts=posted["ts"])  # a second press takes it back
    assert message.reactions == {}


@pytest.mark.parametrize("source", ["pagerduty", "alertmanager", "grafana"])
async def test_sample_alerts_are_accepted_by_the_real_webhooks_and_open_then_resolve(
    sandbox: Sandbox, source: str
) -> None:
    fired = await sandbox.ui("alert", source=source, status="firing")
    assert fired["ok"] and fired["status"] == 202 and '"accepted"' in fired["body"]

    async def opened() -> dict[str, Any]:
        return await sandbox.incident(1)

    incident = await wait_for(opened, what=f"the incident from the {source} sample")
    assert incident["source"] == source
    await sandbox.channel("inc-1-")
    resolved = await sandbox.ui("alert", source=source, status="resolved")
    assert resolved["ok"] and resolved["status"] == 202

    async def calmed() -> bool:
        return (await sandbox.incident(1))["status"] in ("mitigated", "resolved")

    await wait_for(calmed, what=f"the {source} resolution to reach the incident")
    assert [i["number"] for i in [await sandbox.incident(2)] if i] == []  # the resolution joined incident 1


async def test_hostile_alert_title_is_text_on_the_page(sandbox: Sandbox) -> None:
    response = await sandbox.http.post(
        "/webhooks/generic",
        json={"title": HOSTILE_TITLE, "dedup_key": "xss", "severity": 2},
        headers={"authorization": "Bearer sandbox-webhook-token"},
    )
    assert response.status_code == 202
    channel = await sandbox.channel("inc-1-")
    await sandbox.card(channel)
    for page in ((await sandbox.poll("U0ALICE", channel.id))["messages"], (await sandbox.poll("U0ALICE"))["messages"]):
        assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (await sandbox.poll("U0ALICE", channel.id))["messages"]


async def test_poll_answers_only_the_version_when_nothing_changed(sandbox: Sandbox) -> None:
    first = await sandbox.poll("U0ALICE")
    same = (await sandbox.http.get("/sandbox/ui/poll", params={"user": "U0ALICE", "version": first["version"]})).json()
    assert same == {"version": first["version"]}
    await sandbox.ui("command", user="U0ALICE", channel="C0INCIDENTS", text="hello")
    after = (await sandbox.http.get("/sandbox/ui/poll", params={"user": "U0ALICE", "version": first["version"]})).json()
    assert after["version"] > first["version"] and "hello" in after["messages"]
