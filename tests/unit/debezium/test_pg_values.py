"""PostgreSQL text values -> what a Kestra Debezium flow sees."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kflow.plugins import postgres_values as pv
from kflow.plugins.postgres_values import convert, interval_micros, parse_array

DAY_US = 86_400_000_000


@pytest.mark.parametrize(
    ("oid", "text", "value"),
    [
        (pv.BOOL, "t", True),
        (pv.BOOL, "f", False),
        (pv.INT2, "-7", -7),
        (pv.INT4, "2147483647", 2147483647),
        (pv.INT8, "9223372036854775807", 9223372036854775807),
        (pv.FLOAT4, "1.5", 1.5),
        (pv.FLOAT8, "-2.25e-10", -2.25e-10),
        (pv.NUMERIC, "42", 42),
        (pv.NUMERIC, "12.50", Decimal("12.50")),
        (pv.NUMERIC, "-0.001", Decimal("-0.001")),
        (pv.MONEY, "$1,234.56", Decimal("1234.56")),
        (pv.MONEY, "-$3.00", Decimal("-3.00")),
        (pv.TEXT, "héllo", "héllo"),
        (pv.VARCHAR, "", ""),
        (pv.BPCHAR, "ab  ", "ab  "),
        (pv.DATE, "2024-01-31", "2024-01-31"),
        (pv.DATE, "infinity", "infinity"),
        (pv.TIME, "10:00:00", "10:00:00"),
        (pv.TIME, "23:59:59.25", "23:59:59.25"),
        (pv.TIMETZ, "10:00:00+02", "08:00:00Z"),
        (pv.TIMETZ, "01:30:00.5-01:30", "03:00:00.500Z"),
        (pv.TIMESTAMP, "2024-01-31 10:00:00", "2024-01-31T10:00:00Z"),
        (pv.TIMESTAMP, "2024-01-31 10:00:00.123456", "2024-01-31T10:00:00.123456Z"),
        (pv.TIMESTAMPTZ, "2024-01-31 10:00:00.5+00", "2024-01-31T10:00:00.500Z"),
        (pv.TIMESTAMPTZ, "2024-01-31 12:00:00+02", "2024-01-31T10:00:00Z"),
        (pv.TIMESTAMPTZ, "2024-01-31 04:30:00-05:30", "2024-01-31T10:00:00Z"),
        (pv.TIMESTAMPTZ, "-infinity", "-infinity"),
        (pv.JSON, '{"a": [1, 2]}', '{"a": [1, 2]}'),
        (pv.JSONB, '{"a": 1}', '{"a": 1}'),
        (pv.UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        (pv.BYTEA, "\\x00ff41", "AP9B"),
        (pv.BYTEA, "\\x", ""),
        (pv.BYTEA, "A\\\\\\001", "QVwB"),  # escape format: A, backslash, 0x01
        (pv.INTERVAL, "P1D", DAY_US),
        (869, "192.168.0.1/32", "192.168.0.1/32"),  # inet: text
        (16400, "happy", "happy"),  # an enum (unknown OID): text
    ],
)
def test_scalars(oid: int, text: str, value: object) -> None:
    got = convert(oid, text)
    assert got == value and type(got) is type(value)


def test_null_is_none_for_every_type() -> None:
    assert all(convert(oid, None) is None for oid in (pv.BOOL, pv.INT4, pv.TEXT, 1007))


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("PT0S", 0),
        ("P1Y2M3DT4H5M6.5S", round((14 * 365.25 / 12 + 3) * DAY_US + 14706.5 * 1e6)),
        ("P-1Y-2M3DT-4H-5M-6.5S", round((-14 * 365.25 / 12 + 3) * DAY_US - 14706.5 * 1e6)),
        ("PT0.000001S", 1),
        ("P2W", 14 * DAY_US),
        ("1 year 2 mons 3 days 04:05:06.5", round((14 * 365.25 / 12 + 3) * DAY_US + 14706.5e6)),
        ("-3 days -01:00:00", -3 * DAY_US - 3_600_000_000),
        ("00:00:00", 0),
    ],
)
def test_interval_as_debezium_micro_duration(text: str, micros: int) -> None:
    assert interval_micros(text) == micros


def test_arrays() -> None:
    assert convert(1007, "{1,2,NULL}") == [1, 2, None]
    assert convert(1009, '{a,"b c","d\\"e",NULL,"NULL"}') == ["a", "b c", 'd"e', None, "NULL"]
    assert convert(1007, "{{1,2},{3,4}}") == [[1, 2], [3, 4]]
    assert convert(1000, "{t,f}") == [True, False]
    assert convert(1231, "{1.5,2}") == [Decimal("1.5"), 2]
    assert convert(1182, "{2024-01-31}") == ["2024-01-31"]
    assert convert(1185, '{"2024-01-31 10:00:00+00"}') == ["2024-01-31T10:00:00Z"]
    assert convert(1001, '{"\\\\x0102"}') == ["AQI="]
    assert convert(1007, "{}") == []
    assert convert(1007, "[0:1]={5,6}") == [5, 6]
    assert convert(3807, '{"{\\"a\\": 1}"}') == ['{"a": 1}']


def test_a_broken_array_says_so() -> None:
    with pytest.raises(ValueError, match="unterminated array"):
        parse_array("{1,2")
    with pytest.raises(ValueError, match="not an array"):
        parse_array("1,2")
