"""chat.*, history, reactions, pins, bookmarks and people lookups through slack_sdk."""

import json

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Workspace

from .support import FakeClock, error_of

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*SEV1* database down"}}
METADATA = {"event_type": "incident_declared", "event_payload": {"incident": 42}}


async def test_post_update_and_history_with_metadata(slack: AsyncWebClient, clock: FakeClock) -> None:
    posted = await slack.chat_postMessage(channel="C0INCIDENTS", text="SEV1", blocks=[SECTION], metadata=METADATA)
    assert posted["channel"] == "C0INCIDENTS"
    assert posted["message"]["blocks"] == [SECTION]
    assert posted["message"]["bot_id"] == "B0WARROOM"
    updated = await slack.chat_update(channel="C0INCIDENTS", ts=posted["ts"], text="SEV1 resolved")
    assert updated["message"]["edited"]["user"] == "U0WARROOM"

    plain = await slack.conversations_history(channel="C0INCIDENTS")
    assert plain["messages"][0]["text"] == "SEV1 resolved"
    assert "metadata" not in plain["messages"][0]
    full = await slack.conversations_history(channel="C0INCIDENTS", include_all_metadata=True)
    assert full["messages"][0]["metadata"] == METADATA
    assert full["messages"][0]["blocks"] == [SECTION]


async def test_metadata_as_json_string_and_bad_metadata(slack: AsyncWebClient) -> None:
    await slack.api_call(
        "chat.postMessage", params={"channel": "C0INCIDENTS", "text": "x", "metadata": json.dumps(METADATA)}
    )
    history = await slack.conversations_history(channel="C0INCIDENTS", include_all_metadata=True)
    assert history["messages"][0]["metadata"] == METADATA
    bad = slack.chat_postMessage(channel="C0INCIDENTS", text="x", metadata={"event_payload": {}})
    assert await error_of(bad) == "invalid_metadata_schema"


async def test_timestamps_increase_strictly_even_with_a_frozen_clock(slack: AsyncWebClient) -> None:
    stamps = [(await slack.chat_postMessage(channel="C0INCIDENTS", text=str(n)))["ts"] for n in range(3)]
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)
    assert stamps == sorted(stamps, key=lambda ts: tuple(map(int, ts.split("."))))
    assert len(set(stamps)) == 3


async def test_history_window_and_pagination(slack: AsyncWebClient, clock: FakeClock) -> None:
    stamps = []
    for n in range(4):
        stamps.append((await slack.chat_postMessage(channel="C0INCIDENTS", text=f"m{n}"))["ts"])
        clock.advance(1)
    window = await slack.conversations_history(channel="C0INCIDENTS", oldest=stamps[1], latest=stamps[3])
    assert [m["text"] for m in window["messages"]] == ["m2"]
    inclusive = await slack.conversations_history(
        channel="C0INCIDENTS", oldest=stamps[1], latest=stamps[3], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]
    first = await slack.conversations_history(channel="C0INCIDENTS", limit=3)
    assert first["has_more"] is True
    rest = await slack.conversations_history(
        channel="C0INCIDENTS", limit=3, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in first["messages"] + rest["messages"]] == ["m3", "m2", "m1", "m0"]


async def test_threads(slack: AsyncWebClient) -> None:
    parent = await slack.chat_postMessage(channel="C0INCIDENTS", text="parent")
    await slack.chat_postMessage(channel="C0INCIDENTS", text="reply", thread_ts=parent["ts"])
    history = await slack.conversations_history(channel="C0INCIDENTS")
    assert [m["text"] for m in history["messages"]] == ["parent"]
    assert history["messages"][0]["reply_count"] == 1
    thread = await slack.conversations_replies(channel="C0INCIDENTS", ts=parent["ts"])
    assert [m["text"] for m in thread["messages"]] == ["parent", "reply"]


async def test_post_by_channel_name(slack: AsyncWebClient) -> None:
    posted = await slack.chat_postMessage(channel="#incidents", text="by name")
    assert posted["channel"] == "C0INCIDENTS"


async def test_post_errors(slack: AsyncWebClient) -> None:
    # slack_sdk's chat_postMessage warns before sending without text, so go one level down
    assert await error_of(slack.api_call("chat.postMessage", json={"channel": "C0INCIDENTS"})) == "no_text"
    assert await error_of(slack.chat_postMessage(channel="C0INCIDENTS", text="x" * 40_001)) == "msg_too_long"
    assert await error_of(slack.chat_postMessage(channel="C0GENERAL", text="x")) == "not_in_channel"
    assert await error_of(slack.chat_postMessage(channel="#nowhere", text="x")) == "channel_not_found"


@pytest.mark.parametrize(
    "blocks",
    [
        [SECTION] * 51,
        [{"type": "carousel"}],
        ["section"],
        [{"text": "no type"}],
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        [{"type": "divider", "block_id": "same"}, {"type": "divider", "block_id": "same"}],
        [{"type": "actions", "elements": [{"type": "button"}] * 26}],
    ],
    ids=["51-blocks", "unknown-type", "not-a-dict", "no-type", "long-header", "duplicate-id", "26-buttons"],
)
async def test_invalid_blocks(slack: AsyncWebClient, blocks: list[object]) -> None:
    with pytest.raises(SlackApiError) as caught:
        await slack.chat_postMessage(channel="C0INCIDENTS", text="x", blocks=blocks)
    assert caught.value.response["error"] == "invalid_blocks"
    assert caught.value.response["response_metadata"]["messages"][0].startswith("[ERROR]")


async def test_fifty_blocks_are_fine(slack: AsyncWebClient) -> None:
    assert (await slack.chat_postMessage(channel="C0INCIDENTS", text="x", blocks=[SECTION] * 50))["ok"]


async def test_blocks_that_are_not_json(slack: AsyncWebClient) -> None:
    bad = slack.api_call("chat.postMessage", params={"channel": "C0INCIDENTS", "text": "x", "blocks": "[{"})
    assert await error_of(bad) == "invalid_blocks_format"


async def test_update_errors(slack: AsyncWebClient, workspace: Workspace) -> None:
    assert await error_of(slack.chat_update(channel="C0INCIDENTS", ts="1.000001", text="x")) == "message_not_found"
    human = workspace.post_message("C0INCIDENTS", text="mine", actor="U0ALICE")
    assert await error_of(slack.chat_update(channel="C0INCIDENTS", ts=human.ts, text="x")) == "cant_update_message"


async def test_ephemeral_and_permalink(slack: AsyncWebClient, workspace: Workspace) -> None:
    answer = await slack.chat_postEphemeral(channel="C0INCIDENTS", user="U0BOB", text="only bob")
    assert workspace.ephemerals[-1].user == "U0BOB"
    assert workspace.ephemerals[-1].ts == answer["message_ts"]
    outsider = workspace.add_user("erin")
    bad = slack.chat_postEphemeral(channel="C0INCIDENTS", user=outsider.id, text="x")
    assert await error_of(bad) == "user_not_in_channel"
    posted = await slack.chat_postMessage(channel="C0INCIDENTS", text="link me")
    link = await slack.chat_getPermalink(channel="C0INCIDENTS", message_ts=posted["ts"])
    assert link["permalink"].endswith("/archives/C0INCIDENTS/p" + posted["ts"].replace(".", ""))


async def test_reactions_pins_bookmarks(slack: AsyncWebClient, workspace: Workspace) -> None:
    ts = (await slack.chat_postMessage(channel="C0INCIDENTS", text="pin me"))["ts"]
    await slack.reactions_add(channel="C0INCIDENTS", timestamp=ts, name="eyes")
    assert await error_of(slack.reactions_add(channel="C0INCIDENTS", timestamp=ts, name="eyes")) == "already_reacted"
    await slack.pins_add(channel="C0INCIDENTS", timestamp=ts)
    assert await error_of(slack.pins_add(channel="C0INCIDENTS", timestamp=ts)) == "already_pinned"
    assert await error_of(slack.pins_add(channel="C0INCIDENTS", timestamp="1.1")) == "message_not_found"
    message = (await slack.conversations_history(channel="C0INCIDENTS"))["messages"][0]
    assert message["reactions"] == [{"name": "eyes", "users": ["U0WARROOM"], "count": 1}]
    assert message["pinned_to"] == ["C0INCIDENTS"]
    added = await slack.bookmarks_add(channel_id="C0INCIDENTS", title="Runbook", type="link", link="https://x.test/rb")
    assert added["bookmark"]["title"] == "Runbook"
    bad = slack.bookmarks_add(channel_id="C0INCIDENTS", title="Bad", type="link", link="javascript:alert(1)")
    assert await error_of(bad) == "invalid_link"


async def test_people(slack: AsyncWebClient) -> None:
    carol = (await slack.users_lookupByEmail(email="carol@example.com"))["user"]
    assert (carol["id"], carol["tz"]) == ("U0CAROL", "Australia/Sydney")
    assert await error_of(slack.users_lookupByEmail(email="zed@example.com")) == "users_not_found"
    assert (await slack.users_info(user="U0DAVE"))["user"]["profile"]["email"] == "dave@example.com"
    assert await error_of(slack.users_info(user="U0NOBODY")) == "user_not_found"
    names = {u["name"] for u in (await slack.users_list())["members"]}
    assert {"alice", "bob", "carol", "dave", "warroom"} <= names
    groups = (await slack.usergroups_list(include_users=True))["usergroups"]
    assert [(g["id"], g["handle"], g["users"]) for g in groups] == [("S0SRE", "sre", ["U0ALICE", "U0BOB"])]
    assert (await slack.usergroups_users_list(usergroup="S0SRE"))["users"] == ["U0ALICE", "U0BOB"]
