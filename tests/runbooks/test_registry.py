"""The playbooks in force: reloaded on change and on SIGHUP, the last good version kept when a file breaks."""

import asyncio
import os
import signal
import time
from pathlib import Path

from bot.playbooks.registry import PlaybookRegistry
from tests.support.live import live_stack, wait_for

GOOD = """
id: disk-full
title: Disk full
match: {any: [{service: payments}]}
steps:
  - {id: verify, title: "Verify {{ alert.title }}"}
"""


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = time.time() + 1  # a different mtime even on coarse file systems
    os.utime(path, (stamp, stamp))


def test_a_broken_edit_keeps_the_last_good_version_and_says_so(tmp_path: Path) -> None:
    registry = PlaybookRegistry(tmp_path)
    _write(tmp_path / "disk.yaml", GOOD)
    assert registry.reload_if_changed() and [p.id for p in registry.playbooks()] == ["disk-full"]
    assert not registry.reload_if_changed()  # nothing changed: not even re-read
    _write(tmp_path / "disk.yaml", GOOD.replace("title: Disk full", "title: [unclosed"))
    assert registry.reload_if_changed()
    assert [p.title for p in registry.playbooks()] == ["Disk full"]  # still the last good one
    name, ready, detail = registry.health()
    assert name == "playbooks" and ready and "invalid:" in detail and "last good version kept for disk-full" in detail
    _write(tmp_path / "disk.yaml", GOOD.replace("title: Disk full", "title: Disk nearly full"))
    registry.reload_if_changed()
    assert [p.title for p in registry.playbooks()] == ["Disk nearly full"]
    assert registry.health() == ("playbooks", True, "1 loaded")


def test_a_deleted_file_takes_its_playbook_away(tmp_path: Path) -> None:
    registry = PlaybookRegistry(tmp_path)
    _write(tmp_path / "disk.yaml", GOOD)
    registry.reload()
    (tmp_path / "disk.yaml").unlink()
    registry.reload_if_changed()
    assert registry.playbooks() == []


async def test_the_server_reloads_on_change_and_on_sighup_and_reports_in_readyz(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with live_stack(sqlite_url, playbooks_dir=str(tmp_path)) as stack:
        registry: PlaybookRegistry = stack.app.state.playbooks
        assert registry.playbooks() == []
        _write(tmp_path / "disk.yaml", GOOD)

        async def loaded() -> bool:
            return [p.id for p in registry.playbooks()] == ["disk-full"]

        await wait_for(loaded, timeout=10, what="the edit to be picked up")
        (tmp_path / "second.yaml").write_text(GOOD.replace("disk-full", "disk-second"))
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0.2)
        assert sorted(p.id for p in registry.playbooks()) == ["disk-full", "disk-second"]
        _write(tmp_path / "second.yaml", "id: [")
        await wait_for(lambda: _invalid_reported(stack), timeout=10, what="readyz to report the invalid file")  # type: ignore[arg-type,return-value]


async def _invalid_reported(stack: object) -> bool:
    ready = (await stack.http.get("/readyz")).json()  # type: ignore[attr-defined]
    return bool(ready["ready"]) and "second.yaml" in ready["checks"]["playbooks"]


def test_health_counts_the_on_call_schedules_too(tmp_path: Path) -> None:
    (tmp_path / "oncall").mkdir()
    (tmp_path / "oncall" / "ops.yaml").write_text(
        'id: ops\nchannel: "#ops"\n'
        'rotation: {members: [a@example.com], shift: 1d, handoff: "09:00", start: 2026-01-01}\n'
    )
    registry = PlaybookRegistry(tmp_path)
    registry.reload()
    assert registry.health() == ("playbooks", True, "0 loaded, 1 on-call schedule")
