"""conversations.* through slack_sdk: Slack's naming rules, invite errors, topics, listing and archiving."""

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Workspace

from .support import error_of


async def test_create_makes_the_bot_creator_and_member(slack: AsyncWebClient, workspace: Workspace) -> None:
    answer = await slack.conversations_create(name="inc-42-db_down")
    channel = answer["channel"]
    assert channel["id"].startswith("C")
    assert channel["name"] == "inc-42-db_down"
    assert channel["creator"] == "U0WARROOM"
    assert channel["is_member"] is True
    assert workspace.channels[channel["id"]].members == ["U0WARROOM"]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "invalid_name_required"),
        ("a" * 81, "invalid_name_maxlength"),
        ("Inc-1", "invalid_name_specials"),
        ("inc 1", "invalid_name_specials"),
        ("inc.1", "invalid_name_specials"),
        ("inc#1", "invalid_name_specials"),
        ("---", "invalid_name_punctuation"),
        ("_-_", "invalid_name_punctuation"),
    ],
)
async def test_channel_name_rules(slack: AsyncWebClient, name: str, error: str) -> None:
    assert await error_of(slack.conversations_create(name=name)) == error


async def test_eighty_characters_is_still_allowed(slack: AsyncWebClient) -> None:
    assert (await slack.conversations_create(name="a" * 80))["ok"]


async def test_name_taken_also_by_an_archived_channel(slack: AsyncWebClient) -> None:
    channel = (await slack.conversations_create(name="inc-7"))["channel"]
    assert await error_of(slack.conversations_create(name="inc-7")) == "name_taken"
    await slack.conversations_archive(channel=channel["id"])
    assert await error_of(slack.conversations_create(name="inc-7")) == "name_taken"
    await slack.conversations_unarchive(channel=channel["id"])
    info = await slack.conversations_info(channel=channel["id"])
    assert info["channel"]["is_archived"] is False


async def test_invite_adds_members(slack: AsyncWebClient, workspace: Workspace) -> None:
    channel_id = (await slack.conversations_create(name="inc-1"))["channel"]["id"]
    answer = await slack.conversations_invite(channel=channel_id, users=["U0ALICE", "U0BOB"])
    assert "errors" not in answer
    members = await slack.conversations_members(channel=channel_id)
    assert members["members"] == ["U0WARROOM", "U0ALICE", "U0BOB"]


async def test_invite_errors(slack: AsyncWebClient, workspace: Workspace) -> None:
    channel_id = (await slack.conversations_create(name="inc-2"))["channel"]["id"]
    await slack.conversations_invite(channel=channel_id, users="U0ALICE")
    assert await error_of(slack.conversations_invite(channel=channel_id, users="U0ALICE")) == "already_in_channel"
    assert await error_of(slack.conversations_invite(channel=channel_id, users="U0WARROOM")) == "cant_invite_self"
    assert await error_of(slack.conversations_invite(channel=channel_id, users="U0NOBODY")) == "user_not_found"
    assert await error_of(slack.conversations_invite(channel="C0MISSING", users="U0BOB")) == "channel_not_found"
    too_many = ",".join(f"U{i:08d}" for i in range(101))
    assert await error_of(slack.conversations_invite(channel=channel_id, users=too_many)) == "too_many_users"
    # one bad id fails the whole call: bob was not invited either
    assert await error_of(slack.conversations_invite(channel=channel_id, users="U0BOB,U0NOBODY")) == "user_not_found"
    assert "U0BOB" not in workspace.channels[channel_id].members


async def test_invite_needs_the_bot_in_an_open_channel(slack: AsyncWebClient, workspace: Workspace) -> None:
    assert await error_of(slack.conversations_invite(channel="C0GENERAL", users="U0BOB")) == "not_in_channel"
    channel_id = (await slack.conversations_create(name="inc-3"))["channel"]["id"]
    await slack.conversations_archive(channel=channel_id)
    assert await error_of(slack.conversations_invite(channel=channel_id, users="U0BOB")) == "is_archived"


async def test_invite_with_force_skips_bad_ids(slack: AsyncWebClient, workspace: Workspace) -> None:
    channel_id = (await slack.conversations_create(name="inc-4"))["channel"]["id"]
    answer = await slack.conversations_invite(channel=channel_id, users="U0ALICE,U0NOBODY,U0WARROOM", force=True)
    assert answer["ok"] is True
    assert [(e["user"], e["error"]) for e in answer["errors"]] == [
        ("U0NOBODY", "user_not_found"),
        ("U0WARROOM", "cant_invite_self"),
    ]
    assert workspace.channels[channel_id].members == ["U0WARROOM", "U0ALICE"]


async def test_set_topic_and_purpose(slack: AsyncWebClient, workspace: Workspace) -> None:
    channel_id = (await slack.conversations_create(name="inc-5"))["channel"]["id"]
    await slack.conversations_setTopic(channel=channel_id, topic="SEV1 | IC: <@U0ALICE>")
    await slack.conversations_setPurpose(channel=channel_id, purpose="Database outage")
    info = (await slack.conversations_info(channel=channel_id))["channel"]
    assert info["topic"]["value"] == "SEV1 | IC: <@U0ALICE>"
    assert info["purpose"]["value"] == "Database outage"
    assert await error_of(slack.conversations_setTopic(channel=channel_id, topic="x" * 251)) == "too_long"
    assert (await slack.conversations_setTopic(channel=channel_id, topic="x" * 250))["ok"]


async def test_set_topic_needs_membership(slack: AsyncWebClient) -> None:
    assert await error_of(slack.conversations_setTopic(channel="C0GENERAL", topic="hi")) == "not_in_channel"


async def test_join_then_history_works(slack: AsyncWebClient) -> None:
    assert await error_of(slack.conversations_history(channel="C0GENERAL")) == "not_in_channel"
    joined = await slack.conversations_join(channel="C0GENERAL")
    assert joined["channel"]["is_member"] is True
    again = await slack.conversations_join(channel="C0GENERAL")
    assert again["warning"] == "already_in_channel"
    history = await slack.conversations_history(channel="C0GENERAL")
    assert history["messages"][0]["subtype"] == "channel_join"


async def test_list_paginates_with_cursor(slack: AsyncWebClient) -> None:
    for n in range(5):
        await slack.conversations_create(name=f"page-{n}")
    names: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await slack.conversations_list(limit=2, cursor=cursor)
        names += [c["name"] for c in page["channels"]]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == 4
    assert names == ["general", "incidents", "platform-oncall", "page-0", "page-1", "page-2", "page-3", "page-4"]


async def test_list_excludes_archived_and_filters_types(slack: AsyncWebClient) -> None:
    channel_id = (await slack.conversations_create(name="old"))["channel"]["id"]
    await slack.conversations_archive(channel=channel_id)
    await slack.conversations_create(name="secret", is_private=True)
    public = [c["name"] for c in (await slack.conversations_list())["channels"]]
    active = [c["name"] for c in (await slack.conversations_list(exclude_archived=True))["channels"]]
    private = [c["name"] for c in (await slack.conversations_list(types="private_channel"))["channels"]]
    assert "old" in public
    assert "old" not in active
    assert "secret" not in public
    assert private == ["secret"]


async def test_list_rejects_a_forged_cursor(slack: AsyncWebClient) -> None:
    assert await error_of(slack.conversations_list(cursor="bm9wZQ==")) == "invalid_cursor"


async def test_archive_rules(slack: AsyncWebClient) -> None:
    channel_id = (await slack.conversations_create(name="done"))["channel"]["id"]
    await slack.conversations_archive(channel=channel_id)
    assert await error_of(slack.conversations_archive(channel=channel_id)) == "already_archived"
    assert await error_of(slack.chat_postMessage(channel=channel_id, text="x")) == "is_archived"
    assert await error_of(slack.conversations_unarchive(channel="C0INCIDENTS")) == "not_archived"


async def test_open_gives_one_direct_message_channel_per_user(slack: AsyncWebClient) -> None:
    first = await slack.conversations_open(users="U0BOB")
    again = await slack.conversations_open(users="U0BOB")
    assert first["channel"]["id"] == again["channel"]["id"] and first["channel"]["id"].startswith("D")
    assert again["already_open"] is True
    await slack.chat_postMessage(channel=first["channel"]["id"], text="your shift starts")
    history = await slack.conversations_history(channel=first["channel"]["id"])
    assert [m["text"] for m in history["messages"]] == ["your shift starts"]
    listed = await slack.conversations_list()
    assert first["channel"]["id"] not in [c["id"] for c in listed["channels"]]  # DMs are not public channels


async def test_open_refuses_what_slack_refuses(slack: AsyncWebClient) -> None:
    assert await error_of(slack.conversations_open(users="")) == "users_list_not_supplied"
    assert await error_of(slack.conversations_open(users="U0NOBODY")) == "user_not_found"
