"""Collection filters, functions and operators, each case from Kestra's or Pebble's tests.

``kestra:`` paths are in kestra-io/kestra, ``pebble:`` paths in PebbleTemplates/pebble.
"""

from __future__ import annotations

from typing import Any

import pytest

from kflow.errors import ExpressionError
from kflow.expr import compile_template

K = "kestra: core/src/test/java/io/kestra/core/runners/pebble/"
PEBBLE_FILTERS = "pebble: pebble/src/test/java/io/pebbletemplates/pebble/CoreFiltersTest.java"
PEBBLE_FUNCTIONS = "pebble: pebble/src/test/java/io/pebbletemplates/pebble/CoreFunctionsTest.java"

WORDS = ["zebra", "apple", " cat", "123", "Apple", "cat"]
SECOND = {
    "string": "string",
    "int": 1,
    "float": 1.123,
    "list": ["string", 1, 1.123],
    "bool": True,
    "map": {"string": "string", "int": 1, "float": 1.123},
}
DISTINCT_LIST = [
    "one", "two", "one", "three", "four", "five", "three",
    1, 2, 3, 1, 2, 2,
    1.123, 2.123, 1.123, 10.0, 10.0,
]  # fmt: skip


def render(source: str, ctx: dict[str, Any] | None = None) -> str:
    return compile_template(source).render(ctx or {})


CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # sort is Java's natural order: case-sensitive, ' cat' < '123' < 'Apple' < 'apple'
    (
        PEBBLE_FILTERS,
        "{% for word in words|sort %}{{ word }} {% endfor %}",
        {"words": WORDS},
        " cat 123 Apple apple cat zebra ",
    ),
    (
        PEBBLE_FILTERS,
        "{% for word in words|rsort %}{{ word }} {% endfor %}",
        {"words": WORDS},
        "zebra cat apple Apple 123  cat ",
    ),
    (
        "kestra: ui/src/assets/documentations/basic.md (rsort row)",
        "{{ [3, 1, 2] | rsort }}",
        {},
        "[3,2,1]",
    ),
    (
        "kestra: ui/src/assets/documentations/basic.md (sort row)",
        "{{ [3, 1, 2] | sort }}",
        {},
        "[1,2,3]",
    ),
    (PEBBLE_FILTERS, "{{ null | sort }}", {}, ""),
    (
        PEBBLE_FILTERS,
        "{% for word in words|reverse %}{{ word }} {% endfor %}",
        {"words": ["one", "two", "three"]},
        "three two one ",
    ),
    (
        PEBBLE_FILTERS,
        "{{ names | slice(2,5) }}",
        {"names": ["Alex", "Joe", "Bob", "Sarah", "Mary", "Marge"]},
        '["Bob","Sarah","Mary"]',
    ),
    (
        K + "filters/DistinctFilterTest.java",
        "{{ vars.second.list | distinct }}",
        {"vars": {"second": {"list": DISTINCT_LIST}}},
        '["one","two","three","four","five",1,2,3,1.123,2.123,10.0]',
    ),
    (K + "filters/DistinctFilterTest.java", "{{ [] | distinct }}", {}, "[]"),
    (K + "filters/DistinctFilterTest.java", "{{ null | distinct }}", {}, "null"),
    (
        K + "filters/KeysFilterTest.java",
        "{{ vars.second.list | keys }}",
        {"vars": {"second": SECOND}},
        "[0,1,2]",
    ),
    (
        K + "filters/KeysFilterTest.java",
        "{{ vars.second.map | keys }}",
        {"vars": {"second": SECOND}},
        '["string","int","float"]',
    ),
    (
        K + "filters/ValuesFilterTest.java",
        "{{ vars.second.map | values }}",
        {"vars": {"second": SECOND}},
        '["string",1,1.123]',
    ),
    (
        K + "filters/ChunkFilterTest.java",
        "{{ list | chunk(2) }}",
        {"list": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
        "[[1,2],[3,4],[5,6],[7,8],[9]]",
    ),
    (
        K + "filters/FlattenFilterTest.java",
        "{{ nestedList | flatten | first }}",
        {"nestedList": [["a", "b"], ["c"]]},
        "a",
    ),
    (
        K + "expression/InExpressionTest.java",
        "{{ state isIn ['SUCCESS', 'WARNING'] }}",
        {"state": "SUCCESS"},
        "true",
    ),
    (
        K + "expression/InExpressionTest.java",
        "{{ state isIn ['FAILED', 'KILLED'] }}",
        {"state": "SUCCESS"},
        "false",
    ),
    (
        K + "expression/InExpressionTest.java",
        "{{ key isIn map }}",
        {"map": {"key": "value"}, "key": "key"},
        "true",
    ),
    (
        K + "expression/InExpressionTest.java",
        "{{ value isIn map }}",
        {"map": {"key": "value"}, "value": "value"},
        "true",
    ),
    (
        K + "expression/InExpressionTest.java (null is in nothing)",
        "{{ null isIn ['a'] }}",
        {},
        "false",
    ),
    (
        K + "expression/InExpressionTest.java (compared as text)",
        "{{ 1 isIn ['1', '2'] }}",
        {},
        "true",
    ),
    (PEBBLE_FUNCTIONS, "{% for i in range(0,5) %}{{ i }}{% endfor %}", {}, "012345"),
    (PEBBLE_FUNCTIONS, "{% for i in range(0,10,2) %}{{ i }}{% endfor %}", {}, "0246810"),
    (PEBBLE_FUNCTIONS, "{% for i in range(10,0,-2) %}{{ i }}{% endfor %}", {}, "1086420"),
    (PEBBLE_FUNCTIONS, "{% for i in range('a','e') %}{{ i }}{% endfor %}", {}, "abcde"),
    (PEBBLE_FUNCTIONS, "{% for i in range('a','f',2) %}{{ i }}{% endfor %}", {}, "ace"),
    (PEBBLE_FUNCTIONS, "{% for i in range('f','a',-2) %}{{ i }}{% endfor %}", {}, "fdb"),
    (PEBBLE_FUNCTIONS, "{% for i in range(0,var) %}{{ i }}{% endfor %}", {"var": 5}, "012345"),
    (
        PEBBLE_FUNCTIONS,
        "{% for i in range(0,var,increment) %}{{ i }}{% endfor %}",
        {"var": 5, "increment": 2},
        "024",
    ),
    (
        PEBBLE_FUNCTIONS + " (RangeExpression: a..b is range(a, b))",
        "{% for i in 0..5 %}{{ i }}{% endfor %}",
        {},
        "012345",
    ),
    (PEBBLE_FUNCTIONS + " (RangeExpression: a..b is range(a, b))", "{{ 5..1 }}", {}, "[]"),
]


@pytest.mark.parametrize(
    ("source", "ctx", "expected"),
    [
        pytest.param(tpl, ctx, exp, id=f"{where.split('/')[-1]}:{tpl}")
        for where, tpl, ctx, exp in CASES
    ],
)
def test_collection_expression(source: str, ctx: dict[str, Any], expected: str) -> None:
    assert render(source, ctx) == expected


@pytest.mark.parametrize(
    ("source", "ctx"),
    [
        pytest.param('{{ "string" | distinct }}', {}, id="kestra DistinctFilterTest string"),
        pytest.param('{{ {key : "value"} | distinct }}', {}, id="kestra DistinctFilterTest map"),
        pytest.param("{{ test | chunk(2) }}", {"test": 1}, id="kestra ChunkFilterTest number"),
        pytest.param("{{ 1 | keys }}", {}, id="kestra KeysFilter number"),
        pytest.param(
            "{% for i in range(0,5,0) %}{{ i }}{% endfor %}", {}, id="pebble range step 0"
        ),
        pytest.param(
            "{% for i in range('a','e',0) %}{{ i }}{% endfor %}", {}, id="pebble range char 0"
        ),
    ],
)
def test_collection_errors(source: str, ctx: dict[str, Any]) -> None:
    # kestra: core/src/test/java/io/kestra/core/runners/pebble/filters/DistinctFilterTest.java
    # pebble: pebble/src/test/java/io/pebbletemplates/pebble/CoreFunctionsTest.java
    with pytest.raises(ExpressionError):
        render(source, ctx)
