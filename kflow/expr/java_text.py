"""Java's text rules where Kestra's filters inherit them: ``DecimalFormat`` patterns
(``numberFormat``), ``String.split`` (a regex, trailing empty pieces dropped) and
``replaceAll`` (``$1`` and ``${name}`` group references) for ``split`` and
``replace(..., regexp=true)``."""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable
from typing import Any

from kflow.errors import ExpressionError

# ---------------------------------------------------------------- numberFormat


def _split_pattern(pattern: str) -> tuple[str, str, str]:
    """(prefix, number part, suffix) of a DecimalFormat pattern (positive half)."""
    out_prefix: list[str] = []
    number: list[str] = []
    suffix: list[str] = []
    target = out_prefix
    quoted = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            if pattern[i + 1 : i + 2] == "'":
                target.append("'")
                i += 2
                continue
            quoted = not quoted
        elif quoted:
            target.append(ch)
        elif ch == ";":
            break
        elif ch in "#0,." and target is not suffix:
            target = number
            number.append(ch)
        else:
            if target is number:
                target = suffix
            target.append(ch)
        i += 1
    return "".join(out_prefix), "".join(number), "".join(suffix)


def _group(digits: str, size: int) -> str:
    if size <= 0 or len(digits) <= size:
        return digits
    head = len(digits) % size or size
    parts = [digits[:head]] + [digits[i : i + size] for i in range(head, len(digits), size)]
    return ",".join(parts)


def _format_decimal(
    number: decimal.Decimal, min_int: int, min_frac: int, max_frac: int, grouping: int
) -> str:
    quantum = decimal.Decimal(1).scaleb(-max_frac)
    rounded = abs(number).quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
    text = f"{rounded:f}"
    int_part, _, frac_part = text.partition(".")
    frac_part = frac_part.rstrip("0")
    frac_part = frac_part.ljust(min_frac, "0")
    int_part = int_part.lstrip("0")
    int_part = int_part.rjust(min_int, "0")
    if not int_part and not frac_part:
        int_part = "0"
    out = _group(int_part, grouping)
    if frac_part:
        out += "." + frac_part
    return out


def number_format(value: Any, format: str | None = None) -> str | None:
    """Pebble's ``numberFormat``: a number through a Java ``DecimalFormat`` pattern."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal):
        raise ExpressionError("numberFormat: the input has to be a number")
    number = decimal.Decimal(value if not isinstance(value, float) else repr(value))
    if format is None:
        # NumberFormat.getInstance(): grouping, at most 3 fraction digits
        text = _format_decimal(number, 1, 0, 3, 3)
        return ("-" if number < 0 and text.strip("0.,") else "") + text
    prefix, spec, suffix = _split_pattern(str(format))
    if "%" in prefix + suffix:
        number *= 100
    elif "\u2030" in prefix + suffix:
        number *= 1000
    int_spec, _, frac_spec = spec.partition(".")
    grouping = len(int_spec) - int_spec.rfind(",") - 1 if "," in int_spec else 0
    int_digits = int_spec.replace(",", "")
    text = _format_decimal(
        number, int_digits.count("0"), frac_spec.count("0"), len(frac_spec), grouping
    )
    negative = number < 0 and any(c not in "0.," for c in text)
    return ("-" if negative else "") + prefix + text + suffix


# ---------------------------------------------------------------- Java strings


def java_split(text: str, regex: str, limit: int = 0) -> list[str]:
    """Java's ``String.split(regex, limit)``.

    A zero-width match at the start adds no leading empty piece; ``limit > 0``
    caps the pieces; ``limit == 0`` drops trailing empty pieces.
    """
    if text == "":
        return [""]
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise ExpressionError(f"split: bad regular expression {regex!r} ({exc})") from exc
    pieces: list[str] = []
    index = 0
    matched = False
    for m in pattern.finditer(text):
        if limit > 0 and len(pieces) >= limit - 1:
            break
        if m.end() == 0:
            continue
        matched = True
        pieces.append(text[index : m.start()])
        index = m.end()
    if not matched:
        return [text]
    pieces.append(text[index:])
    if limit == 0:
        while pieces and pieces[-1] == "":
            pieces.pop()
    return pieces


def _java_replacement(replacement: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` callback for a Java replacement (``$1``, ``${name}``, ``\\$``)."""
    parts: list[str | int] = []
    literal: list[str] = []
    i = 0
    while i < len(replacement):
        ch = replacement[i]
        if ch == "\\" and i + 1 < len(replacement):
            literal.append(replacement[i + 1])
            i += 2
            continue
        if ch == "$":
            j = i + 1
            if replacement[j : j + 1] == "{":
                close = replacement.find("}", j)
                if close < 0:
                    raise ExpressionError("replace: named group reference is missing '}'")
                parts.extend(["".join(literal), replacement[j + 1 : close]])
                literal = []
                i = close + 1
                continue
            while j < len(replacement) and replacement[j].isdigit():
                j += 1
            if j == i + 1:
                raise ExpressionError("replace: illegal group reference '$'")
            parts.extend(["".join(literal), int(replacement[i + 1 : j])])
            literal = []
            i = j
            continue
        literal.append(ch)
        i += 1
    parts.append("".join(literal))

    def expand(m: re.Match[str]) -> str:
        out: list[str] = []
        for k, part in enumerate(parts):
            if k % 2 == 0:
                out.append(str(part))
            else:
                out.append(_group_text(m, part))
        return "".join(out)

    return expand


def _group_text(m: re.Match[str], ref: str | int) -> str:
    if isinstance(ref, int):
        # Java reads as many digits as still name an existing group
        digits = str(ref)
        while len(digits) > 1 and int(digits) > (m.re.groups or 0):
            digits = digits[:-1]
        number = int(digits)
        rest = str(ref)[len(digits) :]
        if number > (m.re.groups or 0):
            raise ExpressionError(f"replace: no group {number}")
        return (m.group(number) or "") + rest
    try:
        return m.group(ref) or ""
    except IndexError as exc:
        raise ExpressionError(f"replace: no group named {ref!r}") from exc


def java_regex_replace(text: str, regex: str, replacement: str) -> str:
    """Java's ``String.replaceAll``: ``$1`` and ``${name}`` refer to groups."""
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise ExpressionError(f"replace: bad regular expression {regex!r} ({exc})") from exc
    return pattern.sub(_java_replacement(replacement), text)
