"""CQL templates: expressions in value positions become bind markers."""

from __future__ import annotations

import json

import pytest

from kflow.errors import ExpressionError
from kflow.expr import check_cql, compile_cql

EVENT = json.dumps({"product_id": "20", "name": "O'Neil"})
CTX = {"trigger": {"value": EVENT}, "inputs": {"limit": 5, "ids": [1, 2]}}


def test_blog_query() -> None:
    cql = compile_cql(
        "SELECT * FROM kestra.products WHERE product_id = "
        "{{ trigger.value | jq('.product_id') | first }}"
    )
    assert cql.query == "SELECT * FROM kestra.products WHERE product_id = ?"
    assert cql.params(CTX) == ["20"]


@pytest.mark.parametrize(
    ("source", "query", "params"),
    [
        (
            "SELECT * FROM t WHERE a >= {{ inputs.limit }} AND b != {{ 'x' }} LIMIT {{ 3 }}",
            "SELECT * FROM t WHERE a >= ? AND b != ? LIMIT ?",
            [5, "x", 3],
        ),
        (
            "INSERT INTO ks.t (id, name, at) VALUES ({{ 1 }}, {{ trigger.value | jq('.name') "
            "| first }}, toTimestamp(now())) USING TTL {{ 60 }}",
            "INSERT INTO ks.t (id, name, at) VALUES (?, ?, toTimestamp(now())) USING TTL ?",
            [1, "O'Neil", 60],
        ),
        (
            "SELECT * FROM t WHERE id IN ({{ 1 }}, {{ 2 }}) AND k IN {{ inputs.ids }}",
            "SELECT * FROM t WHERE id IN (?, ?) AND k IN ?",
            [1, 2, [1, 2]],
        ),
        (
            "UPDATE t SET n = n + {{ 1 }}, tags = tags + [{{ 'a' }}] WHERE id = {{ 9 }}",
            "UPDATE t SET n = n + ?, tags = tags + [?] WHERE id = ?",
            [1, "a", 9],
        ),
        (
            "SELECT * FROM t WHERE token(k) > token({{ 'z' }}) AND tags CONTAINS {{ 'x' }}",
            "SELECT * FROM t WHERE token(k) > token(?) AND tags CONTAINS ?",
            ["z", "x"],
        ),
        (
            "SELECT * FROM t WHERE name = '{{ trigger.value | jq('.name') | first }}'",
            "SELECT * FROM t WHERE name = ?",
            ["O'Neil"],
        ),
        (
            "SELECT * FROM t WHERE code = 'order-{{ 7 }}''s' AND other = 'it''s'",
            "SELECT * FROM t WHERE code = ? AND other = 'it''s'",
            ["order-7's"],
        ),
        (
            "SELECT * FROM t -- a comment with 'quotes'\nWHERE a = {{ 1 }}",
            "SELECT * FROM t -- a comment with 'quotes'\nWHERE a = ?",
            [1],
        ),
        ("SELECT * FROM t", "SELECT * FROM t", []),
    ],
)
def test_bind_extraction(source: str, query: str, params: list[object]) -> None:
    cql = compile_cql(source)
    assert cql.query == query
    assert cql.params(CTX) == params
    assert check_cql(source) == []


@pytest.mark.parametrize(
    ("source", "column", "reason"),
    [
        ("SELECT * FROM {{ table }}", 15, "identifiers are not values"),
        ("SELECT * FROM t WHERE {{ col }} = 1", 23, "identifiers are not values"),
        ("SELECT {{ cols }} FROM t", 8, "identifiers are not values"),
        ("SELECT * FROM ks.{{ t }} WHERE a = 1", 18, "glued to other characters"),
        ("SELECT * FROM t WHERE a = {{ x }}_suffix", 27, "glued to other characters"),
        ('SELECT * FROM t WHERE "{{ col }}" = 1', 24, "double-quoted identifier"),
        ("SELECT * FROM t /* {{ x }} */ WHERE a = 1", 20, "comment"),
        ("SELECT * FROM t {% if x %}WHERE a = 1{% endif %}", 17, "control tags"),
    ],
)
def test_expressions_that_cannot_be_bound(source: str, column: int, reason: str) -> None:
    problems = check_cql(source)
    assert len(problems) == 1
    assert (problems[0].line, problems[0].column) == (1, column)
    assert reason in problems[0].message
    with pytest.raises(ExpressionError, match=reason):
        compile_cql(source)


def test_check_cql_reports_template_syntax_errors() -> None:
    problems = check_cql("SELECT * FROM t WHERE a = {{ x + }}")
    assert [(p.message, p.column) for p in problems] == [("expression is incomplete", 34)]


def test_params_name_an_undefined_expression() -> None:
    cql = compile_cql("SELECT * FROM t WHERE a = {{ 1 }} AND b = {{ missing.x }}")
    with pytest.raises(ExpressionError) as err:
        cql.params({})
    assert str(err.value) == "Unable to find `missing` used in the expression `{{ missing.x }}`"


def test_check_cql_reports_every_problem_at_once() -> None:
    source = "SELECT * FROM {{ t }} WHERE a = {{ v | jq('.a[') | first }}"
    problems = check_cql(source)
    assert [p.column for p in problems] == [15, 43]
    assert "identifiers are not values" in problems[0].message
    assert "jq" in problems[1].message
