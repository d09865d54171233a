"""The playbooks in force: loaded from PLAYBOOKS_DIR, reloaded on change, last good version kept.

A file that becomes invalid does not take its playbook away from the next incident: the version
that last loaded cleanly stays in force, and the log and `/readyz` say which files are stale.
"""

from dataclasses import dataclass, field
from pathlib import Path

import structlog

from bot.playbooks.loader import load_folder, playbook_files
from bot.playbooks.problems import Level, Problem
from bot.playbooks.schema import Playbook

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Snapshot:
    playbooks: dict[str, Playbook] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)
    stale: dict[str, Path] = field(default_factory=dict)  # id -> file kept from an earlier load


class PlaybookRegistry:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.current = Snapshot()
        self._signature: tuple[tuple[str, int, int], ...] | None = None

    def playbooks(self) -> list[Playbook]:
        return [self.current.playbooks[key] for key in sorted(self.current.playbooks)]

    def get(self, playbook_id: str) -> Playbook | None:
        return self.current.playbooks.get(playbook_id)

    def _files_signature(self) -> tuple[tuple[str, int, int], ...]:
        signature = []
        for path in playbook_files(self.directory) if self.directory.is_dir() else []:
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
        errors = [p for p in result.errors]
        broken = {Path(p.file) for p in errors}
        playbooks, files = dict(result.playbooks), dict(result.files)
        stale: dict[str, Path] = {}
        for playbook_id, path in self.current.files.items():
            if path in broken and playbook_id not in playbooks:
                playbooks[playbook_id] = self.current.playbooks[playbook_id]
                files[playbook_id] = path
                stale[playbook_id] = path
        self.current = Snapshot(playbooks, files, errors, stale)
        for problem in errors:
            log.error("playbook_invalid", problem=problem.format())
        for playbook_id, path in stale.items():
            log.warning("playbook_kept_last_good", playbook=playbook_id, file=str(path))
        log.info("playbooks_loaded", count=len(playbooks), invalid_files=len(broken), kept=len(stale))
        return self.current

    def health(self) -> tuple[str, bool, str]:
        """For /readyz: stale or invalid files are reported, but Warroom stays ready (it still works)."""
        snapshot = self.current
        if not snapshot.errors:
            return "playbooks", True, f"{len(snapshot.playbooks)} loaded"
        files = sorted({p.file for p in snapshot.errors if p.severity is Level.ERROR})
        kept = f"; last good version kept for {', '.join(sorted(snapshot.stale))}" if snapshot.stale else ""
        return "playbooks", True, f"{len(snapshot.playbooks)} loaded; invalid: {', '.join(files)}{kept}"
