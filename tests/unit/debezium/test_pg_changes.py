"""pgoutput row messages -> Debezium changes (ops, before/after, keys, TOAST, filters)."""

from __future__ import annotations

from datetime import UTC, datetime

from kflow.plugins.debezium_postgres_changes import ChangeBuilder, Table
from kflow.plugins.debezium_shape import TableFilter
from kflow.plugins.pgoutput import (
    UNCHANGED,
    Begin,
    Column,
    Commit,
    Delete,
    Insert,
    Relation,
    Truncate,
    Update,
)

COLUMNS = (Column("id", 23, -1, True), Column("name", 25, -1, False), Column("n", 20, -1, False))
COMMIT_TIME = datetime(2024, 1, 31, 10, 0, tzinfo=UTC)


def builder(props: dict[str, str] | None = None, *, skip_truncate: bool = True) -> ChangeBuilder:
    b = ChangeBuilder(
        "shop", TableFilter.from_props(props or {}, "schema"), skip_truncate=skip_truncate
    )
    b.relation(Relation(1, "public", "orders", "d", COLUMNS))
    b.relation(Relation(2, "audit", "log", "f", COLUMNS))
    b.begin(Begin(500, COMMIT_TIME, 77))
    return b


def test_insert_is_a_create_with_the_key_and_the_source_block() -> None:
    [change] = builder().changes(Insert(1, ("7", "pen", "3")), 420)
    assert change.op == "c" and change.before is None
    assert change.after == {"id": 7, "name": "pen", "n": 3}
    assert change.key == {"id": 7}
    assert (change.database, change.table) == ("shop", "orders")
    source = change.source
    assert source["connector"] == "postgresql" and source["db"] == "shop"
    assert source["schema"] == "public" and source["table"] == "orders"
    assert source["txId"] == 77 and source["lsn"] == 420 and source["snapshot"] == "false"
    assert source["ts_ms"] == int(COMMIT_TIME.timestamp() * 1000)


def test_update_has_no_before_unless_replica_identity_full() -> None:
    b = builder()
    [plain] = b.changes(Update(1, None, None, ("7", "pencil", "3")), 430)
    assert plain.op == "u" and plain.before is None
    assert plain.after == {"id": 7, "name": "pencil", "n": 3}
    [full] = b.changes(Update(2, ("7", "a", "1"), "O", ("7", "b", "1")), 431)
    assert full.before == {"id": 7, "name": "a", "n": 1}
    assert full.after == {"id": 7, "name": "b", "n": 1}


def test_an_update_of_the_key_is_a_delete_then_a_create() -> None:
    gone, made = builder().changes(Update(1, ("7", None, None), "K", ("8", "pen", "3")), 440)
    assert (gone.op, gone.key, gone.before) == ("d", {"id": 7}, {"id": 7, "name": None, "n": None})
    assert (made.op, made.key, made.after) == ("c", {"id": 8}, {"id": 8, "name": "pen", "n": 3})


def test_delete_carries_what_the_replica_identity_gives() -> None:
    [keyed] = builder().changes(Delete(1, ("7", None, None), "K"), 450)
    assert keyed.op == "d" and keyed.after is None
    assert keyed.before == {"id": 7, "name": None, "n": None} and keyed.key == {"id": 7}
    [full] = builder().changes(Delete(2, ("7", "pen", "3"), "O"), 451)
    assert full.before == {"id": 7, "name": "pen", "n": 3}


def test_an_untouched_toasted_value_is_debeziums_placeholder() -> None:
    [change] = builder().changes(Update(1, None, None, ("7", UNCHANGED, "4")), 460)
    assert change.after == {"id": 7, "name": "__debezium_unavailable_value", "n": 4}


def test_truncate_is_skipped_by_default_and_one_change_per_table_otherwise() -> None:
    assert builder().changes(Truncate((1, 2), False, False), 470) == []
    changes = builder(skip_truncate=False).changes(Truncate((1, 2), False, False), 470)
    assert [(c.op, c.table, c.before, c.after) for c in changes] == [
        ("t", "orders", None, None),
        ("t", "log", None, None),
    ]


def test_table_and_column_filters() -> None:
    b = builder({"includedTables": "public\\.orders", "excludedColumns": "public.orders.n"})
    assert b.changes(Insert(2, ("1", "x", "1")), 480) == []
    [change] = b.changes(Insert(1, ("1", "x", "1")), 481)
    assert change.after == {"id": 1, "name": "x"}


def test_a_new_relation_message_brings_a_new_column() -> None:
    b = builder()
    b.relation(Relation(1, "public", "orders", "d", (*COLUMNS, Column("color", 25, -1, False))))
    [change] = b.changes(Insert(1, ("9", "cup", "1", "red")), 490)
    assert change.after == {"id": 9, "name": "cup", "n": 1, "color": "red"}


def test_the_sequence_names_the_last_commit_and_the_change() -> None:
    b = builder()
    b.commit(Commit(0, 500, 520, COMMIT_TIME))
    b.begin(Begin(600, COMMIT_TIME, 78))
    [change] = b.changes(Insert(1, ("1", "x", "1")), 590)
    assert change.source["sequence"] == '["500","590"]'


def test_snapshot_rows_are_reads() -> None:
    table = Table("public", "orders", COLUMNS)
    change = builder().snapshot_change(table, ("1", "x", None), last=True, lsn=100, ts_ms=5)
    assert change.op == "r" and change.after == {"id": 1, "name": "x", "n": None}
    assert change.source["snapshot"] == "last" and change.source["ts_ms"] == 5
