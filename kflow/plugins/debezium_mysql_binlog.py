"""Reading MySQL/MariaDB row changes: the initial snapshot and the binlog, on one thread.

:class:`ChangeReader` turns what it reads into :class:`Change` batches, one per committed
transaction, each handed over with the position right after its commit
(:class:`BinlogPosition`): a transaction is handed over whole or not at all, so after a lost
connection the reader resumes exactly after the last transaction it handed over, and
nothing it handed over is read twice.

The binlog is read with python-mysql-replication, in blocking mode with a one-second
heartbeat (so the thread notices a stop request), from a binlog file and offset
(``COM_BINLOG_DUMP``; MariaDB answers it as MySQL does, and sends its GTID events, which
kflow keeps as ``source.gtid`` and in the stored position).

The snapshot reads the included tables in one ``START TRANSACTION WITH CONSISTENT
SNAPSHOT``; MariaDB gives the binlog position of that very snapshot as
``binlog_snapshot_file`` / ``binlog_snapshot_position`` (MySQL gives none: kflow then takes
``FLUSH TABLES WITH READ LOCK`` for the instant it opens the transaction).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kflow.connectors.mysql import MysqlSettings, connect, mysql_errors
from kflow.plugins.debezium_mysql_record import BinlogPosition
from kflow.plugins.debezium_mysql_schema import (
    SYSTEM_DATABASES,
    SchemaCache,
    TableSchema,
    enrich_table_map,
    is_ddl,
)
from kflow.plugins.debezium_shape import Change, TableFilter
from kflow.plugins.mysql_values import convert_row

CONNECTOR_VERSION = "3.0.0.Final"
"""What ``source.version`` says (the Debezium version kflow's output follows)."""
SNAPSHOT_CHUNK = 500
HEARTBEAT_S = 1.0
FL_STANDALONE = 1  # MariaDB GTID event flag: no BEGIN/COMMIT follows (DDL, MyISAM)

# python-mysql-replication warns on every connection without binlog_row_metadata=FULL,
# which kflow does not need (it names columns from information_schema).
logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)


@dataclass
class SourceInfo:
    """The constant part of the source block."""

    name: str
    connector: str = "mysql"
    version: str = CONNECTOR_VERSION


@dataclass
class _Transaction:
    gtid: str | None = None
    thread: int | None = None
    changes: list[Change] = field(default_factory=list)
    open: bool = False


Emit = Callable[[list[Change], BinlogPosition | None], None]
"""Hand over changes (blocking while the engine has no room); the position is where a
restart resumes once they have all finished (None: not a resumable point)."""


class ChangeReader:
    """Snapshot and binlog changes of the tables ``table_filter`` selects."""

    def __init__(
        self,
        settings: MysqlSettings,
        server_id: int,
        table_filter: TableFilter,
        info: SourceInfo,
        emit: Emit,
        stopping: threading.Event,
        prefix: str = "",
    ) -> None:
        self.settings = settings
        self.server_id = server_id
        self.filter = table_filter
        self.info = info
        self.emit = emit
        self.stopping = stopping
        self.prefix = prefix
        self.position: BinlogPosition | None = None
        """The position after the last transaction handed over (where a reconnect resumes)."""
        self.stream: Any = None
        self.on_reconnect: Callable[[str], None] | None = None
        """Told when python-mysql-replication reconnects a lost stream by itself."""
        self._stream_connections = 0
        self.events = 0
        self.schema_reads = 0

    # ---------------------------------------------------------------------- snapshot

    def current_position(self) -> BinlogPosition:
        """The server's binlog end now (streaming from here captures only new changes)."""
        conn = connect(self.settings, self.prefix)
        try:
            with mysql_errors(self.settings, self.prefix), conn.cursor() as cur:
                cur.execute("SHOW MASTER STATUS")
                row = cur.fetchone()
                if row is None:
                    from kflow.connectors.mysql import MysqlError

                    raise MysqlError(
                        f"{self.prefix}MariaDB/MySQL at {self.settings.address} has no "
                        "binary log (start it with --log-bin)",
                        address=self.settings.address,
                        retryable=False,
                    )
                return BinlogPosition(
                    str(row["File"]),
                    int(row["Position"]),
                    _gtid_at(cur, row["File"], row["Position"]),
                )
        finally:
            conn.close()

    def first_position(self) -> BinlogPosition:
        """The start of the oldest binlog the server keeps (``snapshotMode: NEVER``)."""
        conn = connect(self.settings, self.prefix)
        try:
            with mysql_errors(self.settings, self.prefix), conn.cursor() as cur:
                cur.execute("SHOW BINARY LOGS")
                rows = cur.fetchall()
            return BinlogPosition(str(rows[0]["Log_name"]), 4, None)
        finally:
            conn.close()

    def has_binlog(self, position: BinlogPosition) -> bool:
        """Whether the server still keeps the binlog file of ``position``."""
        conn = connect(self.settings, self.prefix)
        try:
            with mysql_errors(self.settings, self.prefix), conn.cursor() as cur:
                cur.execute("SHOW BINARY LOGS")
                return any(str(r["Log_name"]) == position.file for r in cur.fetchall())
        finally:
            conn.close()

    def captured_tables(self, conn: Any) -> list[tuple[str, str]]:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
                "WHERE TABLE_TYPE='BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME"
            )
            rows = cur.fetchall()
        return [
            (str(r["TABLE_SCHEMA"]), str(r["TABLE_NAME"]))
            for r in rows
            if str(r["TABLE_SCHEMA"]) not in SYSTEM_DATABASES
            and self.filter.wants_table(str(r["TABLE_SCHEMA"]), str(r["TABLE_NAME"]))
        ]

    def snapshot(self) -> BinlogPosition:
        """Read every captured table as ``r`` changes, consistently, and return the binlog
        position of the snapshot (streaming resumes there)."""
        import pymysql.cursors

        conn = connect(self.settings, self.prefix, cursorclass=pymysql.cursors.SSDictCursor)
        try:
            with mysql_errors(self.settings, self.prefix):
                with conn.cursor() as cur:
                    cur.execute("SET SESSION time_zone = '+00:00'")
                    cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                position = self._open_snapshot(conn)
                schemas = SchemaCache(conn)
                tables = self.captured_tables(conn)
                read_ms = int(time.time() * 1000)
                pending: list[Change] = []
                for database, table in tables:
                    schema = schemas.read(database, table)
                    for r_index, row in enumerate(self._rows(conn, database, table)):
                        if self.stopping.is_set():
                            raise Stopped
                        pending.append(
                            self._change(
                                "r",
                                schema,
                                None,
                                row,
                                {
                                    "ts_ms": read_ms,
                                    "snapshot": "true",
                                    "server_id": 0,
                                    "gtid": None,
                                    "file": position.file,
                                    "pos": position.pos,
                                    "row": r_index,
                                    "thread": None,
                                    "query": None,
                                },
                            )
                        )
                        if len(pending) > SNAPSHOT_CHUNK:
                            self.emit(pending[:-1], None)
                            pending = pending[-1:]
                with conn.cursor() as cur:
                    cur.execute("COMMIT")
                if pending:
                    pending[-1] = _mark_last(pending[-1])
                self.emit(pending, position)
                self.position = position
                return position
        finally:
            conn.close()

    def _open_snapshot(self, conn: Any) -> BinlogPosition:
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
            status = {str(r["Variable_name"]).lower(): r["Value"] for r in cur.fetchall()}
        file = status.get("binlog_snapshot_file")
        pos = status.get("binlog_snapshot_position")
        if file and pos:
            with conn.cursor() as cur:
                return BinlogPosition(str(file), int(pos), _gtid_at(cur, file, pos))
        # MySQL: no snapshot position; hold writes while the transaction starts.
        with conn.cursor() as cur:
            cur.execute("ROLLBACK")
            cur.execute("FLUSH TABLES WITH READ LOCK")
            try:
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                cur.execute("SHOW MASTER STATUS")
                row = cur.fetchone()
            finally:
                cur.execute("UNLOCK TABLES")
        return BinlogPosition(str(row["File"]), int(row["Position"]), None)

    def _rows(self, conn: Any, database: str, table: str) -> Iterator[dict[str, Any]]:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {_quoted(database)}.{_quoted(table)}")
            while True:
                rows = cur.fetchmany(SNAPSHOT_CHUNK)
                if not rows:
                    return
                yield from rows

    # ------------------------------------------------------------------------ binlog

    def stream_from(self, start: BinlogPosition) -> None:
        """Hand over the committed transactions after ``start`` until ``stopping`` is set;
        a lost connection raises a ``MysqlError`` (``self.position`` says where to resume)."""
        from pymysqlreplication import BinLogStreamReader
        from pymysqlreplication.event import (
            HeartbeatLogEvent,
            MariadbGtidEvent,
            QueryEvent,
            RotateEvent,
            XidEvent,
        )
        from pymysqlreplication.row_event import (
            DeleteRowsEvent,
            TableMapEvent,
            UpdateRowsEvent,
            WriteRowsEvent,
        )

        self.position = start
        self._stream_connections = 0
        ctl = connect(self.settings, self.prefix)
        schemas = SchemaCache(ctl)
        gtid = start.gtid
        txn = _Transaction()
        try:
            with mysql_errors(self.settings, self.prefix):
                self.stream = stream = BinLogStreamReader(
                    connection_settings=self.settings.pymysql_kwargs(),
                    server_id=self.server_id,
                    resume_stream=True,
                    blocking=True,
                    log_file=start.file,
                    log_pos=start.pos,
                    slave_heartbeat=HEARTBEAT_S,
                    only_events=[
                        MariadbGtidEvent,
                        QueryEvent,
                        XidEvent,
                        RotateEvent,
                        HeartbeatLogEvent,
                        TableMapEvent,
                        WriteRowsEvent,
                        UpdateRowsEvent,
                        DeleteRowsEvent,
                    ],
                    enable_logging=False,
                    pymysql_wrapper=self._connect,
                )
                while not self.stopping.is_set():
                    event = stream.fetchone()
                    if event is None:
                        continue
                    self.events += 1
                    if isinstance(event, HeartbeatLogEvent | RotateEvent):
                        continue
                    if isinstance(event, MariadbGtidEvent):
                        txn = _Transaction(gtid=event.gtid, open=True)
                        if event.flags & FL_STANDALONE:
                            txn.open = False  # one statement, no COMMIT
                        continue
                    if isinstance(event, TableMapEvent):
                        self._prepare_table(stream, schemas, event)
                        continue
                    if isinstance(event, WriteRowsEvent | UpdateRowsEvent | DeleteRowsEvent):
                        txn.changes.extend(self._row_changes(event, schemas, txn, stream))
                        continue
                    if isinstance(event, QueryEvent):
                        query = _text(event.query).strip()
                        upper = query.upper()
                        if upper == "BEGIN":
                            txn.open = True
                            txn.thread = getattr(event, "slave_proxy_id", None)
                            continue
                        if is_ddl(query):
                            schemas.forget(None)
                        if upper == "COMMIT" or not txn.open:
                            gtid = txn.gtid or gtid
                            self._commit(txn, BinlogPosition(stream.log_file, stream.log_pos, gtid))
                            txn = _Transaction()
                        continue
                    if isinstance(event, XidEvent):
                        gtid = txn.gtid or gtid
                        self._commit(txn, BinlogPosition(stream.log_file, stream.log_pos, gtid))
                        txn = _Transaction()
        finally:
            self.schema_reads += schemas.reads
            stream_obj, self.stream = self.stream, None
            if stream_obj is not None:
                _quietly(stream_obj.close)
            _quietly(ctl.close)

    def _connect(self, **settings: Any) -> Any:
        """python-mysql-replication's connections (the stream has no ``db``): a second
        stream connection is its own reconnect after a lost connection, which resumes right
        after the last event read."""
        stream = "db" not in settings and "database" not in settings
        conn = _pymysql_connect(**settings)
        if stream:
            self._stream_connections += 1
            stream_obj = self.stream
            if self._stream_connections > 1 and self.on_reconnect is not None:
                where = f"{stream_obj.log_file}:{stream_obj.log_pos}" if stream_obj else "?"
                self.on_reconnect(
                    f"lost the binlog stream of {self.settings.address}; reconnected, "
                    f"resuming after the last event read at {where}"
                )
        return conn

    def close_stream(self) -> None:
        """Break a blocked read (from another thread, when stopping takes too long)."""
        stream = self.stream
        if stream is not None:
            _quietly(stream.close)

    def _commit(self, txn: _Transaction, position: BinlogPosition) -> None:
        self.emit(txn.changes, position)
        self.position = position

    def _prepare_table(self, stream: Any, schemas: SchemaCache, event: Any) -> None:
        if event.schema in SYSTEM_DATABASES or not self.filter.wants_table(
            event.schema, event.table
        ):
            return
        table = stream.table_map.get(event.table_id)
        if table is None:
            return
        columns = table.columns
        schema = schemas.get(event.schema, event.table, len(columns))
        enrich_table_map(columns, schema)

    def _row_changes(
        self, event: Any, schemas: SchemaCache, txn: _Transaction, stream: Any
    ) -> list[Change]:
        from pymysqlreplication.row_event import DeleteRowsEvent, WriteRowsEvent

        database, table = event.schema, event.table
        if database in SYSTEM_DATABASES or not self.filter.wants_table(database, table):
            return []
        count = len(event.columns)
        schema = schemas.get(database, table, count)
        columns = schema.first(count)
        if any(
            getattr(c, "name", None) and c.name != i.name
            for c, i in zip(event.columns, columns, strict=False)
        ):
            # binlog_row_metadata=FULL: the binlog names the columns itself
            by_name = {i.name: i for i in schema.columns}
            columns = tuple(
                by_name.get(c.name, i) for c, i in zip(event.columns, columns, strict=False)
            )
        start = event.packet.log_pos - event.event_size
        base = {
            "ts_ms": int(event.timestamp) * 1000,
            "snapshot": "false",
            "server_id": event.packet.server_id,
            "gtid": txn.gtid,
            "file": stream.log_file,
            "pos": start,
            "thread": txn.thread,
            "query": None,
        }
        out: list[Change] = []
        for index, row in enumerate(event.rows):
            source = {**base, "row": index}
            if isinstance(event, WriteRowsEvent):
                out.append(self._change("c", schema, None, row["values"], source, columns))
            elif isinstance(event, DeleteRowsEvent):
                out.append(self._change("d", schema, row["values"], None, source, columns))
            else:
                change = self._change(
                    "u", schema, row["before_values"], row["after_values"], source, columns
                )
                old_key = _key_of(schema, change.before)
                if old_key != change.key:
                    # Debezium: an update of the primary key is a delete and a create
                    out.append(dataclasses.replace(change, op="d", after=None, key=old_key))
                    out.append(dataclasses.replace(change, op="c", before=None))
                else:
                    out.append(change)
        return out

    def _change(
        self,
        op: str,
        schema: TableSchema,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        extra: dict[str, Any],
        columns: Any = None,
    ) -> Change:
        cols = schema.columns if columns is None else columns
        database, table = schema.database, schema.table
        before_v = None if before is None else convert_row(before, cols)
        after_v = None if after is None else convert_row(after, cols)
        row = after_v if after_v is not None else before_v or {}
        key = _key_of(schema, row)
        source = {
            "version": self.info.version,
            "connector": self.info.connector,
            "name": self.info.name,
            "ts_ms": extra["ts_ms"],
            "snapshot": extra["snapshot"],
            "db": database,
            "sequence": None,
            "table": table,
            "server_id": extra["server_id"],
            "gtid": extra["gtid"],
            "file": extra["file"],
            "pos": extra["pos"],
            "row": extra["row"],
            "thread": extra["thread"],
            "query": extra["query"],
        }
        return Change(
            op=op,
            database=database,
            table=table,
            before=self.filter.columns(database, table, before_v),
            after=self.filter.columns(database, table, after_v),
            key=key,
            source=source,
            ts_ms=int(time.time() * 1000),
        )


class Stopped(Exception):
    """The snapshot was interrupted by a stop request."""


def _key_of(schema: TableSchema, row: dict[str, Any] | None) -> dict[str, Any] | None:
    """The primary-key columns of ``row`` (None for a table without a primary key)."""
    if not row:
        return None
    return {c.name: row.get(c.name) for c in schema.key_columns if c.name in row} or None


def _mark_last(change: Change) -> Change:
    return dataclasses.replace(change, source={**change.source, "snapshot": "last"})


def _gtid_at(cur: Any, file: Any, pos: Any) -> str | None:
    """MariaDB's GTID position at a binlog file and offset (None on MySQL)."""
    try:
        cur.execute("SELECT BINLOG_GTID_POS(%s, %s) AS gtid", (str(file), int(pos)))
        row = cur.fetchone()
    except Exception:  # MySQL has no BINLOG_GTID_POS
        return None
    value = row["gtid"] if isinstance(row, dict) else (row[0] if row else None)
    return str(value) if value else None


def _pymysql_connect(**settings: Any) -> Any:
    """``pymysql.connect`` with the names PyMySQL 1.1 wants (python-mysql-replication
    passes the deprecated ``db``)."""
    import pymysql

    if "db" in settings:
        settings["database"] = settings.pop("db")
    if "passwd" in settings:
        settings["password"] = settings.pop("passwd")
    return pymysql.connect(**settings)


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)


def _quietly(call: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):
        call()
