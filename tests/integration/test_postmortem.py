"""A postmortem end to end in the sandbox: whys recorded, resolve form, draft posted, Edit, Request changes, Approve."""

import asyncio
import html
import re
from typing import Any

from bot.sandbox.models import Message
from tests.support.live import Stack, live_stack, wait_for

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"


async def _command(stack: Stack, user: str, channel: str, text: str) -> str:
    return await stack.command(user, channel, "/incident", text)


def _summary(stack: Stack, channel: str) -> Message:
    found = [
        m
        for m in stack.messages(channel)
        if ((m.metadata or {}).get("event_payload") or {}).get("kind") == "postmortem"
    ]
    assert len(found) == 1, f"expected one postmortem summary, found {len(found)}"
    return found[0]


def _version(summary: Message) -> int:
    found = re.search(r"version (\d+)", summary.blocks[0]["text"]["text"])
    assert found is not None
    return int(found.group(1))


def _buttons(message: Message) -> dict[str, dict[str, Any]]:
    return {e["text"]["text"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


async def _modal(stack: Stack, user: str, callback_id: str) -> Any:
    async def opened() -> list[Any]:
        return [
            v for v in stack.workspace.views.values() if v.user == user and v.view.get("callback_id") == callback_id
        ]

    return (await wait_for(opened, what=f"the {callback_id} modal"))[-1]


def _text(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text_input", "value": value}}


async def _markdown(stack: Stack) -> str:
    incident = await stack.api("/incidents/1")
    from sqlalchemy import select

    from bot.db import Database
    from bot.postmortems import review
    from bot.postmortems.tables import Postmortem

    database = Database(stack.settings.database_url)
    try:
        async with database.session() as session:
            postmortem = (await session.execute(select(Postmortem))).scalar_one()
            assert postmortem.incident_id == incident["id"]
            return (await review.latest(session, postmortem)).markdown
    finally:
        await database.dispose()


async def test_an_incident_resolved_after_whys_gets_a_draft_that_is_reviewed_and_approved(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        alert = {"title": "Checkout 5xx above 5%", "dedup_key": "checkout-5xx", "service": "checkout", "severity": 2}
        assert (await stack.webhook("generic", alert)).status_code == 202
        await stack.settled()
        channel = (await stack.api("/incidents/1"))["channel_id"]
        card = stack.card(channel)
        await stack.sender.block_action(BOB, channel, card.ts, "incident_acknowledge")
        await _command(stack, BOB, channel, "why The payment pool ran out of connections")
        await _command(stack, BOB, channel, "why A deploy doubled the worker count")
        await _command(stack, ALICE, channel, "note cause: pool size was copied from staging")
        await _command(stack, ALICE, channel, "note action: <@U0CAROL> alert on pool saturation by 2026-12-20")
        await stack.settled()

        # Resolve from the card: the incident resolves, and the clicker is asked what happened and why.
        await stack.sender.block_action(ALICE, channel, stack.card(channel).ts, "incident_resolve")
        form = await _modal(stack, ALICE, "postmortem_whys_modal")
        prefilled = {
            b["block_id"]: b["element"].get("initial_value") for b in form.view["blocks"] if b["type"] == "input"
        }
        assert prefilled["why_1.0"] == "The payment pool ran out of connections"
        assert prefilled["why_3.0"] is None
        answers = {
            "what_happened.0": _text("Checkout failed for card payments for 25 minutes."),
            "why_1.0": _text("The payment pool ran out of connections"),
            "why_3.0": _text("The load test did not cover the new worker count"),
        }
        assert (await stack.sender.view_submission(ALICE, form.id, answers)).status_code == 200
        await stack.settled()

        summary = _summary(stack, channel)
        assert set(_buttons(summary)) >= {"Open draft", "Edit", "Approve", "Request changes"}
        text = await _markdown(stack)
        ordered = [
            text.index("1. The payment pool ran out of connections"),
            text.index("2. A deploy doubled the worker count"),
            text.index("3. The load test did not cover the new worker count"),
        ]
        assert ordered == sorted(ordered)
        assert "4. **Open question:**" in text and "Checkout failed for card payments for 25 minutes." in text
        for number in (1, 2, 3):  # every answer cites the timeline event that recorded it
            assert re.search(rf"^{number}\. .+ \(\[event (\d+)\]\(#event-\1\)\)$", text, re.M), number

        # Edit: a new version with the impact written in.
        before = _version(_summary(stack, channel))
        edit = _buttons(summary)["Edit"]
        await stack.sender.block_action(BOB, channel, summary.ts, edit["action_id"], value=edit["value"])
        form = await _modal(stack, BOB, "postmortem_edit_modal")
        # Slack submits every field as shown; meanwhile someone records why 4 on the timeline.
        await _command(stack, CAROL, channel, "why Nobody load-tested the new worker count")
        submitted = {
            b["block_id"]: _text(b["element"].get("initial_value", ""))
            for b in form.view["blocks"]
            if b["type"] == "input"
        }
        submitted["impact.0"] = _text("About 3,000 card payments failed; no data was lost.")
        assert (await stack.sender.view_submission(BOB, form.id, submitted)).status_code == 200
        await stack.settled()
        text = await _markdown(stack)
        assert "About 3,000 card payments failed; no data was lost." in text
        # Only what Bob changed became an edit: the why recorded while the form was open shows, and
        # the summary still follows the timeline.
        assert "4. Nobody load-tested the new worker count ([event " in text
        assert "It was resolved after" in text
        assert _version(_summary(stack, channel)) == before + 1

        # Request changes: the commander (Bob acknowledged first) hears about it in a DM.
        changes = _buttons(_summary(stack, channel))["Request changes"]
        await stack.sender.block_action(CAROL, channel, summary.ts, changes["action_id"], value=changes["value"])
        form = await _modal(stack, CAROL, "postmortem_changes_modal")
        reason = {
            "postmortem_changes_reason": {"postmortem_changes_reason": _text("Add the timeline of the deploy")["text"]}
        }
        assert (await stack.sender.view_submission(CAROL, form.id, reason)).status_code == 200
        await stack.settled()
        dms = [c for c in stack.workspace.channels.values() if c.is_im and c.im_user == BOB]
        assert len(dms) == 1
        assert any("Add the timeline of the deploy" in m.text for m in stack.messages(dms[0].id))

        # Approve, clicked by two people at once: approved once, and the Markdown is uploaded once.
        approve = _buttons(_summary(stack, channel))["Approve"]
        clicks = await asyncio.gather(
            *(
                stack.sender.block_action(u, channel, summary.ts, approve["action_id"], value=approve["value"])
                for u in (ALICE, BOB)
            )
        )
        assert [c.status_code for c in clicks] == [200, 200]
        await stack.settled()
        state = _summary(stack, channel).blocks[0]["text"]["text"]
        assert "Approved" in state and "Approve" not in _buttons(_summary(stack, channel))
        uploads = [c for c in stack.workspace.calls if c.method == "files.completeUploadExternal" and c.ok]
        assert len(uploads) == 1
        approvals = [e for e in (await stack.api("/incidents/1"))["timeline"] if "approved" in e["text"]]
        assert len(approvals) == 1

        # The web page (no login, a signed link) and the download show the same text as the stored version.
        url = _buttons(_summary(stack, channel))["Open draft"]["url"]
        path = url.split("://", 1)[1].split("/", 1)[1]
        page = await stack.http.get(f"/{path}")
        assert page.status_code == 200
        download = await stack.http.get(f"/{path.replace('?key=', '.md?key=')}")
        assert download.status_code == 200 and download.text == await _markdown(stack)
        shown = re.search(r"<pre[^>]*>(.*?)</pre>", page.text, re.S)
        # A newline right after <pre> is not part of the text (HTML drops it when it parses the page).
        assert shown is not None and html.unescape(shown.group(1)).removeprefix("\n") == download.text
        assert (await stack.http.get(f"/{path[:-5]}xxxxx")).status_code == 404  # a wrong key opens nothing


async def test_resolving_with_the_command_also_asks_what_happened(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        alert = {"title": "Search slow", "dedup_key": "search", "service": "search", "severity": 3}
        assert (await stack.webhook("generic", alert)).status_code == 202
        await stack.settled()
        channel = (await stack.api("/incidents/1"))["channel_id"]
        answer = await _command(stack, ALICE, channel, "resolve index rebuilt")
        assert "resolved" in answer
        form = await _modal(stack, ALICE, "postmortem_whys_modal")
        inputs = {b["block_id"]: b for b in form.view["blocks"] if b["type"] == "input"}
        assert inputs["what_happened.0"]["element"]["initial_value"] == "index rebuilt"  # the resolve summary
        await stack.settled()
        assert _summary(stack, channel)  # drafted once resolved, without anyone asking
