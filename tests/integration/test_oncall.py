"""On-call through Slack, over real HTTP against the sandbox: /oncall, overrides, handoff reports, notes, incidents."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from bot.db import Database, upgrade_async
from bot.oncall import handoffs
from bot.oncall.rotation import who
from bot.oncall.schema import Schedule
from bot.oncall.tables import HandoffNote
from bot.sandbox.models import Message
from bot.sandbox.workspace import ONCALL_CHANNEL_ID
from tests.support.live import Stack, live_stack, wait_for

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
EMAILS = {"alice@example.com": ALICE, "bob@example.com": BOB, "carol@example.com": CAROL}


def _schedule_file(folder: Path, *, handoff_ago: timedelta, note_lead: str = "0") -> Schedule:
    """A daily rotation in UTC whose last handoff was `handoff_ago` ago (to the minute)."""
    last = (datetime.now(UTC) - handoff_ago).replace(second=0, microsecond=0)
    text = f"""
id: platform
name: Platform
channel: "#platform-oncall"
timezone: UTC
services: [payments]
note_lead: "{note_lead}"
rotation:
  members: [alice@example.com, bob@example.com, carol@example.com]
  shift: 1d
  handoff: "{last:%H:%M}"
  start: 2026-01-01
"""
    (folder / "oncall").mkdir(parents=True, exist_ok=True)
    (folder / "oncall" / "platform.yaml").write_text(text)
    return Schedule.model_validate(yaml.safe_load(text))


async def _in_force_since_yesterday(db_url: str, schedule_id: str) -> None:
    """As if a replica had loaded the schedule a day ago: boundaries since then count as missed."""
    await upgrade_async(db_url)
    database = Database(db_url)
    try:
        await handoffs.first_seen(database.transaction, schedule_id, datetime.now(UTC) - timedelta(days=1))
    finally:
        await database.dispose()


async def _oncall(stack: Stack, user: str, text: str, channel: str = "C0GENERAL") -> str:
    return await stack.command(user, channel, "/oncall", text)


def _handoff_posts(stack: Stack, channel: str) -> list[Message]:
    return [
        m
        for m in stack.messages(channel)
        if ((m.metadata or {}).get("event_payload") or {}).get("kind") in {"handoff", "handoff_dm", "note_request"}
    ]


def _text(message: Message) -> str:
    return (
        "\n".join(str((b.get("text") or {}).get("text", "")) for b in message.blocks)
        + "\n"
        + "\n".join(str(e.get("text", "")) for b in message.blocks if b["type"] == "context" for e in b["elements"])
    )


def _dm_of(stack: Stack, user: str) -> str:
    found = [c.id for c in stack.workspace.channels.values() if c.is_im and c.im_user == user]
    assert len(found) == 1, f"DM channels with {user}: {found}"
    return found[0]


async def test_a_missed_handoff_posts_once_on_start_and_the_incoming_person_gets_a_dm(
    tmp_path: Path, db_url: str
) -> None:
    schedule = _schedule_file(tmp_path, handoff_ago=timedelta(minutes=10))
    await _in_force_since_yesterday(db_url, schedule.id)  # so the boundary was missed, not before its time
    now = datetime.now(UTC)
    current = who(schedule, [], now).now.member
    assert current is not None
    async with live_stack(db_url, playbooks_dir=str(tmp_path)) as stack:

        async def posted() -> list[Message]:
            return _handoff_posts(stack, ONCALL_CHANNEL_ID)

        report = (await wait_for(posted, what="the handoff report"))[0]
        await stack.settled()
        text = _text(report)
        assert f"<@{EMAILS[current]}>" in text and "hands over to" in text
        assert "late" in text  # missed by 10 minutes: posted late, saying so
        assert stack.workspace.bot_user_id in stack.workspace.channels[ONCALL_CHANNEL_ID].members  # it joined
        dm = _handoff_posts(stack, _dm_of(stack, EMAILS[current]))
        assert len(dm) == 1 and "You are on call for *Platform*" in _text(dm[0])
        # The sweep runs again (every 30 s, and on every replica): nothing more is posted.
        await stack.app.state.handoffs.sweep()
        await stack.settled()
        assert len(_handoff_posts(stack, ONCALL_CHANNEL_ID)) == 1


async def test_oncall_who_override_and_handoff_from_slack(tmp_path: Path, sqlite_url: str) -> None:
    schedule = _schedule_file(tmp_path, handoff_ago=timedelta(hours=5))
    rota = who(schedule, [], datetime.now(UTC))
    assert rota.now.member is not None and rota.next is not None and rota.next.member is not None
    current, following = EMAILS[rota.now.member], EMAILS[rota.next.member]
    other = next(u for u in (ALICE, BOB, CAROL) if u not in (current, following))
    async with live_stack(sqlite_url, playbooks_dir=str(tmp_path)) as stack:
        answer = await _oncall(stack, ALICE, "")
        assert f"*Platform* · now <@{current}>" in answer and f"next <@{following}>" in answer

        answer = await _oncall(stack, ALICE, f"override <@{other}|someone> 2h")
        assert answer.startswith("Override ") and f"<@{other}>" in answer
        answer = await _oncall(stack, ALICE, "who platform")
        assert f"now <@{other}> (override)" in answer

        listed = await _oncall(stack, ALICE, "override list")
        override_id = listed.split("`")[1]
        assert (await _oncall(stack, ALICE, f"override cancel {override_id}")) == f"Override {override_id} cancelled."
        assert f"now <@{current}>" in await _oncall(stack, ALICE, "")

        # Mistakes get a clear answer and change nothing.
        assert "cannot read" in await _oncall(stack, ALICE, f"override <@{other}|x> soon")
        assert "There is no schedule `nope`" in await _oncall(stack, ALICE, "who nope")
        assert "don't know that sub-command" in await _oncall(stack, ALICE, "dance")

        answer = await _oncall(stack, BOB, "handoff")
        assert answer.startswith("Posting a handoff report for *Platform*")
        await stack.settled()
        posts = _handoff_posts(stack, ONCALL_CHANNEL_ID)
        assert len(posts) == 1 and "Posted on request by <@U0BOB>" in _text(posts[0])


async def test_a_new_incident_invites_the_person_on_call_and_names_them_on_the_card(
    tmp_path: Path, sqlite_url: str
) -> None:
    schedule = _schedule_file(tmp_path, handoff_ago=timedelta(hours=3))
    member = who(schedule, [], datetime.now(UTC)).now.member
    assert member is not None
    async with live_stack(sqlite_url, playbooks_dir=str(tmp_path)) as stack:
        alert = {"title": "Payments API 5xx", "dedup_key": "pay-5xx", "service": "payments", "severity": "critical"}
        assert (await stack.webhook("generic", alert)).status_code == 202
        await stack.settled()
        incident = await stack.api("/incidents/1")
        channel = incident["channel_id"]
        assert EMAILS[member] in stack.workspace.channels[channel].members
        fields = [f["text"] for b in stack.card(channel).blocks if b["type"] == "section" for f in b.get("fields", [])]
        assert f"*On call*\n<@{EMAILS[member]}>" in fields
        timeline = [e for e in incident["timeline"] if e["kind"] == "oncall"]
        assert len(timeline) == 1 and member in timeline[0]["text"]
        # An incident for a service no schedule maps invites nobody extra.
        other = {"title": "Search slow", "dedup_key": "search", "service": "search", "severity": "warning"}
        assert (await stack.webhook("generic", other)).status_code == 202
        await stack.settled()
        assert not [e for e in (await stack.api("/incidents/2"))["timeline"] if e["kind"] == "oncall"]


async def test_the_outgoing_person_is_asked_for_a_note_and_saves_it_from_slack(tmp_path: Path, sqlite_url: str) -> None:
    # The next handoff is 23 h 59 min away and notes are asked for a day ahead: the note request is due now.
    schedule = _schedule_file(tmp_path, handoff_ago=timedelta(minutes=1), note_lead="24h")
    await _in_force_since_yesterday(sqlite_url, schedule.id)
    member = who(schedule, [], datetime.now(UTC)).now.member
    assert member is not None
    outgoing = EMAILS[member]
    async with live_stack(sqlite_url, playbooks_dir=str(tmp_path)) as stack:

        async def asked() -> list[Message]:
            found = _handoff_posts(stack, _dm_of_or_none(stack, outgoing))
            return [m for m in found if (m.metadata or {})["event_payload"]["kind"] == "note_request"]

        request = (await wait_for(asked, what="the note request"))[0]
        button = request.blocks[0]["accessory"]
        assert button["text"]["text"] == "Add a handoff note"
        await stack.sender.block_action(
            outgoing, request.channel, request.ts, button["action_id"], value=button["value"]
        )

        async def modal() -> list[Any]:
            return [v for v in stack.workspace.views.values() if v.user == outgoing]

        view = (await wait_for(modal, what="the note modal"))[0]
        empty = {"handoff_note": {"handoff_note_text": {"type": "plain_text_input", "value": " "}}}
        assert (await stack.sender.view_submission(outgoing, view.id, empty)).json()["response_action"] == "errors"
        note = {"handoff_note": {"handoff_note_text": {"type": "plain_text_input", "value": "Watch <!channel> db-3"}}}
        assert (await stack.sender.view_submission(outgoing, view.id, note)).status_code == 200

        answer = await _oncall(stack, outgoing, "handoff")  # a report now carries no note: that one is for the boundary
        assert answer.startswith("Posting")
        await stack.settled()
        database = Database(stack.settings.database_url)
        try:
            async with database.session() as session:
                saved = (await session.execute(select(HandoffNote))).scalar_one()
        finally:
            await database.dispose()
        assert saved.text == "Watch <!channel> db-3" and saved.author == outgoing


def _dm_of_or_none(stack: Stack, user: str) -> str:
    found = [c.id for c in stack.workspace.channels.values() if c.is_im and c.im_user == user]
    return found[0] if found else "D-none"
