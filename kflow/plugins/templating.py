"""Small helpers shared by task runtimes about templated property values."""

from __future__ import annotations

from typing import Any

from kflow.expr import is_templated


def has_templates(value: Any) -> bool:
    """True when any string inside ``value`` (dicts and lists walked) holds an expression."""
    if isinstance(value, str):
        return is_templated(value)
    if isinstance(value, dict):
        return any(has_templates(k) or has_templates(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_templates(v) for v in value)
    return False
