"""jq programs that are plain paths (``.a.b``, ``.["x-y"]``, ``.[0]``), read without jq.

The ``jq`` filter answers such programs from the parsed value directly
(``jq_support``); validation knows they compile without asking jq (``checks``).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["compiles_as_plain_path", "simple_path"]

_STEP = re.compile(
    r"""\s*(?:
        \.(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | \.?\[\s*"(?P<dq>(?:[^"\\]|\\.)*)"\s*\]
      | \."(?P<qs>(?:[^"\\]|\\.)*)"
      | \.?\[\s*(?P<index>-?\d+)\s*\]
    )""",
    re.VERBOSE,
)


def simple_path(program: str) -> tuple[Any, ...] | None:
    """The steps of a plain path program, or None when jq must run it."""
    text = program.strip()
    if text == ".":
        return ()
    steps: list[Any] = []
    pos = 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if not m or m.end() == pos:
            return None
        if m.group("ident") is not None:
            steps.append(m.group("ident"))
        elif m.group("index") is not None:
            steps.append(int(m.group("index")))
        else:
            import json  # only for quoted keys: validation of plain paths stays without it

            quoted = m.group("dq") if m.group("dq") is not None else m.group("qs")
            steps.append(json.loads('"' + quoted + '"'))
        pos = m.end()
    return tuple(steps) if steps else None


def compiles_as_plain_path(program: str) -> bool:
    """True for a plain path jq surely compiles: no escapes in its quoted keys (jq and
    JSON differ on a few, such as a lone ``\\ud800``)."""
    if "\\" in program:
        return False
    try:
        return simple_path(program) is not None
    except ValueError:
        return False
