"""The Debezium MySQL ``RealtimeTrigger`` against the real MariaDB 10.11 (binlog ROW).

Each test has its own tables (``unique_name``) and its own state directory (``tmp_path``).
Some tests drive the trigger in-process (start, next_batch, ack, stop: the shapes, the
types, the snapshot, DDL); the delivery ones run ``kflow run`` as a process with a flow
that stores one MongoDB document per change, and check every change against what was
written to MariaDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import textwrap
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kflow.engine.source import Outcome, SourceOptions
from kflow.errors import KflowError
from kflow.flow import Flow, load_flow_text
from kflow.plugins.debezium_mysql import RealtimeTrigger
from kflow.plugins.debezium_mysql_record import MysqlChange
from kflow.state.positions import PositionKey, PositionStore
from testkit import mysql, stack
from testkit.processes import running, sample_flow
from testkit.stack import fresh_database
from testkit.waiting import wait_until

pytestmark = pytest.mark.integration

HOST, PORT = stack.mysql_address()


@pytest.fixture(autouse=True)
def _mariadb(mysql_dsn: str) -> None:
    """Every test here needs the server."""


def flow_text(tables: str, state_name: str, extra: str = "", tasks: str | None = None) -> str:
    body = (
        tasks
        or """
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "{{ trigger.stream }}"
    """
    )
    return (
        "id: cdc\nnamespace: test.mysql\ntasks:\n"
        + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ")
        + "\ntriggers:\n"
        + textwrap.indent(
            textwrap.dedent(mysql.trigger_yaml(tables, state_name, extra=extra)).strip("\n"), "  "
        )
        + "\n"
    )


def load(text: str) -> Flow:
    result = load_flow_text(text, "flow.yaml", for_run=True)
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    return result.flow


def source_of(text: str, state_dir: Path, **overrides: Any) -> RealtimeTrigger:
    flow = load(text)
    variables = {"flow": {"namespace": flow.namespace, "id": flow.id}}
    options = SourceOptions(state_dir=str(state_dir), overrides=overrides)
    source = RealtimeTrigger.from_trigger(flow.triggers[0], variables, options)
    assert isinstance(source, RealtimeTrigger)
    return source


def collect(
    source: RealtimeTrigger,
    count: int,
    *,
    during: Callable[[], None] | None = None,
    timeout: float = 60,
    ack: bool = True,
) -> list[MysqlChange]:
    """Start the source, run ``during`` (writes to MariaDB) once it streams, take ``count``
    records (acknowledging each), stop."""

    async def main() -> list[MysqlChange]:
        await source.start()
        got: list[MysqlChange] = []
        try:
            while not source.snapshot_over.is_set() and source.status().state != "failed":
                await asyncio.sleep(0.05)  # the snapshot is not over yet
            if during is not None:
                await asyncio.get_running_loop().run_in_executor(None, during)
            deadline = asyncio.get_running_loop().time() + timeout
            while len(got) < count:
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"got {len(got)} of {count} changes")
                for record in await source.next_batch(0.5):
                    assert isinstance(record, MysqlChange)
                    got.append(record)
                    if ack:
                        source.ack(record, Outcome.SUCCESS)
        finally:
            await source.stop()
        return got

    return asyncio.run(main())


@pytest.fixture
def table(unique_name: Callable[[str], str]) -> Iterator[str]:
    name = unique_name("cdc")
    yield name
    mysql.execute(f"DROP TABLE IF EXISTS `{name}`")


def make_table(name: str, columns: str = "id INT PRIMARY KEY, v INT, note VARCHAR(50)") -> None:
    mysql.execute(f"DROP TABLE IF EXISTS `{name}`", f"CREATE TABLE `{name}` ({columns})")


# ------------------------------------------------------------------------ shapes and values


def test_snapshot_then_stream_inline_shape_with_metadata(table: str, tmp_path: Path) -> None:
    make_table(table)
    mysql.execute(f"INSERT INTO `{table}` VALUES (1, 10, 'one'), (2, 20, 'two')")
    source = source_of(flow_text(f"kflow.{table}", table), tmp_path)

    def writes() -> None:
        mysql.execute(
            f"INSERT INTO `{table}` VALUES (3, 30, 'three')",
            f"UPDATE `{table}` SET v = 21 WHERE id = 2",
            f"DELETE FROM `{table}` WHERE id = 1",
        )

    def writes_and_a_new_key() -> None:
        writes()
        mysql.execute(f"UPDATE `{table}` SET id = 9 WHERE id = 3")

    got = collect(source, 7, during=writes_and_a_new_key)
    ops = [r.change.op for r in got if r.change]
    assert ops == ["r", "r", "c", "u", "d", "d", "c"]  # a new primary key: delete + create
    assert (got[5].value["id"], got[5].value["deleted"], got[6].value["id"]) == (3, True, 9)
    assert got[5].order_key() != got[6].order_key()
    snap = got[0].value
    assert {k: snap[k] for k in ("id", "v", "note", "deleted")} == {
        "id": 1,
        "v": 10,
        "note": "one",
        "deleted": False,
    }
    assert snap["metadata"]["operation"] == "READ"
    assert snap["metadata"]["source"]["snapshot"] == "true"
    assert got[1].value["metadata"]["source"]["snapshot"] == "last"
    assert got[0].stream == f"kflow.{table}"
    update = got[3].value
    assert (update["id"], update["v"], update["metadata"]["operation"]) == (2, 21, "UPDATE")
    source_block = update["metadata"]["source"]
    assert source_block["connector"] == "mysql" and source_block["db"] == "kflow"
    assert source_block["table"] == table and source_block["snapshot"] == "false"
    assert source_block["file"].startswith(mysql.binlog_end()[0].split(".")[0])
    assert isinstance(source_block["pos"], int) and source_block["pos"] > 0
    assert source_block["server_id"] == int(mysql.query("SELECT @@server_id AS s")[0]["s"])
    assert source_block["gtid"].count("-") == 2
    delete = got[4].value
    assert (delete["id"], delete["v"], delete["deleted"]) == (1, 10, True)
    assert source.stored is not None and source.stored.pos > 0


def test_wrap_and_raw_formats_and_dropped_deletes(table: str, tmp_path: Path) -> None:
    make_table(table)
    wrap = source_of(
        flow_text(f"kflow.{table}", table, "format: WRAP\nmetadata: DROP"), tmp_path / "w"
    )

    def writes() -> None:
        mysql.execute(
            f"INSERT INTO `{table}` VALUES (1, 1, 'a')",
            f"UPDATE `{table}` SET v = 2 WHERE id = 1",
            f"DELETE FROM `{table}` WHERE id = 1",
        )

    got = collect(wrap, 3, during=writes)
    assert got[0].value == {"record": {"id": 1, "v": 1, "note": "a"}, "deleted": False, "id": 1}
    assert got[2].value["deleted"] is True and "metadata" not in got[2].value

    raw = source_of(
        flow_text(f"kflow.{table}", table + "r", "format: RAW\nsnapshotMode: NEVER"),
        tmp_path / "r",
    )
    got = collect(raw, 3)  # NEVER: from the oldest binlog, so it sees the three changes above
    mine = [r for r in got if r.change and r.change.table == table]
    value = mine[1].value
    assert value["key"] == {"id": 1}
    assert value["value"]["op"] == "u"
    assert value["value"]["before"] == {"id": 1, "v": 1, "note": "a"}
    assert value["value"]["after"] == {"id": 1, "v": 2, "note": "a"}
    assert value["value"]["source"]["table"] == table

    dropped = source_of(
        flow_text(f"kflow.{table}", table + "d", "deleted: DROP\nsnapshotMode: NEVER"),
        tmp_path / "d",
    )
    records = collect(dropped, 3, ack=False)
    assert [r.skip for r in records] == [False, False, True]  # the delete starts nothing


def test_mariadb_types_convert_as_debezium_in_snapshot_and_binlog(
    table: str, tmp_path: Path
) -> None:
    make_table(
        table,
        "id INT PRIMARY KEY, ti TINYINT, flag TINYINT(1), si SMALLINT, bi BIGINT, "
        "ub BIGINT UNSIGNED, dec2 DECIMAL(10,2), dec0 DECIMAL(8,0), f FLOAT, d DOUBLE, "
        "vc VARCHAR(20), tx TEXT, js JSON, dt DATE, dtt DATETIME(3), ts TIMESTAMP(6) NULL, "
        "tm TIME, yr YEAR, en ENUM('small','big'), st SET('a','b','c'), b1 BIT(1), "
        "b10 BIT(10), bl BLOB, vb VARBINARY(8), nul INT NULL",
    )
    row = (
        "(%s, -5, 1, 300, 9007199254740993, 18446744073709551615, 12.50, 7, 1.1, 2.25, "
        "'héllo', 'long text', '{\"a\": [1, 2]}', '2024-01-31', '2024-01-31 10:00:00.250', "
        "'2024-01-31 10:00:00.000001', '10:05:07', 2024, 'big', 'c,a', b'1', b'1000000001', "
        "x'00FF', x'6162', NULL)"
    )
    mysql.execute("SET time_zone = '+00:00'")
    with mysql.connection() as conn, conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(f"INSERT INTO `{table}` VALUES " + row % 1)
    source = source_of(flow_text(f"kflow.{table}", table, "metadata: DROP"), tmp_path)

    def writes() -> None:
        with mysql.connection() as conn, conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(f"INSERT INTO `{table}` VALUES " + row % 2)

    got = collect(source, 2, during=writes)
    expected = {
        "ti": -5,
        "flag": 1,
        "si": 300,
        "bi": 9007199254740993,
        "ub": -1,
        "dec2": 12.5,
        "dec0": 7,
        "f": 1.1,
        "d": 2.25,
        "vc": "héllo",
        "tx": "long text",
        "js": '{"a": [1, 2]}',
        "dt": "2024-01-31",
        "dtt": "2024-01-31T10:00:00.250Z",
        "ts": "2024-01-31T10:00:00.000001Z",
        "tm": "10:05:07",
        "yr": 2024,
        "en": "big",
        "st": "a,c",
        "b1": True,
        "b10": "AQI=",
        "bl": "AP8=",
        "vb": "YWI=",
        "nul": None,
        "deleted": False,
    }
    for record in got:
        data = dict(record.value)
        data.pop("id")
        assert data == expected, record.change.op if record.change else None
    assert [r.change.op for r in got if r.change] == ["r", "c"]


def test_a_column_added_mid_stream_and_while_kflow_was_behind(table: str, tmp_path: Path) -> None:
    make_table(table)
    text = flow_text(f"kflow.{table}", table, "metadata: DROP\nkey: DROP")

    def live_ddl() -> None:
        mysql.execute(
            f"INSERT INTO `{table}` VALUES (1, 1, 'before')",
            f"ALTER TABLE `{table}` ADD COLUMN extra VARCHAR(10) DEFAULT 'x'",
            f"INSERT INTO `{table}` VALUES (2, 2, 'after', 'new')",
            f"UPDATE `{table}` SET extra = 'set' WHERE id = 1",
        )

    got = collect(source_of(text, tmp_path), 3, during=live_ddl)
    assert [r.value for r in got] == [
        {"id": 1, "v": 1, "note": "before", "deleted": False},
        {"id": 2, "v": 2, "note": "after", "extra": "new", "deleted": False},
        {"id": 1, "v": 1, "note": "before", "extra": "set", "deleted": False},
    ]
    # kflow stopped; rows written before and after another ADD COLUMN: on the next start the
    # older events carry fewer values than information_schema lists, and keep their names
    mysql.execute(
        f"INSERT INTO `{table}` VALUES (3, 3, 'old', 'e3')",
        f"ALTER TABLE `{table}` ADD COLUMN later INT DEFAULT 7",
        f"INSERT INTO `{table}` VALUES (4, 4, 'newer', 'e4', 8)",
    )
    again = collect(source_of(text, tmp_path), 2)
    assert [r.value for r in again] == [
        {"id": 3, "v": 3, "note": "old", "extra": "e3", "deleted": False},
        {"id": 4, "v": 4, "note": "newer", "extra": "e4", "later": 8, "deleted": False},
    ]


def test_included_columns_and_the_stored_position_resume(table: str, tmp_path: Path) -> None:
    make_table(table)
    text = flow_text(
        f"kflow.{table}",
        table,
        f"excludedColumns: kflow.{table}.note\nmetadata: DROP\nsnapshotMode: NO_DATA",
    )
    mysql.execute(f"INSERT INTO `{table}` VALUES (1, 1, 'before start')")  # NO_DATA: not read
    first = collect(
        source_of(text, tmp_path),
        1,
        during=lambda: mysql.execute(f"INSERT INTO `{table}` VALUES (2, 2, 'x')"),
    )
    assert first[0].value == {"id": 2, "v": 2, "deleted": False}
    mysql.execute(f"INSERT INTO `{table}` VALUES (3, 3, 'y')")
    second = collect(source_of(text, tmp_path), 1)  # resumes after id 2, not at the end
    assert second[0].value["id"] == 3
    key = PositionKey(table, "test.mysql", "cdc", "source")
    stored = PositionStore.open(tmp_path).load(key)
    assert stored is not None and stored["file"] and stored["pos"] > 0 and stored["gtid"]


def test_snapshot_modes_initial_only_always_and_when_needed(table: str, tmp_path: Path) -> None:
    make_table(table)
    mysql.execute(f"INSERT INTO `{table}` VALUES (1, 1, 'a'), (2, 2, 'b')")

    def text(mode: str) -> str:
        return flow_text(f"kflow.{table}", table, f"snapshotMode: {mode}\nmetadata: DROP")

    only = source_of(text("INITIAL_ONLY"), tmp_path)
    got = collect(only, 2)
    assert [r.change.op for r in got if r.change] == ["r", "r"] and only.exhausted
    # ALWAYS reads the table again though a position is stored
    again = collect(source_of(text("ALWAYS"), tmp_path), 2)
    assert [r.value["id"] for r in again] == [1, 2]
    # WHEN_NEEDED: the stored binlog file is gone from the server: snapshot again
    key = PositionKey(table, "test.mysql", "cdc", "source")
    store = PositionStore.open(tmp_path)
    store.save(key, {"file": "gone-bin.000001", "pos": 4, "gtid": None})
    store.close()
    needed = source_of(text("WHEN_NEEDED"), tmp_path)
    lines: list[str] = []
    needed.notify = lines.append
    assert [r.value["id"] for r in collect(needed, 2)] == [1, 2]
    assert any("no longer has binlog gone-bin.000001" in line for line in lines)
    # INITIAL with the position WHEN_NEEDED stored: streams, no snapshot
    initial = source_of(text("INITIAL"), tmp_path)
    got = collect(
        initial, 1, during=lambda: mysql.execute(f"INSERT INTO `{table}` VALUES (3, 3, 'c')")
    )
    assert [(r.change.op, r.value["id"]) for r in got if r.change] == [("c", 3)]


# --------------------------------------------------------------------------------- errors


def test_a_wrong_password_is_one_line_naming_the_server_without_the_password(
    table: str, tmp_path: Path
) -> None:
    text = flow_text(f"kflow.{table}", table).replace("password: kflow", "password: s3cr3t-pw")
    source = source_of(text, tmp_path)
    with pytest.raises(KflowError) as info:
        asyncio.run(source.start())
    line = str(info.value)
    assert "\n" not in line and "s3cr3t-pw" not in line
    assert f"MariaDB/MySQL at {HOST}:{PORT}" in line and "wrong user name or password" in line


def test_a_user_without_replication_privilege_is_told_which_grant(
    table: str, tmp_path: Path
) -> None:
    user = table[:32]
    mysql.execute(
        f"DROP USER IF EXISTS '{user}'@'%'",
        f"DROP USER IF EXISTS '{user}'@'localhost'",
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'",
        f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'pw-{user}'",
        f"GRANT SELECT ON kflow.* TO '{user}'@'%'",
        f"GRANT SELECT ON kflow.* TO '{user}'@'localhost'",
    )
    try:
        text = flow_text(f"kflow.{table}", table).replace(
            "username: kflow\n    password: kflow",
            f"username: {user}\n    password: pw-{user}",
        )
        assert f"username: {user}" in text
        with pytest.raises(KflowError) as info:
            asyncio.run(source_of(text, tmp_path).start())
        line = str(info.value)
        assert "REPLICATION SLAVE" in line and f"{HOST}:{PORT}" in line and "\n" not in line
        assert f"pw-{user}" not in line
    finally:
        mysql.execute(
            f"DROP USER IF EXISTS '{user}'@'%'", f"DROP USER IF EXISTS '{user}'@'localhost'"
        )


# --------------------------------------------------------------- kflow run as a process


STORE_TASKS = """
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{sleep}"
  - id: store
    type: io.kestra.plugin.mongodb.InsertOne
    connection:
      uri: "{mongo_uri}"
    database: {database}
    collection: docs
    document:
      table: "{{{{ trigger.data.metadata.source.table }}}}"
      op: "{{{{ trigger.data.metadata.operation }}}}"
      id: "{{{{ trigger.data.id }}}}"
      v: "{{{{ trigger.data.v }}}}"
      file: "{{{{ trigger.data.metadata.source.file }}}}"
      pos: "{{{{ trigger.data.metadata.source.pos }}}}"
      row: "{{{{ trigger.data.metadata.source.row }}}}"
"""


@pytest.fixture
def store(mongo_uri: str, unique_name: Callable[[str], str]) -> Iterator[tuple[str, Any]]:
    database = unique_name("db")
    with fresh_database(mongo_uri, database) as db:
        yield database, db["docs"]


def write_process_flow(
    tmp_path: Path, tables: list[str], state: str, mongo_uri: str, database: str, sleep: str
) -> Path:
    tasks = STORE_TASKS.format(sleep=sleep, mongo_uri=mongo_uri, database=database)
    text = flow_text(",".join(f"kflow.{t}" for t in tables), state, "", tasks)
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def workload(tables: list[str], rows: int) -> list[tuple[str, str, int, int]]:
    """Inserts, two updates each and a delete of every third row, spread over the tables,
    one transaction per statement; the changes made as (table, op, id, v)."""
    made: list[tuple[str, str, int, int]] = []
    with mysql.connection() as conn, conn.cursor() as cur:
        for i in range(rows):
            for t in tables:
                cur.execute(f"INSERT INTO `{t}` VALUES (%s, 0, 'n')", (i,))
                made.append((t, "CREATE", i, 0))
        for v in (1, 2):
            for i in range(rows):
                for t in tables:
                    cur.execute(f"UPDATE `{t}` SET v = %s WHERE id = %s", (v, i))
                    made.append((t, "UPDATE", i, v))
        for i in range(0, rows, 3):
            for t in tables:
                cur.execute(f"DELETE FROM `{t}` WHERE id = %s", (i,))
                made.append((t, "DELETE", i, 2))
    return made


def doc_key(doc: dict[str, Any]) -> tuple[str, str, int, int]:
    return (doc["table"], doc["op"], int(doc["id"]), int(doc["v"]))


def test_every_change_of_many_rows_and_tables_is_delivered_in_row_order(
    unique_name: Callable[[str], str],
    store: tuple[str, Any],
    mongo_uri: str,
    tmp_path: Path,
) -> None:
    database, docs = store
    tables = [unique_name(f"t{i}") for i in range(3)]
    for t in tables:
        make_table(t)
    try:
        flow = write_process_flow(tmp_path, tables, tables[0], mongo_uri, database, "PT0.005S")
        env = {"KFLOW_STATE_DIR": str(tmp_path / "state")}
        with running(flow, ["--concurrency", "16"], tmp_path / "run", env) as proc:
            streaming(tmp_path / "state", tables[0], proc)
            made = workload(tables, 60)  # 3 tables x (60 + 120 + 20) = 600 changes
            wait_until(
                lambda: docs.count_documents({}),
                lambda n: n >= len(made),
                timeout=180,
                what=f"{len(made)} docs",
            )
            proc.sigterm()
            assert proc.wait(60) == 0, proc.stderr()[-2000:]
            runs = proc.executions()
        stored = Counter(doc_key(d) for d in docs.find({}, {"_id": 0}))
        assert stored == Counter(made)  # every change once, nothing else
        by_row: dict[str, list[dict[str, Any]]] = {}
        for e in runs:
            by_row.setdefault(f"{e['trigger']['stream']}|{e['trigger']['key']}", []).append(e)
        assert len(by_row) == 3 * 60
        for row, executions in by_row.items():
            executions.sort(key=lambda e: e["startDate"])
            spans = [(e["startDate"], e["endDate"]) for e in executions]
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), row
            places = [(e["trigger"]["file"], e["trigger"]["pos"]) for e in executions]
            assert places == sorted(places), row  # binlog order
    finally:
        for t in tables:
            mysql.execute(f"DROP TABLE IF EXISTS `{t}`")


def _load(state_dir: Path, key: PositionKey) -> dict[str, Any] | None:
    if not state_dir.exists():
        return None
    store = PositionStore.open(state_dir)
    try:
        return store.load(key)
    finally:
        store.close()


def _stored_position(state_dir: Path, state: str) -> dict[str, Any] | None:
    return _load(state_dir, PositionKey(state, "test.mysql", "cdc", "source"))


def streaming(state_dir: Path, state: str, proc: Any) -> None:
    """Wait until the (empty) snapshot is done: its position is stored, streaming began."""
    wait_until(
        lambda: proc.alive and _stored_position(state_dir, state) is not None,
        lambda ok: ok,
        timeout=60,
        what="the snapshot's position stored",
    )


def test_kill_9_mid_stream_then_restart_delivers_every_change_without_extra_duplicates(
    table: str, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    make_table(table)
    flow = write_process_flow(tmp_path, [table], table, mongo_uri, database, "PT0.02S")
    state_dir = tmp_path / "state"
    env = {"KFLOW_STATE_DIR": str(state_dir)}
    made: list[tuple[str, str, int, int]] = []
    writer = threading.Thread(target=lambda: made.extend(workload([table], 300)))
    with running(flow, ["--concurrency", "8"], tmp_path / "a", env) as first:
        streaming(state_dir, table, first)
        writer.start()
        wait_until(lambda: docs.count_documents({}), lambda n: n >= 150, timeout=120, what="150")
        first.kill9()
    writer.join(120)
    done_at_kill = Counter(doc_key(d) for d in docs.find({}, {"_id": 0}))
    position = _stored_position(state_dir, table)
    assert position is not None
    # the stored position is never ahead of finished work: every change before it is done
    all_places = {}
    with running(flow, ["--concurrency", "8"], tmp_path / "b", env) as second:
        wait_until(
            lambda: docs.count_documents({}),
            lambda n: n >= len(made),
            timeout=180,
            what=f"all {len(made)} changes",
        )
        second.sigterm()
        assert second.wait(60) == 0, second.stderr()[-2000:]
    for d in docs.find({}, {"_id": 0}):
        all_places.setdefault(doc_key(d), (d["file"], int(d["pos"])))
    before_stored = {
        k for k, (f, p) in all_places.items() if (f, p) < (position["file"], position["pos"])
    }
    assert before_stored <= set(done_at_kill)
    delivered = Counter(doc_key(d) for d in docs.find({}, {"_id": 0}))
    assert set(delivered) == set(made)  # every change delivered
    duplicates = sum(n - 1 for n in delivered.values())
    redelivered_done = sum(1 for k in done_at_kill if delivered[k] > 1)
    print(
        f"crash test: {len(made)} changes made, {sum(delivered.values())} delivered, "
        f"{duplicates} duplicates ({len(done_at_kill)} finished before the kill)"
    )
    # only what was read past the stored position before the kill runs twice: at most
    # the in-flight window (8 executions) plus those that finished after an unfinished one
    assert duplicates == redelivered_done <= 16


def insert_through_outages(table: str, ids: range, stop: threading.Event) -> None:
    """Insert one row per transaction, reconnecting (and retrying) while the server is down;
    a retried insert whose first commit did land is skipped (duplicate key)."""
    import pymysql

    pending = list(ids)
    while pending and not stop.is_set():
        try:
            with mysql.connection() as conn, conn.cursor() as cur:
                while pending:
                    # a duplicate key: committed before the connection was lost
                    with contextlib.suppress(pymysql.err.IntegrityError):
                        cur.execute(f"INSERT INTO `{table}` VALUES (%s, 0, 'n')", (pending[0],))
                    pending.pop(0)
                    stop.wait(0.003)  # spread the writes over the restart
        except pymysql.err.OperationalError:
            stop.wait(0.2)


def test_a_mariadb_restart_mid_stream_loses_nothing(
    table: str, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    make_table(table)
    flow = write_process_flow(tmp_path, [table], table, mongo_uri, database, "PT0.01S")
    env = {"KFLOW_STATE_DIR": str(tmp_path / "state")}
    stop = threading.Event()
    writer = threading.Thread(target=insert_through_outages, args=(table, range(1000), stop))
    with running(flow, ["--concurrency", "8"], tmp_path / "a", env) as proc:
        streaming(tmp_path / "state", table, proc)
        writer.start()
        try:
            wait_until(lambda: docs.count_documents({}), lambda n: n >= 40, timeout=60, what="40")
            stack.restart("mariadb")  # while the writer still inserts
            writer.join(180)
        finally:
            stop.set()
        rows = {int(r["id"]) for r in mysql.query(f"SELECT id FROM `{table}`")}
        assert rows == set(range(1000))
        wait_until(
            lambda: rows - {int(d["id"]) for d in docs.find({}, {"_id": 0, "id": 1})},
            lambda left: not left,
            timeout=180,
            what="every inserted row",
        )
        proc.sigterm()
        assert proc.wait(60) == 0, proc.stderr()[-2000:]
        assert "lost the binlog stream" in proc.stderr()
    delivered = Counter(int(d["id"]) for d in docs.find({}, {"_id": 0, "id": 1}))
    duplicates = sum(n - 1 for n in delivered.values())
    print(
        f"mariadb restart: {len(rows)} rows inserted, {sum(delivered.values())} delivered, "
        f"{duplicates} duplicates"
    )
    assert duplicates == 0  # resumed right after the last transaction read


# ------------------------------------------------------------------------------- sample


def test_the_mariadb_sample_runs_end_to_end(
    seeded_products: None,
    table: str,
    mongo_uri: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from pymongo import MongoClient

    collection = unique_name("orders")
    mysql.execute(
        f"DROP TABLE IF EXISTS `{table}`",
        f"CREATE TABLE `{table}` (order_id INT PRIMARY KEY, customer_name VARCHAR(100), "
        "customer_email VARCHAR(100), product_id INT, price DECIMAL(10,2), quantity INT, "
        "total DECIMAL(10,2))",
        f"INSERT INTO `{table}` VALUES (1, 'Ann', 'ann@example.com', 3, 10.50, 2, 21.00)",
    )
    flow = sample_flow(
        tmp_path, "blog-flow-mariadb-cdc.yaml", {'"detailed_orders"': f'"{collection}"'}
    )
    env = {
        "ENV_MONGO_URI": mongo_uri,
        "ENV_MYSQL_TABLES": f"kflow.{table}",
        "KFLOW_STATE_DIR": str(tmp_path / "state"),
    }
    with running(flow, ["--max-executions", "3"], tmp_path / "run", env) as proc:
        key = PositionKey("debezium-state", "dev", "get_detailed_order_mariadb_cdc", "orders")
        wait_until(
            lambda: proc.count() == 1 and _load(tmp_path / "state", key) is not None,
            lambda ok: ok,
            timeout=60,
            what="the snapshot of the first order",
        )
        mysql.execute(
            f"INSERT INTO `{table}` VALUES (2, 'Bob', 'bob@example.com', 5, 3.00, 1, 3.00)",
            f"UPDATE `{table}` SET quantity = 3, total = 31.50 WHERE order_id = 1",
            f"DELETE FROM `{table}` WHERE order_id = 2",  # deleted: DROP, no execution
        )
        assert proc.wait(120) == 0, proc.stderr()[-2000:]
        states = [e["state"] for e in proc.executions()]
    assert states == ["SUCCESS"] * 3
    client: Any = MongoClient(mongo_uri)
    try:
        got = list(client["kestra"][collection].find({}, {"_id": 0}))
    finally:
        client["kestra"].drop_collection(collection)
        client.close()
    ops = sorted((d["order_id"], d["operation"], d["quantity"]) for d in got)
    assert ops == [("1", "READ", "2"), ("1", "UPDATE", "3"), ("2", "CREATE", "1")]
    assert all(d["product"]["name"] for d in got)
    assert all(json.dumps(d["binlog"]).count(":") == 1 for d in got)
