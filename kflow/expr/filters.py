"""Kestra's Pebble filters, as Jinja2 filters.

Each filter takes Pebble's argument names, camelCase included
(``date(format, timeZone=, existingFormat=)``). Filters that Jinja2 already
has with Pebble's meaning (``abs``, ``sort``, ``reverse``, ``unique``...) are
left to Jinja2; the ones below replace or add to them.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import Undefined

from kflow.errors import ExpressionError

from . import dates
from .filters_pebble import PEBBLE_FILTERS, is_json
from .java_text import java_regex_replace, java_split
from .jq_support import jq_filter
from .printing import to_json, to_text
from .yaml_text import write_yaml

__all__ = ["FILTERS", "is_empty", "is_json", "parse_number"]


def _text(value: Any) -> str:
    return to_text(value)


def is_empty(value: Any) -> bool:
    """Pebble's ``empty`` test: null, blank string, empty list or map."""
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Mapping | list | tuple | set):
        return len(value) == 0
    return False


def default(value: Any, default_value: Any = None) -> Any:
    return default_value if is_empty(value) else value


def first(value: Any) -> Any:
    if type(value) is list:  # the usual case (``jq(...) | first``), before the slower checks
        return value[0] if value else None
    if isinstance(value, str):
        return value[:1] if value else None
    if isinstance(value, Mapping):
        value = list(value.values())
    items = list(value) if not isinstance(value, list) else value
    return items[0] if items else None


def last(value: Any) -> Any:
    if type(value) is list:
        return value[-1] if value else None
    if isinstance(value, str):
        return value[-1:] if value else None
    if isinstance(value, Mapping):
        value = list(value.values())
    items = list(value) if not isinstance(value, list) else value
    return items[-1] if items else None


def from_json(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str | bytes):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ExpressionError(f"fromJson: not JSON ({exc})") from exc


def capitalize(value: Any) -> str | None:
    """The first non-blank character in title case (Pebble skips leading whitespace)."""
    if value is None:
        return None
    text = _text(value)
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    return text[:lead] + stripped[:1].title() + stripped[1:]


def title(value: Any) -> str:
    out: list[str] = []
    up = True
    for ch in _text(value):
        if ch.isspace():
            up = True
            out.append(ch)
        elif up:
            out.append(ch.upper())
            up = False
        else:
            out.append(ch)
    return "".join(out)


def replace(value: Any, search: Any, replacement: Any = None, regexp: bool = False) -> Any:
    """``replace({'a': 'b', ...})`` as in Kestra, or ``replace('a', 'b')``.

    With ``regexp=true`` the keys are Java regular expressions and ``$1`` in a
    replacement is the group. A map or list has each of its values replaced
    (recursively; other values as their text); null stays null.
    """
    if value is None:
        return None
    pairs = list(search.items()) if isinstance(search, Mapping) else [(search, replacement or "")]

    def one(text: str) -> str:
        for old, new in pairs:
            if regexp:
                text = java_regex_replace(text, _text(old), _text(new))
            else:
                text = text.replace(_text(old), _text(new))
        return text

    def walk(item: Any) -> Any:
        if isinstance(item, Mapping):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v) for v in item]
        return one(_text(item))

    return walk(value)


def length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | Mapping | list | tuple | set):
        return len(value)
    if isinstance(value, Iterable):
        return sum(1 for _ in value)
    return len(_text(value))


def keys(value: Any) -> list[Any] | None:
    """A map's keys; a list's indexes (``[0, 1, 2]``); null stays null."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.keys())
    if isinstance(value, list | tuple):
        return list(range(len(value)))
    raise ExpressionError(f"keys: applies to a list or a map, not a {type(value).__name__}")


def values(value: Any) -> list[Any]:
    if not isinstance(value, Mapping):
        raise ExpressionError(f"values: expected a map, got {type(value).__name__}")
    return list(value.values())


def join(value: Any, separator: str = "") -> str:
    if value is None:
        return ""
    return _text(separator).join(_text(v) for v in value)


def split(value: Any, delimiter: str, limit: int | None = None) -> list[str] | None:
    """Pebble's ``split``: ``delimiter`` is a Java regular expression (``'\\|'``)."""
    if value is None:
        return None
    return java_split(_text(value), _text(delimiter), 0 if limit is None else int(limit))


def abbreviate(value: Any, length: int) -> str:
    text = _text(value)
    if len(text) <= length:
        return text
    if length < 4:
        return text[:length]
    return text[: length - 3] + "..."


def slugify(value: Any) -> str:
    text = unicodedata.normalize("NFKD", _text(value))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def starts_with(value: Any, prefix: Any) -> bool:
    return _text(value).startswith(_text(prefix))


def ends_with(value: Any, suffix: Any) -> bool:
    return _text(value).endswith(_text(suffix))


def substring_before(value: Any, separator: Any) -> str:
    text, sep = _text(value), _text(separator)
    i = text.find(sep)
    return text if i < 0 else text[:i]


def substring_after(value: Any, separator: Any) -> str:
    text, sep = _text(value), _text(separator)
    i = text.find(sep)
    return "" if i < 0 else text[i + len(sep) :]


def substring_before_last(value: Any, separator: Any) -> str:
    text, sep = _text(value), _text(separator)
    i = text.rfind(sep)
    return text if i < 0 else text[:i]


def substring_after_last(value: Any, separator: Any) -> str:
    text, sep = _text(value), _text(separator)
    i = text.rfind(sep)
    return "" if i < 0 else text[i + len(sep) :]


_INT_TYPES = {"INT", "INTEGER", "LONG", "BIGINTEGER", "SHORT", "BYTE"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "BIGDECIMAL"}


def parse_number(value: Any, type: str | None = None) -> int | float:
    """Kestra's ``number``: int when the text is integral, else float."""
    if isinstance(value, bool):
        raise ExpressionError("number: cannot convert a boolean")
    wanted = type.upper() if type else None
    if wanted and wanted not in _INT_TYPES | _FLOAT_TYPES:
        raise ExpressionError(f"number: unknown type {type!r}")
    if isinstance(value, int | float):
        number: int | float = value
    else:
        text = _text(value).strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError as exc:
                raise ExpressionError(f"number: {text!r} is not a number") from exc
    if wanted in _INT_TYPES:
        return int(number)
    if wanted in _FLOAT_TYPES:
        return float(number)
    return number


def _hash(name: str) -> Callable[[Any], str | None]:
    def digest(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ExpressionError(f"{name}: needs a string to hash")
        return hashlib.new(name, value.encode("utf-8")).hexdigest()

    digest.__name__ = name
    return digest


def urldecode(value: Any) -> str:
    return urllib.parse.unquote_plus(_text(value))


def urlencode(value: Any) -> str:
    return urllib.parse.quote_plus(_text(value))


def to_yaml(value: Any) -> str:
    """``value`` as YAML text (block style)."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(json.loads(to_json(value)), buf)
    return buf.getvalue()


def yaml_filter(value: Any) -> str:
    """Kestra's ``yaml`` filter writes ``value`` as YAML (``{{ labels | yaml }}``);
    the ``yaml(text)`` function parses."""
    return write_yaml(value)


def _line_separator(text: str) -> str:
    for sep in ("\r\n", "\n\r", "\n", "\r"):
        if sep in text:
            return sep
    return "\n"


def _indent(name: str, value: Any, amount: Any, prefix: Any, first: bool) -> str | None:
    if value is None:
        return None
    text = _text(value)
    if not text:
        return text
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ExpressionError(f"{name}: expects an integer >= 0 as argument 'amount'")
    sep = _line_separator(text)
    if first:
        text = sep + text
    return text.replace(sep, sep + _text(prefix) * amount)


def indent(value: Any, amount: Any, prefix: Any = " ") -> str | None:
    """Every line but the first indented by ``amount`` times ``prefix`` (blank ones too)."""
    return _indent("indent", value, amount, prefix, False)


def nindent(value: Any, amount: Any, prefix: Any = " ") -> str | None:
    """A line separator, then every line indented by ``amount`` times ``prefix``."""
    return _indent("nindent", value, amount, prefix, True)


def flatten(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in value or []:
        if isinstance(item, list | tuple):
            out.extend(item)
        else:
            out.append(item)
    return out


_ESCAPE_KINDS = {
    "single": lambda s: s.replace("\\", "\\\\").replace("'", "\\'"),
    "double": lambda s: s.replace("\\", "\\\\").replace('"', '\\"'),
    "shell": lambda s: s.replace("'", "'\\''"),
}


def escape_char(value: Any, type: str = "single") -> str:
    kind = _ESCAPE_KINDS.get(type.lower())
    if kind is None:
        raise ExpressionError(f"escapeChar: unknown type {type!r} (single, double or shell)")
    return kind(_text(value))


def chunk(value: Any, size: int) -> list[list[Any]]:
    items = list(value or [])
    size = int(size)
    if size <= 0:
        raise ExpressionError("chunk: the size must be positive")
    return [items[i : i + size] for i in range(0, len(items), size)]


def date(
    value: Any,
    format: str | None = None,
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> str | None:
    if value is None:
        return None
    return dates.format_date(value, format, timeZone, existingFormat)


def date_add(
    value: Any,
    amount: int,
    unit: str,
    format: str | None = None,
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> str | None:
    if value is None:
        return None
    moment = dates.add_to_date(dates.parse_date(value, existingFormat, timeZone), amount, unit)
    return dates.render_date(moment, format, timeZone)


def _timestamp(scale: int) -> Callable[..., int | None]:
    def stamp(
        value: Any,
        timeZone: str | None = None,
        existingFormat: str | None = None,
    ) -> int | None:
        if value is None:
            return None
        return dates.timestamp(value, scale, existingFormat, timeZone)

    return stamp


def _timestamp_text(unit: str) -> Callable[..., str | None]:
    def stamp(
        value: Any,
        timeZone: str | None = None,
        existingFormat: str | None = None,
    ) -> str | None:
        if value is None:
            return None
        return dates.timestamp_java(value, unit, existingFormat, timeZone)

    return stamp


def to_upper(value: Any) -> str:
    return _text(value).upper()


def to_lower(value: Any) -> str:
    return _text(value).lower()


def trim(value: Any) -> str:
    return _text(value).strip()


FILTERS: dict[str, Callable[..., Any]] = {
    "jq": jq_filter,
    "first": first,
    "last": last,
    "toJson": to_json,
    "json": to_json,
    "fromJson": from_json,
    "default": default,
    "upper": to_upper,
    "lower": to_lower,
    "title": title,
    "capitalize": capitalize,
    "trim": trim,
    "replace": replace,
    "length": length,
    "keys": keys,
    "values": values,
    "join": join,
    "split": split,
    "abbreviate": abbreviate,
    "slugify": slugify,
    "startsWith": starts_with,
    "endsWith": ends_with,
    "substringBefore": substring_before,
    "substringAfter": substring_after,
    "substringBeforeLast": substring_before_last,
    "substringAfterLast": substring_after_last,
    "number": parse_number,
    "date": date,
    "dateAdd": date_add,
    "timestamp": _timestamp(1),
    "timestampMilli": _timestamp(1_000),
    "timestampMicro": _timestamp_text("micro"),
    "timestampNano": _timestamp_text("nano"),
    "sha1": _hash("sha1"),
    "sha256": _hash("sha256"),
    "sha512": _hash("sha512"),
    "md5": _hash("md5"),
    "urldecode": urldecode,
    "urlencode": urlencode,
    "yaml": yaml_filter,
    "toYaml": to_yaml,
    "indent": indent,
    "nindent": nindent,
    "flatten": flatten,
    "escapeChar": escape_char,
    "chunk": chunk,
    **PEBBLE_FILTERS,
}
