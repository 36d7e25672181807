"""Structure-aware rendering of JSON ``document`` templates.

A document template is read as a JSON skeleton whose ``{{ }}`` expressions
are holes:

- a hole inside a JSON string (value or key) stays part of that string: its
  printed text (Pebble printing, so ``20`` prints ``20``) is inserted as
  string content, never as JSON text. ``"id": "{{ x }}"`` gives ``"20"``
  exactly as in Kestra, and a value holding ``"``, ``\\``, a newline or
  ``{{`` can neither break the document nor add keys;
- a hole standing where a JSON value is expected (``"price": {{ p }}``)
  takes the value's own JSON type: numbers, booleans, null, maps and lists
  as they are. A string value is read as JSON text when it is JSON (so
  ``{{ x | toJson }}`` and ``{{ "166.89" }}`` give what Kestra gives: the
  object, the number), and otherwise kept as a string (where Kestra would
  produce invalid JSON).

The skeleton is parsed once at compile time; rendering evaluates all holes in
one Jinja2 call and builds the result directly (no JSON text round trip).

Templates whose holes stand elsewhere (a bare key, two holes side by side,
``{% for %}`` fragments) fall back to render-then-parse; a result that is not
JSON raises ``ExpressionError`` quoting the offending text. A document given
as a map is rendered value by value (``values.compile_value``), each
templated string staying a string as in Kestra. Extended JSON such as
``{"$oid": "..."}`` is passed through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, cast

from jinja2 import Undefined

from kflow.errors import ExpressionError

from .checks import check_document, is_templated, line_col
from .document_skeleton import (
    STR_CLOSE,
    STR_OPEN,
    VAL_CLOSE,
    VAL_OPEN,
    build_skeleton,
    needs_render_then_parse,
    skeleton_problem,
)
from .pebble_syntax import Translation
from .printing import to_json, to_text
from .templates import Template, compile_jinja_expression, expression_error
from .values import CompiledValue

__all__ = ["DocumentTemplate", "check_document", "compile_document"]

# ---------------------------------------------------------------- compiled tree
# Nodes: ("c", value) constant scalar; ("d", [(key_node, value_node)...]);
# ("l", [nodes]); ("s", [str | int]) interpolated string (ints are hole indexes);
# ("v", index) value hole.


class _NeedsFallback(Exception):
    pass


def _compile_node(value: Any) -> tuple[str, Any]:
    if isinstance(value, dict):
        return ("d", [(_compile_key(k), _compile_node(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("l", [_compile_node(v) for v in value])
    if isinstance(value, str):
        if value.startswith(VAL_OPEN) and value.endswith(VAL_CLOSE):
            return ("v", int(value[1:-1]))
        if STR_OPEN in value:
            return ("s", _split_string(value))
    return ("c", value)


def _compile_key(key: str) -> tuple[str, Any]:
    if key.startswith(VAL_OPEN):
        raise _NeedsFallback  # a bare {{ }} in key position
    if STR_OPEN in key:
        return ("s", _split_string(key))
    return ("c", key)


def _split_string(text: str) -> list[str | int]:
    parts: list[str | int] = []
    rest = text
    while True:
        i = rest.find(STR_OPEN)
        if i < 0:
            if rest:
                parts.append(rest)
            return parts
        if i:
            parts.append(rest[:i])
        j = rest.index(STR_CLOSE, i)
        parts.append(int(rest[i + 1 : j]))
        rest = rest[j + 1 :]


def _native(value: Any) -> Any:
    """A value-hole's value as JSON data (see the module docstring)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value is None or isinstance(value, bool | int | float):
        return value
    return json.loads(to_json(value))


def _build(node: tuple[str, Any], values: list[Any], texts: list[str | None]) -> Any:
    kind, data = node
    if kind == "c":
        return data
    if kind == "d":
        return {_build(k, values, texts): _build(v, values, texts) for k, v in data}
    if kind == "l":
        return [_build(v, values, texts) for v in data]
    if kind == "v":
        return _native(values[data])
    out = []
    for part in data:
        if isinstance(part, str):
            out.append(part)
        else:
            text = texts[part]
            if text is None:
                text = texts[part] = to_text(values[part])
            out.append(text)
    return "".join(out)


def _plain(node: tuple[str, Any]) -> bool:
    """No value hole, no interpolated key, no key starting with ``$`` (see ``plain``)."""
    kind, data = node
    if kind == "d":
        return all(k[0] == "c" and not str(k[1]).startswith("$") and _plain(v) for k, v in data)
    if kind == "l":
        return all(_plain(v) for v in data)
    return kind in ("c", "s")


_MAX_GENERATED_DEPTH = 60


class _TooDeep(Exception):
    pass


def _generate_builder(tree: tuple[str, Any]) -> Callable[[list[Any]], Any] | None:
    """A Python function building the document from the hole values, or None
    (for very deep documents, which ``_build`` walks instead).

    The generated code holds no text from the template: constants are read from
    a list (``C``), so any key or string is safe.
    """
    consts: list[Any] = []

    def const(value: Any) -> str:
        consts.append(value)
        return f"C[{len(consts) - 1}]"

    def gen(node: tuple[str, Any], depth: int) -> str:
        if depth > _MAX_GENERATED_DEPTH:
            raise _TooDeep
        kind, data = node
        if kind == "c":
            return const(data)
        if kind == "d":
            items = ", ".join(f"{gen(k, depth + 1)}: {gen(v, depth + 1)}" for k, v in data)
            return "{" + items + "}"
        if kind == "l":
            return "[" + ", ".join(gen(v, depth + 1) for v in data) + "]"
        if kind == "v":
            return f"N(V[{int(data)}])"
        parts = [const(p) if isinstance(p, str) else f"T(V[{int(p)}])" for p in data]
        return parts[0] if len(parts) == 1 else "''.join((" + ", ".join(parts) + ",))"

    try:
        code = "lambda V: " + gen(tree, 0)
    except _TooDeep:
        return None
    builder = eval(code, {"__builtins__": {}, "C": consts, "N": _native, "T": to_text})
    return cast("Callable[[list[Any]], Any]", builder)


# ---------------------------------------------------------------- public API


class DocumentTemplate:
    """A compiled JSON document template; ``render(ctx)`` gives a dict or list."""

    __slots__ = (
        "_builder",
        "_constant",
        "_eval",
        "_map",
        "_template",
        "_tree",
        "mode",
        "plain",
        "source",
    )

    def __init__(self, source: str | Mapping[str, Any]) -> None:
        self.source = source
        self._map: CompiledValue | None = None
        self._constant: str | None = None
        self._tree: tuple[str, Any] | None = None
        self._template: Template | None = None
        self._eval: Any = None
        self._builder: Callable[[list[Any]], Any] | None = None
        self.plain = False
        """True when every render gives constant keys none of which starts with ``$``, and
        strings or constants as values: nothing a reader of Extended JSON would convert."""
        if isinstance(source, Mapping):
            self.mode = "map"
            self._map = CompiledValue(dict(source))
            return
        if not is_templated(source):
            self.mode = "constant"
            _loads_document(source, source)
            self._constant = source
            return
        self._template = Template(source)
        translation = self._template.translation
        self.mode = "fallback"
        if needs_render_then_parse(source, translation):
            return
        skeleton = build_skeleton(source, translation)
        try:
            parsed = json.loads(skeleton.text)
        except ValueError as exc:
            problem = skeleton_problem(skeleton, exc)
            if problem is not None:
                message, offset = problem
                line, column = line_col(source, offset)
                raise ExpressionError(
                    f"the document is {message} (line {line}, column {column})"
                ) from exc
            return
        try:
            self._tree = _compile_node(parsed)
        except _NeedsFallback:
            return
        self.mode = "structured"
        self.plain = _plain(self._tree)
        self._builder = _generate_builder(self._tree)
        holes = ", ".join(f"({h.jinja})" for h in translation.holes)
        self._eval = compile_jinja_expression(f"[{holes}]")

    def render(self, ctx: Mapping[str, Any]) -> dict[str, Any] | list[Any]:
        """The document for ``ctx``: a fresh dict (or list) every call."""
        if self._tree is not None:
            template = self._template
            assert template is not None
            try:
                values = self._eval(ctx)
            except Exception as exc:
                raise expression_error(template.translation, template.source, exc, ctx) from exc
            for index, value in enumerate(values):
                if isinstance(value, Undefined):
                    try:
                        value._fail_with_undefined_error()
                    except Exception as exc:
                        translation = template.translation
                        single = Translation(
                            translation.jinja, [translation.holes[index]], False, set(), []
                        )
                        raise expression_error(single, template.source, exc, ctx) from exc
            if self._builder is not None:
                result = self._builder(values)
            else:
                result = _build(self._tree, values, [None] * len(values))
        elif self._map is not None:
            result = self._map.render(ctx)
        elif self._template is not None:
            result = _loads_document(self._template.render(ctx), self.source)
        else:
            result = _loads_document(self._constant or "", self.source)
        if not isinstance(result, dict | list):
            raise ExpressionError(
                f"the document must be a JSON object or array, got {type(result).__name__}"
            )
        return result


def _loads_document(text: str, source: Any) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        pos = getattr(exc, "pos", 0) or 0
        lo, hi = max(0, pos - 30), min(len(text), pos + 30)
        near = text[lo:hi].replace("\n", "\\n")
        line, col = line_col(text, pos)
        msg = getattr(exc, "msg", str(exc))
        raise ExpressionError(
            f"the rendered document is not JSON ({msg} at line {line}, column {col}), near `{near}`"
        ) from exc


def compile_document(source: str | Mapping[str, Any]) -> DocumentTemplate:
    """Compile a JSON document template (string or map); raise ExpressionError."""
    return DocumentTemplate(source)
