"""Schedule and action-item people as Slack users: emails and @names looked up once, names never guessed."""

from typing import Any

import pytest

from bot.slack.gateway import RetryLater, SlackRefused
from bot.slack.members import REMEMBER_SECONDS, MemberDirectory


class FakeGateway:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.down = False

    async def call(self, method: str, **arguments: Any) -> dict[str, Any]:
        self.calls.append((method, arguments))
        if self.down:
            raise RetryLater("slack is down")
        if method == "users.lookupByEmail":
            if arguments["email"] == "alice@example.com":
                return {"user": {"id": "U0ALICE"}}
            raise SlackRefused(method, "users_not_found")
        if method == "users.list":
            if not arguments.get("cursor"):
                return {"members": [{"id": "U0BOB", "name": "bob"}], "response_metadata": {"next_cursor": "p2"}}
            return {"members": [{"id": "U0OLD", "name": "carol", "deleted": True}], "response_metadata": {}}
        raise AssertionError(method)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slack() -> FakeGateway:
    return FakeGateway()


async def test_emails_are_looked_up_once_an_hour(slack: FakeGateway) -> None:
    clock = Clock()
    members = MemberDirectory(slack, clock=clock)  # type: ignore[arg-type]
    assert await members.user_id("alice@example.com") == "U0ALICE"
    assert await members.user_id("alice@example.com") == "U0ALICE"
    assert await members.user_id("nobody@example.com") is None
    assert len(slack.calls) == 2
    clock.now += REMEMBER_SECONDS
    await members.user_id("alice@example.com")
    assert len(slack.calls) == 3


async def test_user_ids_pass_through_and_names_are_never_looked_up_as_emails(slack: FakeGateway) -> None:
    members = MemberDirectory(slack)  # type: ignore[arg-type]
    assert await members.user_id("U0DAVE") == "U0DAVE"
    assert await members.user_id("Alice Smith") is None  # a PagerDuty user without an email
    assert slack.calls == []
    assert await members.mention("Alice <Smith>") == "Alice &lt;Smith&gt;"


async def test_handles_come_from_the_user_list_across_pages(slack: FakeGateway) -> None:
    members = MemberDirectory(slack)  # type: ignore[arg-type]
    assert await members.user_id("@Bob") == "U0BOB"
    assert await members.user_id("@carol") is None  # deactivated
    assert [method for method, _ in slack.calls] == ["users.list", "users.list"]  # listed once, both pages


async def test_slack_down_fails_a_send_but_not_a_reply(slack: FakeGateway) -> None:
    slack.down = True
    members = MemberDirectory(slack)  # type: ignore[arg-type]
    with pytest.raises(RetryLater):
        await members.user_id("alice@example.com")  # the outbox retries the op
    assert await members.mention("alice@example.com") == "alice@example.com"  # a reply shows the email
