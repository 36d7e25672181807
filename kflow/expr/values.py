"""Render the templated strings inside maps and lists given as properties."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .templates import Template, compile_template, is_templated

__all__ = ["CompiledValue", "compile_value", "render_value"]


def _compile(value: Any) -> Any:
    if isinstance(value, str):
        return compile_template(value) if is_templated(value) else value
    if isinstance(value, Mapping):
        return {_compile(k): _compile(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_compile(v) for v in value]
    return value


def _render(compiled: Any, ctx: Mapping[str, Any]) -> Any:
    if isinstance(compiled, Template):
        return compiled.render(ctx)
    if isinstance(compiled, dict):
        return {_render(k, ctx): _render(v, ctx) for k, v in compiled.items()}
    if isinstance(compiled, list):
        return [_render(v, ctx) for v in compiled]
    return compiled


class CompiledValue:
    """A property value (string, map, list...) whose templated strings are compiled."""

    __slots__ = ("_compiled", "source")

    def __init__(self, value: Any) -> None:
        self.source = value
        self._compiled = _compile(value)

    def render(self, ctx: Mapping[str, Any]) -> Any:
        """A fresh copy of the value, each templated string (key or leaf) rendered."""
        return _render(self._compiled, ctx)


def compile_value(value: Any) -> CompiledValue:
    """Compile every templated string of ``value`` once; raise ExpressionError."""
    return CompiledValue(value)


def render_value(value: Any, ctx: Mapping[str, Any]) -> Any:
    """Render the templated strings of ``value`` (compile once with ``compile_value``)."""
    return compile_value(value).render(ctx)
