"""The shape of a Debezium change as a flow sees it (Kestra's ChangeConsumer/MapConverter)."""

from __future__ import annotations

import pytest

from kflow.plugins.debezium_shape import (
    Change,
    ShapeOptions,
    TableFilter,
    instant_text,
    patterns,
    shape,
)

SOURCE = {
    "version": "kflow",
    "connector": "postgresql",
    "name": "kestra",
    "ts_ms": 1764594300123,
    "snapshot": "false",
    "db": "shop",
    "table": "orders",
    "schema": "public",
    "lsn": 123,
    "xmin": None,
}


def change(op: str, before: dict | None, after: dict | None) -> Change:
    return Change(
        op=op,
        database="shop",
        table="orders",
        before=before,
        after=after,
        key={"id": 7},
        source=dict(SOURCE),
        ts_ms=1764594300500,
    )


def test_instant_text_prints_like_java() -> None:
    assert instant_text(1764594300123) == "2025-12-01T13:05:00.123Z"
    assert instant_text(1764594300000) == "2025-12-01T13:05:00Z"


def test_inline_insert_has_row_deleted_flag_key_and_metadata() -> None:
    stream, data = shape(change("c", None, {"id": 7, "qty": 2}), ShapeOptions()) or ("", {})
    assert stream == "shop.orders"
    assert list(data) == ["id", "qty", "deleted", "metadata"]
    assert data["deleted"] is False
    meta = data["metadata"]
    assert meta["operation"] == "CREATE"
    assert meta["timestamp"] == "2025-12-01T13:05:00.500Z"
    assert meta["source"]["timestamp"] == "2025-12-01T13:05:00.123Z"
    assert "ts_ms" not in meta["source"] and "xmin" not in meta["source"]
    assert meta["source"]["lsn"] == 123


def test_inline_delete_shows_the_row_before_and_deleted_true() -> None:
    _, data = shape(change("d", {"id": 7, "qty": 2}, None), ShapeOptions()) or ("", {})
    assert data["id"] == 7 and data["qty"] == 2 and data["deleted"] is True
    assert data["metadata"]["operation"] == "DELETE"


def test_wrap_puts_the_columns_under_record() -> None:
    _, data = shape(change("u", {"id": 7}, {"id": 7, "qty": 3}), ShapeOptions(format="WRAP")) or (
        "",
        {},
    )
    assert data["record"] == {"id": 7, "qty": 3}
    assert data["deleted"] is False and data["id"] == 7


def test_raw_is_the_envelope() -> None:
    _, data = shape(
        change("u", {"id": 7, "qty": 2}, {"id": 7, "qty": 3}), ShapeOptions(format="RAW")
    ) or (
        "",
        {},
    )
    assert data["key"] == {"id": 7}
    value = data["value"]
    assert value["op"] == "u" and value["before"]["qty"] == 2 and value["after"]["qty"] == 3
    assert value["ts_ms"] == 1764594300500 and value["source"]["db"] == "shop"
    assert data["deleted"] is False


@pytest.mark.parametrize(
    ("options", "fields"),
    [
        (ShapeOptions(deleted="NULL"), ["id", "qty", "metadata"]),
        (ShapeOptions(metadata="DROP"), ["id", "qty", "deleted"]),
        (ShapeOptions(key="DROP", metadata="DROP"), ["id", "qty", "deleted"]),
    ],
)
def test_field_options(options: ShapeOptions, fields: list[str]) -> None:
    _, data = shape(change("d", {"id": 7, "qty": 2}, None), options) or ("", {})
    assert list(data) == fields


def test_field_names_can_be_renamed() -> None:
    options = ShapeOptions(deleted_field_name="gone", metadata_field_name="meta")
    _, data = shape(change("d", {"id": 7}, None), options) or ("", {})
    assert data["gone"] is True and "meta" in data and "deleted" not in data


def test_deleted_drop_starts_no_execution_for_a_delete_only() -> None:
    options = ShapeOptions(deleted="DROP")
    assert shape(change("d", {"id": 7}, None), options) is None
    assert shape(change("c", None, {"id": 7}), options) is not None


@pytest.mark.parametrize(
    ("split", "stream"), [("TABLE", "shop.orders"), ("DATABASE", "shop"), ("OFF", "data")]
)
def test_split_table_names_the_stream(split: str, stream: str) -> None:
    result = shape(change("c", None, {"id": 1}), ShapeOptions(split_table=split))
    assert result is not None and result[0] == stream


def test_options_from_properties() -> None:
    options = ShapeOptions.from_props(
        {"format": "WRAP", "deletedFieldName": "gone", "splitTable": "OFF"}
    )
    assert options == ShapeOptions(format="WRAP", deleted_field_name="gone", split_table="OFF")


def test_patterns_split_on_unescaped_commas() -> None:
    found = [p.pattern for p in patterns(r"public.a,public.b\,c")]
    assert found == ["public.a", "public.b,c"]
    assert [p.pattern for p in patterns(["x", "y,z"])] == ["x", "y", "z"]
    assert patterns(None) == ()


def test_table_filter_matches_whole_names_case_insensitively() -> None:
    f = TableFilter.from_props({"includedTables": "public.ord.*"}, "schema")
    assert f.wants_table("public", "orders") and f.wants_table("PUBLIC", "Orders")
    assert not f.wants_table("public", "xorders")
    assert not f.wants_table("audit", "orders")


def test_excluded_tables_and_databases() -> None:
    f = TableFilter.from_props(
        {"excludedTables": "shop.secret", "excludedDatabases": "mysql"}, "database"
    )
    assert f.wants_table("shop", "orders")
    assert not f.wants_table("shop", "secret")
    assert not f.wants_table("mysql", "user")


def test_databases_do_not_filter_postgres_schemas() -> None:
    f = TableFilter.from_props({"includedDatabases": "other"}, "schema")
    assert f.wants_table("public", "orders")


def test_column_filters() -> None:
    keep = TableFilter.from_props({"includedColumns": "shop.orders.(id|qty)"}, "database")
    assert keep.columns("shop", "orders", {"id": 1, "qty": 2, "note": "x"}) == {"id": 1, "qty": 2}
    drop = TableFilter.from_props({"excludedColumns": ["shop.orders.note"]}, "database")
    assert drop.columns("shop", "orders", {"id": 1, "note": "x"}) == {"id": 1}
    assert drop.columns("shop", "orders", None) is None
