"""Pebble's core filters that Kestra keeps, with their Java behaviour, and a few of
Kestra's own, beside ``filters.py``.

Pebble's: ``numberFormat`` (see ``java_text``), ``base64encode`` / ``base64decode``,
``sort`` / ``rsort`` (natural order: case-sensitive, unlike Jinja2's), ``slice``.
Kestra's: ``className`` (the Java class Kestra would hold), ``distinct``, ``toIon``, and the
``json`` test.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from kflow.errors import ExpressionError

from .ion import to_ion
from .java_text import number_format
from .printing import to_text

__all__ = ["PEBBLE_FILTERS", "is_json"]


# ------------------------------------------------------------------- className

_JAVA_INT = (-(2**31), 2**31 - 1)
_JAVA_LONG = (-(2**63), 2**63 - 1)


def class_name(value: Any) -> str | None:
    """The Java class Kestra would hold for ``value`` (``java.lang.String``...)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        if _JAVA_INT[0] <= value <= _JAVA_INT[1]:
            return "java.lang.Integer"
        if _JAVA_LONG[0] <= value <= _JAVA_LONG[1]:
            return "java.lang.Long"
        return "java.math.BigInteger"
    simple: list[tuple[type | tuple[type, ...], str]] = [
        (float, "java.lang.Double"),
        (str, "java.lang.String"),
        (decimal.Decimal, "java.math.BigDecimal"),
        (Mapping, "java.util.LinkedHashMap"),
        ((list, tuple), "java.util.ArrayList"),
        (AbstractSet, "java.util.LinkedHashSet"),
        ((bytes, bytearray), "[B"),
    ]
    for types, name in simple:
        if isinstance(value, types):
            return name
    if isinstance(value, dt.datetime):
        return (
            "java.time.ZonedDateTime"
            if value.utcoffset() is not None
            else "java.time.LocalDateTime"
        )
    if isinstance(value, dt.date):
        return "java.time.LocalDate"
    if isinstance(value, dt.time):
        return "java.time.LocalTime"
    return f"{type(value).__module__}.{type(value).__qualname__}"


# ---------------------------------------------------------------------- base64


def base64encode(value: Any) -> str | None:
    if value is None:
        return None
    return base64.b64encode(to_text(value).encode("utf-8")).decode("ascii")


def base64decode(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExpressionError("base64decode: applies to a string")
    try:
        return base64.b64decode(value.encode("utf-8"), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise ExpressionError(
            "base64decode: not a Base64 encoded string holding UTF-8 text"
        ) from exc


# ------------------------------------------------------------------ collections


def _as_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise ExpressionError(f"{name}: expects a list, got {type(value).__name__}")


def _sorted(name: str, value: Any, reverse: bool) -> list[Any] | None:
    if value is None:
        return None
    items = _as_list(name, value)
    try:
        return sorted(items, reverse=reverse)
    except TypeError as exc:
        raise ExpressionError(f"{name}: the items cannot be compared ({exc})") from exc


def sort(value: Any) -> list[Any] | None:
    """Natural order, as Java's ``Collections.sort`` (``'B' < 'a'``)."""
    return _sorted("sort", value, False)


def rsort(value: Any) -> list[Any] | None:
    return _sorted("rsort", value, True)


def _identity(item: Any) -> Any:
    """A key equal only for items Java's ``equals`` finds equal (``1`` is not ``1.0``)."""
    try:
        hash(item)
    except TypeError:
        return None
    return (type(item), item)


def distinct(value: Any) -> Any:
    """The list without repeats, first occurrences kept (``null`` gives ``"null"``)."""
    if value is None:
        return "null"
    if not isinstance(value, list | tuple):
        raise ExpressionError(
            f"distinct: input must be a list, but received {type(value).__name__}"
        )
    seen: set[Any] = set()
    kept: list[Any] = []
    for item in value:
        key = _identity(item)
        if key is None:
            if not any(type(k) is type(item) and k == item for k in kept):
                kept.append(item)
        elif key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def _index(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"slice: argument {name} must be a number")
    return int(value)


def slice_filter(value: Any, fromIndex: Any = None, toIndex: Any = None) -> Any:
    """Pebble's ``slice``: ``fromIndex`` (0) included to ``toIndex`` (the end) excluded."""
    if value is None:
        return None
    if not isinstance(value, str | list | tuple):
        raise ExpressionError(f"slice: applies to a string or a list, not a {type(value).__name__}")
    start = 0 if fromIndex is None else _index("fromIndex", fromIndex)
    if start < 0:
        raise ExpressionError("slice: fromIndex must be 0 or more")
    end = len(value)
    if toIndex is not None:
        end = _index("toIndex", toIndex)
        if end > len(value):
            raise ExpressionError(f"slice: toIndex must not exceed the input size: {len(value)}")
        if start >= end:
            raise ExpressionError("slice: toIndex must be greater than fromIndex")
    part = value[start:end]
    return list(part) if isinstance(part, tuple) else part


# ------------------------------------------------------------------------ json


def is_json(value: Any) -> bool:
    """Kestra's ``is json`` test: maps and lists, or a string that parses as JSON."""
    if value is None:
        return False
    if isinstance(value, Mapping | list | tuple):
        return True
    if not isinstance(value, str):
        return False
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def to_ion_filter(value: Any) -> str:
    return to_ion(value)


PEBBLE_FILTERS: dict[str, Callable[..., Any]] = {
    "numberFormat": number_format,
    "className": class_name,
    "base64encode": base64encode,
    "base64decode": base64decode,
    "sort": sort,
    "rsort": rsort,
    "distinct": distinct,
    "slice": slice_filter,
    "toIon": to_ion_filter,
}
