"""The response_url endpoint: ephemeral and in_channel replies, replace/delete original, 5 uses in 30 minutes."""

import httpx

from bot.sandbox import Workspace

from .support import FakeClock


async def test_five_uses_then_used_url(sandbox_url: str, workspace: Workspace) -> None:
    token = workspace.issue_response_url("U0ALICE", "C0INCIDENTS")
    async with httpx.AsyncClient() as http:
        for n in range(5):
            answer = await http.post(f"{sandbox_url}/response/{token}", json={"text": f"reply {n}"})
            assert answer.status_code == 200
        sixth = await http.post(f"{sandbox_url}/response/{token}", json={"text": "reply 5"})
    assert (sixth.status_code, sixth.json()["error"]) == (404, "used_url")
    replies = [e for e in workspace.ephemerals if e.source == "response_url"]
    assert [(e.user, e.channel, e.text) for e in replies] == [
        ("U0ALICE", "C0INCIDENTS", f"reply {n}") for n in range(5)
    ]


async def test_expires_after_thirty_minutes(sandbox_url: str, workspace: Workspace, clock: FakeClock) -> None:
    token = workspace.issue_response_url("U0ALICE", "C0INCIDENTS")
    async with httpx.AsyncClient() as http:
        clock.advance(30 * 60)
        assert (await http.post(f"{sandbox_url}/response/{token}", json={"text": "just in time"})).status_code == 200
        clock.advance(1)
        late = await http.post(f"{sandbox_url}/response/{token}", json={"text": "too late"})
        unknown = await http.post(f"{sandbox_url}/response/not-a-token", json={"text": "?"})
    assert (late.status_code, late.json()["error"]) == (404, "expired_url")
    assert unknown.status_code == 404


async def test_in_channel_posts_a_message(sandbox_url: str, workspace: Workspace) -> None:
    # the bot is not in #general, and a command reply still lands there
    token = workspace.issue_response_url("U0ALICE", "C0GENERAL")
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{sandbox_url}/response/{token}", json={"response_type": "in_channel", "text": "Incident #7 declared"}
        )
    assert answer.status_code == 200
    assert workspace.messages["C0GENERAL"][-1].text == "Incident #7 declared"
    assert workspace.messages["C0GENERAL"][-1].bot_id == "B0WARROOM"


async def test_replace_and_delete_original(sandbox_url: str, workspace: Workspace) -> None:
    original = workspace.post_message("C0INCIDENTS", text="Acknowledge?")
    token = workspace.issue_response_url("U0BOB", "C0INCIDENTS", message_ts=original.ts)
    async with httpx.AsyncClient() as http:
        replaced = await http.post(
            f"{sandbox_url}/response/{token}", json={"replace_original": True, "text": "Acknowledged by bob"}
        )
        assert replaced.status_code == 200
        assert workspace.get_message("C0INCIDENTS", original.ts).text == "Acknowledged by bob"
        await http.post(f"{sandbox_url}/response/{token}", json={"delete_original": True})
        assert original not in workspace.messages["C0INCIDENTS"]
        # with the original gone, later replies are plain ephemerals again
        follow_up = await http.post(f"{sandbox_url}/response/{token}", json={"text": "Thanks"})
        gone = await http.post(f"{sandbox_url}/response/{token}", json={"delete_original": True})
    assert follow_up.status_code == 200
    assert workspace.ephemerals[-1].text == "Thanks"
    assert (gone.status_code, gone.json()["error"]) == (400, "no_original_message")


async def test_replace_an_ephemeral_original(sandbox_url: str, workspace: Workspace) -> None:
    prompt = workspace.post_ephemeral("C0INCIDENTS", "U0BOB", text="Really resolve?")
    token = workspace.issue_response_url("U0BOB", "C0INCIDENTS", message_ts=prompt.ts, is_ephemeral=True)
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{sandbox_url}/response/{token}", json={"replace_original": True, "text": "Resolved"})
    assert answer.status_code == 200
    assert [e.text for e in workspace.ephemerals] == ["Resolved"]


async def test_invalid_bodies(sandbox_url: str, workspace: Workspace) -> None:
    token = workspace.issue_response_url("U0ALICE", "C0INCIDENTS")
    async with httpx.AsyncClient() as http:
        empty = await http.post(f"{sandbox_url}/response/{token}", json={})
        broken = await http.post(
            f"{sandbox_url}/response/{token}", content=b"{", headers={"content-type": "application/json"}
        )
    assert (empty.status_code, empty.json()["error"]) == (400, "no_text")
    assert broken.status_code == 400
    # failed posts do not use up the url
    assert workspace.response_urls[token].uses == 0
