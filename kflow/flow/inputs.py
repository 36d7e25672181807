"""Flow ``inputs``: values given on the command line, typed and checked as Kestra does.

Kestra (``FlowInputOutput.typedInputs``) takes each declared input's given value, else its
``defaults``; a ``required`` input (the default) with neither is an error; the value is then
parsed by the input's ``type`` and checked against the input's own constraints (``min``,
``max``, ``validator``, ``values``, ``after``, ``before``...). A dotted id (``a.b``) nests the
value (``inputs.a.b``). :func:`resolve_inputs` does the same and reports every problem at once.

Values may come as text (``--input count=3``) or already typed (from a JSON or YAML inputs
file): ``"3"`` and ``3`` both make an ``INT`` input ``3``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from kflow.errors import FlowError
from kflow.flow.properties import parse_duration

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE, _FALSE = {"true"}, {"false"}


class InputError(FlowError):
    """One or more inputs are missing or do not fit their declaration."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    return int(str(value).strip())


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value) if isinstance(value, int | float) else float(str(value).strip())


def _boolean(value: Any) -> bool:
    """``BOOLEAN`` as Java's ``Boolean.valueOf``: "true" in any case, anything else false."""
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(value)


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("an instant needs a zone, e.g. 2024-01-01T10:00:00Z")
    return parsed.astimezone(dt.UTC)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    return dt.date.fromisoformat(str(value).strip())


def _time(value: Any) -> dt.time:
    return value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value).strip())


def _duration(value: Any) -> dt.timedelta:
    seconds = parse_duration(str(value).strip())
    if seconds is None:
        raise ValueError("an ISO-8601 duration such as PT30S")
    return dt.timedelta(seconds=seconds)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _yaml(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(value)


def _list(value: Any) -> list[Any]:
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, list):
        raise ValueError("a JSON list")
    return parsed


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _text(value)
        if not pattern.match(text):
            raise ValueError(what)
        return text

    return check


PARSERS: dict[str, Callable[[Any], Any]] = {
    "STRING": _text,
    "SELECT": _text,
    "ENUM": _text,
    "SECRET": _text,
    "INT": _int,
    "FLOAT": _float,
    "BOOLEAN": _boolean,
    "BOOL": _bool,
    "DATETIME": _datetime,
    "DATE": _date,
    "TIME": _time,
    "DURATION": _duration,
    "JSON": _json,
    "YAML": _yaml,
    "ARRAY": _list,
    "MULTISELECT": _list,
    "URI": _matching(_URI, "a URI"),
    "EMAIL": _matching(_EMAIL, "an email address"),
}
NEEDS_STORAGE = frozenset({"FILE"})


def _constraints(spec: Mapping[str, Any], kind: str, value: Any) -> str | None:
    """What is wrong with a parsed value under the input's constraints, or None."""
    low, high = spec.get("min"), spec.get("max")
    if kind in ("INT", "FLOAT"):
        if low is not None and value < low:
            return f"it must be at least {low}"
        if high is not None and value > high:
            return f"it must be at most {high}"
    if kind == "DURATION":
        for bound, sign in ((low, 1), (high, -1)):
            seconds = parse_duration(str(bound)) if bound is not None else None
            if seconds is not None and sign * (value.total_seconds() - seconds) < 0:
                return f"it must be {'at least' if sign > 0 else 'at most'} {bound}"
    if kind in ("DATETIME", "DATE", "TIME"):
        parse = PARSERS[kind]
        after, before = spec.get("after"), spec.get("before")
        if after is not None and not value > parse(after):
            return f"it must be after {after}"
        if before is not None and not value < parse(before):
            return f"it must be before {before}"
    validator = spec.get("validator") if kind == "STRING" else None
    if validator and re.fullmatch(str(validator), value) is None:
        return f"it must match the pattern {validator!r}"
    if kind in ("SELECT", "ENUM") and not spec.get("allowCustomValue"):
        allowed = [str(v) for v in spec.get("values") or []]
        if allowed and value not in allowed:
            return f"it must be one of {', '.join(allowed)}"
    if kind == "MULTISELECT" and not spec.get("allowCustomValue"):
        allowed = [str(v) for v in spec.get("values") or spec.get("options") or []]
        wrong = [str(v) for v in value if str(v) not in allowed]
        if allowed and wrong:
            return f"{', '.join(wrong)} not among {', '.join(allowed)}"
    return None


def _one(spec: Mapping[str, Any], raw: Any) -> Any:
    kind = str(spec.get("type") or "STRING").upper()
    if kind in NEEDS_STORAGE:
        raise ValueError(f"{kind} inputs need Kestra's internal storage, which kflow has not yet")
    parse = PARSERS.get(kind)
    if parse is None:
        raise ValueError(f"unknown input type {kind}")
    try:
        value = parse(raw)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        detail = f" ({exc})" if str(exc) and str(exc) != str(raw) else ""
        raise ValueError(f"expected {kind}, got {_text(raw)!r}{detail}") from None
    item_type = spec.get("itemType")
    if kind == "ARRAY" and item_type:
        value = [_one({"type": item_type}, item) for item in value]
    problem = _constraints(spec, kind, value)
    if problem is not None:
        raise ValueError(f"{_text(raw)!r} does not fit: {problem}")
    return value


def resolve_inputs(declared: list[dict[str, Any]], given: Mapping[str, Any]) -> dict[str, Any]:
    """The typed ``inputs`` of an execution; an :class:`InputError` lists every problem."""
    known = {str(spec.get("id") or spec.get("name")) for spec in declared}
    problems = [
        f"input {name!r}: the flow declares no such input" for name in given if name not in known
    ]
    flat: dict[str, Any] = {}
    for spec in declared:
        name = str(spec.get("id") or spec.get("name"))
        raw = given.get(name)
        if raw is None:
            raw = spec.get("defaults")
        if raw is None:
            if spec.get("required", True):
                problems.append(f"input {name!r}: missing required input")
            flat[name] = None
            continue
        try:
            flat[name] = _one(spec, raw)
        except ValueError as exc:
            problems.append(f"input {name!r}: {exc}")
    if problems:
        raise InputError("; ".join(problems))
    return _nested(flat)


def _nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in flat.items():
        *path, last = name.split(".")
        target = out
        for part in path:
            target = target.setdefault(part, {})
        target[last] = value
    return out


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs of ``--input``; a pair without ``=`` is an :class:`InputError`."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--input {pair!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out
