"""MySQL/MariaDB column values as Debezium's MySQL connector leaves them, by default, once
Kestra has turned them into JSON-ready values.

The values come from two readers: python-mysql-replication (the binlog) and PyMySQL (the
snapshot). Both are converted from the column's definition in ``information_schema``
(:class:`ColumnInfo`), with Debezium's defaults (``decimal.handling.mode=precise``,
``time.precision.mode=adaptive_time_microseconds``, ``binary.handling.mode=bytes``,
``bigint.unsigned.handling.mode=long``):

============================  ==================================================
column                        value
============================  ==================================================
TINYINT..BIGINT, YEAR         int (``TINYINT(1)``/``BOOLEAN`` too: Debezium reads
                              ``tinyint(1)`` as INT16; BIGINT UNSIGNED above
                              2^63-1 wraps negative, as Java's long does)
DECIMAL/NUMERIC               int when the scale is 0, else ``Decimal``
FLOAT / DOUBLE                float (FLOAT printed as Java prints a float: 1.1)
CHAR, VARCHAR, TEXT, JSON     str (MariaDB's JSON is LONGTEXT: its text)
ENUM / SET                    str (a SET as ``a,b`` in definition order)
DATE                          ``"2024-01-31"``
DATETIME                      ``"2024-01-31T10:00:00Z"`` (Debezium reads it as UTC)
TIMESTAMP                     ``"2024-01-31T10:00:00Z"`` (the UTC instant)
TIME                          ``"10:00:00"`` (``"10:00:00.250"`` with a fraction)
BIT(1)                        bool
BIT(n > 1)                    base64 of the bits, little-endian bytes
BINARY, VARBINARY, BLOB, ...  base64 of the bytes
============================  ==================================================

Zero dates (``0000-00-00``) are null, as Debezium makes them.
"""

from __future__ import annotations

import base64
import datetime as dt
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kflow.expr.printing import iso_datetime

INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})
BINARY_TYPES = frozenset(
    {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry"}
)
GEOMETRY_TYPES = frozenset(
    {
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
    }
)


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """One column as ``information_schema.COLUMNS`` describes it."""

    name: str
    data_type: str  # DATA_TYPE, lower case: int, varchar, longtext, enum, ...
    column_type: str = ""  # COLUMN_TYPE: "int(10) unsigned", "enum('a','b')", "bit(3)"
    scale: int | None = None  # NUMERIC_SCALE
    charset: str | None = None  # CHARACTER_SET_NAME (None for binary and non-text columns)
    primary: bool = False
    values: tuple[str, ...] = field(default=())  # ENUM / SET members, in order

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ColumnInfo:
        """From a row of ``information_schema.COLUMNS`` (upper-case keys)."""
        data_type = str(row["DATA_TYPE"]).lower()
        column_type = str(row.get("COLUMN_TYPE") or data_type)
        members: tuple[str, ...] = ()
        if data_type in ("enum", "set"):
            members = enum_members(column_type)
        scale = row.get("NUMERIC_SCALE")
        return cls(
            name=str(row["COLUMN_NAME"]),
            data_type=data_type,
            column_type=column_type.lower(),
            scale=None if scale is None else int(scale),
            charset=row.get("CHARACTER_SET_NAME"),
            primary=str(row.get("COLUMN_KEY") or "") == "PRI",
            values=members,
        )

    @property
    def unsigned(self) -> bool:
        return "unsigned" in self.column_type

    @property
    def is_binary(self) -> bool:
        return self.data_type in BINARY_TYPES or self.data_type in GEOMETRY_TYPES

    @property
    def bits(self) -> int:
        """BIT(n): n (BIT is BIT(1))."""
        if "(" not in self.column_type:
            return 1
        return int(self.column_type.split("(", 1)[1].split(")", 1)[0])


def enum_members(column_type: str) -> tuple[str, ...]:
    """``enum('a','it''s')`` -> ``("a", "it's")``."""
    body = column_type[column_type.index("(") + 1 : column_type.rindex(")")]
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        if body[i] != "'":
            i += 1
            continue
        i += 1
        text: list[str] = []
        while i < n:
            if body[i] == "'" and i + 1 < n and body[i + 1] == "'":
                text.append("'")
                i += 2
            elif body[i] == "'":
                i += 1
                break
            elif body[i] == "\\" and i + 1 < n:
                text.append(body[i + 1])
                i += 2
            else:
                text.append(body[i])
                i += 1
        out.append("".join(text))
    return tuple(out)


def convert(value: Any, column: ColumnInfo) -> Any:
    """The value a Kestra flow sees for ``value`` of ``column`` (None stays None)."""
    if value is None:
        return None
    kind = column.data_type
    if kind in INTEGER_TYPES:
        if isinstance(value, bytes | bytearray):  # PyMySQL gives some as bytes
            value = int(value)
        number = int(value)
        if kind == "bigint" and column.unsigned and number >= 2**63:
            number -= 2**64
        return number
    if kind == "year":
        return int(value)
    if kind in ("decimal", "numeric"):
        exact = value if isinstance(value, Decimal) else Decimal(str(value))
        return int(exact) if (column.scale or 0) == 0 else exact
    if kind == "float":
        return java_float(float(value))
    if kind in ("double", "real"):
        return float(value)
    if kind == "bit":
        return _bit(value, column.bits)
    if column.is_binary:
        raw = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    if kind == "set":
        return _set_text(value, column.values)
    if kind == "date":
        return _date(value)
    if kind in ("datetime", "timestamp"):
        return _instant(value)
    if kind == "time":
        return _time(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode(_encoding(column.charset), "replace")
    return value if isinstance(value, str) else str(value)


def convert_row(values: Mapping[str, Any], columns: Iterable[ColumnInfo]) -> dict[str, Any]:
    """Every column of ``columns`` present in ``values``, converted, in column order."""
    return {c.name: convert(values[c.name], c) for c in columns if c.name in values}


def java_float(value: float) -> float:
    """A float32 as Java prints it: the shortest decimal that reads back to the same float."""
    if value != value or value in (float("inf"), float("-inf")):
        return value
    target = struct.pack("<f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == target:
            return candidate
    return value


def _bit(value: Any, bits: int) -> Any:
    if isinstance(value, str):  # python-mysql-replication: "0101", most significant first
        number = int(value, 2) if value else 0
    elif isinstance(value, bytes | bytearray):  # PyMySQL: big-endian bytes
        number = int.from_bytes(bytes(value), "big")
    else:
        number = int(value)
    if bits == 1:
        return bool(number)
    size = (bits + 7) // 8
    return base64.b64encode(number.to_bytes(size, "little")).decode("ascii")


def _set_text(value: Any, members: tuple[str, ...]) -> str:
    if isinstance(value, str):
        chosen = {v for v in value.split(",") if v}
    else:
        chosen = {v.decode() if isinstance(v, bytes) else str(v) for v in value}
    ordered = [m for m in members if m in chosen]
    ordered += sorted(chosen - set(ordered))
    return ",".join(ordered)


def _date(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return None if text.startswith("0000-00-00") else text


def _instant(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return iso_datetime(moment.astimezone(dt.UTC))
    text = str(value)
    return None if text.startswith("0000-00-00") else text


def _time(value: Any) -> str:
    if isinstance(value, dt.timedelta):
        total_us = value.days * 86_400_000_000 + value.seconds * 1_000_000 + value.microseconds
        sign = "-" if total_us < 0 else ""
        total_us = abs(total_us)
        seconds, micros = divmod(total_us, 1_000_000)
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        text = f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}"
        return text + _fraction(micros)
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S") + _fraction(value.microsecond)
    return str(value)


def _fraction(micros: int) -> str:
    """Java's LocalTime: .250 for milliseconds, .250001 for microseconds, nothing for 0."""
    if not micros:
        return ""
    if micros % 1000 == 0:
        return f".{micros // 1000:03d}"
    return f".{micros:06d}"


def _encoding(charset: str | None) -> str:
    if not charset or charset.startswith("utf8"):
        return "utf-8"
    if charset == "latin1":
        return "cp1252"
    return charset
