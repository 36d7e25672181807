"""Debezium MySQL ``RealtimeTrigger`` on MySQL/MariaDB: one execution per row change.

kflow reads the server's binlog itself (python-mysql-replication) instead of running
Debezium, and gives each change the ``trigger.stream`` / ``trigger.data`` Kestra's trigger
gives (:mod:`kflow.plugins.debezium_shape`). What it does differently:

- **Stored after the execution.** The binlog position (file, offset, MariaDB GTID) is
  stored in the local state store (:mod:`kflow.state.positions`, under ``stateName``, the
  flow and the trigger id) only once the executions of every change up to it have
  finished: a ``kill -9`` or a crash redelivers what was in flight, never less. Kestra
  stores Debezium's offsets when the trigger stops (``offsetsCommitMode: ON_STOP``) or
  after each batch is *emitted*; kflow accepts both values and always stores finished work.
- **Whole transactions.** The changes of a transaction are handed over after its commit
  event, with the position after it; a lost connection or a server restart resumes right
  after the last transaction read (one line says so), so nothing is read twice in a run.
- **Per-row order.** Changes of one row (table and primary key) run in binlog order, other
  rows concurrently (``--concurrency``).
- **No schema history**: table definitions come from ``information_schema``
  (:mod:`kflow.plugins.debezium_mysql_schema` says what that means for DDL while behind).

``snapshotMode`` (Debezium's names; the deprecated ``SCHEMA_ONLY`` is ``NO_DATA`` and
``SCHEMA_ONLY_RECOVERY`` is ``RECOVERY``):

- ``INITIAL`` (default): no stored position: read the captured tables (op ``r``) in one
  consistent snapshot, then stream from the snapshot's binlog position.
- ``INITIAL_ONLY``: the same snapshot, then the run ends (no streaming).
- ``WHEN_NEEDED``: a snapshot when there is no stored position or the server no longer
  has its binlog file (purged).
- ``NEVER``: no snapshot; without a stored position, stream from the oldest binlog kept.
- ``NO_DATA``: no snapshot; without a stored position, stream from the binlog's end now.
- ``ALWAYS``: a snapshot at every start, then stream from it.
- ``RECOVERY``: Debezium rebuilds its schema history; kflow keeps none, so it resumes
  from the stored position (without one, as ``NO_DATA``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from kflow.catalog.debezium import MYSQL_SNAPSHOT_RENAMED
from kflow.connectors.masking import mask
from kflow.connectors.mysql import (
    MysqlError,
    MysqlSettings,
    check_binlog,
    connect,
    settings_from,
)
from kflow.engine.events import StreamStatus, TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.source import Outcome, RecordSource, SourceOptions
from kflow.errors import FlowError, KflowError
from kflow.expr import render_value
from kflow.flow.model import TriggerDef
from kflow.plugins.debezium_mysql_binlog import ChangeReader, SourceInfo, Stopped
from kflow.plugins.debezium_mysql_lease import STANDBY_POLL_S, ReaderLease
from kflow.plugins.debezium_mysql_record import BinlogPosition, MysqlChange, key_text
from kflow.plugins.debezium_shape import Change, ShapeOptions, TableFilter, shape
from kflow.state.positions import FinishedPositions, PositionKey, PositionStore, state_dir

SNAPSHOT_MODES = (
    "INITIAL",
    "INITIAL_ONLY",
    "WHEN_NEEDED",
    "NEVER",
    "NO_DATA",
    "ALWAYS",
    "RECOVERY",
)
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.5, 10.0
MAX_BATCH = 500
IDLE_SAVE_S = 1.0
"""The position after transactions of tables not captured is stored at most this often."""
STOP_WAIT_S = 5.0


def default_server_id(namespace: str, flow_id: str, trigger_id: str) -> int:
    """A stable replica id from 5400 to 6400 (Kestra's range) for the flow's trigger."""
    digest = hashlib.sha256(f"{namespace}|{flow_id}|{trigger_id}".encode()).digest()
    return 5400 + int.from_bytes(digest[:4], "big") % 1001


def snapshot_mode(value: Any, where: str) -> str:
    mode = str(value or "INITIAL").upper()
    mode = MYSQL_SNAPSHOT_RENAMED.get(mode, mode)
    if mode not in SNAPSHOT_MODES:
        raise FlowError(
            f"{where}: snapshotMode {value!r} is not one of {', '.join(SNAPSHOT_MODES)}"
        )
    return mode


class RealtimeTrigger(RecordSource):
    """Streams the row changes of the captured MySQL/MariaDB tables of one flow trigger."""

    kind = "mysql"

    def __init__(
        self,
        trigger: TriggerDef,
        *,
        variables: Mapping[str, Any] | None = None,
        prefetch: int = 64,
        state_directory: str | None = None,
    ) -> None:
        variables = dict(variables or {})
        props = render_value(trigger.props, variables)
        flow = variables.get("flow") or {}
        namespace = str(flow.get("namespace") or "kflow")
        flow_id = str(flow.get("id") or "flow")
        self.trigger_id = trigger.id
        where = self._where()
        try:
            self.settings: MysqlSettings = settings_from(props, where)
        except MysqlError as exc:
            raise FlowError(str(exc)) from exc
        self.filter = TableFilter.from_props(props, "database")
        self.options = ShapeOptions.from_props(props)
        self.mode = snapshot_mode(props.get("snapshotMode"), where)
        raw_id = props.get("serverId")
        if raw_id is None or str(raw_id).strip() == "":
            self.server_id = default_server_id(namespace, flow_id, trigger.id)
        else:
            text = str(raw_id).strip()
            if not text.isdigit() or not 0 < int(text) < 2**32:
                raise FlowError(f"{where}: serverId must be a number from 1 to 4294967295")
            self.server_id = int(text)
        extra = props.get("properties") or {}
        name = str(
            extra.get("topic.prefix")
            or "kestra_"
            + hashlib.sha256(f"{namespace}|{flow_id}|{trigger.id}|".encode()).hexdigest()[:8]
        )
        self.info = SourceInfo(name=name)
        self.key = PositionKey(
            str(props.get("stateName") or "debezium-state"), namespace, flow_id, trigger.id
        )
        self.state_dir = state_dir(state_directory)
        self.prefetch = max(1, prefetch)
        self.high_water = max(256, 4 * self.prefetch)

        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()  # tracker, inbox, seq: reader thread and event loop
        self._room = threading.Condition(self._lock)
        self._tracker: FinishedPositions[BinlogPosition] = FinishedPositions()
        self._inbox: deque[MysqlChange] = deque()
        self._ready = asyncio.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: ChangeReader | None = None
        self._lease: ReaderLease | None = None
        self._store: PositionStore | None = None
        self._failure: KflowError | None = None
        self._finished_reading = False
        self._paused = False
        self._state = "connecting"
        self._detail: str | None = None
        self._seq = 0
        self._last_idle_save = 0.0
        self.notify: Callable[[str], None] | None = None
        self.stored: BinlogPosition | None = None
        self.start_position: BinlogPosition | None = None
        self.snapshotted = 0
        self.snapshot_over = threading.Event()
        """Set once the snapshot (if the mode takes one) has been handed over."""
        self.reconnects = 0

    # construction ---------------------------------------------------------------------

    @classmethod
    def from_trigger(
        cls, trigger: TriggerDef, variables: Mapping[str, Any], options: SourceOptions
    ) -> RealtimeTrigger:
        if options.overrides:
            from kflow.engine.overrides import apply_overrides

            trigger = trigger.replace(props=apply_overrides(trigger.props, options.overrides))
        return cls(
            trigger,
            variables=variables,
            prefetch=options.prefetch,
            state_directory=options.state_dir,
        )

    @classmethod
    def event_record(cls, trigger: TriggerDef | None, event: str, key: str | None) -> MysqlChange:
        """``--event``: the JSON of ``trigger.data``; ``--key`` is ``trigger.stream``."""
        record = MysqlChange(value=None, stream=key or "data", timestamp_ms=int(time.time() * 1000))
        try:
            record.value = json.loads(event)
        except json.JSONDecodeError as exc:
            record.error = f"--event is not JSON: {exc}"
        return record

    def describe(self) -> str:
        return (
            f"mysql binlog @ {self.settings.address} (server id {self.server_id}, "
            f"state {self.key.state_name})"
        )

    def _where(self) -> str:
        return f"mysql trigger '{self.trigger_id}'"

    # RecordSource ---------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._store = PositionStore.open(self.state_dir)
        stored = self._store.load(self.key)
        self.stored = BinlogPosition.from_dict(stored) if stored else None
        await self._loop.run_in_executor(None, self._preflight)
        self._reader = ChangeReader(
            self.settings,
            self.server_id,
            self.filter,
            self.info,
            self._emit,
            self._stopping,
            prefix=f"{self._where()}: ",
        )
        self._reader.on_reconnect = self._on_reconnect
        self._thread = threading.Thread(target=self._run, name="kflow-mysql-binlog", daemon=True)
        self._thread.start()

    def _preflight(self) -> None:
        conn = connect(self.settings, f"{self._where()}: ")
        try:
            check_binlog(conn, self.settings, f"{self._where()}: ")
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        if not self._inbox and self._failure is None:
            self._ready.clear()
            if not self._inbox and not self._finished_reading:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), timeout)
        if self._failure is not None:
            raise self._failure
        batch: list[TriggerRecord] = []
        with self._room:
            while self._inbox and len(batch) < MAX_BATCH:
                batch.append(self._inbox.popleft())
            self._room.notify_all()
        return batch

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        assert isinstance(record, MysqlChange)
        with self._lock:
            moved = self._tracker.finished(record.seq)
        if moved is not None:
            self._save(moved)

    def pause(self, paused: bool) -> None:
        with self._room:
            self._paused = paused
            self._room.notify_all()

    def status(self) -> TriggerStatus:
        reader = self._reader
        position = reader.position if reader is not None else None
        with self._lock:
            in_flight = self._tracker.in_flight
            waiting = len(self._inbox)
        stored = f"stored {self.stored}" if self.stored else "nothing stored yet"
        detail = self._detail or (f"read up to {position}; {stored}" if position else stored)
        return TriggerStatus(
            self.describe(),
            self._state,
            (StreamStatus(f"binlog {self.settings.address}", waiting),),
            in_flight=in_flight,
            detail=detail,
            label="binlog",
        )

    async def stop(self) -> None:
        self._stopping.set()
        with self._room:
            self._room.notify_all()
        thread = self._thread
        if thread is not None and self._loop is not None:
            await self._loop.run_in_executor(None, thread.join, STOP_WAIT_S)
            if thread.is_alive() and self._reader is not None:
                self._reader.close_stream()
                await self._loop.run_in_executor(None, thread.join, STOP_WAIT_S)
        with self._lock:
            safe = self._tracker.safe
        if safe is not None and safe != self.stored:
            self._save(safe)
        if self._lease is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._lease.release)
        if self._store is not None:
            self._store.close()
            self._store = None
        self._state = "stopped"

    @property
    def exhausted(self) -> bool:
        return self._finished_reading and not self._inbox

    # the reader thread ----------------------------------------------------------------

    def _run(self) -> None:
        reader = self._reader
        assert reader is not None
        try:
            self._take_lease()
            start = self._start_position(reader)
            self.snapshot_over.set()
            if start is None:
                self._finished_reading = True
                self._wake()
                return
            self.start_position = start
            self._stream(reader, start)
        except Stopped:
            pass
        except KflowError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug or an unexpected driver error: end the run, say why
            self._fail(MysqlError(mask(f"{self._where()}: {type(exc).__name__}: {exc}")))

    def _take_lease(self) -> None:
        """Wait until this process is the one reader of the position key (a standby while
        another holds it: :mod:`kflow.plugins.debezium_mysql_lease`), then load the position
        the last reader stored."""
        lease = self._lease = ReaderLease(self.settings, self.key, f"{self._where()}: ")
        waiting, delay = False, RECONNECT_MIN_S
        while True:
            if self._stopping.is_set():
                raise Stopped
            try:
                if lease.acquire(STANDBY_POLL_S if waiting else 0):
                    break
            except MysqlError as exc:
                if not exc.retryable:
                    raise
                self._stopping.wait(delay)
                delay = min(RECONNECT_MAX_S, delay * 2)
                continue
            if not waiting:
                waiting = True
                holder = lease.holder()
                by = f" (MariaDB/MySQL connection {holder})" if holder is not None else ""
                self._state, self._detail = "standby", f"another kflow reads {self.key}{by}"
                self._say(
                    f"standby: another kflow reads the binlog position {self.key}{by}; "
                    f"waiting, trying every {STANDBY_POLL_S:g} s, and taking over when it stops"
                )
        assert self._store is not None
        stored = self._store.load(self.key)
        self.stored = BinlogPosition.from_dict(stored) if stored else None
        if waiting:
            self._state, self._detail = "running", None
            self._say(
                f"took over the binlog position {self.key}: resuming from "
                f"{self.stored or 'the start (nothing stored)'}"
            )
        lease.keep(lambda line: self._fail(MysqlError(f"{self._where()}: {line}")))

    def _start_position(self, reader: ChangeReader) -> BinlogPosition | None:
        """Where streaming starts (after a snapshot if the mode asks for one); None: do not
        stream (INITIAL_ONLY)."""
        stored, mode = self.stored, self.mode
        snapshot = (
            mode == "ALWAYS"
            or (mode in ("INITIAL", "INITIAL_ONLY", "WHEN_NEEDED") and stored is None)
            or (mode == "WHEN_NEEDED" and stored is not None and not reader.has_binlog(stored))
        )
        if snapshot:
            if mode == "WHEN_NEEDED" and stored is not None:
                self._say(f"the server no longer has binlog {stored.file}: taking a snapshot")
            self._state, self._detail = "snapshot", "reading the captured tables"
            position = reader.snapshot()
            self._state, self._detail = "running", None
            return None if mode == "INITIAL_ONLY" else position
        if mode == "INITIAL_ONLY":
            return None
        if stored is not None:
            return stored
        if mode == "NEVER":
            return reader.first_position()
        return reader.current_position()

    def _stream(self, reader: ChangeReader, start: BinlogPosition) -> None:
        position = start
        delay = RECONNECT_MIN_S
        down = False
        self._state = "running"
        while not self._stopping.is_set():
            events = reader.events
            try:
                reader.stream_from(position)
                return
            except MysqlError as exc:
                if self._stopping.is_set():
                    return
                if not exc.retryable:
                    raise
                if reader.events > events:  # it had been reading: a new outage
                    down, delay = False, RECONNECT_MIN_S
                position = reader.position or position
                if not down:
                    down = True
                    self.reconnects += 1
                    reason = str(exc).removeprefix(f"{self._where()}: ")
                    self._say(
                        f"lost the binlog stream ({reason}); reconnecting, resuming after "
                        f"the last transaction read at {position}"
                    )
                self._state, self._detail = "reconnecting", f"cannot reach {self.settings.address}"
                self._stopping.wait(delay)
                delay = min(RECONNECT_MAX_S, delay * 2)
                self._state, self._detail = "running", None

    def _on_reconnect(self, line: str) -> None:
        self.reconnects += 1
        self._say(line)

    def _emit(self, changes: list[Change], position: BinlogPosition | None) -> None:
        """Called by the reader with the changes of one transaction (or snapshot chunk)."""
        records: list[MysqlChange] = []
        now = int(time.time() * 1000)
        for change in changes:
            shaped = shape(change, self.options)
            key = key_text(change.key)
            record = MysqlChange(
                value=shaped[1] if shaped else None,
                key=key,
                timestamp_ms=change.source.get("ts_ms") or now,
                stream=shaped[0] if shaped else f"{change.database}.{change.table}",
                change=change,
                row_key=key,
            )
            record.skip = shaped is None
            records.append(record)
        if records:
            records[-1].position = position
        save_idle: BinlogPosition | None = None
        with self._room:
            for record in records:
                self._seq += 1
                record.seq = self._seq
                self._tracker.read(record.seq, record.position)
            if not records and position is not None:
                self._tracker.passed(position)
                if self._tracker.safe == position:
                    nowf = time.monotonic()
                    if nowf - self._last_idle_save >= IDLE_SAVE_S:
                        self._last_idle_save = nowf
                        save_idle = position
            if records and self.start_position is None:
                self.snapshotted += len(records)
            self._inbox.extend(records)
            while (
                len(self._inbox) >= self.high_water or self._paused
            ) and not self._stopping.is_set():
                self._room.wait(0.5)
        if save_idle is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._save_if_safe, save_idle)
        if records:
            self._wake()
        if self._stopping.is_set():
            raise Stopped

    def _save_if_safe(self, position: BinlogPosition) -> None:
        with self._lock:
            safe = self._tracker.safe
        if safe == position:
            self._save(position)

    def _save(self, position: BinlogPosition) -> None:
        store = self._store
        if store is None:
            return
        store.save(self.key, position.as_dict())
        self.stored = position

    def _wake(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._ready.set)

    def _say(self, line: str) -> None:
        if self.notify is not None:
            self.notify(mask(f"kflow run: trigger {self.trigger_id}: {line}"))

    def _fail(self, error: KflowError) -> None:
        self._failure = error
        self._state, self._detail = "failed", str(error)
        self._wake()
