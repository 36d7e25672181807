"""Simple expressions evaluated without a Jinja2 context give Jinja2's values and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jinja2 import Undefined

from kflow.errors import ExpressionError
from kflow.expr import compile_cql, compile_document
from kflow.expr.direct import compile_direct
from kflow.expr.templates import _FLAT_GLOBALS, ENVIRONMENT, _Expression

ORDER = {"order_id": "o-1", "product_id": 20, "tags": ["a", "b"], "price": 12.5}
CTX: dict[str, Any] = {
    "trigger": {"value": json.dumps(ORDER), "key": "k"},
    "outputs": {"lookup": {"row": {"name": "Lamp", "values": 3}, "size": 1}},
    "vars": {"list": [1, 2, 3], "map": {"x-y": "dash"}},
}


def _both(jinja: str, ctx: dict[str, Any]) -> tuple[Any, Any]:
    """(direct result or exception, Jinja2 result or exception)."""
    direct = compile_direct(ENVIRONMENT, _FLAT_GLOBALS, jinja)
    assert direct is not None, jinja
    jinja_only = _Expression(jinja)
    jinja_only._direct = None
    out = []
    for fn in (direct, jinja_only):
        try:
            out.append(fn(ctx))
        except Exception as exc:  # compared by type and message
            out.append((type(exc), str(exc)))
    return out[0], out[1]


@pytest.mark.parametrize(
    "jinja",
    [
        "((((trigger.value)|jq('.product_id')))|first)",
        "((((trigger.value)|jq('.tags')))|first)",
        "((((trigger.value)|jq('.missing')))|first)",
        "outputs.lookup.row.name",
        "outputs.lookup.row.values",  # a map's entry wins over its method
        "outputs['lookup']['size']",
        "vars.list[1]",
        "vars.map['x-y']",
        "trigger.key | upper",
        "[trigger.key, 3, 'x', outputs.lookup.size]",
        "outputs.lookup.row.nothing",
        "outputs.nope.row",
        "nothing.at.all",
        "trigger.key | jq('.a')",
    ],
)
def test_same_value_or_error_as_jinja(jinja: str) -> None:
    direct, jinja_value = _both(jinja, CTX)
    assert type(direct) is type(jinja_value)
    if not isinstance(direct, Undefined):  # an Undefined fails any comparison, as it should
        assert direct == jinja_value


@pytest.mark.parametrize(
    "jinja",
    [
        "outputs.lookup.size + 1",
        "now()",
        "trigger.key if trigger else 'x'",
        "vars.list[0:2]",
        "trigger.key is defined",
        "errorLogs()",
    ],
)
def test_other_expressions_keep_jinja(jinja: str) -> None:
    assert compile_direct(ENVIRONMENT, _FLAT_GLOBALS, jinja) is None


def test_the_blog_flow_holes_are_direct() -> None:
    cql = compile_cql(
        "SELECT * FROM kestra.products WHERE product_id = "
        "{{ trigger.value | jq('.product_id') | first }}"
    )
    assert cql._eval is not None and cql._eval._direct is not None
    assert cql.params(CTX) == [20]
    doc = compile_document(
        '{"id": "{{ trigger.value | jq(\'.order_id\') | first }}",'
        ' "name": "{{ outputs.lookup.row.name }}"}'
    )
    assert doc._eval._direct is not None
    assert doc.render(CTX) == {"id": "o-1", "name": "Lamp"}


def test_missing_names_are_reported_as_before() -> None:
    cql = compile_cql("SELECT * FROM t WHERE a = {{ outputs.lookup.row.gone }}")
    with pytest.raises(ExpressionError, match="Unable to find `gone`"):
        cql.params(CTX)
    doc = compile_document('{"a": "{{ trigger.nope }}"}')
    with pytest.raises(ExpressionError, match="Unable to find `nope`"):
        doc.render(CTX)
