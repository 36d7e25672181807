"""render, renderOnce, printContext and randomInt, from Kestra's tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kflow.errors import ExpressionError
from kflow.expr import compile_template

K = "kestra: core/src/test/java/io/kestra/core/runners/pebble/"
RECURSIVE = {
    "first": "1",
    "second": "{{first}}",
    "third": "{{second}}",
    "fourth": "{{render(third, recursive=false)}}",
    "map": {"third": "{{third}}"},
    "list": ["{{third}}"],
}


def render(source: str, ctx: dict[str, Any] | None = None) -> str:
    return compile_template(source).render(ctx or {})


CASES: list[tuple[str, str, dict[str, Any], str]] = [
    (K + "functions/RenderFunctionTest.java", "{{ render(input) }}", {"input": "test"}, "test"),
    (K + "functions/RenderFunctionTest.java", "{{ render(input) }}", {"input": 42}, "42"),
    (K + "functions/RenderFunctionTest.java", "{{ render(input) }}", {"input": True}, "true"),
    (K + "functions/RenderFunctionTest.java", "{{ render(input) }}", {"input": None}, ""),
    (
        K + "functions/RenderOncerFunctionTest.java",
        "{{ renderOnce(input) }}",
        {"input": "test"},
        "test",
    ),
    (
        K + "functions/RenderOncerFunctionTest.java",
        "{{ renderOnce(input) }}",
        {"input": "{{someOtherVar}}", "someOtherVar": "test"},
        "test",
    ),
    (
        K + "functions/RenderOncerFunctionTest.java",
        "{{ renderOnce(input) }}",
        {"input": "{{someOtherVar}}", "someOtherVar": "{{yetAnotherVar}}", "yetAnotherVar": "test"},
        "{{yetAnotherVar}}",
    ),
    (K + "PebbleVariableRendererTest.java", "{{ third }}", RECURSIVE, "{{second}}"),
    (
        K + "PebbleVariableRendererTest.java",
        "{{ render(third, recursive=false) }}",
        RECURSIVE,
        "{{first}}",
    ),
    (K + "PebbleVariableRendererTest.java", "{{ render(third) }}", RECURSIVE, "1"),
    (K + "PebbleVariableRendererTest.java", "{{ render(fourth) }}", RECURSIVE, "1"),
    (K + "PebbleVariableRendererTest.java", "{{ map }}", RECURSIVE, '{"third":"{{third}}"}'),
    (
        K + "PebbleVariableRendererTest.java",
        "{{ render(map, recursive=false) }}",
        RECURSIVE,
        '{"third":"{{second}}"}',
    ),
    (K + "PebbleVariableRendererTest.java", "{{ render(map) }}", RECURSIVE, '{"third":"1"}'),
    (K + "PebbleVariableRendererTest.java", "{{ list }}", RECURSIVE, '["{{third}}"]'),
    (
        K + "PebbleVariableRendererTest.java",
        "{{ render(list, recursive=false) }}",
        RECURSIVE,
        '["{{second}}"]',
    ),
    (K + "PebbleVariableRendererTest.java", "{{ render(list) }}", RECURSIVE, '["1"]'),
    (
        K + "functions/RandomIntFunctionTest.java",
        "{{ randomInt(lower, upper) }}",
        {"lower": 10, "upper": 10},
        "10",
    ),
]


@pytest.mark.parametrize(
    ("source", "ctx", "expected"),
    [
        pytest.param(tpl, ctx, exp, id=f"{where.split('/')[-1]}:{tpl}")
        for where, tpl, ctx, exp in CASES
    ],
)
def test_function(source: str, ctx: dict[str, Any], expected: str) -> None:
    assert render(source, ctx) == expected


def test_print_context() -> None:
    # kestra: core/src/test/java/io/kestra/core/runners/pebble/functions/
    #   FetchContextFunctionTest.java
    ctx = {"test": "value", "array": ["a", "b", "c"], "_secrets": {"k": "v"}}
    printed = json.loads(render("{{ printContext() }}", ctx))
    assert printed["test"] == "value"
    assert printed["array"] == ["a", "b", "c"]
    assert "_secrets" not in printed
    assert "now" not in printed  # functions are not variables


@pytest.mark.parametrize(
    ("lower", "upper"),
    [pytest.param(1, 10, id="positive"), pytest.param(-10, -1, id="negative")],
)
def test_random_int_in_range(lower: int, upper: int) -> None:
    # kestra: core/src/test/java/io/kestra/core/runners/pebble/functions/RandomIntFunctionTest.java
    for _ in range(50):
        assert (
            lower
            <= int(render("{{ randomInt(lower, upper) }}", {"lower": lower, "upper": upper}))
            <= upper
        )


@pytest.mark.parametrize(
    ("source", "ctx"),
    [
        pytest.param("{{randomInt(lower)}}", {"lower": 10}, id="kestra RandomInt missing upper"),
        pytest.param("{{randomInt()}}", {}, id="kestra RandomInt no argument"),
        pytest.param(
            "{{ randomInt(lower, upper) }}", {"lower": "1", "upper": "10"}, id="kestra strings"
        ),
        pytest.param(
            "{{ randomInt(lower, upper) }}", {"lower": 10, "upper": 1}, id="kestra upper < lower"
        ),
        pytest.param(
            "{{ render(first) }}",
            {"first": "{{second}}", "second": "{{first}}"},
            id="kestra PebbleVariableRendererTest recursiveRenderingAmountLimit",
        ),
    ],
)
def test_function_errors(source: str, ctx: dict[str, Any]) -> None:
    # kestra: core/src/test/java/io/kestra/core/runners/pebble/functions/RandomIntFunctionTest.java
    with pytest.raises(ExpressionError):
        render(source, ctx)
