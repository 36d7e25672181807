"""Conversions between expression values and Cassandra column values.

Into Cassandra: a bound value is converted to its column's type, read from
the prepared statement (the blog's ``product_id`` arrives as the string
``"20"`` for an ``int`` column). Out of Cassandra: values become
JSON-friendly as in Kestra (uuid, inet -> str; set -> list; map -> dict ...).
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from kflow.errors import TaskError

_INTS = {"int", "bigint", "smallint", "tinyint", "varint", "counter"}
_FLOATS = {"float", "double"}
_TEXT = {"text", "varchar", "ascii"}


def to_column(value: Any, cql_type: str, column: str) -> Any:
    """Convert one bound value for a column of ``cql_type`` (e.g. ``int``, ``list<text>``)."""
    if value is None:
        return None
    base = cql_type.split("<", 1)[0].strip().lower()
    try:
        if base in _INTS:
            if isinstance(value, bool):
                raise ValueError("a boolean is not an integer")
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(f"{value} is not a whole number")
                return int(value)
            return int(str(value).strip()) if not isinstance(value, int) else value
        if base in _FLOATS:
            return float(value)
        if base == "decimal":
            return value if isinstance(value, Decimal) else Decimal(str(value).strip())
        if base in _TEXT:
            return value if isinstance(value, str) else _text(value)
        if base == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "false"):
                return text == "true"
            raise ValueError(f"{value!r} is not true or false")
        if base in ("uuid", "timeuuid"):
            return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        if base == "timestamp":
            return _timestamp(value)
        if base == "date":
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if base == "time":
            return value if isinstance(value, time) else time.fromisoformat(str(value))
        if base == "inet":
            return str(ipaddress.ip_address(str(value)))
        if base == "blob":
            return value if isinstance(value, bytes) else str(value).encode()
        if base in ("list", "set", "map", "tuple", "frozen") and isinstance(value, str):
            return json.loads(value)
    except (ValueError, TypeError, InvalidOperation, ArithmeticError) as exc:
        raise TaskError(
            f"cannot bind {_short(value)} to column '{column}' of type {cql_type}: {exc}"
        ) from exc
    return value


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def from_column(value: Any) -> Any:
    """A driver value made JSON-friendly (recursively)."""
    if value is None or isinstance(value, str | bool | int | float | Decimal | datetime):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict) or hasattr(value, "items"):
        return {_key(k): from_column(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [from_column(v) for v in value]
    if isinstance(value, date | time):
        return value.isoformat()
    # cassandra.util.Date / Time / Duration and inet strings
    return str(value)


def _key(key: Any) -> str:
    converted = from_column(key)
    return converted if isinstance(converted, str) else json.dumps(converted, default=str)
