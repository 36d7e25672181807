"""Dates for the ``date``, ``dateAdd``, ``timestamp*`` filters and ``now()``.

Inputs may be datetimes, dates, epoch numbers (seconds) or ISO-8601 strings
(``2024-07-09T06:17:01.171193Z``, ``2024-07-09``); ``existingFormat=`` reads
other strings with a Java pattern. Formats are Java ``DateTimeFormatter``
patterns (``yyyy-MM-dd HH:mm:ss``, quoted literals ``'T'``) or one of Kestra's
names (``iso``, ``sql``, ``iso_date``, ``iso_sec``, ``iso_milli``...).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kflow.errors import ExpressionError

from .printing import iso_datetime

__all__ = ["add_to_date", "format_date", "now", "parse_date", "timestamp", "zone"]

UTC = dt.UTC


def zone(name: str | None) -> dt.tzinfo | None:
    if name is None:
        return None
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", name)
    if m:
        delta = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return dt.timezone(-delta if m.group(1) == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ExpressionError(f"unknown time zone {name!r}") from exc


def now(time_zone: str | None = None) -> dt.datetime:
    moment = dt.datetime.now(UTC)
    tz = zone(time_zone)
    return moment.astimezone(tz) if tz else moment


# Java pattern letters -> strftime, longest runs first.
_JAVA_LETTERS = [
    ("yyyy", "%Y"),
    ("uuuu", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("M", "{M}"),
    ("dd", "%d"),
    ("d", "{d}"),
    ("HH", "%H"),
    ("H", "{H}"),
    ("hh", "%I"),
    ("h", "{h}"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSSSSSSSS", "{S9}"),
    ("SSSSSS", "%f"),
    ("SSS", "{S3}"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("a", "%p"),
    ("XXX", "{XXX}"),
    ("xxx", "{XXX}"),
    ("X", "{X}"),
    ("Z", "%z"),
    ("z", "%Z"),
    ("D", "%j"),
]


def _java_to_strftime(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            j = pattern.find("'", i + 1)
            if j < 0:
                raise ExpressionError(f"unterminated quote in date format {pattern!r}")
            literal = pattern[i + 1 : j] or "'"
            out.append(literal.replace("%", "%%").replace("{", "{{").replace("}", "}}"))
            i = j + 1
            continue
        for java, py in _JAVA_LETTERS:
            if pattern.startswith(java, i):
                out.append(py)
                i += len(java)
                break
        else:
            if c.isalpha():
                raise ExpressionError(f"unsupported letter {c!r} in date format {pattern!r}")
            out.append(c.replace("%", "%%").replace("{", "{{").replace("}", "}}"))
            i += 1
    return "".join(out)


def _offset_text(value: dt.datetime, colon: bool, z_for_utc: bool) -> str:
    off = value.utcoffset()
    if off is None:
        return ""
    if z_for_utc and off == dt.timedelta(0):
        return "Z"
    total = int(off.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    sep = ":" if colon else ""
    return f"{sign}{total // 3600:02d}{sep}{total % 3600 // 60:02d}"


def _format_java(value: dt.datetime, pattern: str) -> str:
    text = value.strftime(_java_to_strftime(pattern))
    return text.format(
        M=value.month,
        d=value.day,
        H=value.hour,
        h=(value.hour % 12) or 12,
        S3=f"{value.microsecond // 1000:03d}",
        S9=f"{value.microsecond:06d}000",
        XXX=_offset_text(value, True, True),
        X=_offset_text(value, False, True),
    )


_NAMED = {
    "iso": lambda v: iso_datetime(v),
    "iso_date_time": lambda v: iso_datetime(v),
    "iso_zoned_date_time": lambda v: iso_datetime(v),
    "iso_offset_date_time": lambda v: iso_datetime(v),
    "iso_instant": lambda v: iso_datetime(v.astimezone(UTC)),
    "iso_date": lambda v: v.strftime("%Y-%m-%d"),
    "iso_local_date": lambda v: v.strftime("%Y-%m-%d"),
    "iso_local_date_time": lambda v: iso_datetime(v.replace(tzinfo=None)),
    "iso_local_time": lambda v: iso_datetime(v.replace(tzinfo=None)).split("T", 1)[1],
    "iso_sec": lambda v: _format_java(v, "yyyy-MM-dd'T'HH:mm:ssXXX"),
    "iso_milli": lambda v: _format_java(v, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
    "sql": lambda v: _format_java(v, "yyyy-MM-dd HH:mm:ss.SSSSSS"),
    "sql_seconds": lambda v: _format_java(v, "yyyy-MM-dd HH:mm:ss"),
    "sql_milli": lambda v: _format_java(v, "yyyy-MM-dd HH:mm:ss.SSS"),
}


def parse_date(value: Any, existing_format: str | None = None) -> dt.datetime:
    """A datetime from a date value of any accepted kind (naive ones read as UTC)."""
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, dt.date):
        result = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = dt.datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if existing_format:
                result = dt.datetime.strptime(
                    text, _java_to_strftime(existing_format).replace("{S3}", "%f")
                )
            else:
                result = dt.datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError as exc:
            raise ExpressionError(f"cannot read {value!r} as a date") from exc
    else:
        raise ExpressionError(f"cannot read a {type(value).__name__} as a date")
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    return result


def format_date(
    value: Any,
    fmt: str | None = None,
    time_zone: str | None = None,
    existing_format: str | None = None,
) -> str:
    moment = parse_date(value, existing_format)
    tz = zone(time_zone)
    if tz is not None:
        moment = moment.astimezone(tz)
    if fmt is None:
        return iso_datetime(moment)
    named = _NAMED.get(fmt.lower())
    if named is not None:
        return str(named(moment))
    return _format_java(moment, fmt)


_UNITS = {
    "NANOS": dt.timedelta(microseconds=0.001),
    "MICROS": dt.timedelta(microseconds=1),
    "MILLIS": dt.timedelta(milliseconds=1),
    "SECONDS": dt.timedelta(seconds=1),
    "MINUTES": dt.timedelta(minutes=1),
    "HOURS": dt.timedelta(hours=1),
    "HALF_DAYS": dt.timedelta(hours=12),
    "DAYS": dt.timedelta(days=1),
    "WEEKS": dt.timedelta(weeks=1),
}
_MONTHS = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200}


def add_to_date(value: Any, amount: int, unit: str) -> dt.datetime:
    moment = parse_date(value)
    key = unit.upper()
    if key in _UNITS:
        return moment + _UNITS[key] * int(amount)
    if key in _MONTHS:
        months = moment.month - 1 + int(amount) * _MONTHS[key]
        year, month = moment.year + months // 12, months % 12 + 1
        import calendar

        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    raise ExpressionError(
        f"unknown time unit {unit!r} (expected one of {', '.join([*_UNITS, *_MONTHS])})"
    )


def timestamp(value: Any, scale: int, existing_format: str | None = None) -> int:
    """Epoch time of ``value``: scale 1 seconds, 1_000 ms, 10**6 µs, 10**9 ns."""
    moment = parse_date(value, existing_format)
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if scale >= 1_000_000:
        return micros * (scale // 1_000_000)
    return micros // (1_000_000 // scale)
