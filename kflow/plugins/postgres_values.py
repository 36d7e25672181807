"""PostgreSQL column values, as text, converted to what a Kestra Debezium flow sees.

pgoutput (and the snapshot, which reads every column as ``::text``) hands over each value
in PostgreSQL's text output format. :func:`convert` turns it into the value Debezium's
default converters produce once Kestra has turned the event into a map and JSON:

============================  ==================================================
bool                          ``True`` / ``False``
int2, int4, int8, oid         ``int``
float4, float8                ``float`` (``NaN``, ``Infinity`` included)
numeric, money                ``int`` when the text has no fraction, else ``Decimal``
text, varchar, char, name     ``str`` (char keeps its padding, as PostgreSQL sends it)
date                          ``"2024-01-31"``
time                          ``"10:00:00"`` (``"10:00:00.25"`` with a fraction)
timetz                        ``"08:00:00Z"`` (moved to UTC, as Debezium's ZonedTime)
timestamp                     ``"2024-01-31T10:00:00Z"`` (read as UTC, like Debezium)
timestamptz                   ``"2024-01-31T10:00:00.500Z"`` (an instant, in UTC)
interval                      ``int`` microseconds (Debezium's ``MicroDuration``; a month
                              counts 365.25 / 12 days, as Debezium counts it)
json, jsonb                   the JSON text (Debezium's ``io.debezium.data.Json``)
uuid                          ``str``
bytea                         Base64 text (Kestra's JSON of Debezium's bytes)
arrays of all these           ``list`` (nested for multi-dimensional arrays)
anything else                 the text (inet, xml, enums, ranges, geometric types...)
============================  ==================================================

``infinity`` / ``-infinity`` dates and timestamps stay as that text. Pure: no driver.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from kflow.expr.printing import iso_datetime

__all__ = [
    "SESSION_SETTINGS",
    "UNAVAILABLE",
    "convert",
    "interval_micros",
    "parse_array",
]

SESSION_SETTINGS: Final = (
    "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 "
    "-c extra_float_digits=3 -c bytea_output=hex"
)
"""libpq ``options`` for every kflow connection: the text forms :func:`convert` reads."""

UNAVAILABLE: Final = "__debezium_unavailable_value"
"""Debezium's placeholder for a TOASTed value an update did not change (PostgreSQL does not
send it again)."""

MICROS_PER_DAY: Final = 86_400_000_000
DAYS_PER_MONTH: Final = 365.25 / 12

# type OIDs (pg_type.dat)
BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 18, 19, 20, 21, 23, 25, 26
JSON, FLOAT4, FLOAT8, MONEY, BPCHAR, VARCHAR = 114, 700, 701, 790, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ = 1082, 1083, 1114, 1184, 1186, 1266
NUMERIC, UUID, JSONB = 1700, 2950, 3802

ARRAYS: Final[dict[int, int]] = {
    1000: BOOL,
    1001: BYTEA,
    1002: CHAR,
    1003: NAME,
    1016: INT8,
    1005: INT2,
    1007: INT4,
    1009: TEXT,
    1028: OID,
    199: JSON,
    1021: FLOAT4,
    1022: FLOAT8,
    791: MONEY,
    1014: BPCHAR,
    1015: VARCHAR,
    1182: DATE,
    1183: TIME,
    1115: TIMESTAMP,
    1185: TIMESTAMPTZ,
    1187: INTERVAL,
    1270: TIMETZ,
    1231: NUMERIC,
    2951: UUID,
    3807: JSONB,
}
"""Array type OID -> element type OID, for the element types :func:`convert` knows."""


def _bool(text: str) -> Any:
    return text in ("t", "true")


def _number(text: str) -> Any:
    if text in ("NaN", "Infinity", "-Infinity"):
        return float(text)
    try:
        return Decimal(text) if "." in text else int(text)
    except (InvalidOperation, ValueError):
        return text


def _money(text: str) -> Any:
    negative = text.startswith("-") or text.startswith("(")
    digits = re.sub(r"[^0-9.]", "", text)
    if not digits:
        return text
    value = _number(digits)
    return -value if negative else value


def _float(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _bytea(text: str) -> Any:
    if text.startswith("\\x"):
        return base64.b64encode(bytes.fromhex(text[2:])).decode("ascii")
    return base64.b64encode(_escaped_bytea(text)).decode("ascii")


def _escaped_bytea(text: str) -> bytes:
    """bytea's older ``escape`` output (``bytea_output=escape``): ``\\\\`` and ``\\ooo``."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "\\":
            if text[i + 1 : i + 2] == "\\":
                out.append(0x5C)
                i += 2
                continue
            out.append(int(text[i + 1 : i + 4], 8))
            i += 4
            continue
        out.extend(text[i].encode("utf-8"))
        i += 1
    return bytes(out)


_OFFSET = re.compile(r"([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?$")


def _split_offset(text: str) -> tuple[str, timedelta | None]:
    match = _OFFSET.search(text)
    if match is None:
        return text, None
    sign, hours, minutes, seconds = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0), seconds=int(seconds or 0))
    return text[: match.start()], -offset if sign == "-" else offset


def _datetime(text: str) -> datetime | None:
    if text in ("infinity", "-infinity") or text.endswith(" BC"):
        return None
    body, offset = _split_offset(text)
    moment = datetime.fromisoformat(body.replace(" ", "T"))
    return (moment - (offset or timedelta())).replace(tzinfo=UTC)


def _timestamp(text: str) -> Any:
    moment = _datetime(text)
    return text if moment is None else iso_datetime(moment)


def _time(text: str) -> Any:
    return text


def _timetz(text: str) -> Any:
    body, offset = _split_offset(text)
    if offset is None:
        return text
    clock = datetime.fromisoformat(f"2000-01-01T{body}")
    moved = clock - offset
    return iso_datetime(moved.replace(tzinfo=UTC)).partition("T")[2]


_ISO_INTERVAL = re.compile(
    r"P(?:(?P<y>-?\d+)Y)?(?:(?P<mo>-?\d+)M)?(?:(?P<w>-?\d+)W)?(?:(?P<d>-?\d+)D)?"
    r"(?:T(?:(?P<h>-?\d+)H)?(?:(?P<mi>-?\d+)M)?(?:(?P<s>-?\d+(?:\.\d+)?)S)?)?$"
)
_PG_UNITS = {
    "year": ("y", 1),
    "mon": ("mo", 1),
    "day": ("d", 1),
    "hour": ("h", 1),
    "min": ("mi", 1),
    "sec": ("s", 1),
}


def interval_micros(text: str) -> int:
    """An interval as Debezium's ``MicroDuration``: microseconds, a month being 365.25 / 12
    days. Reads the ``iso_8601`` style kflow asks for and PostgreSQL's default style."""
    parts: dict[str, float] = {}
    match = _ISO_INTERVAL.match(text)
    if match is not None and text != "P":
        parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
        if "w" in parts:
            parts["d"] = parts.get("d", 0.0) + 7 * parts.pop("w")
    else:
        parts = _postgres_interval(text)
    days = parts.get("y", 0.0) * 12 * DAYS_PER_MONTH + parts.get("mo", 0.0) * DAYS_PER_MONTH
    days += parts.get("d", 0.0)
    seconds = parts.get("h", 0.0) * 3600 + parts.get("mi", 0.0) * 60 + parts.get("s", 0.0)
    return round(days * MICROS_PER_DAY + seconds * 1_000_000)


def _postgres_interval(text: str) -> dict[str, float]:
    """``1 year 2 mons -3 days 04:05:06.5`` (IntervalStyle postgres)."""
    parts: dict[str, float] = {}
    for amount, unit in re.findall(r"(-?\d+(?:\.\d+)?) (\w+)", text):
        for prefix, (name, factor) in _PG_UNITS.items():
            if unit.startswith(prefix):
                parts[name] = parts.get(name, 0.0) + float(amount) * factor
    clock = re.search(r"(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", text)
    if clock is not None:
        sign = -1.0 if clock.group(1) else 1.0
        parts["h"] = parts.get("h", 0.0) + sign * float(clock.group(2))
        parts["mi"] = parts.get("mi", 0.0) + sign * float(clock.group(3))
        parts["s"] = parts.get("s", 0.0) + sign * float(clock.group(4))
    if not parts and text.strip() not in ("00:00:00", "0"):
        raise ValueError(f"not an interval: {text!r}")
    return parts


def _interval(text: str) -> Any:
    try:
        return interval_micros(text)
    except ValueError:
        return text


def _text(text: str) -> Any:
    return text


SCALARS: Final[dict[int, Callable[[str], Any]]] = {
    BOOL: _bool,
    BYTEA: _bytea,
    INT2: int,
    INT4: int,
    INT8: int,
    OID: int,
    FLOAT4: _float,
    FLOAT8: _float,
    NUMERIC: _number,
    MONEY: _money,
    DATE: _text,
    TIME: _time,
    TIMETZ: _timetz,
    TIMESTAMP: _timestamp,
    TIMESTAMPTZ: _timestamp,
    INTERVAL: _interval,
}


def convert(type_oid: int, text: str | None) -> Any:
    """The value of a column of type ``type_oid`` whose text output is ``text``."""
    if text is None:
        return None
    element = ARRAYS.get(type_oid)
    if element is not None:
        one = SCALARS.get(element, _text)
        return _map_nested(parse_array(text), one)
    return SCALARS.get(type_oid, _text)(text)


def _map_nested(items: list[Any], one: Callable[[str], Any]) -> list[Any]:
    return [
        _map_nested(item, one) if isinstance(item, list) else None if item is None else one(item)
        for item in items
    ]


def parse_array(text: str, delimiter: str = ",") -> list[Any]:
    """PostgreSQL's array text (``{1,2,NULL}``, ``{{"a b",c},{d,e}}``) as nested lists of
    element texts (``None`` for an unquoted NULL). A ``[1:2]=`` dimension prefix is skipped."""
    if text.startswith("["):
        text = text[text.index("=") + 1 :]
    pos = 0

    def parse_list() -> list[Any]:
        nonlocal pos
        if text[pos] != "{":
            raise ValueError(f"not an array: {text!r}")
        pos += 1
        out: list[Any] = []
        if text[pos] == "}":
            pos += 1
            return out
        while True:
            if text[pos] == "{":
                out.append(parse_list())
            elif text[pos] == '"':
                pos += 1
                chars: list[str] = []
                while text[pos] != '"':
                    if text[pos] == "\\":
                        pos += 1
                    chars.append(text[pos])
                    pos += 1
                pos += 1
                out.append("".join(chars))
            else:
                end = pos
                while text[end] not in (delimiter, "}"):
                    end += 1
                item = text[pos:end].strip()
                out.append(None if item.upper() == "NULL" else item)
                pos = end
            if text[pos] == "}":
                pos += 1
                return out
            pos += 1  # the delimiter

    try:
        return parse_list()
    except IndexError:
        raise ValueError(f"unterminated array: {text!r}") from None
