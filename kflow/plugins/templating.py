"""Small helpers shared by task runtimes about templated property values."""

from __future__ import annotations

import re
from typing import Any

from kflow.expr import is_templated, referenced_names

STATIC_NAMES = frozenset({"flow", "vars", "inputs", "envs", "labels"})
"""Variables that keep their value for the whole run (none depends on the event)."""

_CHANGING_FUNCTIONS = re.compile(r"\b(now|uuid|randomInt|kv|errorLogs)\s*\(")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def is_static(value: Any) -> bool:
    """True when ``value`` renders the same for every execution of a run.

    That is when its expressions read only ``flow``, ``vars``, ``inputs``,
    ``envs`` and ``labels`` (``{{ envs.mongo_uri ?? '...' }}``) and call no
    function whose result changes (``now()``, ``uuid()`` ...): such values are
    rendered once, when the flow starts, instead of once per execution.
    """
    for text in _strings(value):
        if not is_templated(text):
            continue
        names = referenced_names(text)
        if names is None or not names <= STATIC_NAMES or _CHANGING_FUNCTIONS.search(text):
            return False
    return True
