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
from dataclasses import dataclass
from typing import Any, cast

from jinja2 import Undefined

from kflow.errors import ExpressionError

from .pebble_syntax import Translation
from .printing import to_json, to_text
from .templates import (
    ExprProblem,
    Template,
    check_template,
    compile_jinja_expression,
    expression_error,
    is_templated,
    line_col,
    translate_or_none,
)
from .values import CompiledValue

__all__ = ["DocumentTemplate", "check_document", "compile_document"]

_STR_OPEN, _STR_CLOSE = "\ue000", "\ue001"  # a hole inside a JSON string
_VAL_OPEN, _VAL_CLOSE = "\ue002", "\ue003"  # a hole standing for a JSON value
_MARKERS = (_STR_OPEN, _STR_CLOSE, _VAL_OPEN, _VAL_CLOSE)


@dataclass
class _Skeleton:
    text: str
    pieces: list[tuple[int, int, int]]  # (skeleton offset, source offset, length) of literal text
    value_spans: list[tuple[int, int]]  # skeleton spans of value-hole markers


def _build_skeleton(source: str, translation: Translation) -> _Skeleton:
    out: list[str] = []
    pieces: list[tuple[int, int, int]] = []
    value_spans: list[tuple[int, int]] = []
    size = 0
    in_string = False
    escaped = False
    pos = 0
    for index, hole in enumerate(translation.holes):
        literal = source[pos : hole.start]
        for ch in literal:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = in_string
            elif ch == '"':
                in_string = not in_string
        pieces.append((size, pos, len(literal)))
        out.append(literal)
        size += len(literal)
        if in_string:
            marker = f"{_STR_OPEN}{index}{_STR_CLOSE}"
        else:
            marker = f'"{_VAL_OPEN}{index}{_VAL_CLOSE}"'
            value_spans.append((size, size + len(marker)))
        out.append(marker)
        size += len(marker)
        pos = hole.end
    pieces.append((size, pos, len(source) - pos))
    out.append(source[pos:])
    return _Skeleton("".join(out), pieces, value_spans)


def _needs_render_then_parse(source: str, translation: Translation) -> bool:
    """Tags, raw blocks and comments change the text around the holes."""
    return (
        translation.has_statements
        or "{%" in source
        or "{#" in source
        or any(m in source for m in _MARKERS)
    )


def _skeleton_to_source(skeleton: _Skeleton, offset: int) -> int:
    for sk_start, src_start, length in reversed(skeleton.pieces):
        if offset >= sk_start:
            return src_start + min(offset - sk_start, length)
    return 0


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
        if value.startswith(_VAL_OPEN) and value.endswith(_VAL_CLOSE):
            return ("v", int(value[1:-1]))
        if _STR_OPEN in value:
            return ("s", _split_string(value))
    return ("c", value)


def _compile_key(key: str) -> tuple[str, Any]:
    if key.startswith(_VAL_OPEN):
        raise _NeedsFallback  # a bare {{ }} in key position
    if _STR_OPEN in key:
        return ("s", _split_string(key))
    return ("c", key)


def _split_string(text: str) -> list[str | int]:
    parts: list[str | int] = []
    rest = text
    while True:
        i = rest.find(_STR_OPEN)
        if i < 0:
            if rest:
                parts.append(rest)
            return parts
        if i:
            parts.append(rest[:i])
        j = rest.index(_STR_CLOSE, i)
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
        if _needs_render_then_parse(source, translation):
            return
        skeleton = _build_skeleton(source, translation)
        try:
            parsed = json.loads(skeleton.text)
        except ValueError as exc:
            problem = _skeleton_problem(source, skeleton, exc)
            if problem is not None:
                raise ExpressionError(
                    f"the document is {problem.message} "
                    f"(line {problem.line}, column {problem.column})"
                ) from exc
            return
        try:
            self._tree = _compile_node(parsed)
        except _NeedsFallback:
            return
        self.mode = "structured"
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


def check_document(source: str) -> list[ExprProblem]:
    """Template errors (as ``check_template``) and JSON errors that no value of the
    holes could repair, all at once, in source order."""
    if not is_templated(source):
        try:
            json.loads(source)
        except ValueError as exc:
            pos = getattr(exc, "pos", 0) or 0
            return [ExprProblem(f"not JSON: {getattr(exc, 'msg', exc)}", *line_col(source, pos))]
        return []
    problems = check_template(source)
    translation = translate_or_none(source)
    if translation is None or _needs_render_then_parse(source, translation):
        return problems
    skeleton = _build_skeleton(source, translation)
    try:
        json.loads(skeleton.text)
    except ValueError as exc:
        problem = _skeleton_problem(source, skeleton, exc)
        if problem is not None:
            problems.append(problem)
    return sorted(problems, key=lambda p: (p.line, p.column))


def _skeleton_problem(source: str, skeleton: _Skeleton, exc: ValueError) -> ExprProblem | None:
    """The JSON error of a skeleton, unless a value hole next to it may repair it."""
    pos = getattr(exc, "pos", 0) or 0
    for start, end in skeleton.value_spans:
        if start - 1 <= pos <= end + 1:
            return None  # may be JSON once rendered (render-then-parse at run time)
    msg = getattr(exc, "msg", str(exc))
    offset = _skeleton_to_source(skeleton, pos)
    return ExprProblem(
        f"not JSON even with its expressions as placeholders: {msg}", *line_col(source, offset)
    )
