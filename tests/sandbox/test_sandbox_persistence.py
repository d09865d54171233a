"""Snapshots and the state file: what the sandbox keeps across `make run` restarts."""

import json
from pathlib import Path

import pytest

from bot.sandbox import SlackError, Workspace

from .support import FakeClock


def busy_workspace(clock: FakeClock) -> Workspace:
    ws = Workspace(clock=clock)
    channel = ws.create_channel("inc-1")
    ws.invite(channel.id, ["U0ALICE"])
    ws.set_topic(channel.id, "SEV1")
    message = ws.post_message(
        channel.id, text="declared", blocks=[{"type": "divider"}], metadata={"event_type": "x", "event_payload": {}}
    )
    ws.add_reaction(channel.id, message.ts, "eyes", actor="U0ALICE")
    ws.pin(channel.id, message.ts)
    ws.post_ephemeral(channel.id, "U0ALICE", text="psst")
    ws.open_view(ws.issue_trigger("U0ALICE"), {"type": "modal", "title": {"type": "plain_text", "text": "T"}})
    ws.issue_response_url("U0ALICE", channel.id)
    return ws


def test_snapshot_round_trip(clock: FakeClock) -> None:
    original = busy_workspace(clock)
    data = json.loads(json.dumps(original.snapshot()))
    restored = Workspace.from_snapshot(data, clock=clock)
    assert restored.snapshot() == original.snapshot()
    # ids and timestamps continue instead of colliding with the restored ones
    assert restored.create_channel("inc-2").id not in original.channels
    last_ts = original.messages[restored.find_channel("inc-1").id][-1].ts
    assert restored.post_message("C0INCIDENTS", text="later").ts > last_ts


def test_unknown_snapshot_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        Workspace.from_snapshot({"version": 99})


def test_state_file_is_written_on_every_change(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sandbox.json"
    ws = Workspace.open(path, clock=clock)
    assert path.exists()
    ws.create_channel("inc-1")
    on_disk = json.loads(path.read_text())
    assert "inc-1" in [c["name"] for c in on_disk["channels"]]
    assert [p.name for p in tmp_path.iterdir()] == ["sandbox.json"]


def test_restart_keeps_the_workspace(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "state" / "sandbox.json"
    first = Workspace.open(path, clock=clock)
    channel = first.create_channel("inc-9")
    first.post_message(channel.id, text="before restart")
    second = Workspace.open(path, clock=clock)
    assert [m.text for m in second.messages[channel.id] if m.subtype is None] == ["before restart"]
    with pytest.raises(SlackError) as caught:
        second.create_channel("inc-9")
    assert caught.value.error == "name_taken"


def test_failed_operations_do_not_write(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sandbox.json"
    ws = Workspace.open(path, clock=clock)
    before = path.read_text()
    with pytest.raises(SlackError):
        ws.create_channel("Bad Name")
    assert path.read_text() == before


def test_reset_reseeds(clock: FakeClock) -> None:
    ws = busy_workspace(clock)
    ws.faults.slack_down()
    ws.reset()
    assert ws.snapshot()["channels"] == Workspace(clock=clock).snapshot()["channels"]
    assert not ws.faults.active()


def test_listeners_hear_about_changes(clock: FakeClock) -> None:
    ws = Workspace(clock=clock)
    seen: list[int] = []
    seeded = len(ws.channels)
    ws.add_listener(lambda: seen.append(len(ws.channels)))
    ws.create_channel("inc-1")
    assert seen == [seeded + 1]


def test_a_workspace_saved_before_oncall_gains_the_oncall_channel(clock: FakeClock) -> None:
    old = Workspace(clock=clock)
    del old.channels["C0ONCALL"], old.messages["C0ONCALL"]
    loaded = Workspace.from_snapshot(old.snapshot(), clock=clock)
    channel = loaded.channel_by_name("platform-oncall")
    assert channel is not None and loaded.bot_user_id not in channel.members
