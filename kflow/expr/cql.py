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

from collections.abc import Mapping
from typing import Any

from jinja2 import Undefined

from kflow.errors import ExpressionError

from .checks import check_cql, line_col
from .cql_plan import plan_cql
from .pebble_syntax import Translation
from .printing import to_text
from .templates import Template, compile_jinja_expression, expression_error

__all__ = ["CqlTemplate", "check_cql", "compile_cql"]


class CqlTemplate:
    """A CQL statement with bind markers; ``params(ctx)`` gives their values."""

    __slots__ = ("_eval", "_params", "_template", "query", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._template = Template(source)
        translation = self._template.translation
        plan = plan_cql(source, translation)
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
