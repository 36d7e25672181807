"""The Debezium PostgreSQL RealtimeTrigger against the stack's PostgreSQL (wal_level logical),
through ``kflow run`` as a process, with flows that store one MongoDB document per change.

Every test uses its own tables, slot and publication (``unique_name``) and drops them at the
end (the slot after kflow has stopped).
"""

from __future__ import annotations

import itertools
import json
import textwrap
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testkit import postgres as pg
from testkit.processes import KflowProcess, running
from testkit.stack import fresh_database, postgres_address, restart, stack
from testkit.waiting import wait_until

pytestmark = pytest.mark.integration


@dataclass
class Names:
    slot: str
    publication: str
    tables: list[str] = field(default_factory=list)
    slots: list[str] = field(default_factory=list)

    def table(self, name: str) -> str:
        self.tables.append(name)
        return name

    def extra_slot(self, name: str) -> str:
        self.slots.append(name)
        return name


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kflow notes there whether a snapshot finished (inherited by ``kflow run``)."""
    monkeypatch.setenv("KFLOW_STATE_DIR", str(tmp_path / "kflow-state"))


@pytest.fixture
def names(postgres_dsn: str, unique_name: Callable[[str], str]) -> Iterator[Names]:
    made = Names(slot=unique_name("slot"), publication=unique_name("pub"))
    yield made
    for slot in [made.slot, *made.slots]:
        pg.drop_slot(slot)
    pg.drop_publication(made.publication)
    for table in made.tables:
        pg.drop_table(table)


@pytest.fixture
def store(mongo_uri: str, unique_name: Callable[[str], str]) -> Iterator[tuple[str, Any]]:
    database = unique_name("db")
    with fresh_database(mongo_uri, database) as db:
        yield database, db["docs"]


FIELDS_DOCUMENT = """
      document:
        stream: "{{ trigger.stream }}"
        op: "{{ trigger.data.metadata.operation }}"
        id: "{{ trigger.data.id }}"
        n: "{{ trigger.data.n }}"
        lsn: "{{ trigger.data.metadata.source.lsn }}"
"""

WHOLE_DOCUMENT = """
      document: '{"stream": "{{ trigger.stream }}", "data": {{ trigger.data | toJson }} }'
"""


def write_flow(
    path: Path,
    names: Names,
    mongo_uri: str,
    database: str,
    *,
    extra: dict[str, str] | None = None,
    document: str = FIELDS_DOCUMENT,
    sleep: str = "PT0S",
    slot: str | None = None,
) -> Path:
    head = textwrap.dedent(f"""
        id: pg_cdc
        namespace: dev.cdc
        tasks:
          - id: wait
            type: io.kestra.plugin.core.flow.Sleep
            duration: {sleep}
          - id: store
            type: io.kestra.plugin.mongodb.InsertOne
            connection:
              uri: "{mongo_uri}"
            database: {database}
            collection: docs
    """).lstrip()
    body = textwrap.indent(textwrap.dedent(document).strip("\n"), "    ") + "\n"
    # only this test's tables (others run tests on the same database at the same time)
    extra = {"includedTables": f"public\\.{names.slot}_.*", **(extra or {})}
    trigger = pg.trigger_yaml(slot or names.slot, names.publication, extra=extra, indent="  ")
    path.write_text(head + body + "triggers:\n" + trigger, encoding="utf-8")
    return path


def docs_of(collection: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k != "_id"} for d in collection.find({})]


def wait_for_slot(slot: str, proc: KflowProcess) -> None:
    def active() -> bool:
        assert proc.alive, proc.stderr()[-2000:]
        info = pg.slot_info(slot)
        return bool(info and info["active"])

    wait_until(active, lambda ok: ok, timeout=60, what=f"slot {slot} streaming")


def parse_lsn(text: str) -> int:
    return pg.parse_lsn(text)


# ------------------------------------------------------------------------------ delivery


def test_every_change_of_many_rows_is_delivered_and_each_row_keeps_its_order(
    names: Names, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    tables = [names.table(f"{names.slot}_{c}") for c in "abc"]
    for table in tables:
        pg.execute(f'CREATE TABLE "{table}" (id int PRIMARY KEY, n int)')
    pg.execute(f'CREATE PUBLICATION "{names.publication}" FOR ALL TABLES')
    flow = write_flow(tmp_path / "f.yaml", names, mongo_uri, database, sleep="PT0.01S")
    expected: Counter[tuple[str, str, str, str]] = Counter()
    with running(flow, ["--concurrency", "8"], tmp_path / "a", {}) as proc:
        wait_for_slot(names.slot, proc)
        statements: list[tuple[str, list[Any] | None]] = []
        for row in range(40):
            for table in tables:  # interleaved: the tables' transactions alternate
                statements.append((f'INSERT INTO "{table}" VALUES (%s, 0)', [row]))
                expected[(f"kflow.{table}", "CREATE", str(row), "0")] += 1
        for table in tables:
            for n in (1, 2):  # one transaction of 40 row changes each
                statements.append((f'UPDATE "{table}" SET n = {n}', None))
                for row in range(40):
                    expected[(f"kflow.{table}", "UPDATE", str(row), str(n))] += 1
            statements.append((f'DELETE FROM "{table}" WHERE id % 5 = 0', None))
            for row in range(0, 40, 5):
                # replica identity DEFAULT: a delete carries the key only
                expected[(f"kflow.{table}", "DELETE", str(row), "")] += 1
        pg.execute_many(statements)
        total = sum(expected.values())
        wait_until(lambda: docs.count_documents({}), lambda n: n >= total, timeout=120, what="all")
        proc.sigterm()
        assert proc.wait(60) == 0, proc.stderr()[-2000:]
        runs = proc.executions()
    got = Counter((d["stream"], d["op"], d["id"], d["n"]) for d in docs_of(docs))
    assert got == expected  # every change once (a clean run repeats nothing)
    assert total == 3 * (40 + 80 + 8)
    by_row: dict[tuple[str, str], list[tuple[str, str, int, str]]] = {}
    for e in runs:
        t = e["trigger"]
        by_row.setdefault((t["table"], t["key"]), []).append(
            (e["startDate"], e["endDate"], parse_lsn(t["lsn"]), t["op"])
        )
    assert len(by_row) == 120
    for key, spans in by_row.items():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), key  # one at a time
        assert [s[2] for s in spans] == sorted(s[2] for s in spans), key  # in commit order
        ops = [s[3] for s in spans]
        assert ops[:3] == ["c", "u", "u"] and ops[3:] in ([], ["d"]), (key, ops)
    # different rows did run at the same time
    starts = sorted((e["startDate"], e["endDate"]) for e in runs)
    assert any(a[1] > b[0] for a, b in itertools.pairwise(starts))


# ------------------------------------------------------------------------------ shapes


SHAPE_CHANGES = [
    ("INSERT INTO \"{t}\" VALUES (1, 'a', 10)", None),
    ("UPDATE \"{t}\" SET name = 'b' WHERE id = 1", None),
    ('DELETE FROM "{t}" WHERE id = 1', None),
]


def _shape_run(
    names: Names,
    slot: str,
    extra: dict[str, str],
    mongo_uri: str,
    store: Any,
    tmp_path: Path,
    expect: int,
) -> list[dict[str, Any]]:
    flow = write_flow(
        tmp_path / f"{slot}.yaml",
        names,
        mongo_uri,
        store.database.name,
        extra={"snapshotMode": "NEVER", **extra},
        document=WHOLE_DOCUMENT,
        slot=slot,
    )
    store.delete_many({})
    with running(flow, ["--timeout", "8"], tmp_path / slot, {}) as proc:
        assert proc.wait(60) == 0, proc.stderr()[-2000:]
    got = docs_of(store)
    assert len(got) == expect, got
    return sorted(got, key=lambda d: str(d["data"].get("metadata", {}).get("source", {})))


def test_the_data_shape_of_each_format_and_option(
    names: Names, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    _, docs = store
    table = names.table(names.slot + "_shape")
    pg.execute(f'CREATE TABLE "{table}" (id int PRIMARY KEY, name text, n int)')
    pg.execute(f'CREATE PUBLICATION "{names.publication}" FOR TABLE "{table}"')
    variants = ["inline", "wrap", "raw", "drop", "nometa"]
    slots = {v: names.extra_slot(f"{names.slot[:50]}_{v}") for v in variants}
    for slot in slots.values():
        pg.create_slot(slot)
    pg.execute_many((sql.format(t=table), params) for sql, params in SHAPE_CHANGES)
    stream = f"kflow.{table}"

    inline = _shape_run(names, slots["inline"], {}, mongo_uri, docs, tmp_path, 3)
    ops = {d["data"]["metadata"]["operation"]: d for d in inline}
    assert set(ops) == {"CREATE", "UPDATE", "DELETE"}
    assert all(d["stream"] == stream for d in inline)
    created = ops["CREATE"]["data"]
    assert {k: created[k] for k in ("id", "name", "n", "deleted")} == {
        "id": 1,
        "name": "a",
        "n": 10,
        "deleted": False,
    }
    meta = created["metadata"]
    source = meta["source"]
    assert source["connector"] == "postgresql" and source["db"] == "kflow"
    assert source["schema"] == "public" and source["table"] == table
    assert source["snapshot"] == "false" and isinstance(source["txId"], int)
    assert isinstance(source["lsn"], int) and source["timestamp"].endswith("Z")
    assert meta["timestamp"].endswith("Z") and isinstance(meta["ts_us"], int)
    assert ops["UPDATE"]["data"]["name"] == "b"
    deleted = ops["DELETE"]["data"]
    assert deleted["deleted"] is True and deleted["id"] == 1  # the key; the rest unknown
    assert deleted["name"] is None

    wrap = _shape_run(names, slots["wrap"], {"format": "WRAP"}, mongo_uri, docs, tmp_path, 3)
    first = next(d["data"] for d in wrap if d["data"]["metadata"]["operation"] == "CREATE")
    assert first["record"] == {"id": 1, "name": "a", "n": 10}
    assert first["deleted"] is False and first["id"] == 1  # key: ADD_FIELD adds the key

    raw = _shape_run(names, slots["raw"], {"format": "RAW"}, mongo_uri, docs, tmp_path, 3)
    envelopes = {d["data"]["value"]["op"]: d["data"] for d in raw}
    assert set(envelopes) == {"c", "u", "d"}
    assert envelopes["c"]["key"] == {"id": 1}
    assert envelopes["c"]["value"]["before"] is None
    assert envelopes["c"]["value"]["after"] == {"id": 1, "name": "a", "n": 10}
    assert envelopes["u"]["value"]["after"]["name"] == "b"
    assert envelopes["d"]["value"]["before"] == {"id": 1, "name": None, "n": None}
    assert envelopes["d"]["value"]["after"] is None and envelopes["d"]["deleted"] is True
    assert envelopes["c"]["value"]["source"]["table"] == table

    dropped = _shape_run(names, slots["drop"], {"deleted": "DROP"}, mongo_uri, docs, tmp_path, 2)
    assert {d["data"]["metadata"]["operation"] for d in dropped} == {"CREATE", "UPDATE"}
    assert all("deleted" not in d["data"] for d in dropped)

    bare = _shape_run(
        names,
        slots["nometa"],
        {"metadata": "DROP", "deleted": '"NULL"', "splitTable": "DATABASE"},
        mongo_uri,
        docs,
        tmp_path,
        3,
    )
    assert all(d["stream"] == "kflow" for d in bare)
    # the publication was there: kflow left it as it was
    assert pg.execute(
        "SELECT puballtables FROM pg_publication WHERE pubname = %s", [names.publication]
    ) == [(False,)]
    assert sorted(json.dumps(d["data"], sort_keys=True) for d in bare) == sorted(
        json.dumps(row, sort_keys=True)
        for row in (
            {"id": 1, "name": "a", "n": 10},
            {"id": 1, "name": "b", "n": 10},
            {"id": 1, "name": None, "n": None},
        )
    )


# ------------------------------------------------------------------------------ types


def test_column_types_arrive_as_kestra_shows_them(
    names: Names, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    table = names.table(names.slot + "_types")
    pg.execute(
        f"""CREATE TABLE "{table}" (
            id int PRIMARY KEY, b bool, s smallint, i int, l bigint, r real, d double precision,
            num numeric(10,2), whole numeric(10,0), t text, v varchar(10), c char(3),
            day date, clock time, stamp timestamp, instant timestamptz, span interval,
            j json, jb jsonb, u uuid, raw bytea, ints int[], texts text[], big text,
            note text)"""
    )
    pg.execute(f'CREATE PUBLICATION "{names.publication}" FOR TABLE "{table}"')
    pg.create_slot(names.slot)
    big = "".join(f"{i:08x}{i * 7919 % 1000003:08x}" for i in range(1000))  # 16 kB, TOASTed
    pg.execute(
        f"""INSERT INTO "{table}" VALUES (1, true, -3, 7, 9007199254740993, 1.5, 2.25,
            12.50, 42, 'héllo', 'var', 'ab', '2024-01-31', '10:00:00.25',
            '2024-01-31 10:00:00', '2024-01-31 12:00:00.5+02', '1 day 02:00:00',
            '{{"a": [1, 2]}}', '{{"b": true}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
            '\\x00ff41', '{{1,NULL,3}}', '{{"x y",z}}', %s, 'n1')""",
        [big],
    )
    pg.execute(f"UPDATE \"{table}\" SET note = 'n2' WHERE id = 1")  # big is not sent again
    flow = write_flow(
        tmp_path / "f.yaml",
        names,
        mongo_uri,
        database,
        extra={"snapshotMode": "NEVER"},
        document=WHOLE_DOCUMENT,
    )
    with running(flow, ["--max-executions", "2"], tmp_path / "a", {}) as proc:
        assert proc.wait(60) == 0, proc.stderr()[-2000:]
    got = {d["data"]["note"]: d["data"] for d in docs_of(docs)}
    row = got["n1"]
    expected = {
        "id": 1,
        "b": True,
        "s": -3,
        "i": 7,
        "l": 9007199254740993,
        "r": 1.5,
        "d": 2.25,
        "num": 12.5,
        "whole": 42,
        "t": "héllo",
        "v": "var",
        "c": "ab ",
        "day": "2024-01-31",
        "clock": "10:00:00.25",
        "stamp": "2024-01-31T10:00:00Z",
        "instant": "2024-01-31T10:00:00.500Z",
        "span": 93_600_000_000,
        "j": '{"a": [1, 2]}',
        "jb": '{"b": true}',
        "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "raw": "AP9B",
        "ints": [1, None, 3],
        "texts": ["x y", "z"],
    }
    assert {k: row[k] for k in expected} == expected
    assert row["big"] == big
    assert got["n2"]["big"] == "__debezium_unavailable_value"  # Debezium's placeholder
    assert got["n2"]["num"] == 12.5


# ------------------------------------------------------------------------------ snapshot


def test_the_snapshot_and_the_stream_meet_exactly_and_the_modes_behave(
    names: Names, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    table = names.table(names.slot + "_snap")
    pg.execute(f'CREATE TABLE "{table}" (id serial PRIMARY KEY, n int)')
    pg.execute_many((f'INSERT INTO "{table}" (n) VALUES (%s)', [n]) for n in range(50))
    stop = threading.Event()

    def insert_while_kflow_starts() -> None:
        conn = pg.connection()
        try:
            with conn.cursor() as cur:
                n = 1000
                while not stop.is_set():
                    cur.execute(f'INSERT INTO "{table}" (n) VALUES (%s)', [n])
                    n += 1
        finally:
            conn.close()

    flow = write_flow(
        tmp_path / "f.yaml", names, mongo_uri, database, extra={"includedTables": f"public.{table}"}
    )
    inserter = threading.Thread(target=insert_while_kflow_starts)
    inserter.start()
    try:
        with running(flow, [], tmp_path / "a", {}) as proc:
            wait_for_slot(names.slot, proc)
            wait_until(
                lambda: docs.count_documents({"op": "CREATE"}),
                lambda n: n >= 20,
                timeout=60,
                what="streamed inserts",
            )
            stop.set()
            inserter.join()
            rows = pg.execute(f'SELECT count(*) FROM "{table}"')[0][0]
            wait_until(
                lambda: docs.count_documents({}), lambda n: n >= rows, timeout=60, what="every row"
            )
            proc.sigterm()
            assert proc.wait(60) == 0, proc.stderr()[-2000:]
            first_runs = proc.executions()
    finally:
        stop.set()
        inserter.join()
    got = docs_of(docs)
    ids = Counter(d["id"] for d in got)
    assert len(ids) == rows and set(ids.values()) == {1}  # each row once: read or streamed
    ops = Counter(d["op"] for d in got)
    assert ops["READ"] >= 50 and ops["CREATE"] >= 20 and set(ops) == {"READ", "CREATE"}
    snapshot_flags = Counter(e["trigger"]["op"] for e in first_runs if e["trigger"]["op"] == "r")
    assert snapshot_flags["r"] == ops["READ"]
    # INITIAL again: the slot exists, no snapshot; only what changed since
    docs.delete_many({})
    pg.execute(f'INSERT INTO "{table}" (n) VALUES (-1)')
    with running(flow, ["--timeout", "6"], tmp_path / "b", {}) as again:
        assert again.wait(60) == 0, again.stderr()[-2000:]
    assert [(d["op"], d["n"]) for d in docs_of(docs)] == [("CREATE", "-1")]
    # ALWAYS: the tables are read at every start
    docs.delete_many({})
    always = write_flow(
        tmp_path / "always.yaml", names, mongo_uri, database, extra={"snapshotMode": "ALWAYS"}
    )
    with running(always, ["--max-executions", str(rows + 1)], tmp_path / "c", {}) as third:
        assert third.wait(60) == 0, third.stderr()[-2000:]
    assert Counter(d["op"] for d in docs_of(docs)) == {"READ": rows + 1}
    # INITIAL_ONLY: read, then stop by itself; no slot is made
    docs.delete_many({})
    only_slot = names.extra_slot(names.slot[:50] + "_only")
    only = write_flow(
        tmp_path / "only.yaml",
        names,
        mongo_uri,
        database,
        extra={"snapshotMode": "INITIAL_ONLY", "includedTables": f"public.{table}"},
        slot=only_slot,
    )
    with running(only, [], tmp_path / "d", {}) as fourth:
        assert fourth.wait(60) == 0, fourth.stderr()[-2000:]
    assert Counter(d["op"] for d in docs_of(docs)) == {"READ": rows + 1}
    assert pg.slot_info(only_slot) is None
    # NEVER with a new slot: no snapshot, only what comes after
    docs.delete_many({})
    never_slot = names.extra_slot(names.slot[:50] + "_never")
    never = write_flow(
        tmp_path / "never.yaml",
        names,
        mongo_uri,
        database,
        extra={"snapshotMode": "NEVER"},
        slot=never_slot,
    )
    with running(never, [], tmp_path / "e", {}) as fifth:
        wait_for_slot(never_slot, fifth)
        pg.execute(f'INSERT INTO "{table}" (n) VALUES (-2)')
        wait_until(lambda: docs.count_documents({}), lambda n: n >= 1, timeout=30, what="one")
        fifth.sigterm()
        assert fifth.wait(60) == 0, fifth.stderr()[-2000:]
    assert [(d["op"], d["n"]) for d in docs_of(docs)] == [("CREATE", "-2")]


def test_a_snapshot_cut_by_a_crash_is_read_again_at_the_next_start(
    names: Names, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    table = names.table(names.slot + "_cut")
    pg.execute(f'CREATE TABLE "{table}" (id int PRIMARY KEY, n int)')
    pg.execute_many((f'INSERT INTO "{table}" VALUES (%s, %s)', [n, n]) for n in range(300))
    flow = write_flow(tmp_path / "f.yaml", names, mongo_uri, database, sleep="PT0.05S")
    with running(flow, ["--concurrency", "2"], tmp_path / "a", {}) as first:
        wait_until(lambda: docs.count_documents({}), lambda n: n >= 20, timeout=60, what="20")
        first.kill9()
        first.proc.wait(30)
    assert docs.count_documents({}) < 300
    with running(flow, ["--concurrency", "16"], tmp_path / "b", {}) as second:
        wanted = {str(n) for n in range(300)}
        wait_until(
            lambda: wanted - {d["id"] for d in docs.find({}, {"id": 1})},
            lambda left: not left,
            timeout=120,
            what="every row",
        )
        pg.execute(f'INSERT INTO "{table}" VALUES (300, 300)')
        wait_until(
            lambda: docs.count_documents({"id": "300"}),
            lambda n: n == 1,
            timeout=30,
            what="the streamed row",
        )
        second.sigterm()
        assert second.wait(60) == 0, second.stderr()[-2000:]
        assert "did not finish last time" in second.stderr()
    docs.delete_many({})
    with running(flow, ["--timeout", "5"], tmp_path / "c", {}) as third:
        assert third.wait(60) == 0, third.stderr()[-2000:]
        assert third.executions() == []  # the snapshot finished: nothing is read again


# ------------------------------------------------------------------------------ crash


class SerialInserter:
    """Inserts rows ``n = 0..count-1`` one transaction each, noting after each commit the
    server's WAL position (at or past that transaction's commit)."""

    def __init__(self, table: str, count: int) -> None:
        self.table = table
        self.count = count
        self.after: dict[int, int] = {}
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        conn = pg.connection()
        try:
            with conn.cursor() as cur:
                for n in range(self.count):
                    cur.execute(f'INSERT INTO "{self.table}" (id, n) VALUES (%s, %s)', [n, n])
                    cur.execute("SELECT pg_current_wal_lsn()::text")
                    self.after[n] = pg.parse_lsn(cur.fetchone()[0])
        finally:
            conn.close()

    def committed_before(self, lsn: int) -> set[str]:
        """Rows whose transactions surely committed before ``lsn``."""
        return {str(n) for n, after in list(self.after.items()) if after <= lsn}


def check_confirmed_is_finished(slot: str, inserter: SerialInserter, docs: Any) -> int:
    """The slot's confirmed position, checked: every row committed before it has a doc."""
    info = pg.slot_info(slot)
    assert info is not None
    confirmed = int(info["confirmed"])
    stored = {d["id"] for d in docs.find({}, {"id": 1})}
    missing = inserter.committed_before(confirmed) - stored
    assert not missing, f"confirmed {confirmed} is ahead of unfinished rows {sorted(missing)[:5]}"
    return confirmed


def test_kill_9_mid_stream_then_a_restart_delivers_everything_and_repeats_only_in_flight_work(
    names: Names, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    table = names.table(names.slot + "_crash")
    pg.execute(f'CREATE TABLE "{table}" (id int PRIMARY KEY, n int)')
    flow = write_flow(tmp_path / "f.yaml", names, mongo_uri, database, sleep="PT0.02S")
    inserter = SerialInserter(table, 600)
    with running(flow, ["--concurrency", "8"], tmp_path / "a", {}) as first:
        wait_for_slot(names.slot, first)
        inserter.thread.start()
        for goal in (50, 100, 150):

            def reached(n: int, g: int = goal) -> bool:
                return n >= g

            wait_until(
                lambda: docs.count_documents({}),
                reached,
                timeout=60,
                what=f"{goal} docs",
            )
            check_confirmed_is_finished(names.slot, inserter, docs)
        first.kill9()
        first.proc.wait(30)
    confirmed_at_kill = check_confirmed_is_finished(names.slot, inserter, docs)
    # kflow made the publication for the tables includedTables matches
    assert pg.execute(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s",
        [names.publication],
    ) == [("public", table)]
    before_kill = docs_of(docs)
    unconfirmed = {d["id"] for d in before_kill if int(d["lsn"]) >= confirmed_at_kill}
    inserter.thread.join()
    with running(flow, ["--concurrency", "8"], tmp_path / "b", {}) as second:
        wait_until(
            lambda: {d["id"] for d in docs.find({}, {"id": 1})},
            lambda s: len(s) >= 600,
            timeout=120,
            what="all 600 rows",
        )
        check_confirmed_is_finished(names.slot, inserter, docs)
        second.sigterm()
        assert second.wait(60) == 0, second.stderr()[-2000:]
    got = docs_of(docs)
    counts = Counter(d["id"] for d in got)
    assert set(counts) == {str(n) for n in range(600)}  # nothing lost
    duplicated = {i for i, c in counts.items() if c > 1}
    # only work the slot had not confirmed ran twice (finished in the last moments before the
    # kill, its position not sent yet); never a change the slot had confirmed
    assert duplicated <= unconfirmed
    assert all(c <= 2 for c in counts.values())
    print(
        f"\npostgres crash: changes made 600, finished before the kill {len(before_kill)} "
        f"(of which not yet confirmed {len(unconfirmed)}), delivered {len(got)}, "
        f"duplicates {len(got) - 600}"
    )


# ------------------------------------------------------------------------------ restart


def postgres_in_devstack() -> bool:
    proc = stack("status", timeout=60)
    return any(line.split()[:1] == ["postgres"] for line in proc.stdout.splitlines())


def test_a_postgresql_restart_mid_stream_resumes_from_the_slot(
    names: Names, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    if not postgres_in_devstack():
        pytest.skip("devstack does not manage postgres yet (devstack/stack status)")
    database, docs = store
    table = names.table(names.slot + "_restart")
    pg.execute(f'CREATE TABLE "{table}" (id int PRIMARY KEY, n int)')
    pg.execute_many((f'INSERT INTO "{table}" VALUES (%s, %s)', [n, n]) for n in range(200))
    flow = write_flow(tmp_path / "f.yaml", names, mongo_uri, database, sleep="PT0.02S")
    with running(flow, ["--concurrency", "8"], tmp_path / "a", {}) as proc:
        wait_until(lambda: docs.count_documents({}), lambda n: n >= 40, timeout=60, what="40")
        restart("postgres")
        pg.execute_many((f'INSERT INTO "{table}" VALUES (%s, %s)', [n, n]) for n in range(200, 300))
        wanted = {str(n) for n in range(300)}
        wait_until(
            lambda: wanted - {d["id"] for d in docs.find({}, {"id": 1})},
            lambda left: not left,
            timeout=180,
            what="all 300 rows",
        )
        proc.sigterm()
        assert proc.wait(60) == 0, proc.stderr()[-2000:]
        stderr = proc.stderr()
    assert "reconnecting" in stderr and "reconnected to PostgreSQL" in stderr


# ------------------------------------------------------------------------------ schema change


def test_a_column_added_mid_stream_arrives_in_the_next_rows(
    names: Names, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    table = names.table(names.slot + "_ddl")
    pg.execute(f'CREATE TABLE "{table}" (id int PRIMARY KEY, n int)')
    flow = write_flow(tmp_path / "f.yaml", names, mongo_uri, database, document=WHOLE_DOCUMENT)
    with running(flow, [], tmp_path / "a", {}) as proc:
        wait_for_slot(names.slot, proc)
        pg.execute(f'INSERT INTO "{table}" VALUES (1, 1)')
        wait_until(lambda: docs.count_documents({}), lambda n: n >= 1, timeout=30, what="row 1")
        pg.execute(f"ALTER TABLE \"{table}\" ADD COLUMN color text DEFAULT 'none'")
        pg.execute(f"INSERT INTO \"{table}\" VALUES (2, 2, 'red')")
        pg.execute(f'UPDATE "{table}" SET n = 10 WHERE id = 1')
        wait_until(lambda: docs.count_documents({}), lambda n: n >= 3, timeout=30, what="3")
        proc.sigterm()
        assert proc.wait(60) == 0, proc.stderr()[-2000:]
    rows = sorted(
        ({k: v for k, v in d["data"].items() if k in ("id", "n", "color")} for d in docs_of(docs)),
        key=lambda r: r["n"],
    )
    assert rows == [
        {"id": 1, "n": 1},
        {"id": 2, "n": 2, "color": "red"},
        {"id": 1, "n": 10, "color": "none"},
    ]


# ------------------------------------------------------------------------------ errors


def _run_briefly(flow: Path, tmp_path: Path) -> tuple[int, str]:
    with running(flow, ["--timeout", "20"], tmp_path / "err", {}) as proc:
        code = proc.wait(60)
        return code, proc.stderr()


def _may_log_in(user: str, password: str) -> bool:
    import psycopg2

    host, port = postgres_address()
    try:
        psycopg2.connect(host=host, port=port, user=user, password=password, dbname="kflow").close()
    except psycopg2.OperationalError as exc:
        if "pg_hba.conf" in str(exc):
            return False
        raise
    return True


def test_driver_errors_are_one_clear_line_without_the_password(
    names: Names, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, _ = store
    flow = write_flow(tmp_path / "f.yaml", names, mongo_uri, database)
    text = flow.read_text(encoding="utf-8")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text.replace("password: kflow", "password: s3cr3t-nope"), encoding="utf-8")
    code, err = _run_briefly(wrong, tmp_path)
    assert code != 0
    assert "PostgreSQL at 127.0.0.1:" in err and "wrong user name or password" in err, err
    assert "s3cr3t-nope" not in err and "Traceback" not in err

    refused = tmp_path / "refused.yaml"
    refused.write_text(text.replace('port: "5432"', 'port: "1"'), encoding="utf-8")
    code, err = _run_briefly(refused, tmp_path)
    assert code != 0 and "cannot reach PostgreSQL at 127.0.0.1:1" in err, err

    role = names.slot[:40] + "_norepl"
    pg.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'pw-{role}'")
    try:
        # this stack's pg_hba.conf lets only kflow in: then that is the clear line (the
        # REPLICATION line is checked on the server's own text in the unit tests)
        allowed = _may_log_in(role, f"pw-{role}")
        pg.execute(f'CREATE PUBLICATION "{names.publication}" FOR ALL TABLES')
        norepl = tmp_path / "norepl.yaml"
        norepl.write_text(
            text.replace("username: kflow", f"username: {role}").replace(
                "password: kflow", f"password: pw-{role}"
            ),
            encoding="utf-8",
        )
        code, err = _run_briefly(norepl, tmp_path)
        assert code != 0
        if allowed:
            assert "lacks the REPLICATION privilege" in err, err
        else:
            assert "no pg_hba.conf entry lets this client in" in err, err
        assert f"pw-{role}" not in err and "Traceback" not in err
    finally:
        pg.execute(f'DROP ROLE IF EXISTS "{role}"')


# ------------------------------------------------------------------------------ the sample


def test_the_blog_sample_enriches_orders_from_postgres(
    names: Names, mongo_uri: str, seeded_products: None, tmp_path: Path
) -> None:
    table = names.table(names.slot + "_orders")
    pg.execute(
        f'CREATE TABLE "{table}" (order_id int PRIMARY KEY, customer_name text, '
        "customer_email text, product_id int, price numeric(10,2), quantity int, "
        "total numeric(10,2))"
    )
    pg.execute(
        f"INSERT INTO \"{table}\" VALUES (1, 'Angela Thomas', 'juliejordan@example.org', 1, "
        "84.27, 1, 84.27)"
    )
    collection = names.slot + "_detailed"
    text = (Path(__file__).resolve().parents[2] / "samples/blog-flow-postgres-cdc.yaml").read_text()
    replacements = {
        "slotName: kestra_orders": f"slotName: {names.slot}",
        "publicationName: kestra_orders": f"publicationName: {names.publication}",
        "includedTables: public.orders": f"includedTables: public.{table}",
        '"detailed_orders"': f'"{collection}"',
    }
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    flow = tmp_path / "blog.yaml"
    flow.write_text(text, encoding="utf-8")
    from pymongo import MongoClient

    client: Any = MongoClient(mongo_uri)
    docs = client["kestra"][collection]
    try:
        env = {"ENV_MONGO_URI": mongo_uri}
        with running(flow, [], tmp_path / "a", env) as proc:
            wait_for_slot(names.slot, proc)  # the snapshot read order 1
            pg.execute_many(
                [
                    (
                        f'INSERT INTO "{table}" VALUES (%s, %s, %s, %s, %s, %s, %s)',
                        [2, "Michael Rodriguez", "bonillawesley@example.net", 1, 320.76, 1, 320.76],
                    ),
                    (
                        f'INSERT INTO "{table}" VALUES (%s, %s, %s, %s, %s, %s, %s)',
                        [4, "David Lyons", "rbutler@example.org", 3, 459.05, 4, 1836.20],
                    ),
                    (f'DELETE FROM "{table}" WHERE order_id = 2', None),  # deleted: DROP
                ]
            )
            wait_until(
                lambda: docs.count_documents({}), lambda n: n >= 3, timeout=60, what="3 orders"
            )
            proc.sigterm()
            assert proc.wait(60) == 0, proc.stderr()[-2000:]
            runs = proc.executions()
        got = {d["order_id"]: d for d in docs.find({}, {"_id": 0})}
        assert set(got) == {"1", "2", "4"} and len(runs) == 3
        assert got["1"]["operation"] == "READ" and got["4"]["operation"] == "CREATE"
        assert got["4"]["total"] == "1836.20" and got["4"]["quantity"] == "4"
        assert got["4"]["product"]["id"] == "3" and got["4"]["product"]["name"]
        assert all(e["state"] == "SUCCESS" for e in runs)
    finally:
        docs.drop()
        client.close()
