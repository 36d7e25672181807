"""Runtime helpers for Pebble constructs without a Jinja2 twin.

- ``__kf_iter``: what ``{% for %}`` walks, as Pebble's ``ForNode``: a list as
  is, a map as its entries (``entry.key``, ``entry.value``), ``null`` as
  nothing; a string or a number is "not an iterable object".
- ``__kf_concat``: a string with ``#{...}`` interpolation, joined as Pebble's
  ``ConcatenateExpression`` (``null`` parts are left out, others printed with
  Java's ``toString``).
- ``__kf_method``: ``value.name(args)``, the public Java methods flows call on
  maps, lists and strings (``size``, ``isEmpty``, ``keySet``, ``get``,
  ``contains``, ``toUpperCase``, ``substring``...), with Java's semantics.
- ``__kf_sget``: a safe chain lookup (for ``??``, ``is defined``...) whose
  subscripts may themselves be missing (``a[missing].b``).

Names start with ``__kf_``, so templates cannot call them by name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from jinja2 import Undefined

from kflow.errors import ExpressionError

from .functions import HELPERS as _BASE_HELPERS
from .java_text import java_split
from .printing import iso_datetime, java_double

__all__ = ["RUNTIME_HELPERS", "MapEntry", "java_string"]


class MapEntry:
    """A map entry met in ``{% for entry in map %}``, as Java's ``Map.Entry``."""

    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value

    def __str__(self) -> str:
        return f"{java_string(self.key)}={java_string(self.value)}"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MapEntry) and (self.key, self.value) == (other.key, other.value)

    def __hash__(self) -> int:
        return hash(self.key)


def java_string(value: Any) -> str:
    """``String.valueOf`` of the Java value Kestra would hold."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{java_string(k)}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | AbstractSet):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return iso_datetime(value)
    return str(value)


def _fail(value: Undefined) -> Any:
    value._fail_with_undefined_error()


def iterate(value: Any) -> Any:
    if isinstance(value, Undefined):
        return _fail(value)
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return [MapEntry(k, v) for k, v in value.items()]
    if isinstance(value, str | bytes | int | float | bool) or not isinstance(value, Iterable):
        raise ExpressionError(f"Not an iterable object. Value = [{java_string(value)}]")
    return value


def concat(*parts: Any) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, Undefined):
            _fail(part)
        if part is not None:
            out.append(java_string(part))
    return "".join(out)


def safe_get(root: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(key, Undefined):
            return Undefined(name=str(getattr(key, "_undefined_name", None) or "?"))
    return _BASE_HELPERS["__kf_get"](root, *keys)


# ------------------------------------------------------------------------------ methods


def _java_index(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExpressionError(f"{name}: expected an integer argument, got {java_string(value)}")
    return value


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _substring(text: str, begin: Any, end: Any = None) -> str:
    b = _java_index("substring", begin)
    e = len(text) if end is None else _java_index("substring", end)
    if b < 0 or e > len(text) or b > e:
        raise ExpressionError(
            f"substring: begin {b}, end {e}, length {len(text)} (StringIndexOutOfBoundsException)"
        )
    return text[b:e]


def _list_get(items: Any, index: Any) -> Any:
    i = _java_index("get", index)
    if not 0 <= i < len(items):
        raise ExpressionError(
            f"get: index {i} out of bounds for length {len(items)} (IndexOutOfBoundsException)"
        )
    return items[i]


def _index_of(items: Any, item: Any) -> int:
    try:
        return list(items).index(item)
    except ValueError:
        return -1


def _last_index_of(items: Any, item: Any) -> int:
    found = -1
    for i, x in enumerate(items):
        if x == item:
            found = i
    return found


def _java_trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def _text_arg(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"{name}: expected a string argument, got {java_string(value)}")
    return value


_Method = Callable[..., Any]

_MAP_METHODS: dict[str, _Method] = {
    "size": len,
    "isEmpty": lambda m: len(m) == 0,
    "keySet": lambda m: list(m.keys()),
    "values": lambda m: list(m.values()),
    "containsKey": lambda m, k: k in m,
    "containsValue": lambda m, v: v in m.values(),
    "get": lambda m, k: m.get(k),
    "getOrDefault": lambda m, k, d: m.get(k, d),
}
_LIST_METHODS: dict[str, _Method] = {
    "size": len,
    "isEmpty": lambda items: len(items) == 0,
    "contains": lambda items, x: x in items,
    "get": _list_get,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
}
_STRING_METHODS: dict[str, _Method] = {
    "length": _utf16_len,
    "isEmpty": lambda s: s == "",
    "isBlank": lambda s: s.strip() == "",
    "toUpperCase": str.upper,
    "toLowerCase": str.lower,
    "trim": _java_trim,
    "strip": str.strip,
    "startsWith": lambda s, p: s.startswith(_text_arg("startsWith", p)),
    "endsWith": lambda s, p: s.endswith(_text_arg("endsWith", p)),
    "contains": lambda s, p: java_string(p) in s,
    "indexOf": lambda s, p: s.find(_text_arg("indexOf", p)),
    "lastIndexOf": lambda s, p: s.rfind(_text_arg("lastIndexOf", p)),
    "substring": _substring,
    "split": lambda s, regex, limit=0: java_split(s, _text_arg("split", regex), int(limit)),
    "replace": lambda s, a, b: s.replace(java_string(a), java_string(b)),
    "equals": lambda s, other: s == other,
    "equalsIgnoreCase": lambda s, other: isinstance(other, str) and s.lower() == other.lower(),
    "charAt": lambda s, i: s[_java_index("charAt", i)],
    "concat": lambda s, other: s + _text_arg("concat", other),
}
_ENTRY_METHODS: dict[str, _Method] = {
    "getKey": lambda e: e.key,
    "getValue": lambda e: e.value,
}
_ANY_METHODS: dict[str, _Method] = {
    "toString": java_string,
    "equals": lambda a, b: a == b,
}


def _methods_of(value: Any) -> tuple[str, dict[str, _Method]]:
    if isinstance(value, Mapping):
        return "a map", _MAP_METHODS
    if isinstance(value, str):
        return "a string", _STRING_METHODS
    if isinstance(value, list | tuple):
        return "a list", _LIST_METHODS
    if isinstance(value, MapEntry):
        return "a map entry", _ENTRY_METHODS
    return f"a {type(value).__name__}", {}


def call_method(value: Any, name: str, *args: Any) -> Any:
    if isinstance(value, Undefined):
        return _fail(value)
    if value is None:
        raise ExpressionError(f"cannot call '{name}()' on null")
    for arg in args:
        if isinstance(arg, Undefined):
            _fail(arg)
    what, methods = _methods_of(value)
    method = methods.get(name) or _ANY_METHODS.get(name)
    if method is None:
        raise ExpressionError(f"the method '{name}()' is not available on {what}")
    try:
        return method(value, *args)
    except TypeError as exc:
        if re.search(r"positional argument|argument", str(exc)):
            raise ExpressionError(f"'{name}()' on {what}: wrong number of arguments") from exc
        raise


RUNTIME_HELPERS: dict[str, Any] = {
    "__kf_iter": iterate,
    "__kf_concat": concat,
    "__kf_method": call_method,
    "__kf_sget": safe_get,
}
