"""The playbooks and on-call schedules in force: loaded from PLAYBOOKS_DIR, reloaded on change.

A file that becomes invalid does not take its playbook (or schedule) away: the version that
last loaded cleanly stays in force, and the log and `/readyz` say which files are stale.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import structlog

from bot.oncall.loader import load_schedules, schedule_files
from bot.oncall.schema import Schedule
from bot.playbooks.loader import load_folder, playbook_files
from bot.playbooks.problems import Level, Problem
from bot.playbooks.schema import Playbook

T = TypeVar("T")

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Snapshot:
    playbooks: dict[str, Playbook] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)
    stale: dict[str, Path] = field(default_factory=dict)  # id -> file kept from an earlier load
    schedules: dict[str, Schedule] = field(default_factory=dict)
    schedule_files: dict[str, Path] = field(default_factory=dict)
    stale_schedules: dict[str, Path] = field(default_factory=dict)

    def schedule_for_service(self, service: str | None) -> Schedule | None:
        if not service:
            return None
        return next((s for s in self.schedules.values() if service in s.services), None)


class PlaybookRegistry:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.current = Snapshot()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        # Called with each new snapshot (the handoff engine reschedules its jobs).
        self.on_reload: list[Callable[[Snapshot], None]] = []

    def schedules(self) -> list[Schedule]:
        return [self.current.schedules[key] for key in sorted(self.current.schedules)]

    def playbooks(self) -> list[Playbook]:
        return [self.current.playbooks[key] for key in sorted(self.current.playbooks)]

    def get(self, playbook_id: str) -> Playbook | None:
        return self.current.playbooks.get(playbook_id)

    def _files_signature(self) -> tuple[tuple[str, int, int], ...]:
        signature = []
        files = [*playbook_files(self.directory), *schedule_files(self.directory)] if self.directory.is_dir() else []
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            signature.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(signature)

    def reload_if_changed(self) -> bool:
        """Cheap enough to call every few seconds: only stats the files."""
        if self._files_signature() == self._signature:
            return False
        self.reload()
        return True

    def reload(self) -> Snapshot:
        self._signature = self._files_signature()
        result = load_folder(self.directory)
        loaded = load_schedules(self.directory)
        errors = [p for p in [*result.problems, *loaded.problems] if p.severity is Level.ERROR]
        broken = {Path(p.file) for p in errors}
        previous = self.current
        playbooks, files, stale = _keep_last_good(
            result.playbooks, result.files, previous.playbooks, previous.files, broken
        )
        schedules, schedule_paths, stale_schedules = _keep_last_good(
            loaded.schedules, loaded.files, previous.schedules, previous.schedule_files, broken
        )
        self.current = Snapshot(playbooks, files, errors, stale, schedules, schedule_paths, stale_schedules)
        for problem in errors:
            log.error("playbook_invalid", problem=problem.format())
        for kept_id, path in {**stale, **stale_schedules}.items():
            log.warning("playbook_kept_last_good", id=kept_id, file=str(path))
        log.info(
            "playbooks_loaded",
            count=len(playbooks),
            schedules=len(schedules),
            invalid_files=len(broken),
            kept=len(stale) + len(stale_schedules),
        )
        for listener in self.on_reload:
            listener(self.current)
        return self.current

    def health(self) -> tuple[str, bool, str]:
        """For /readyz: stale or invalid files are reported, but Warroom stays ready (it still works)."""
        snapshot = self.current
        if not snapshot.errors:
            return "playbooks", True, f"{len(snapshot.playbooks)} loaded{_schedules(snapshot)}"
        files = sorted({p.file for p in snapshot.errors if p.severity is Level.ERROR})
        stale = sorted({*snapshot.stale, *snapshot.stale_schedules})
        kept = f"; last good version kept for {', '.join(stale)}" if stale else ""
        loaded = f"{len(snapshot.playbooks)} loaded{_schedules(snapshot)}"
        return "playbooks", True, f"{loaded}; invalid: {', '.join(files)}{kept}"


def _schedules(snapshot: Snapshot) -> str:
    count = len(snapshot.schedules)
    return f", {count} on-call schedule{'s' * (count != 1)}" if count else ""


def _keep_last_good(
    new: dict[str, T], new_files: dict[str, Path], old: dict[str, T], old_files: dict[str, Path], broken: set[Path]
) -> tuple[dict[str, T], dict[str, Path], dict[str, Path]]:
    """The new items, plus the old version of each item whose file is now broken: (items, files, stale)."""
    items, files, stale = dict(new), dict(new_files), {}
    for item_id, path in old_files.items():
        if path in broken and item_id not in items:
            items[item_id], files[item_id], stale[item_id] = old[item_id], path, path
    return items, files, stale
