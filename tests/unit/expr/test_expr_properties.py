"""Property-based checks: the reader never crashes; jq's fast path agrees with jq."""

from __future__ import annotations

import contextlib
import json

import jq
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kflow.errors import ExpressionError
from kflow.expr import check_cql, check_document, check_template, compile_template
from kflow.expr.jq_support import jq_filter

template_alphabet = st.sampled_from(
    [*list("{}%#'\"|?:~.,()[]=<>!+-*/ \n\\ab_0"), "{{", "}}", "{%", "%}", "??", "is", "not"]
)
template_text = st.lists(template_alphabet, max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(template_text)
def test_checks_never_crash_on_arbitrary_text(text: str) -> None:
    for check in (check_template, check_document, check_cql):
        problems = check(text)
        for problem in problems:
            assert problem.line >= 1
            assert problem.column >= 1


@settings(max_examples=500, deadline=None)
@given(template_text)
def test_compile_raises_only_expression_errors(text: str) -> None:
    try:
        template = compile_template(text)
    except ExpressionError:
        assert check_template(text) != []
        return
    assert check_template(text) == []
    with contextlib.suppress(ExpressionError):
        template.render({"a": 1, "b": "x", "ab": [1], "b_0": None})


# The jq library turns integers beyond 2**53 into doubles; the fast path keeps them
# exact (as Kestra's Java jq does), so the comparison stays within doubles' range.
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=4)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "x-y", ""]), children, max_size=3)
    ),
    max_leaves=10,
)
steps = st.lists(
    st.sampled_from([".a", ".b", '.["x-y"]', '."a"', ".[0]", ".[-1]", ".[5]", "[1]"]),
    max_size=4,
)


@settings(max_examples=400, deadline=None)
@given(json_values, steps)
def test_fast_path_agrees_with_jq(value: object, path: list[str]) -> None:
    program = "".join(path) or "."
    assume(not program.startswith("["))
    try:
        expected = jq.compile(program).input_text(json.dumps(value)).all()
    except ValueError:
        with pytest.raises(ExpressionError):
            jq_filter(json.dumps(value), program)
        if not isinstance(value, str):  # a str input is read as JSON text, as Kestra does
            with pytest.raises(ExpressionError):
                jq_filter(value, program)
        return
    assert jq_filter(json.dumps(value), program) == expected
    if not isinstance(value, str):
        assert jq_filter(value, program) == expected
