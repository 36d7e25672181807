"""The ``jq`` filter: compiled programs cached, simple paths served without jq.

``value | jq(program)`` always returns a list (jq's outputs). A string input
is parsed as JSON first (an empty or blank string reads as ``null``); the last
few parsed strings are remembered (a small
process-wide cache, safe across threads), so the seven ``trigger.value | jq(...)`` of
one event parse the event once.

Programs made only of field and index steps (``.``, ``.a``, ``.a.b``,
``.["x-y"]``, ``."x"``, ``.[0]``, ``.a[1]``) are answered from the parsed value
directly, with jq's results (``null`` for a missing key or out-of-range
index). When such a path meets a value jq would refuse to index (a string, a
number), the real jq runs so the error is jq's own. Other programs are
compiled once per process (``jq.compile`` costs ~2 ms) and cached.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from kflow.errors import ExpressionError

from .jq_paths import simple_path as _simple_path
from .printing import json_default

__all__ = ["check_jq", "jq_filter", "parse_json_cached"]

_PARSE_CACHE_SIZE = 16
_parsed: dict[str, Any] = {}
_programs: dict[str, Any] = {}
_paths: dict[str, tuple[Any, ...] | None] = {}

_FAILED = object()


def _walk(value: Any, steps: tuple[Any, ...]) -> Any:
    for step in steps:
        if value is None:
            continue
        if isinstance(step, str):
            if not isinstance(value, dict):
                return _FAILED
            value = value.get(step)
        else:
            if not isinstance(value, list):
                return _FAILED
            idx = step + len(value) if step < 0 else step
            value = value[idx] if 0 <= idx < len(value) else None
    return value


def parse_json_cached(text: str) -> Any:
    """``json.loads(text)`` remembering the last few distinct strings.

    Safe to call from several threads (plain dict operations only). Callers
    must not mutate the result: it is shared.
    """
    value = _parsed.get(text, _FAILED)
    if value is not _FAILED:
        return value
    if not text.strip():
        value = None
    else:
        try:
            value = json.loads(text)
        except ValueError as exc:
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise ExpressionError(f"jq: the input is not JSON ({exc}): {shown!r}") from exc
    if len(_parsed) >= _PARSE_CACHE_SIZE:
        _parsed.clear()  # events rarely repeat beyond the current one: no LRU needed
    _parsed[text] = value
    return value


def _compiled(program: str) -> Any:
    prog = _programs.get(program)
    if prog is None:
        import jq

        try:
            prog = jq.compile(program)
        except ValueError as exc:
            raise ExpressionError(f"jq: cannot compile {program!r}: {exc}") from exc
        _programs[program] = prog
    return prog


def check_jq(program: str) -> str | None:
    """The compile error of a jq program, or None when it compiles."""
    try:
        _compiled(program)
    except ExpressionError as exc:
        return str(exc)
    return None


def _as_jq_input(value: Any) -> Any:
    if isinstance(value, str):
        return parse_json_cached(value)
    return value


def jq_filter(value: Any, program: str) -> list[Any]:
    """Kestra's ``jq`` filter: every output of ``program`` on ``value``, as a list."""
    data = _as_jq_input(value)
    try:
        steps = _paths[program]
    except KeyError:
        steps = _paths[program] = _simple_path(program)
    if steps is not None:
        found = _walk(data, steps)
        if found is not _FAILED:
            if isinstance(found, dict | list):
                found = copy.deepcopy(found)  # the parsed input is shared
            return [found]
    prog = _compiled(program)
    try:
        if isinstance(data, str | int | float | bool | type(None) | dict | list):
            try:
                return prog.input_value(data).all()
            except TypeError:
                pass
        text = json.dumps(data, default=json_default)
        return prog.input_text(text).all()
    except ValueError as exc:
        raise ExpressionError(f"jq {program!r} failed: {exc}") from exc
