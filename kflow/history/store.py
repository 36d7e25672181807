"""The history file: one SQLite table of finished executions, shared safely by processes.

API::

    store = HistoryStore.open(path)        # creates the file (and directory) if needed
    store.insert([row, ...])               # one transaction per call
    store.prune(max_rows=10_000, max_age_s=7 * 86400)
    store.list(flow_id="orders", state="FAILED", since_ms=..., limit=50)
    store.get("3kq...")                    # the stored JSON record; a unique id prefix works
    store.close()

    HistoryStore.open_existing(path)       # for readers: a missing file is a HistoryError

The file is in WAL mode with a busy timeout: several writers (two ``kflow run`` processes)
and readers (``kflow executions``) may use it at once; a writer waits for another's
transaction instead of failing. ``synchronous=NORMAL``: a committed batch survives a killed
process; a power loss may lose the last batches.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kflow.errors import KflowError

FILE_NAME = "history.sqlite"
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    id          TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL,
    flow_id     TEXT NOT NULL,
    flow_path   TEXT,
    state       TEXT NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    replay_of   TEXT,
    record      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_end ON executions (end_ms);
CREATE INDEX IF NOT EXISTS executions_by_flow ON executions (namespace, flow_id, end_ms);
CREATE INDEX IF NOT EXISTS executions_by_state ON executions (state, end_ms);
"""

_COLUMNS = (
    "id, namespace, flow_id, flow_path, state, start_ms, end_ms, duration_ms, replay_of, record"
)


class HistoryError(KflowError):
    """The history file cannot be used (missing, not a history file, no such execution)."""


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One execution as stored: the columns queries filter on, and the JSON record."""

    id: str
    namespace: str
    flow_id: str
    flow_path: str | None
    state: str
    start_ms: int
    end_ms: int
    duration_ms: float
    replay_of: str | None
    record: str

    def values(self) -> tuple[object, ...]:
        return (
            self.id,
            self.namespace,
            self.flow_id,
            self.flow_path,
            self.state,
            self.start_ms,
            self.end_ms,
            self.duration_ms,
            self.replay_of,
            self.record,
        )


class HistoryStore:
    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> HistoryStore:
        """Open (creating) the history file at ``path`` for writing."""
        file = Path(path)
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            db = _connect(file)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            with db:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"history {file}: cannot open: {exc}") from exc
        return cls(file, db)

    @classmethod
    def open_existing(cls, path: str | os.PathLike[str]) -> HistoryStore:
        """Open a history file that must exist already (the ``kflow executions`` commands)."""
        file = Path(path)
        if not file.is_file():
            raise HistoryError(
                f"no execution history at {file} (kflow run writes it; see --history)"
            )
        try:
            db = _connect(file)
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.Error as exc:
            raise HistoryError(f"history {file}: cannot read: {exc}") from exc
        if "executions" not in tables:
            db.close()
            raise HistoryError(f"{file} is not a kflow execution history")
        return cls(file, db)

    def insert(self, rows: list[HistoryRow]) -> None:
        """Store ``rows`` in one transaction (an execution stored again is replaced)."""
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO executions ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [row.values() for row in rows],
            )

    def prune(
        self, *, max_rows: int | None = None, max_age_s: float | None = None, now_ms: int
    ) -> int:
        """Delete executions that ended more than ``max_age_s`` ago, then all but the
        ``max_rows`` that ended last; returns how many were deleted."""
        deleted = 0
        with self._db:
            if max_age_s is not None:
                cutoff = now_ms - int(max_age_s * 1000)
                deleted += self._db.execute(
                    "DELETE FROM executions WHERE end_ms < ?", (cutoff,)
                ).rowcount
            if max_rows is not None:
                deleted += self._db.execute(
                    "DELETE FROM executions WHERE id IN (SELECT id FROM executions "
                    "ORDER BY end_ms DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (max_rows,),
                ).rowcount
        return deleted

    def list(
        self,
        *,
        flow_id: str | None = None,
        namespace: str | None = None,
        state: str | None = None,
        since_ms: int | None = None,
        limit: int | None = 50,
    ) -> list[HistoryRow]:
        """Executions matching every filter given, the last to end first."""
        where: list[str] = []
        params: list[object] = []
        for column, value in (("flow_id", flow_id), ("namespace", namespace), ("state", state)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since_ms is not None:
            where.append("end_ms >= ?")
            params.append(since_ms)
        sql = f"SELECT {_COLUMNS} FROM executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY end_ms DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [HistoryRow(*r) for r in self._db.execute(sql, params)]

    def get(self, execution_id: str) -> HistoryRow:
        """The execution ``execution_id`` (or the one whose id starts with it)."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM executions WHERE id = ?", (execution_id,)
        ).fetchall()
        if not rows:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM executions WHERE id >= ? AND id < ? LIMIT 2",
                (execution_id, execution_id + "\U0010ffff"),
            ).fetchall()
        if len(rows) == 1:
            return HistoryRow(*rows[0])
        if rows:
            raise HistoryError(f"execution id {execution_id!r} is ambiguous in {self.path}")
        raise HistoryError(f"no execution {execution_id!r} in {self.path}")

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM executions").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def _connect(file: Path) -> sqlite3.Connection:
    db = sqlite3.connect(file, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    return db
