"""JSON on the hot path: orjson where it gives the same value as the standard library.

orjson reads and writes JSON several times faster than :mod:`json`. Where the two
would differ, the standard library decides, so values and error messages stay
what they were:

- :func:`loads` hands text orjson refuses (``NaN``, lone surrogates, invalid UTF-8,
  very deep nesting) to :func:`json.loads`, and text whose value holds a float beyond
  2**63 too: orjson reads an integer beyond 64 bits as a float, where Python keeps it
  exact (a float that large in the text itself is read again the same way, only slower);
- :func:`dumps` writes compact JSON (no spaces), dates and dataclasses through
  ``default`` exactly as :class:`json.JSONEncoder` would call it, and falls back to
  the standard encoder for what orjson cannot write (integers beyond 64 bits, keys
  that are not strings, numbers, booleans or null).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

_DUMPS_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
_INT64 = 2.0**63


def loads(data: bytes | str) -> Any:
    """``json.loads(data)``, faster; raises what :func:`json.loads` raises."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
    return json.loads(data) if _has_huge_float(value) else value


def _has_huge_float(value: Any) -> bool:
    """Whether a value orjson read holds a float of 2**63 or more (orjson builds exact
    dicts, lists and floats, so types are compared, not checked with isinstance)."""
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        items = node.values() if kind is dict else node if kind is list else (node,)
        for item in items:
            kind = type(item)
            if kind is float:
                if item >= _INT64 or item <= -_INT64:
                    return True
            elif kind is dict or kind is list:
                stack.append(item)
    return False


def dumps(value: Any, default: Callable[[Any], Any]) -> str:
    """Compact JSON of ``value`` (UTF-8 text, not ASCII-escaped); ``default`` turns what
    JSON has no type for into something it has, as :func:`json.dumps`'s ``default``."""
    try:
        return orjson.dumps(value, default=default, option=_DUMPS_OPTIONS).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError: a value or key only the standard library writes
        return json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":"))
