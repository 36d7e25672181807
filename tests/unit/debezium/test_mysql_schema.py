"""Table definitions from information_schema and what they give python-mysql-replication."""

from __future__ import annotations

from types import SimpleNamespace

from kflow.plugins.debezium_mysql_schema import TableSchema, enrich_table_map, is_ddl
from kflow.plugins.mysql_values import ColumnInfo


def info(name: str, data_type: str, column_type: str = "", **kw: object) -> ColumnInfo:
    row = {"COLUMN_NAME": name, "DATA_TYPE": data_type, "COLUMN_TYPE": column_type or data_type}
    return ColumnInfo.from_row({**row, **kw})


SCHEMA = TableSchema(
    "shop",
    "orders",
    (
        info("id", "int", "int(10) unsigned", COLUMN_KEY="PRI"),
        info("size", "enum", "enum('s','m')"),
        info("tags", "set", "set('a','b')"),
        info("photo", "blob"),
        info("note", "text", CHARACTER_SET_NAME="utf8mb4"),
    ),
)


def column() -> SimpleNamespace:
    return SimpleNamespace(
        name=None, unsigned=False, enum_values=None, set_values=None, character_set_name=None
    )


def test_the_table_map_gets_names_signedness_members_and_charsets() -> None:
    columns = [column() for _ in range(5)]
    enrich_table_map(columns, SCHEMA)
    assert [c.name for c in columns] == ["id", "size", "tags", "photo", "note"]
    assert columns[0].unsigned is True
    assert columns[1].enum_values == ["", "s", "m"]
    assert columns[2].set_values == ["a", "b"]
    assert columns[3].character_set_name == "binary"
    assert columns[4].character_set_name == "utf8mb4"


def test_an_event_older_than_an_added_column_is_named_by_position() -> None:
    assert [c.name for c in SCHEMA.first(2)] == ["id", "size"]
    assert [c.name for c in SCHEMA.first(6)][-1] == "UNKNOWN_COL5"
    columns = [column() for _ in range(3)]
    enrich_table_map(columns, SCHEMA)
    assert [c.name for c in columns] == ["id", "size", "tags"]
    assert [c.name for c in SCHEMA.key_columns] == ["id"]


def test_ddl_statements_are_recognised() -> None:
    assert is_ddl("ALTER TABLE orders ADD COLUMN x INT")
    assert is_ddl("  create table t (id int)")
    assert not is_ddl("BEGIN") and not is_ddl("COMMIT") and not is_ddl("")
