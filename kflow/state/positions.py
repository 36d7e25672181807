"""Where a source resumes: one SQLite file of stream positions under a state directory.

A source that reads a log the server does not track for it (a MySQL/MariaDB binlog, a
PostgreSQL slot it confirms itself, ...) stores the position of the last change whose
execution has finished, and resumes from it on the next ``kflow run``.

The directory is ``--state-dir``, else ``$KFLOW_STATE_DIR``, else ``.kflow/state`` (relative
to the working directory): :func:`state_dir`. The file is ``positions.sqlite`` in it.

API::

    store = PositionStore.open(state_dir(None))           # creates the directory and table
    key = PositionKey("debezium-state", "company.team", "orders_cdc", "realtime")
    store.load(key)                  # -> dict | None: the last position saved under key
    store.save(key, {"file": "binlog.000002", "pos": 4711, "gtid": "0-1-42"})
    store.delete(key)                # forget it (the next run starts afresh)
    store.close()

A position is any JSON-ready mapping; the store does not read it. ``save`` replaces the
whole value in one transaction (SQLite's journal makes it atomic: after a crash the file
holds the old value or the new one, never a mix). ``synchronous=NORMAL``: a saved position
survives a killed process; a power loss may lose the last few saves, which only moves
the position back (changes run again, none are skipped). The file is in WAL mode with a busy
timeout, so several kflow processes may share one state directory; each must use its own
key (two processes saving under one key would take turns overwriting it).

The caller decides *when* to save: :class:`FinishedPositions` keeps the positions of
changes in flight, in read order, and tells which position is safe to store (the one of the
last change such that it and every change before it have finished).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

DEFAULT_STATE_DIR = ".kflow/state"
STATE_DIR_ENV = "KFLOW_STATE_DIR"
FILE_NAME = "positions.sqlite"
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (
    state_name TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    flow_id    TEXT NOT NULL,
    trigger_id TEXT NOT NULL,
    position   TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (state_name, namespace, flow_id, trigger_id)
)
"""


def state_dir(option: str | os.PathLike[str] | None) -> Path:
    """The state directory: ``option`` (``--state-dir``), else ``$KFLOW_STATE_DIR``, else
    ``.kflow/state``."""
    if option:
        return Path(option)
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


@dataclass(frozen=True, slots=True)
class PositionKey:
    """Whose position: the trigger's ``stateName`` and the flow and trigger it belongs to."""

    state_name: str
    namespace: str
    flow_id: str
    trigger_id: str

    def __str__(self) -> str:
        return f"{self.state_name} of {self.namespace}.{self.flow_id} trigger {self.trigger_id}"


class PositionStore:
    """Positions by :class:`PositionKey` in one SQLite file; safe to call from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a process crash
        self._db.execute(_SCHEMA)

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> PositionStore:
        """The store of ``directory`` (created with its parents if missing)."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder / FILE_NAME)

    def load(self, key: PositionKey) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT position FROM positions WHERE state_name=? AND namespace=? "
                "AND flow_id=? AND trigger_id=?",
                _params(key),
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def save(self, key: PositionKey, position: Mapping[str, Any]) -> None:
        """Replace the position of ``key`` (atomically, durably)."""
        text = json.dumps(dict(position), sort_keys=True, separators=(",", ":"))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO positions VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (state_name, namespace, flow_id, trigger_id) "
                    "DO UPDATE SET position=excluded.position, updated_ms=excluded.updated_ms",
                    (*_params(key), text, int(time.time() * 1000)),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def delete(self, key: PositionKey) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM positions WHERE state_name=? AND namespace=? AND flow_id=? "
                "AND trigger_id=?",
                _params(key),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _params(key: PositionKey) -> tuple[str, str, str, str]:
    return (key.state_name, key.namespace, key.flow_id, key.trigger_id)


T = TypeVar("T")


class FinishedPositions(Generic[T]):
    """Positions of changes in read order, and the last one safe to store.

    :meth:`read` registers a change (under a token the caller chooses, e.g. the record) with
    the position to store once it and everything read before it have finished; several
    changes may share one position (the rows of one transaction: only the last of them
    carries it, the others pass ``None``). :meth:`finished` marks one done and returns the
    position that became safe, if any. Not thread-safe: call from one thread (or a lock).
    """

    def __init__(self) -> None:
        self._pending: OrderedDict[Hashable, tuple[T | None, bool]] = OrderedDict()
        self.safe: T | None = None

    def read(self, token: Hashable, position: T | None) -> None:
        self._pending[token] = (position, False)

    def passed(self, position: T) -> None:
        """A position reached with nothing to run (a transaction of tables not captured):
        safe as soon as everything read before it has finished."""
        if not self._pending:
            self.safe = position
        else:
            self._pending[object()] = (position, True)

    def finished(self, token: Hashable) -> T | None:
        """Mark ``token`` finished; the newly safe position, or None if it did not move."""
        entry = self._pending.get(token)
        if entry is None:
            return None
        self._pending[token] = (entry[0], True)
        moved: T | None = None
        while self._pending:
            first = next(iter(self._pending))
            position, done = self._pending[first]
            if not done:
                break
            del self._pending[first]
            if position is not None:
                moved = position
        if moved is not None:
            self.safe = moved
        return moved

    @property
    def in_flight(self) -> int:
        return sum(1 for _, done in self._pending.values() if not done)
