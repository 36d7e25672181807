"""``kflow run --watch``: which flow files changed, appeared or went away since last asked.

Polling, not inotify: it works the same on every file system (bind mounts, NFS, a
Kubernetes ConfigMap's symlink swap) and costs one ``stat`` per file per poll. A file is
reported once its content has been the same for two polls in a row, so a file caught
half-written by an editor is read once it is whole; a file whose bytes did not change
(``touch``, a save without edits) is not reported at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kflow.cli.flow_files import flow_files


def file_digest(path: Path) -> str | None:
    """The SHA-256 of the file's bytes, or None when it cannot be read (gone, a directory)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class Changes:
    changed: tuple[Path, ...] = ()  # new content, or a new file
    removed: tuple[Path, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed)


@dataclass
class FlowFileWatch:
    """Watches the flow arguments of ``kflow run`` (files and directories).

    :meth:`poll` compares the files as they are now with the previous poll and returns
    each file whose content settled on something not reported before: an edit is reported
    once, whether or not the run could use it.
    """

    arguments: Sequence[Path]
    _reported: dict[Path, str] = field(default_factory=dict)
    _seen: dict[Path, str | None] = field(default_factory=dict)  # the previous poll's view

    def files(self) -> list[Path]:
        """The flow files the arguments name now (a named file that is gone included)."""
        return [p.resolve() for p in flow_files(self.arguments)]

    def start(self) -> None:
        """Take the files as they are now as reported (the run starts with them)."""
        self._seen = {p: file_digest(p) for p in self.files()}
        self._reported = {p: d for p, d in self._seen.items() if d is not None}

    def digest_of(self, path: Path) -> str | None:
        """The content of ``path`` as last reported (for the run: the version it started)."""
        return self._reported.get(path)

    def poll(self) -> Changes:
        now: dict[Path, str | None] = {p: file_digest(p) for p in self.files()}
        for path in self._reported:
            now.setdefault(path, None)  # a file gone from its directory
        changed: list[Path] = []
        removed: list[Path] = []
        for path, digest in now.items():
            settled = path in self._seen and self._seen[path] == digest
            if not settled or digest == self._reported.get(path):
                continue
            if digest is None:
                removed.append(path)
                del self._reported[path]
            else:
                changed.append(path)
                self._reported[path] = digest
        self._seen = now
        return Changes(tuple(changed), tuple(removed))
