"""Amazon Ion text, as Kestra's ``toIon`` filter writes it and ``fromIon()`` reads it.

Writer (``to_ion``), compact like Kestra's Jackson Ion mapper:

- ``null``, ``true`` / ``false``, integers as-is, floats as Ion floats
  (``1.5e0``, ``1.0e16``, ``nan``, ``+inf``);
- strings double-quoted; struct field names unquoted when they are plain
  identifiers (``{int:1,'a-b':2}``), else single-quoted;
- lists ``[a,b]``; maps ``{k:v}``; bytes as blobs ``{{base64}}``;
- dates as Kestra writes java.time values: an aware datetime is an Ion
  timestamp (``2024-04-21T23:00:00Z``, like an Instant), a date a day
  timestamp (``2024-04-21``), a naive datetime ``LocalDateTime::"..."``,
  a time ``LocalTime::"..."``.

Reader (``from_ion``): one Ion text value (a top-level stream of several is read
as a list): nulls (typed ones too), booleans, integers (``0x``, ``0b``, ``_``),
decimals and floats (as floats, as Jackson reads them into plain objects),
timestamps (an aware datetime; a day-precision one at UTC a date, as Kestra),
strings (``"..."`` and ``'''...'''``), symbols (strings), blobs (bytes), clobs
(text), lists, s-expressions (lists), structs, comments, and annotations
(ignored, except Kestra's ``LocalDateTime::``, ``ZonedDateTime::``... on a
string, which give the date value back).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from kflow.errors import ExpressionError

from .printing import iso_datetime, java_double

__all__ = ["from_ion", "to_ion"]

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
_RESERVED_SYMBOLS = {"null", "true", "false", "nan"}


# ----------------------------------------------------------------------- writer


def _string(text: str, quote: str = '"') -> str:
    out = [quote]
    for ch in text:
        code = ord(ch)
        if ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    out.append(quote)
    return "".join(out)


def _symbol(name: str) -> str:
    if _IDENT.match(name) and name not in _RESERVED_SYMBOLS:
        return name
    return _string(name, "'")


def _float(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    text = java_double(x)
    return text.replace("E", "e") if "E" in text else text + "e0"


def to_ion(value: Any) -> str:
    """``value`` as compact Ion text."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bytes | bytearray):
        return "{{" + base64.b64encode(bytes(value)).decode("ascii") + "}}"
    if isinstance(value, dt.datetime):
        if value.utcoffset() is None:
            return "LocalDateTime::" + _string(value.isoformat())
        return iso_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        kind = "LocalTime" if value.utcoffset() is None else "OffsetTime"
        return f"{kind}::" + _string(value.isoformat())
    if isinstance(value, Mapping):
        fields = (f"{_symbol(str(k))}:{to_ion(v)}" for k, v in value.items())
        return "{" + ",".join(fields) + "}"
    if isinstance(value, list | tuple | AbstractSet):
        return "[" + ",".join(to_ion(v) for v in value) + "]"
    raise ExpressionError(f"toIon: a {type(value).__name__} cannot be written as Ion")


# ----------------------------------------------------------------------- reader

_TIMESTAMP = re.compile(
    r"(\d{4})(?:-(\d\d)(?:-(\d\d))?)?T?"
    r"(?:(\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?(Z|[+-]\d\d:\d\d))?"
)
_NUMBER = re.compile(r"[-+]?[0-9A-Za-z_.]+(?:[eEdD][-+]?[0-9_]+)?")
_OPERATOR_CHARS = set("!#%&*+-./;<=>?@^`|~")
_STOP = set(" \t\r\n\f\v,:]}){[(\"'") | {""}
_KESTRA_TYPES = {
    "LocalDateTime",
    "ZonedDateTime",
    "OffsetDateTime",
    "Instant",
    "LocalDate",
    "LocalTime",
    "OffsetTime",
}


class _Reader:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def fail(self, message: str) -> ExpressionError:
        return ExpressionError(f"fromIon: invalid Ion: {message} at offset {self.i}")

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def skip_space(self) -> None:
        s = self.s
        while self.i < len(s):
            ch = s[self.i]
            if ch in " \t\r\n\f\v":
                self.i += 1
            elif s.startswith("//", self.i):
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end + 1
            elif s.startswith("/*", self.i):
                end = s.find("*/", self.i + 2)
                if end < 0:
                    raise self.fail("unclosed comment")
                self.i = end + 2
            else:
                return

    def at_end(self) -> bool:
        self.skip_space()
        return self.i >= len(self.s)

    # -- values
    def value(self, in_sexp: bool = False) -> Any:
        self.skip_space()
        annotations: list[str] = []
        while True:
            start = self.i
            symbol = self.try_symbol()
            if symbol is None:
                break
            self.skip_space()
            if self.s.startswith("::", self.i):
                self.i += 2
                annotations.append(symbol)
                self.skip_space()
                continue
            self.i = start
            break
        value = self.bare_value(in_sexp)
        if annotations and isinstance(value, str) and annotations[0] in _KESTRA_TYPES:
            return _kestra_date(annotations[0], value, self)
        return value

    def try_symbol(self) -> str | None:
        """A symbol starting here (identifier or quoted), or None."""
        ch = self.peek()
        if ch == "'" and not self.s.startswith("'''", self.i):
            return self.quoted("'")
        j = self.i
        if ch and (ch.isalpha() or ch in "_$"):
            while j < len(self.s) and (self.s[j].isalnum() or self.s[j] in "_$"):
                j += 1
            word = self.s[self.i : j]
            if word in _RESERVED_SYMBOLS:
                return None
            self.i = j
            return word
        return None

    def bare_value(self, in_sexp: bool) -> Any:
        s = self.s
        ch = self.peek()
        if ch == "":
            raise self.fail("a value is missing")
        if ch == "{":
            if s.startswith("{{", self.i):
                return self.lob()
            return self.struct()
        if ch == "[":
            return self.sequence("]")
        if ch == "(":
            return self.sequence(")", sexp=True)
        if ch == '"':
            return self.quoted('"')
        if s.startswith("'''", self.i):
            return self.long_string()
        if ch == "'":
            return self.quoted("'")
        if ch.isalpha() or ch in "_$":
            j = self.i
            while j < len(s) and (s[j].isalnum() or s[j] in "_$."):
                j += 1
            word = s[self.i : j]
            self.i = j
            if word == "null" or word.startswith("null."):
                return None
            if word == "true":
                return True
            if word == "false":
                return False
            if word == "nan":
                return math.nan
            if "." in word:
                raise self.fail(f"unexpected {word!r}")
            return word
        if s.startswith("+inf", self.i) or s.startswith("-inf", self.i):
            self.i += 4
            return math.inf if s[self.i - 4] == "+" else -math.inf
        if ch.isdigit() or (ch == "-" and self.peek(1).isdigit()):
            return self.number_or_timestamp()
        if in_sexp and ch in _OPERATOR_CHARS:
            j = self.i
            while j < len(s) and s[j] in _OPERATOR_CHARS:
                j += 1
            word = s[self.i : j]
            self.i = j
            return word
        raise self.fail(f"unexpected {ch!r}")

    def number_or_timestamp(self) -> Any:
        s = self.s
        m = _TIMESTAMP.match(s, self.i)
        if m and (m.group(2) or s[m.end(1) : m.end(1) + 1] == "T") and m.end() > self.i:
            return self.timestamp(m)
        m2 = _NUMBER.match(s, self.i)
        if not m2:
            raise self.fail("bad number")
        text = m2.group(0)
        self.i = m2.end()
        if self.peek() not in _STOP and not self.s.startswith("//", self.i):
            raise self.fail(f"bad number {text + self.peek()!r}")
        clean = text.replace("_", "")
        try:
            low = clean.lower()
            if low.lstrip("-+").startswith(("0x", "0b")):
                return int(clean, 0)
            if any(c in low for c in ".ed"):
                return float(low.replace("d", "e"))
            if len(clean.lstrip("-")) > 1 and clean.lstrip("-").startswith("0"):
                raise ValueError(clean)
            return int(clean)
        except ValueError as exc:
            raise self.fail(f"bad number {text!r}") from exc

    def timestamp(self, m: re.Match[str]) -> Any:
        year, month, day, hour, minute, second, fraction, offset = m.groups()
        self.i = m.end()
        if self.peek() not in _STOP:
            raise self.fail("bad timestamp")
        try:
            if hour is None:
                # day precision (or year / month): a date, as Kestra reads it
                return dt.date(int(year), int(month or 1), int(day or 1))
            micro = round(float(fraction) * 1_000_000) if fraction else 0
            if offset == "Z" or offset in ("+00:00", "-00:00"):
                tz = dt.UTC
            else:
                sign = 1 if offset[0] == "+" else -1
                delta = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
                tz = dt.timezone(sign * delta)
            moment = dt.datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second or 0),
                min(micro, 999_999),
                tzinfo=tz,
            )
        except (ValueError, TypeError) as exc:
            raise self.fail(f"bad timestamp {m.group(0)!r}") from exc
        if tz is dt.UTC and moment.time() == dt.time(0):
            return moment.date()  # as Kestra: a UTC instant at midnight reads as a date
        return moment

    def quoted(self, quote: str) -> str:
        s = self.s
        self.i += 1
        out: list[str] = []
        while True:
            if self.i >= len(s):
                raise self.fail("unclosed string")
            ch = s[self.i]
            if ch == quote:
                self.i += 1
                return "".join(out)
            if ch == "\\":
                out.append(self.escape())
                continue
            if ch == "\n":
                raise self.fail("newline in a string")
            out.append(ch)
            self.i += 1

    def escape(self) -> str:
        s = self.s
        code = s[self.i + 1 : self.i + 2]
        simple = {
            "n": "\n",
            "t": "\t",
            "r": "\r",
            "0": "\0",
            "a": "\a",
            "b": "\b",
            "f": "\f",
            "v": "\v",
            "\\": "\\",
            '"': '"',
            "'": "'",
            "/": "/",
            "?": "?",
        }
        if code in simple:
            self.i += 2
            return simple[code]
        if code == "\n":
            self.i += 2
            return ""
        width = {"x": 2, "u": 4, "U": 8}.get(code)
        if width is None:
            raise self.fail(f"bad escape \\{code}")
        digits = s[self.i + 2 : self.i + 2 + width]
        try:
            char = chr(int(digits, 16))
        except ValueError as exc:
            raise self.fail(f"bad escape \\{code}{digits}") from exc
        self.i += 2 + width
        return char

    def long_string(self) -> str:
        parts: list[str] = []
        s = self.s
        while s.startswith("'''", self.i):
            self.i += 3
            out: list[str] = []
            while not s.startswith("'''", self.i):
                if self.i >= len(s):
                    raise self.fail("unclosed long string")
                if s[self.i] == "\\":
                    out.append(self.escape())
                else:
                    out.append(s[self.i])
                    self.i += 1
            self.i += 3
            parts.append("".join(out))
            save = self.i
            self.skip_space()
            if not s.startswith("'''", self.i):
                self.i = save
        return "".join(parts)

    def lob(self) -> Any:
        s = self.s
        self.i += 2
        self.skip_space()
        if self.peek() == '"' or s.startswith("'''", self.i):
            text = self.quoted('"') if self.peek() == '"' else self.long_string()
            self.skip_space()
            if not s.startswith("}}", self.i):
                raise self.fail("unclosed clob")
            self.i += 2
            return text
        end = s.find("}}", self.i)
        if end < 0:
            raise self.fail("unclosed blob")
        data = "".join(s[self.i : end].split())
        self.i = end + 2
        try:
            return base64.b64decode(data, validate=True)
        except ValueError as exc:
            raise self.fail("bad blob") from exc

    def sequence(self, close: str, sexp: bool = False) -> list[Any]:
        self.i += 1
        items: list[Any] = []
        while True:
            self.skip_space()
            if self.peek() == close:
                self.i += 1
                return items
            items.append(self.value(in_sexp=sexp))
            self.skip_space()
            if sexp:
                continue
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != close:
                raise self.fail(f"expected ',' or '{close}'")

    def struct(self) -> dict[str, Any]:
        self.i += 1
        out: dict[str, Any] = {}
        while True:
            self.skip_space()
            if self.peek() == "}":
                self.i += 1
                return out
            if self.peek() == '"':
                name = self.quoted('"')
            elif self.s.startswith("'''", self.i):
                name = self.long_string()
            else:
                symbol = self.try_symbol()
                if symbol is None:
                    raise self.fail("expected a field name")
                name = symbol
            self.skip_space()
            if self.peek() != ":" or self.s.startswith("::", self.i):
                raise self.fail("expected ':' after a field name")
            self.i += 1
            out[name] = self.value()
            self.skip_space()
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != "}":
                raise self.fail("expected ',' or '}'")


def _kestra_date(kind: str, text: str, reader: _Reader) -> Any:
    """A java.time value Kestra wrote as an annotated string."""
    try:
        if kind in ("LocalTime", "OffsetTime"):
            return dt.time.fromisoformat(text)
        if kind == "LocalDate":
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(re.sub(r"\[[^\]]*\]$", "", text))
    except ValueError as exc:
        raise reader.fail(f"bad {kind} {text!r}") from exc


def from_ion(text: Any) -> Any:
    """Read Ion text into plain values; None stays None."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise ExpressionError("fromIon: expects a string")
    reader = _Reader(text)
    values: list[Any] = []
    while not reader.at_end():
        values.append(reader.value())
    if not values:
        return None
    return values[0] if len(values) == 1 else values
