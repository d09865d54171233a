"""views.* with trigger_ids on the workspace clock: expiry, one use, modal limits, stacks and hashes."""

import json
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Workspace

from .support import FakeClock, error_of


def modal(title: str = "Declare incident", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "declare",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Declare"},
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": {"type": "plain_text", "text": "Title"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
        **extra,
    }


async def test_open_with_a_fresh_trigger(slack: AsyncWebClient, workspace: Workspace, clock: FakeClock) -> None:
    trigger_id = workspace.issue_trigger("U0ALICE", "C0INCIDENTS")
    clock.advance(2.9)
    view = (await slack.views_open(trigger_id=trigger_id, view=modal()))["view"]
    assert view["id"].startswith("V")
    assert view["callback_id"] == "declare"
    assert view["root_view_id"] == view["id"]
    assert workspace.view_stacks["U0ALICE"] == [view["id"]]


async def test_trigger_expires_after_three_seconds(
    slack: AsyncWebClient, workspace: Workspace, clock: FakeClock
) -> None:
    trigger_id = workspace.issue_trigger("U0ALICE")
    clock.advance(3.01)
    assert await error_of(slack.views_open(trigger_id=trigger_id, view=modal())) == "expired_trigger_id"


async def test_trigger_is_single_use(slack: AsyncWebClient, workspace: Workspace) -> None:
    trigger_id = workspace.issue_trigger("U0ALICE")
    await slack.views_open(trigger_id=trigger_id, view=modal())
    assert await error_of(slack.views_open(trigger_id=trigger_id, view=modal())) == "exchanged_trigger_id"


async def test_unknown_trigger(slack: AsyncWebClient) -> None:
    assert await error_of(slack.views_open(trigger_id="1.2.nope", view=modal())) == "invalid_trigger_id"


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        (modal(title="x" * 25), "/view/title/text"),
        (modal(submit={"type": "plain_text", "text": "s" * 25}), "/view/submit/text"),
        (modal(close={"type": "plain_text", "text": "c" * 25}), "/view/close/text"),
        (modal(blocks=[{"type": "divider"}] * 101), "/view/blocks"),
        (modal(private_metadata="m" * 3001), "/view/private_metadata"),
    ],
    ids=["title", "submit", "close", "101-blocks", "private_metadata"],
)
async def test_modal_limits(slack: AsyncWebClient, workspace: Workspace, view: dict[str, Any], pointer: str) -> None:
    trigger_id = workspace.issue_trigger("U0ALICE")
    with pytest.raises(SlackApiError) as caught:
        await slack.views_open(trigger_id=trigger_id, view=view)
    assert caught.value.response["error"] == "invalid_arguments"
    assert any(pointer in m for m in caught.value.response["response_metadata"]["messages"])
    # a rejected view does not burn the trigger
    assert (await slack.views_open(trigger_id=trigger_id, view=modal()))["ok"]


async def test_limits_at_the_boundary_pass(slack: AsyncWebClient, workspace: Workspace) -> None:
    view = modal(title="x" * 24, blocks=[{"type": "divider"}] * 100)
    assert (await slack.views_open(trigger_id=workspace.issue_trigger("U0ALICE"), view=view))["ok"]


async def test_push_stack_is_limited_to_three(slack: AsyncWebClient, workspace: Workspace) -> None:
    root = (await slack.views_open(trigger_id=workspace.issue_trigger("U0BOB"), view=modal()))["view"]
    second = (await slack.views_push(trigger_id=workspace.issue_trigger("U0BOB"), view=modal("Step 2")))["view"]
    assert (second["root_view_id"], second["previous_view_id"]) == (root["id"], root["id"])
    await slack.views_push(trigger_id=workspace.issue_trigger("U0BOB"), view=modal("Step 3"))
    fourth = slack.views_push(trigger_id=workspace.issue_trigger("U0BOB"), view=modal("Step 4"))
    assert await error_of(fourth) == "push_limit_reached"


async def test_update_by_id_or_external_id_with_hash(slack: AsyncWebClient, workspace: Workspace) -> None:
    opened = (await slack.views_open(trigger_id=workspace.issue_trigger("U0ALICE"), view=modal(external_id="inc-42")))[
        "view"
    ]
    updated = (
        await slack.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Updated", external_id="inc-42"))
    )["view"]
    assert updated["title"]["text"] == "Updated"
    assert updated["hash"] != opened["hash"]
    stale = slack.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Stale"))
    assert await error_of(stale) == "hash_conflict"
    by_external = await slack.views_update(external_id="inc-42", view=modal("By external id", external_id="inc-42"))
    assert by_external["view"]["id"] == opened["id"]
    assert await error_of(slack.views_update(view_id="V404", view=modal())) == "not_found"


async def test_view_as_json_string_in_a_form_post(slack: AsyncWebClient, workspace: Workspace) -> None:
    trigger_id = workspace.issue_trigger("U0ALICE")
    answer = await slack.api_call("views.open", params={"trigger_id": trigger_id, "view": json.dumps(modal())})
    assert answer["view"]["title"]["text"] == "Declare incident"
