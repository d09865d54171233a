"""File uploads through slack_sdk's real files_upload_v2: upload URL, bytes, completion, errors, limits, state."""

import json

import httpx
import pytest
from fastapi import FastAPI
from slack_sdk.errors import SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import Workspace, create_sandbox_app, serve_app
from bot.sandbox.files import UPLOAD_MAX
from bot.sandbox.limits import TIER_4

from .support import SIGNING_SECRET, TOKEN, FakeClock, error_of

MARKDOWN = "# Postmortem: incident 7\n\nUnicode survives: ✓ — and so do <tags> & ampersands.\n"


def _channel_with_bot(ws: Workspace, name: str = "inc-7-db") -> str:
    return ws.create_channel(name).id


async def test_files_upload_v2_shares_the_file_in_the_channel(
    slack: AsyncWebClient, workspace: Workspace, sandbox_url: str
) -> None:
    channel = _channel_with_bot(workspace)
    done = await slack.files_upload_v2(
        channel=channel,
        content=MARKDOWN,
        filename="postmortem-incident-7-v2.md",
        title="Postmortem v2",
        initial_comment="Approved postmortem, version 2",
    )
    file = done["file"]
    assert file["name"] == "postmortem-incident-7-v2.md" and file["title"] == "Postmortem v2"
    assert file["size"] == len(MARKDOWN.encode()) and file["mimetype"] == "text/markdown"
    assert file["channels"] == [channel] and file["user"] == "U0WARROOM"

    history = await slack.conversations_history(channel=channel)
    shared = history["messages"][0]
    assert shared["text"] == "Approved postmortem, version 2" and shared["upload"] is True
    assert [f["id"] for f in shared["files"]] == [file["id"]]
    assert workspace.file_bytes(file["id"]) == MARKDOWN.encode()
    # the three steps of the v2 flow, in order, as the sandbox saw them
    methods = [c.method for c in workspace.calls]
    assert methods == [
        "files.getUploadURLExternal",
        "upload_url",
        "files.completeUploadExternal",
        "conversations.history",
    ]

    info = await slack.files_info(file=file["id"])
    assert info["file"]["id"] == file["id"] and info["file"]["channels"] == [channel]
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        content = await http.get(f"/_control/files/{file['id']}/content")
        listed = (await http.get("/_control/files")).json()
    assert content.status_code == 200 and content.text == MARKDOWN
    assert content.headers["content-type"] == "text/plain; charset=utf-8"
    assert [f["id"] for f in listed["files"]] == [file["id"]]


async def test_upload_as_a_thread_reply_and_without_a_channel(slack: AsyncWebClient, workspace: Workspace) -> None:
    channel = _channel_with_bot(workspace)
    parent = await slack.chat_postMessage(channel=channel, text="summary")
    await slack.files_upload_v2(channel=channel, content="x", filename="a.txt", thread_ts=parent["ts"])
    thread = await slack.conversations_replies(channel=channel, ts=parent["ts"])
    assert [m.get("files", [{}])[0].get("name") for m in thread["messages"]] == [None, "a.txt"]

    private = await slack.files_upload_v2(content="secret", filename="b.txt")
    assert private["file"]["channels"] == [] and workspace.file_bytes(private["file"]["id"]) == b"secret"
    assert len(workspace.messages[channel]) == 3  # join, summary, the reply: nothing else was posted


async def test_completion_errors_are_slacks(slack: AsyncWebClient, workspace: Workspace) -> None:
    channel = _channel_with_bot(workspace)
    # the bot is not a member of #general: Slack refuses to share there
    assert await error_of(slack.files_upload_v2(channel="C0GENERAL", content="x", filename="a.txt")) == (
        "not_in_channel"
    )
    assert await error_of(slack.files_upload_v2(channel="C0NOSUCHONE", content="x", filename="a.txt")) == (
        "invalid_channel"
    )
    # a user id is not a channel id: Slack rejects it by pattern
    assert await error_of(slack.files_upload_v2(channel="U0ALICE", content="x", filename="a.txt")) == (
        "invalid_arguments"
    )
    refused = [c for c in workspace.calls if c.method == "files.completeUploadExternal"]
    assert [c.error for c in refused] == ["not_in_channel", "invalid_channel", "invalid_arguments"]
    assert not any(f.completed for f in workspace.files.values())  # a refused completion shares nothing

    unknown = slack.files_completeUploadExternal(files=[{"id": "F0NOPE", "title": "x"}], channel_id=channel)
    assert await error_of(unknown) == "file_not_found"
    # asked for a URL but never sent the bytes
    started = await slack.files_getUploadURLExternal(filename="a.txt", length=3)
    early = slack.files_completeUploadExternal(files=[{"id": started["file_id"]}], channel_id=channel)
    assert await error_of(early) == "file_not_found"
    done = await slack.files_upload_v2(channel=channel, content="abc", filename="a.txt")
    again = slack.files_completeUploadExternal(files=[{"id": done["file"]["id"]}], channel_id=channel)
    assert await error_of(again) == "file_not_found"  # completion happens once
    assert await error_of(slack.files_info(file="F0NOPE")) == "file_not_found"
    assert await error_of(slack.files_info(file=started["file_id"])) == "file_not_found"


async def test_upload_url_errors(slack: AsyncWebClient, workspace: Workspace, sandbox_url: str) -> None:
    assert await error_of(slack.files_getUploadURLExternal(filename="a.txt", length=0)) == "missing_argument"
    too_big = slack.files_getUploadURLExternal(filename="a.bin", length=UPLOAD_MAX + 1)
    assert await error_of(too_big) == "file_upload_size_restricted"
    snippet = slack.files_getUploadURLExternal(filename="a.py", length=2 * 1024 * 1024, snippet_type="python")
    assert await error_of(snippet) == "snippet_too_large"
    long_alt = slack.files_getUploadURLExternal(filename="a.png", length=5, alt_txt="x" * 1001)
    assert await error_of(long_alt) == "alt_txt_too_large"

    started = await slack.files_getUploadURLExternal(filename="a.txt", length=5)
    url = started["upload_url"]
    assert url.startswith(f"{sandbox_url}/upload/v1/")
    async with httpx.AsyncClient() as http:
        assert (await http.post(url, content=b"four")).status_code == 400  # not the promised length
        assert (await http.post(f"{sandbox_url}/upload/v1/guessed", content=b"12345")).status_code == 404
        multipart = await http.post(url, files={"file": ("a.txt", b"12345")})
        assert multipart.status_code == 400 and "raw request body" in multipart.text
        ok = await http.post(url, content=b"12345")
        assert (ok.status_code, ok.text, ok.headers["content-type"]) == (200, "OK - 5", "text/plain; charset=utf-8")
        big = await http.post(url, content=b"x" * (UPLOAD_MAX + 1))
        assert big.status_code == 413
    assert workspace.file_bytes(started["file_id"]) == b"12345"  # the refused bodies changed nothing


async def test_a_failing_upload_host_fails_files_upload_v2(slack: AsyncWebClient, workspace: Workspace) -> None:
    channel = _channel_with_bot(workspace)
    workspace.faults.add("upload_url", status=503, times=1)
    with pytest.raises(SlackRequestError, match="status: 503"):
        await slack.files_upload_v2(channel=channel, content="x", filename="a.txt")
    assert not [c for c in workspace.calls if c.method == "files.completeUploadExternal"]
    assert workspace.messages[channel][-1].files == []


async def test_upload_methods_are_tier_4(slack: AsyncWebClient) -> None:
    for _ in range(TIER_4):
        await slack.files_getUploadURLExternal(filename="a.txt", length=1)
    # the clock is frozen, so the 101st call in the same minute is over the limit
    assert await error_of(slack.files_getUploadURLExternal(filename="a.txt", length=1)) == "ratelimited"


async def test_upload_url_points_under_the_mount_path(workspace: Workspace) -> None:
    # in sandbox mode the workspace is mounted at /sandbox on the bot's own server
    outer = FastAPI()
    outer.mount("/sandbox", create_sandbox_app(workspace, signing_secret=SIGNING_SECRET))
    channel = _channel_with_bot(workspace)
    async with serve_app(outer) as url:
        slack = AsyncWebClient(token=TOKEN, base_url=f"{url}/sandbox/api/")
        started = await slack.files_getUploadURLExternal(filename="a.txt", length=2)
        assert started["upload_url"].startswith(f"{url}/sandbox/upload/v1/")
        done = await slack.files_upload_v2(channel=channel, content="hi", filename="a.txt")
    assert workspace.file_bytes(done["file"]["id"]) == b"hi"


def test_files_survive_a_snapshot_and_old_snapshots_load(clock: FakeClock) -> None:
    ws = Workspace(clock=clock)
    channel = ws.create_channel("inc-7")
    file = ws.start_upload("pm.md", 3)
    ws.receive_upload(file.upload_token, b"abc")
    ws.complete_upload([{"id": file.id, "title": "PM"}], channel_ids=[channel.id], initial_comment="here")
    data = json.loads(json.dumps(ws.snapshot()))
    restored = Workspace.from_snapshot(data, clock=clock)
    assert restored.snapshot() == ws.snapshot()
    assert restored.file_bytes(file.id) == b"abc" and restored.messages[channel.id][-1].files == [file.id]

    older = {k: v for k, v in data.items() if k != "files"}
    for messages in older["messages"].values():
        for message in messages:
            message.pop("files")
    assert Workspace.from_snapshot(older, clock=clock).files == {}
    ws.reset()
    assert ws.files == {}
