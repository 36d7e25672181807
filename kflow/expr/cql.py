"""CQL templates as prepared statements: expressions become bind markers.

``SELECT * FROM kestra.products WHERE product_id = {{ trigger.value | jq('.product_id') | first }}``
compiles to the query ``SELECT * FROM kestra.products WHERE product_id = ?``
and, per event, the params ``["20"]`` (native values, in order; converting
them to the column types is the Cassandra plugin's job).

An expression is bindable when it stands where CQL expects a value: after a
comparison (``= < > <= >= !=``), ``IN``, ``CONTAINS [KEY]``, ``LIKE``,
``LIMIT``, ``USING TTL`` / ``TIMESTAMP``, ``+`` / ``-``, inside the value
list of ``VALUES (...)`` / ``IN (...)`` or a function call in a value
position, or inside a collection literal. An expression inside a quoted
string literal (``'{{ x }}'`` or ``'order-{{ x }}'``) turns the whole literal
into one bind marker whose value is the literal's text with the expression's
printed text inserted. Anywhere else (table or column names, keywords, inside
a double-quoted identifier or a comment, glued to other characters) the
expression is rejected: identifiers and keywords cannot be bound. Control tags
(``{% if %}``...) are rejected too, since they change the statement itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Undefined

from kflow.errors import ExpressionError

from .pebble_syntax import Translation
from .printing import to_text
from .templates import (
    ExprProblem,
    Template,
    check_template,
    compile_jinja_expression,
    expression_error,
    line_col,
    translate_or_none,
)

__all__ = ["CqlTemplate", "check_cql", "compile_cql"]

_VALUE_AFTER = {
    "=",
    "<",
    ">",
    "<=",
    ">=",
    "!=",
    "IN",
    "CONTAINS",
    "KEY",
    "LIKE",
    "LIMIT",
    "TTL",
    "TIMESTAMP",
    "+",
    "-",
    "*",
    "/",
    "%",
    "[",
    "{",
    ":",
}
_LIST_OPENERS = {"VALUES", "IN"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?")
_OPS = ("<=", ">=", "!=")


@dataclass
class _Param:
    """One bind marker: a hole index, or a string literal made of text and holes."""

    hole: int | None = None
    parts: list[str | int] | None = None


@dataclass
class _Plan:
    query: str
    params: list[_Param]
    problems: list[tuple[str, int]]  # (message, source offset)


def _plan(source: str, translation: Translation) -> _Plan:
    holes = translation.holes
    problems: list[tuple[str, int]] = []
    if translation.has_statements:
        i = source.find("{%")
        problems.append(
            ("control tags ({% ... %}) cannot be used in cql: they change the statement", i)
        )
    out: list[str] = []
    params: list[_Param] = []
    prev: list[str] = []  # significant tokens seen so far (upper-cased words)
    parens: list[bool] = []  # True when the parenthesis holds values
    state = "code"  # code, string, ident, line_comment, block_comment
    literal: list[str | int] = []
    literal_has_hole = False
    literal_start_out = 0
    pos = 0
    hole_iter = iter(enumerate(holes))
    next_hole = next(hole_iter, None)
    n = len(source)

    def in_value_position() -> bool:
        if not prev:
            return False
        last = prev[-1]
        if last in _VALUE_AFTER:
            return True
        if last in ("(", ","):
            return bool(parens) and parens[-1]
        return False

    while pos <= n:
        if next_hole is not None and pos == next_hole[1].start:
            index, hole = next_hole
            next_hole = next(hole_iter, None)
            if state == "string":
                literal.append(index)
                literal_has_hole = True
            elif state in ("ident", "line_comment", "block_comment"):
                where = "a double-quoted identifier" if state == "ident" else "a comment"
                problems.append(
                    (
                        f"the expression `{hole.text}` is inside {where}; it cannot be bound",
                        hole.start,
                    )
                )
            else:
                glued_before = pos > 0 and (source[pos - 1].isalnum() or source[pos - 1] in "_.")
                after = source[hole.end : hole.end + 1]
                glued_after = bool(after) and (after.isalnum() or after in "_.(")
                if glued_before or glued_after:
                    problems.append(
                        (
                            f"the expression `{hole.text}` is glued to other characters; only a "
                            "whole value can be bound",
                            hole.start,
                        )
                    )
                elif not in_value_position():
                    after_what = f" (after {prev[-1]})" if prev else ""
                    problems.append(
                        (
                            f"the expression `{hole.text}` stands where CQL expects an identifier "
                            f"or keyword{after_what}; it cannot be bound: identifiers are not "
                            "values. Write the name in the query itself",
                            hole.start,
                        )
                    )
                out.append("?")
                params.append(_Param(hole=index))
                prev.append("?")
            pos = hole.end
            continue
        if pos == n:
            break
        ch = source[pos]
        if state == "string":
            if ch == "'" and source.startswith("''", pos):
                literal.append("'")
                out.append("''")
                pos += 2
                continue
            if ch == "'":
                state = "code"
                if literal_has_hole:
                    del out[literal_start_out:]
                    out.append("?")
                    params.append(_Param(parts=_merge(literal)))
                else:
                    out.append("'")
                prev.append("'literal'")
            else:
                literal.append(ch)
                out.append(ch)
            pos += 1
            continue
        if state == "ident":
            out.append(ch)
            if ch == '"':
                state = "code"
                prev.append('"ident"')
            pos += 1
            continue
        if state == "line_comment":
            out.append(ch)
            if ch == "\n":
                state = "code"
            pos += 1
            continue
        if state == "block_comment":
            if source.startswith("*/", pos):
                out.append("*/")
                state = "code"
                pos += 2
            else:
                out.append(ch)
                pos += 1
            continue
        # code
        if ch == "'":
            state = "string"
            literal = []
            literal_has_hole = False
            literal_start_out = len(out)
            out.append(ch)
            pos += 1
            continue
        if ch == '"':
            state = "ident"
            out.append(ch)
            pos += 1
            continue
        if source.startswith("--", pos) or source.startswith("//", pos):
            state = "line_comment"
            out.append(source[pos : pos + 2])
            pos += 2
            continue
        if source.startswith("/*", pos):
            state = "block_comment"
            out.append("/*")
            pos += 2
            continue
        if ch.isspace():
            out.append(ch)
            pos += 1
            continue
        m = _WORD.match(source, pos)
        if m:
            prev.append(m.group().upper())
            out.append(m.group())
            pos = m.end()
            continue
        op = next((o for o in _OPS if source.startswith(o, pos)), ch)
        if op == "(":
            before = prev[-1] if prev else ""
            before2 = prev[-2] if len(prev) > 1 else ""
            parens.append(
                before in _LIST_OPENERS
                or before in _VALUE_AFTER
                or (bool(_WORD.fullmatch(before)) and before2 in _VALUE_AFTER)
                or (before in ("(", ",") and bool(parens) and parens[-1])
            )
        elif op == ")" and parens:
            parens.pop()
        prev.append(op)
        out.append(op)
        pos += len(op)
    if state == "string":
        problems.append(("unterminated string literal in cql", source.rfind("'")))
    return _Plan("".join(out), params, problems)


def _merge(parts: list[str | int]) -> list[str | int]:
    merged: list[str | int] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


class CqlTemplate:
    """A CQL statement with bind markers; ``params(ctx)`` gives their values."""

    __slots__ = ("_eval", "_params", "_template", "query", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._template = Template(source)
        translation = self._template.translation
        plan = _plan(source, translation)
        if plan.problems:
            message, offset = plan.problems[0]
            line, col = line_col(source, offset)
            raise ExpressionError(f"{message} (cql line {line}, column {col})")
        self.query = plan.query
        self._params = plan.params
        holes = ", ".join(f"({h.jinja})" for h in translation.holes)
        self._eval = compile_jinja_expression(f"[{holes}]") if translation.holes else None

    def params(self, ctx: Mapping[str, Any]) -> list[Any]:
        """The native values of the bind markers, in order."""
        if self._eval is None:
            return []
        translation = self._template.translation
        try:
            values = self._eval(ctx)
        except Exception as exc:
            raise expression_error(translation, self.source, exc, ctx) from exc
        for index, value in enumerate(values):
            if isinstance(value, Undefined):
                single = Translation(
                    translation.jinja, [translation.holes[index]], False, set(), []
                )
                try:
                    value._fail_with_undefined_error()
                except Exception as exc:
                    raise expression_error(single, self.source, exc, ctx) from exc
        result: list[Any] = []
        for param in self._params:
            if param.hole is not None:
                result.append(values[param.hole])
            else:
                parts = param.parts or []
                result.append(
                    "".join(p if isinstance(p, str) else to_text(values[p]) for p in parts)
                )
        return result


def compile_cql(source: str) -> CqlTemplate:
    """Compile a CQL template; ExpressionError when an expression cannot be bound."""
    return CqlTemplate(source)


def check_cql(source: str) -> list[ExprProblem]:
    """Template errors (as ``check_template``) and expressions standing where no
    value can be bound, all at once, in source order."""
    problems = check_template(source)
    translation = translate_or_none(source)
    if translation is not None:
        plan = _plan(source, translation)
        problems += [ExprProblem(msg, *line_col(source, off)) for msg, off in plan.problems]
    return sorted(problems, key=lambda p: (p.line, p.column))
