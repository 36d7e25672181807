"""Cell values of the JDBC tasks, converted as Kestra's cell converters do.

PostgreSQL (``PostgresCellConverter``): ``timestamp`` a naive datetime (LocalDateTime),
``timestamptz`` an aware datetime in the task's ``timeZoneId`` (ZonedDateTime), ``time``
a time, ``timetz`` the local time in ``timeZoneId`` (as Kestra, read on 1970-01-01),
``interval`` the ISO text Kestra prints (``P10Y4M5DT0H0M10S``), arrays lists, ``json`` /
``jsonb`` parsed values, ``uuid`` text, ``bytea`` bytes, ``numeric`` Decimal, ``void`` null.

MySQL / MariaDB (``MysqlCellConverter``): ``DATETIME`` a naive datetime, ``TIMESTAMP`` an
instant (the server's value read as UTC, as Kestra), ``TIME`` a time, ``YEAR`` the first
of January of that year, ``BIT`` and binary strings bytes, ``JSON`` text, ``DECIMAL``
Decimal.

Files written with ``fetchType: STORE`` hold the same values as Ion (Decimal as a
number: an integer when it has no fraction digits, else a float).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kflow.errors import TaskError

__all__ = [
    "iso_interval",
    "mysql_cell",
    "postgres_cell",
    "register_postgres_casts",
    "stored_value",
    "zone_of",
]

# PostgreSQL type OIDs
_TIMESTAMPTZ = 1184
_TIMETZ = 1266
_VOID = 2278
_INTERVAL = 1186
_INTERVAL_ARRAY = 1187

# MySQL field types (pymysql.constants.FIELD_TYPE)
_MY_TIMESTAMP = 7
_MY_TIME = 11
_MY_YEAR = 13

_INTERVAL_PART = re.compile(r"([+-]?\d+)\s+(year|years|mon|mons|day|days)\b")
_INTERVAL_TIME = re.compile(r"([+-])?(\d+):(\d\d):(\d\d)(?:\.(\d+))?")


def zone_of(time_zone_id: str | None) -> tzinfo:
    """The zone of ``timeZoneId`` (UTC when unset); TaskError for an unknown id."""
    if not time_zone_id:
        return UTC
    if time_zone_id in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(time_zone_id)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TaskError(f"timeZoneId {time_zone_id!r} is not a known time zone") from exc


def iso_interval(text: str | None) -> str | None:
    """A PostgreSQL interval (``IntervalStyle`` postgres) as Kestra prints it.

    ``"10 years 4 mons 5 days 00:00:10"`` -> ``"P10Y4M5DT0H0M10S"`` (seconds truncated
    to whole seconds, as Kestra's converter does). Other text is returned unchanged.
    """
    if text is None:
        return None
    years = months = days = hours = minutes = seconds = 0
    rest = text.strip()
    matched = False
    for amount, unit in _INTERVAL_PART.findall(rest):
        matched = True
        value = int(amount)
        if unit.startswith("year"):
            years += value
        elif unit.startswith("mon"):
            months += value
        else:
            days += value
    clock = _INTERVAL_TIME.search(rest)
    if clock:
        matched = True
        sign = -1 if clock.group(1) == "-" else 1
        hours = sign * int(clock.group(2))
        minutes = sign * int(clock.group(3))
        seconds = sign * int(clock.group(4))
    if not matched:
        return text
    return f"P{years}Y{months}M{days}DT{hours}H{minutes}M{seconds}S"


def register_postgres_casts(connection: Any) -> None:
    """Make ``connection`` read intervals as Kestra's text and ``void`` as null."""
    import psycopg2.extensions as ext

    interval = ext.new_type((_INTERVAL,), "KFLOW_INTERVAL", lambda v, _c: iso_interval(v))
    ext.register_type(interval, connection)
    ext.register_type(
        ext.new_array_type((_INTERVAL_ARRAY,), "KFLOW_INTERVAL_ARRAY", interval), connection
    )
    ext.register_type(ext.new_type((_VOID,), "KFLOW_VOID", lambda _v, _c: None), connection)


def _local_time(value: time, zone: tzinfo) -> time:
    """A time with an offset as the wall-clock time in ``zone`` on 1970-01-01."""
    moment = datetime.combine(date(1970, 1, 1), value)
    return moment.astimezone(zone).time().replace(tzinfo=None)


def _plain(value: Any, zone: tzinfo) -> Any:
    """Driver values made plain, recursively (arrays, JSON)."""
    if value is None or isinstance(value, str | bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        return value.astimezone(zone) if value.tzinfo is not None else value
    if isinstance(value, time):
        return _local_time(value, zone) if value.tzinfo is not None else value
    if isinstance(value, date):
        return value
    if isinstance(value, memoryview | bytearray | bytes):
        return bytes(value)
    if isinstance(value, list | tuple):
        return [_plain(v, zone) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, zone) for k, v in value.items()}
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)  # ranges, inet, money, composite types...


def postgres_cell(value: Any, type_code: int, zone: tzinfo) -> Any:
    """One PostgreSQL cell as Kestra gives it (see the module docstring)."""
    if value is None or type_code == _VOID:
        return None
    if type_code == _TIMESTAMPTZ and isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(zone)
    if type_code == _TIMETZ and isinstance(value, time):
        return _local_time(value, zone) if value.tzinfo is not None else value
    return _plain(value, zone)


def mysql_time(value: timedelta) -> time | str:
    """A MySQL TIME (a duration for pymysql) as a time of day, or its text beyond 0-24 h."""
    if timedelta(0) <= value < timedelta(days=1):
        return (datetime.min + value).time()
    total = abs(value)
    seconds = int(total.total_seconds())
    text = f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if total.microseconds:
        text += f".{total.microseconds:06d}"
    return ("-" if value < timedelta(0) else "") + text


def mysql_cell(value: Any, field_type: int, zone: tzinfo) -> Any:
    """One MySQL / MariaDB cell as Kestra gives it (see the module docstring)."""
    if value is None:
        return None
    if field_type == _MY_TIMESTAMP and isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    if field_type == _MY_TIME and isinstance(value, timedelta):
        return mysql_time(value)
    if field_type == _MY_YEAR and isinstance(value, int) and not isinstance(value, bool):
        return date(value, 1, 1) if value > 0 else value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, datetime):
        return value
    return _plain(value, zone)


def stored_value(value: Any) -> Any:
    """A converted cell as a STORE file holds it (Ion has no Decimal in kflow's writer)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return float(value)
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, list):
        return [stored_value(v) for v in value]
    if isinstance(value, dict):
        return {k: stored_value(v) for k, v in value.items()}
    return value
