"""One active binlog reader per stored position: a named lock on the MySQL/MariaDB server.

Two ``kflow run`` processes of one flow (failover replicas) would both read the binlog and
overwrite each other's stored position. Before it reads, the trigger takes the server's
named lock ``GET_LOCK('kflow-cdc-<hash of the position key>')`` on a connection of its own
and keeps that connection open while it runs. The server releases the lock when that
connection ends, whatever ended it (a clean stop, a ``kill -9``, a lost host), so a second
process waits as a standby, asking again every ``STANDBY_POLL_S``, and takes over as soon
as the first is gone; it then reads the position from the state store (which the two must
share for the takeover to resume where the first stopped).

A keeper thread checks the lock every ``KEEP_EVERY_S`` (which also keeps the connection
from idling into ``wait_timeout``). When its connection was lost (a server restart), it
takes the lock again; when another process holds it by then, the run ends with one line:
that process reads now, and reading on would run every change twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from typing import Any

from kflow.connectors.mysql import MysqlSettings, connect, mysql_errors
from kflow.state.positions import PositionKey

STANDBY_POLL_S = 2.0
"""How long one ``GET_LOCK`` waits on the server before the standby looks again."""
KEEP_EVERY_S = 10.0


def lock_name(key: PositionKey) -> str:
    """A server lock name (at most 64 characters) for one stored position."""
    identity = f"{key.state_name}|{key.namespace}|{key.flow_id}|{key.trigger_id}"
    return "kflow-cdc-" + hashlib.sha256(identity.encode()).hexdigest()[:32]


class ReaderLease:
    """The named lock of one position key, held on a connection of its own."""

    def __init__(self, settings: MysqlSettings, key: PositionKey, prefix: str) -> None:
        self.settings = settings
        self.key = key
        self.name = lock_name(key)
        self.prefix = prefix
        self._conn: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def acquire(self, wait_s: float) -> bool:
        """Take the lock, waiting up to ``wait_s`` on the server; False when another
        connection holds it. A connection error is raised (``MysqlError``)."""
        with self._lock:
            if self._conn is None:
                self._conn = connect(self.settings, self.prefix)
            try:
                with mysql_errors(self.settings, self.prefix):
                    return self._get_lock(wait_s)
            except Exception:
                self._drop()
                raise

    def holder(self) -> int | None:
        """The server connection id holding the lock now (None: free or unknown)."""
        with self._lock, contextlib.suppress(Exception):
            if self._conn is None:
                self._conn = connect(self.settings, self.prefix)
            with self._conn.cursor() as cur:
                cur.execute("SELECT IS_USED_LOCK(%s) AS holder", (self.name,))
                row = cur.fetchone()
            return None if row is None or row["holder"] is None else int(row["holder"])
        return None

    def keep(self, on_lost: Callable[[str], None]) -> None:
        """Check the lock in a thread until :meth:`release`; ``on_lost(line)`` when another
        process holds it after this one's connection was lost."""
        self._keeper = threading.Thread(
            target=self._keep, args=(on_lost,), name="kflow-mysql-lease", daemon=True
        )
        self._keeper.start()

    def release(self) -> None:
        self._stop.set()
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception), self._conn.cursor() as cur:
                    cur.execute("SELECT RELEASE_LOCK(%s)", (self.name,))
                self._drop()

    def _get_lock(self, wait_s: float) -> bool:
        with self._conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, %s) AS got", (self.name, wait_s))
            row = cur.fetchone()
        return bool(row and row["got"] == 1)

    def _still_held(self) -> bool:
        with self._conn.cursor() as cur:
            cur.execute("SELECT IS_USED_LOCK(%s) = CONNECTION_ID() AS mine", (self.name,))
            row = cur.fetchone()
        return bool(row and row["mine"] == 1)

    def _keep(self, on_lost: Callable[[str], None]) -> None:
        while not self._stop.wait(KEEP_EVERY_S):
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    if self._conn is not None and self._still_held():
                        continue
                except Exception:
                    self._drop()
                try:  # the connection was lost: the server released the lock
                    if self._conn is None:
                        self._conn = connect(self.settings, self.prefix)
                    if self._get_lock(0):
                        continue
                except Exception:
                    self._drop()
                    continue  # the server is not back yet: try again later
            on_lost(
                f"another kflow took over the binlog position {self.key} (server lock "
                f"{self.name}) while the connection was lost; this process stops reading"
            )
            return

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
