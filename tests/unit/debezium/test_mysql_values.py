"""MariaDB column values -> the values Debezium's MySQL connector gives a Kestra flow."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kflow.plugins.mysql_values import ColumnInfo, convert, enum_members, java_float


def col(data_type: str, column_type: str = "", **kw: object) -> ColumnInfo:
    return ColumnInfo.from_row(
        {"COLUMN_NAME": "c", "DATA_TYPE": data_type, "COLUMN_TYPE": column_type or data_type, **kw}
    )


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        (col("int"), 42, 42),
        (col("tinyint", "tinyint(1)"), 1, 1),  # Debezium: INT16, not a boolean
        (col("bigint", "bigint(20) unsigned"), 2**64 - 1, -1),  # long handling mode
        (col("bigint", "bigint(20) unsigned"), 2**63 - 1, 2**63 - 1),
        (col("year", "year(4)"), 2024, 2024),
        (col("decimal", "decimal(10,2)", NUMERIC_SCALE=2), Decimal("12.50"), Decimal("12.50")),
        (col("decimal", "decimal(10,0)", NUMERIC_SCALE=0), Decimal("12"), 12),
        (col("float"), 1.100000023841858, 1.1),
        (col("double"), 2.5, 2.5),
        (col("varchar", "varchar(20)"), "héllo", "héllo"),
        (col("longtext", CHARACTER_SET_NAME="utf8mb4"), b'{"a": 1}', '{"a": 1}'),
        (col("enum", "enum('small','big')"), "big", "big"),
        (col("set", "set('a','b','c')"), {"c", "a"}, "a,c"),
        (col("set", "set('a','b','c')"), "c,a", "a,c"),
        (col("date"), dt.date(2024, 1, 31), "2024-01-31"),
        (col("date"), "0000-00-00", None),
        (col("datetime"), dt.datetime(2024, 1, 31, 10, 0), "2024-01-31T10:00:00Z"),
        (
            col("datetime", "datetime(6)"),
            dt.datetime(2024, 1, 31, 10, 0, 0, 250),
            "2024-01-31T10:00:00.000250Z",
        ),
        (
            col("timestamp", "timestamp(3)"),
            dt.datetime(2024, 1, 31, 10, 0, 0, 250000),
            "2024-01-31T10:00:00.250Z",
        ),
        (col("time"), dt.timedelta(hours=10, minutes=5, seconds=7), "10:05:07"),
        (col("time", "time(3)"), dt.timedelta(hours=1, microseconds=500000), "01:00:00.500"),
        (col("time"), dt.timedelta(hours=-2), "-02:00:00"),
        (col("bit", "bit(1)"), "1", True),
        (col("bit", "bit(1)"), b"\x00", False),
        (col("bit", "bit(10)"), "1000000001", "AQI="),  # 0x0201 little-endian: 01 02
        (col("bit", "bit(10)"), b"\x02\x01", "AQI="),
        (col("blob"), b"\x00\xff", "AP8="),
        (col("varbinary", "varbinary(4)"), b"ab", "YWI="),
        (col("int"), None, None),
    ],
)
def test_values_convert_as_debezium_defaults(
    column: ColumnInfo, value: object, expected: object
) -> None:
    assert convert(value, column) == expected
    assert type(convert(value, column)) is type(expected)


def test_enum_members_read_quotes_and_escapes() -> None:
    assert enum_members("enum('a','it''s','x,y')") == ("a", "it's", "x,y")


def test_java_float_prints_the_shortest_round_trip() -> None:
    assert java_float(0.30000001192092896) == 0.3
    assert java_float(123456.78125) == 123456.78


def test_column_info_reads_primary_key_unsigned_and_bits() -> None:
    info = ColumnInfo.from_row(
        {
            "COLUMN_NAME": "id",
            "DATA_TYPE": "INT",
            "COLUMN_TYPE": "int(10) unsigned",
            "COLUMN_KEY": "PRI",
        }
    )
    assert (info.name, info.data_type, info.primary, info.unsigned) == ("id", "int", True, True)
    assert col("bit", "bit(5)").bits == 5 and col("bit", "bit").bits == 1
