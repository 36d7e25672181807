"""How values print, as in Kestra's Pebble.

- strings print as-is; ``None`` prints as the empty string;
- booleans print ``true`` / ``false``;
- integers print as integers, floats like Java's ``Double.toString``
  (``1.0``, ``0.5``, ``1.0E16``);
- maps and lists print as compact JSON (``{"a":1}``), like Jackson;
- dates print as ISO-8601 (``2024-07-09T06:17:01.171193Z``).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

__all__ = ["iso_datetime", "java_double", "json_default", "to_json", "to_text"]


def java_double(x: float) -> str:
    """``x`` as Java's ``Double.toString`` prints it."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    ax = abs(x)
    if 1e-3 <= ax < 1e7:
        text = repr(x)
        return text if ("." in text or "e" in text) else text + ".0"
    sign, digits, exponent = decimal.Decimal(repr(x)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    exp10 = len(digits) + int(exponent) - 1
    mantissa = ds[0] + "." + (ds[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{exp10}"


def iso_datetime(value: dt.datetime | dt.date | dt.time) -> str:
    """ISO-8601 as Java prints an Instant / OffsetDateTime (``Z`` for UTC)."""
    if isinstance(value, dt.datetime):
        base = value.strftime("%Y-%m-%dT%H:%M:%S")
        us = value.microsecond
        if us:
            base += f".{us // 1000:03d}" if us % 1000 == 0 else f".{us:06d}"
        off = value.utcoffset()
        if off is None:
            return base
        if off == dt.timedelta(0):
            return base + "Z"
        total = int(off.total_seconds())
        sign = "+" if total >= 0 else "-"
        total = abs(total)
        return f"{base}{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"
    return value.isoformat()


def json_default(value: Any) -> Any:
    """``default=`` for ``json.dumps``: the types flows meet beyond plain JSON."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return iso_datetime(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, AbstractSet | Sequence) or hasattr(value, "__iter__"):
        return list(value)  # tuples, sets, driver collections (Cassandra's SortedSet...)
    raise TypeError(f"a {type(value).__name__} cannot be written as JSON")


def to_json(value: Any) -> str:
    """Compact JSON, non-ASCII kept, as Jackson writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=json_default)


def to_text(value: Any) -> str:
    """The text Pebble prints for ``value``."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, Mapping | list | tuple | AbstractSet) or (
        isinstance(value, Sequence) and not isinstance(value, bytes | bytearray)
    ):
        return to_json(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return iso_datetime(value)
    return str(value)
