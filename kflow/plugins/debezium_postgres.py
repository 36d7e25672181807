"""PostgreSQL ``RealtimeTrigger`` (Debezium's, as Kestra runs it): one execution per row change.

Kestra runs the Debezium engine in its JVM; kflow reads PostgreSQL's own logical replication
stream (psycopg2's replication connection, the built-in ``pgoutput`` plug-in, protocol 1,
the trigger's publication) and shapes each change as Kestra does
(:mod:`kflow.plugins.debezium_shape`), so a Kestra flow runs unchanged.

Start-up (on a plain connection): the publication is created ``FOR ALL TABLES`` when missing
(``FOR TABLE`` the matching tables when ``includedTables`` is set) and left alone when
present; the slot is created when missing (``CREATE_REPLICATION_SLOT ... LOGICAL pgoutput
EXPORT_SNAPSHOT``) and then the snapshot reads the tables in a transaction that imports the
slot's exported snapshot (``SET TRANSACTION SNAPSHOT``): it sees exactly the data before the
slot's start, so no change is missed or read twice between the snapshot and the stream.

``snapshotMode``: INITIAL (default) reads the tables only when the slot is new; ALWAYS at
every start (with a slot that already exists, a plain repeatable-read snapshot: changes
streamed from the slot may repeat rows it read); NEVER streams only; INITIAL_ONLY reads the
tables and stops (no slot). Whether the snapshot's executions all finished is noted in
kflow's state directory (:mod:`kflow.state.positions`, key ``stateName`` + flow + trigger):
a snapshot cut short by a crash is read again at the next start (rows may repeat, none is
lost); the stream position itself lives in the slot.

One thread owns the replication connection: it reads messages, decodes them
(:mod:`kflow.plugins.pgoutput`, :mod:`kflow.plugins.debezium_postgres_changes`), hands batches
to the event loop and sends the slot's confirmed position (``flush_lsn``): the end of the
last transaction such that it and every transaction before it have all their executions
finished (:class:`~kflow.plugins.debezium_postgres_lsn.ConfirmLedger`). A lost connection (a
PostgreSQL restart) is reported in one line and retried with back-off; PostgreSQL streams
again from the slot's confirmed position, so changes whose executions had not finished come
again (at least once), those that had do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kflow.connectors.postgres import (
    PostgresError,
    PostgresSettings,
    connect,
    postgres_errors,
    settings_from,
)
from kflow.engine.events import StreamStatus, TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.source import Outcome, RecordSource, SourceOptions
from kflow.errors import KflowError, NotSupportedError
from kflow.expr import render_value
from kflow.plugins.debezium_postgres_changes import ChangeBuilder, Table
from kflow.plugins.debezium_postgres_lsn import ConfirmLedger
from kflow.plugins.debezium_postgres_record import PostgresChange
from kflow.plugins.debezium_shape import Change, ShapeOptions, TableFilter, shape
from kflow.plugins.pgoutput import (
    Begin,
    Column,
    Commit,
    Delete,
    Insert,
    Relation,
    Truncate,
    Update,
    decode,
    lsn_text,
    parse_lsn,
)
from kflow.state.positions import PositionKey, PositionStore, state_dir

if TYPE_CHECKING:
    from kflow.flow.model import TriggerDef


def connector_name(namespace: str, flow_id: str, trigger_id: str) -> str:
    """Debezium's ``topic.prefix`` (source.name): ``kestra_`` and a hash of the trigger's
    identity, stable across runs, as Kestra derives one."""
    identity = f"{namespace}|{flow_id}|{trigger_id}|"
    return "kestra_" + hashlib.sha256(identity.encode()).hexdigest()[:8]


BATCH = 256
SNAPSHOT_FETCH = 1000
IDLE_WAIT_S = 0.05  # also how soon a finished execution's position is confirmed when idle
FEEDBACK_EVERY_S = 5.0  # also while paused: keeps the server's wal_sender_timeout away
FEEDBACK_MIN_S = 0.05
STATUS_INTERVAL_S = 10
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 5.0
STANDBY_POLL_S = 2.0
"""How often a standby (the slot is active for another connection) tries to take it over."""
FINAL_CONFIRM_WAIT_S = 3.0
SNAPSHOT_MODES = ("INITIAL", "ALWAYS", "NEVER", "INITIAL_ONLY")


class RealtimeTrigger(RecordSource):
    """Streams the changes of ``publicationName`` through ``slotName`` for one flow trigger."""

    kind = "postgres"

    def __init__(
        self,
        trigger_id: str,
        props: Mapping[str, Any],
        *,
        namespace: str = "kflow",
        flow_id: str = "flow",
        state_directory: str | None = None,
    ) -> None:
        self.trigger_id = trigger_id
        self.what = f"trigger '{trigger_id}'"
        plugin = str(props.get("pluginName") or "PGOUTPUT").upper()
        if plugin != "PGOUTPUT":
            raise NotSupportedError(
                f"{self.what}: pluginName {plugin} is not supported: kflow decodes PostgreSQL's "
                "built-in pgoutput stream (use pluginName: PGOUTPUT)"
            )
        self.settings: PostgresSettings = settings_from(props, self.what)
        self.database = self.settings.database
        self.slot = str(props.get("slotName") or "kestra")
        self.publication = str(props.get("publicationName") or "kestra_publication")
        self.snapshot_mode = str(props.get("snapshotMode") or "INITIAL").upper()
        if self.snapshot_mode not in SNAPSHOT_MODES:
            raise PostgresError(
                f"{self.what}: snapshotMode must be one of {', '.join(SNAPSHOT_MODES)}, "
                f"got {self.snapshot_mode}",
                retryable=False,
            )
        self.shape_options = ShapeOptions.from_props(props)
        self.filter = TableFilter.from_props(props, "schema")
        self.included_tables = props.get("includedTables")
        extra = props.get("properties") or {}
        skipped = str(extra.get("skipped.operations", "t")) if isinstance(extra, Mapping) else "t"
        self.skip_truncate = "t" in {s.strip() for s in skipped.split(",")}
        name = extra.get("topic.prefix") if isinstance(extra, Mapping) else None
        self.server_name = str(name or connector_name(namespace, flow_id, trigger_id))
        self.builder = ChangeBuilder(
            self.database, self.filter, skip_truncate=self.skip_truncate, name=self.server_name
        )
        self.key = PositionKey(
            str(props.get("stateName") or "debezium-state"), namespace, flow_id, trigger_id
        )
        self.state_dir = state_dir(state_directory)
        self.notify: Callable[[str], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._paused = False
        self._batches: deque[list[TriggerRecord]] = deque()
        self._ready = asyncio.Event()
        self._failure: BaseException | None = None
        self._ledger = ConfirmLedger(0)
        self._generation = 1
        self._snapshot: _SnapshotPlan | None = None
        self._snapshot_ledger: ConfirmLedger | None = None  # holds the snapshot rows
        self._store: PositionStore | None = None
        self._slot_exists = False
        self._repl: Any = None
        self._cursor: Any = None  # the replication cursor streaming now
        self._read_all = False  # INITIAL_ONLY: the snapshot was handed over whole
        self._state = "connecting"
        self._detail: str | None = None
        self._sent = 0  # the last flush_lsn sent
        self._streaming = False  # START_REPLICATION succeeded on the current connection
        self._seq = 0
        self.slot_created = False
        self.reconnects = 0
        self.snapshot_rows = 0

    def describe(self) -> str:
        return f"postgres slot {self.slot} of {self.database} @ {self.settings.address}"

    # construction --------------------------------------------------------------------

    @classmethod
    def from_trigger(
        cls, trigger: TriggerDef, variables: Mapping[str, Any], options: SourceOptions
    ) -> RealtimeTrigger:
        props = dict(trigger.props)
        if options.overrides:
            from kflow.engine.overrides import apply_overrides

            props = apply_overrides(props, options.overrides)
        flow = variables.get("flow") or {}
        return cls(
            trigger.id,
            render_value(props, dict(variables)),
            namespace=str(flow.get("namespace") or "kflow"),
            flow_id=str(flow.get("id") or "flow"),
            state_directory=getattr(options, "state_dir", None),
        )

    @classmethod
    def event_record(cls, trigger: TriggerDef | None, event: str, key: str | None) -> TriggerRecord:
        """``--event``: a JSON object is ``trigger.data`` as is (stream ``data``)."""
        import json

        record = PostgresChange(value=None, key=key, timestamp_ms=int(time.time() * 1000))
        record.stream = "data"
        try:
            record.value = json.loads(event)
        except ValueError as exc:
            record.error = f"cannot decode --event as JSON: {exc}"
        return record

    # RecordSource ------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(None, self._prepare)
        self._thread = threading.Thread(target=self._main, name="kflow-postgres", daemon=True)
        self._thread.start()

    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        if not self._batches and self._failure is None:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        if self._failure is not None:
            raise self._failure
        return self._batches.popleft() if self._batches else []

    def admit(self, record: TriggerRecord) -> bool:
        """False for a change of a connection that was lost: PostgreSQL sends it again."""
        assert isinstance(record, PostgresChange)
        return record.generation in (0, self._generation)

    def wanted(self, record: TriggerRecord) -> bool:
        assert isinstance(record, PostgresChange)
        return record.generation in (0, self._generation)

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        """Failed or not, a finished change lets the slot move past it."""
        assert isinstance(record, PostgresChange)
        if record.ledger is not None and record.token is not None:
            record.ledger.finished(record.token)

    def pause(self, paused: bool) -> None:
        self._paused = paused

    def status(self) -> TriggerStatus:
        ledger = self._ledger
        detail = self._detail
        if detail is None and self._paused:
            detail = "paused (back-pressure)"
        return TriggerStatus(
            self.describe(),
            self._state,
            (StreamStatus(f"slot {self.slot}", None, committed=ledger.confirmed or None),),
            in_flight=ledger.in_flight,
            detail=detail,
            label="slots",
        )

    @property
    def exhausted(self) -> bool:
        return self._read_all and not self._batches

    async def stop(self) -> None:
        self._state = "stopping"
        self._closing.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._note_snapshot_done()
        if self._store is not None:
            self._store.close()
            self._store = None
        self._state = "stopped"

    @property
    def confirmed_lsn(self) -> int:
        return self._ledger.confirmed

    # start-up (plain connection) -----------------------------------------------------

    def _prepare(self) -> None:
        """Check the slot, make the publication, decide the snapshot, open the replication
        connection and create the slot if missing: every problem is raised by ``start``."""
        conn = connect(self.settings, prefix=f"{self.what}: ")
        try:
            with postgres_errors(self.settings, f"{self.what}: "):
                self._check_slot(conn)
                if self.snapshot_mode != "INITIAL_ONLY":
                    self._ensure_publication(conn)
                self._plan()
        finally:
            conn.close()
        if self.snapshot_mode == "INITIAL_ONLY":
            return
        repl = connect(self.settings, replication=True, prefix=f"{self.what}: ")
        try:
            if not self._slot_exists:
                with postgres_errors(self.settings, f"{self.what}: "):
                    created = self._create_slot(repl, export=self._snapshot is not None)
                if created is not None:
                    lsn, exported = created
                    self._ledger = ConfirmLedger(lsn)
                    self.slot_created = True
                    if self._snapshot is not None:
                        self._snapshot.exported, self._snapshot.lsn = exported, lsn
                    self._say(f"created the replication slot {self.slot} at {lsn_text(lsn)}")
        except BaseException:
            repl.close()
            raise
        self._repl = repl

    def _slot_row(self, conn: Any) -> tuple[Any, ...] | None:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT plugin, database, confirmed_flush_lsn::text, slot_type "
                "FROM pg_replication_slots WHERE slot_name = %s",
                (self.slot,),
            )
            row = cur.fetchone()
        return None if row is None else tuple(row)

    def _check_slot(self, conn: Any) -> None:
        row = self._slot_row(conn)
        self._slot_exists = row is not None
        if row is None:
            return
        plugin, database, confirmed, slot_type = row
        if slot_type != "logical" or plugin != "pgoutput":
            raise PostgresError(
                f"{self.what}: the replication slot {self.slot} uses {plugin or slot_type}, "
                "not pgoutput: drop it or choose another slotName",
                address=self.settings.address,
                retryable=False,
            )
        if database != self.database:
            raise PostgresError(
                f"{self.what}: the replication slot {self.slot} belongs to database "
                f"{database}, not {self.database}: choose another slotName",
                address=self.settings.address,
                retryable=False,
            )
        self._ledger = ConfirmLedger(parse_lsn(confirmed) if confirmed else 0)

    def _ensure_publication(self, conn: Any) -> None:
        from psycopg2 import sql

        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (self.publication,))
            if cur.fetchone() is not None:
                return
            name = sql.Identifier(self.publication)
            if self.included_tables:
                tables = [t for t in self._user_tables(cur) if self.builder.wants(t)]
                if not tables:
                    raise PostgresError(
                        f"{self.what}: no table of database {self.database} matches "
                        f"includedTables {self.included_tables!r}: cannot create the "
                        f"publication {self.publication}",
                        retryable=False,
                    )
                listed = sql.SQL(", ").join(sql.Identifier(t.schema, t.name) for t in tables)
                cur.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(name, listed))
            else:
                cur.execute(sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(name))
        self._say(f"created the publication {self.publication}")

    def _user_tables(self, cur: Any) -> list[Table]:
        cur.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN "
            "('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
            "ORDER BY 1, 2"
        )
        return [Table(schema, name, ()) for schema, name in cur.fetchall()]

    def _plan(self) -> None:
        mode = self.snapshot_mode
        if mode == "INITIAL_ONLY":
            saved = self._saved_state()
            same = (saved.get("slot"), saved.get("database")) == (self.slot, self.database)
            if same and saved.get("mode") == "INITIAL_ONLY" and saved.get("snapshot") == "done":
                self._say(f"the snapshot was read before ({self.key}): nothing to read")
                return
            self._snapshot = _SnapshotPlan(exported=None, lsn=0)
            return
        if self._slot_exists:
            saved = self._saved_state() if mode == "INITIAL" else {}
            interrupted = saved.get("slot") == self.slot and saved.get("snapshot") == "running"
            if mode == "ALWAYS" or (mode == "INITIAL" and interrupted):
                if mode == "INITIAL":
                    self._say(
                        f"the snapshot of slot {self.slot} did not finish last time: reading "
                        "the tables again (rows may repeat, none is lost)"
                    )
                self._snapshot = _SnapshotPlan(exported=None, lsn=self._ledger.confirmed)
            return
        self._snapshot = (
            _SnapshotPlan(exported=None, lsn=0) if mode in ("INITIAL", "ALWAYS") else None
        )

    # the replication thread --------------------------------------------------------------

    def _main(self) -> None:
        try:
            if self._snapshot is not None:
                self._save_state("running")
                self._snapshot_ledger = self._ledger
                self._read_snapshot(self._snapshot)
            if self.snapshot_mode == "INITIAL_ONLY":
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._finish_reading)
                return
            repl, self._repl = self._repl, None
            self._stream_forever(repl)
        except BaseException as exc:  # surfaced to the service by next_batch
            self._failure = (
                exc
                if isinstance(exc, KflowError)
                else PostgresError(f"{self.what}: the replication stream stopped: {exc}")
            )
            self._wake()

    # the snapshot's state (kflow's state directory) ------------------------------------

    def _saved_state(self) -> dict[str, Any]:
        """What the last run noted of its snapshot: ``{slot, snapshot: running|done, mode}``.
        The slot keeps the stream position; only whether the snapshot finished lives here."""
        from kflow.state.positions import PositionStore

        if self._store is None:
            self._store = PositionStore.open(self.state_dir)
        return self._store.load(self.key) or {}

    def _save_state(self, snapshot: str) -> None:
        from kflow.state.positions import PositionStore

        if self._store is None:
            self._store = PositionStore.open(self.state_dir)
        self._store.save(
            self.key,
            {
                "slot": self.slot,
                "database": self.database,
                "snapshot": snapshot,
                "mode": self.snapshot_mode,
            },
        )

    def _note_snapshot_done(self) -> None:
        """Once every snapshot row's execution has finished: the next start needs none."""
        ledger = self._snapshot_ledger
        if ledger is not None and ledger.snapshot_finished:
            self._snapshot_ledger = None
            self._save_state("done")

    def _create_slot(self, repl: Any, *, export: bool) -> tuple[int, str | None] | None:
        import psycopg2

        action = "EXPORT_SNAPSHOT" if export else "NOEXPORT_SNAPSHOT"
        cur = repl.cursor()
        try:
            cur.execute(f'CREATE_REPLICATION_SLOT "{self.slot}" LOGICAL pgoutput {action}')
        except psycopg2.errors.DuplicateObject:
            # another process made it just now: stream from it, no snapshot of ours
            self._slot_exists = True
            if self.snapshot_mode == "INITIAL":
                self._snapshot = None
            else:
                self._snapshot = _SnapshotPlan(exported=None, lsn=0)
            return None
        row = cur.fetchone()
        return parse_lsn(row[1]), row[2]

    def _read_snapshot(self, plan: _SnapshotPlan) -> None:
        conn = connect(self.settings, prefix=f"{self.what}: ")
        try:
            with postgres_errors(self.settings, f"{self.what}: snapshot: "):
                conn.autocommit = False
                conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
                with conn.cursor() as cur:
                    if plan.exported:
                        cur.execute("SET TRANSACTION SNAPSHOT %s", (plan.exported,))
                    tables = self._snapshot_tables(cur)
                self._ledger.begin_snapshot()
                self._snapshot_rows(conn, tables, plan.lsn)
                self._ledger.end_snapshot()
                conn.rollback()
        finally:
            conn.close()
        self._say(f"snapshot read {self.snapshot_rows} rows of {len(tables)} tables")

    def _snapshot_tables(self, cur: Any) -> list[Table]:
        if self.snapshot_mode == "INITIAL_ONLY":
            candidates = self._user_tables(cur)
        else:
            cur.execute(
                "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s "
                "ORDER BY 1, 2",
                (self.publication,),
            )
            candidates = [Table(s, t, ()) for s, t in cur.fetchall()]
        out = []
        for table in candidates:
            if not self.builder.wants(table):
                continue
            cur.execute(
                "SELECT a.attname, a.atttypid, a.atttypmod, EXISTS (SELECT 1 FROM pg_index i "
                "WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey)) "
                "FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
                "AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum",
                (f'"{table.schema}"."{table.name}"',),
            )
            columns = tuple(Column(n, oid, mod, key) for n, oid, mod, key in cur.fetchall())
            out.append(Table(table.schema, table.name, columns))
        return out

    def _snapshot_rows(self, conn: Any, tables: list[Table], lsn: int) -> None:
        from psycopg2 import sql

        pending: Change | None = None
        pending_table = ""
        batch: list[TriggerRecord] = []
        ts_ms = int(time.time() * 1000)
        for index, table in enumerate(tables):
            if not table.columns:
                continue
            select_list = sql.SQL(", ").join(
                sql.SQL("{}::text").format(sql.Identifier(c.name)) for c in table.columns
            )
            query = sql.SQL("SELECT {} FROM {}").format(
                select_list, sql.Identifier(table.schema, table.name)
            )
            with conn.cursor(name=f"kflow_snapshot_{index}") as cur:
                cur.itersize = SNAPSHOT_FETCH
                cur.execute(query)
                while True:
                    rows = cur.fetchmany(SNAPSHOT_FETCH)
                    if not rows:
                        break
                    for row in rows:
                        if pending is not None:
                            batch.append(self._record(pending, pending_table, lsn, 0))
                        pending = self.builder.snapshot_change(
                            table, row, last=False, lsn=lsn, ts_ms=ts_ms
                        )
                        pending_table = table.qualified
                        if len(batch) >= BATCH:
                            self._hand_over(batch)
                            batch = []
                            if self._closing.is_set():
                                return
        if pending is not None:
            source = dict(pending.source, snapshot="last")
            last = Change(
                pending.op,
                pending.database,
                pending.table,
                pending.before,
                pending.after,
                pending.key,
                source,
                pending.ts_ms,
            )
            batch.append(self._record(last, pending_table, lsn, 0))
        self._hand_over(batch)

    def _hand_over(self, batch: list[TriggerRecord]) -> None:
        """Deliver a batch, waiting while the service holds back (the snapshot reads as fast
        as the executions finish, not faster)."""
        while self._paused and not self._closing.is_set():
            time.sleep(0.05)
        if batch:
            self._deliver(batch)

    def _stream_forever(self, repl: Any) -> None:
        delay = BACKOFF_INITIAL_S
        last_problem = ""
        while not self._closing.is_set():
            try:
                if repl is None:
                    repl = self._reconnect()
                self._streaming = False
                self._stream(repl)
            except PostgresError as exc:
                if not exc.retryable:
                    raise
                if self._streaming:  # it had been streaming: a new outage
                    delay, last_problem = BACKOFF_INITIAL_S, ""
                problem = str(exc).removeprefix(f"{self.what}: ")
                self._lost(problem, last_problem)
                last_problem = problem
                self._closing.wait(STANDBY_POLL_S if self._state == "standby" else delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
            finally:
                if repl is not None:
                    self._final_feedback(repl)
                    with contextlib.suppress(Exception):
                        repl.close()
                    repl = None

    def _lost(self, problem: str, last_problem: str) -> None:
        in_flight = self._ledger.in_flight
        self._generation += 1  # changes read and not started are void: they come again
        if "is in use by another connection" in problem and not self._streaming:
            # One active reader per slot (PostgreSQL's rule): wait as its standby.
            self._state, self._detail = "standby", problem
            if problem != last_problem:
                self._say(
                    f"standby: {problem}; waiting, trying every {STANDBY_POLL_S:g} s, and "
                    "taking the slot over when it is free"
                )
            return
        self._state, self._detail = "reconnecting", problem
        if problem != last_problem:
            self.reconnects += 1
            again = f"; {in_flight} changes in flight come again" * bool(in_flight)
            self._say(f"{problem}{again}; reconnecting (every {BACKOFF_MAX_S:g} s at most)")

    def _reconnect(self) -> Any:
        conn = connect(self.settings, prefix=f"{self.what}: ")
        try:
            with postgres_errors(self.settings, f"{self.what}: "):
                row = self._slot_row(conn)
        finally:
            conn.close()
        if row is None:
            raise PostgresError(
                f"{self.what}: the replication slot {self.slot} is gone (dropped while kflow "
                "ran): changes since may be lost; start again to create it",
                retryable=False,
            )
        self._ledger = ConfirmLedger(parse_lsn(row[2]) if row[2] else 0)
        self._sent = 0
        return connect(self.settings, replication=True, prefix=f"{self.what}: ")

    def _stream(self, repl: Any) -> None:
        cur = self._cursor = repl.cursor()
        with postgres_errors(self.settings, f"{self.what}: "):
            cur.start_replication(
                slot_name=self.slot,
                decode=False,
                start_lsn=0,
                options={"proto_version": "1", "publication_names": self.publication},
                status_interval=STATUS_INTERVAL_S,
            )
            self._on_streaming()
            ledger = self._ledger
            generation = self._generation
            self.builder.last_commit_lsn = self.builder.last_commit_lsn or ledger.confirmed
            batch: list[TriggerRecord] = []
            in_txn = False
            last_feedback = 0.0
            while not self._closing.is_set():
                if self._snapshot_ledger is not None:
                    self._note_snapshot_done()
                now = time.monotonic()
                if (ledger.confirmed > self._sent and now - last_feedback >= FEEDBACK_MIN_S) or (
                    now - last_feedback >= FEEDBACK_EVERY_S
                ):
                    self._feedback(cur, ledger.confirmed)
                    last_feedback = now
                if self._paused:
                    if batch:
                        self._deliver(batch)
                        batch = []
                    self._closing.wait(0.05)
                    continue
                message = cur.read_message()
                if message is None:
                    if batch:
                        self._deliver(batch)
                        batch = []
                    if not in_txn and cur.wal_end:
                        ledger.idle(int(cur.wal_end))
                    select.select([cur], [], [], IDLE_WAIT_S)
                    continue
                decoded = decode(message.payload)
                if isinstance(decoded, Begin):
                    in_txn = True
                    self.builder.begin(decoded)
                    ledger.begin()
                elif isinstance(decoded, Commit):
                    self.builder.commit(decoded)
                    ledger.commit(decoded.end_lsn)
                    in_txn = False
                elif isinstance(decoded, Relation):
                    self.builder.relation(decoded)
                elif isinstance(decoded, Insert | Update | Delete | Truncate):
                    for change in self.builder.changes(decoded, int(message.data_start)):
                        table = f"{change.source.get('schema')}.{change.table}"
                        batch.append(self._record(change, table, change.source["lsn"], generation))
                    if len(batch) >= BATCH:
                        self._deliver(batch)
                        batch = []
            if batch:
                self._deliver(batch)

    def _on_streaming(self) -> None:
        """START_REPLICATION was accepted: this process reads the slot now."""
        was, self._streaming = self._state, True
        self._state, self._detail = "running", None
        where = f"slot {self.slot} from {lsn_text(self._ledger.confirmed)}"
        if was == "standby":
            self._say(f"took over the replication slot: streaming {where}")
        elif was == "reconnecting":
            self._say(f"reconnected to PostgreSQL at {self.settings.address}; streaming {where}")

    def _feedback(self, cur: Any, lsn: int) -> None:
        if lsn:
            cur.send_feedback(write_lsn=lsn, flush_lsn=lsn, apply_lsn=lsn, force=True)
            self._sent = max(self._sent, lsn)
        else:
            cur.send_feedback(force=True)

    def _final_feedback(self, repl: Any) -> None:
        """Send the last confirmed position before closing, and wait (briefly) until the
        slot shows it: the next run starts from there."""
        lsn, cur = self._ledger.confirmed, self._cursor
        self._cursor = None
        if not lsn or cur is None:
            return
        try:
            self._feedback(cur, lsn)
        except Exception:
            return
        if not self._closing.is_set():
            return
        deadline = time.monotonic() + FINAL_CONFIRM_WAIT_S
        with contextlib.suppress(Exception):
            conn = connect(self.settings, prefix=f"{self.what}: ")
            try:
                while time.monotonic() < deadline:
                    row = self._slot_row(conn)
                    if row is None or not row[2] or parse_lsn(row[2]) >= lsn:
                        return
                    time.sleep(0.05)
            finally:
                conn.close()

    # records -----------------------------------------------------------------------------

    def _record(self, change: Change, table: str, lsn: int, generation: int) -> PostgresChange:
        import json

        self._seq += 1
        record = PostgresChange(
            value=None,
            key=None if change.key is None else json.dumps(change.key, default=str),
            timestamp_ms=int(change.source.get("ts_ms") or change.ts_ms),
            table=table,
            op=change.op,
            lsn=lsn,
            seq=self._seq,
            generation=generation,
        )
        if change.op == "r":
            self.snapshot_rows += 1
        shaped = shape(change, self.shape_options)
        if shaped is None:
            record.skip = True  # deleted: DROP
        else:
            record.stream, record.value = shaped
        record.ledger = self._ledger
        record.token = self._ledger.change()
        return record

    def _deliver(self, batch: list[TriggerRecord]) -> None:
        loop = self._loop
        assert loop is not None
        loop.call_soon_threadsafe(self._take, batch)

    def _take(self, batch: list[TriggerRecord]) -> None:
        self._batches.append(batch)
        self._ready.set()

    def _finish_reading(self) -> None:
        # on the event loop, after the snapshot's last batch was taken
        self._read_all = True
        self._ready.set()

    def _wake(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._ready.set)

    def _say(self, text: str) -> None:
        if self.notify is not None:
            self.notify(f"kflow run: {self.what}: {text}")


class _SnapshotPlan:
    """What the snapshot reads from: the slot's exported snapshot, or a fresh one."""

    def __init__(self, exported: str | None, lsn: int) -> None:
        self.exported = exported
        self.lsn = lsn
