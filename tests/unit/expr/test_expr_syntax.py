"""Pebble syntax as Kestra flows use it (see kestra-flows/INDEX.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from kflow.errors import ExpressionError
from kflow.expr import compile_template


def render(source: str, **ctx: object) -> str:
    return compile_template(source).render(ctx)


def evaluate(source: str, **ctx: object) -> object:
    return compile_template(source).evaluate(ctx)


class TestNullCoalescing:
    def test_null_takes_the_right_side(self) -> None:
        assert render("{{ inputs.x ?? 'mydefault' }}", inputs={"x": None}) == "mydefault"

    def test_undefined_takes_the_right_side(self) -> None:
        assert render("{{ inputs.undefined_input ?? 'mydefault' }}", inputs={}) == "mydefault"

    def test_missing_root_and_links_take_the_right_side(self) -> None:
        assert render("{{ nope.a.b ?? 'd' }}") == "d"
        assert render("{{ trigger.date ?? 'd' }}", trigger={}) == "d"

    def test_defined_value_is_kept_even_when_falsy(self) -> None:
        assert render("{{ x ?? 'd' }}", x="") == ""
        assert evaluate("{{ x ?? 'd' }}", x=0) == 0
        assert evaluate("{{ x ?? 'd' }}", x=False) is False

    def test_binds_tighter_than_the_pipe(self) -> None:
        # kafka-RealtimeTrigger-2: (trigger.value ?? '') | jq(...)
        source = "{{ trigger.value ?? '' | jq('.brand') | first }}"
        assert render(source, trigger={"value": '{"brand": "acme"}'}) == "acme"
        assert render(source, trigger={}) == ""

    def test_right_side_is_lazy(self) -> None:
        assert render("{{ x ?? undefined_thing.y }}", x="here") == "here"

    def test_chained_with_parenthesised_filter(self) -> None:
        # docs-expressions-8
        source = "{{ inputs.mydate ?? (execution.startDate | dateAdd(-1, 'DAYS')) }}"
        start = dt.datetime(2024, 7, 9, 6, 17, 1, tzinfo=dt.UTC)
        expected = "2024-07-08T06:17:01.000000Z"  # Kestra's default "iso" format
        assert render(source, inputs={}, execution={"startDate": start}) == expected
        assert render(source, inputs={"mydate": "2020-01-01"}, execution={}) == "2020-01-01"

    def test_coalesce_inside_comparison_and_ternary(self) -> None:
        # core-testflow-restart-each
        source = "{{ (inputs.failed ?? 'NONE') == 'FIRST' ? ko : '0'}}"
        assert render(source, inputs={}) == "0"
        with pytest.raises(ExpressionError, match="Unable to find `ko`"):
            render(source, inputs={"failed": "FIRST"})


class TestUndefinedCoalescing:
    def test_undefined_takes_the_right_side(self) -> None:
        assert render("{{ inputs.undefined_input ??? 'mydefault' }}", inputs={}) == "mydefault"

    def test_null_stays_null(self) -> None:
        inputs = {"optional_input": None}
        assert evaluate("{{ inputs.optional_input ??? 'mydefault' }}", inputs=inputs) is None

    def test_combined_with_null_coalescing(self) -> None:
        # docs-null-values-2
        source = "{{ (inputs.optional_input ??? 'mydefault') ?? 'other_default' }}"
        assert render(source, inputs={"optional_input": None}) == "other_default"
        assert render(source, inputs={}) == "mydefault"
        assert render(source, inputs={"optional_input": "v"}) == "v"


class TestConcatenation:
    def test_tilde_binds_tighter_than_the_pipe(self) -> None:
        assert render("{{ 'a' ~ 'b' | upper }}") == "AB"
        assert evaluate("{{ 'a' ~ 'b' | upper == 'AB' }}") is True

    def test_concatenates_printed_values(self) -> None:
        # core-testflow-labels-update-task
        flow = {"namespace": "company.team", "id": "labels"}
        assert render("{{ flow.namespace ~ '.' ~ flow.id }}", flow=flow) == "company.team.labels"
        assert render("{{ 'n=' ~ 3 }}") == "n=3"


class TestTernary:
    def test_picks_a_branch(self) -> None:
        assert render("{{ x > 1 ? 'big' : 'small' }}", x=2) == "big"
        assert render("{{ x > 1 ? 'big' : 'small' }}", x=1) == "small"

    def test_is_lazy(self) -> None:
        assert render("{{ true ? 'ok' : missing.thing }}") == "ok"
        assert render("{{ false ? missing.thing : 'ok' }}") == "ok"

    def test_nested_and_with_filters_in_branches(self) -> None:
        source = "{{ a ? 'x' | upper : b ? 'y' : 'z' }}"
        assert render(source, a=False, b=True) == "y"
        assert render(source, a=True, b=True) == "X"


class TestIsDefined:
    def test_chain_with_missing_root_is_false(self) -> None:
        assert evaluate("{{ trigger.body.customerId is defined }}") is False

    def test_chain_with_missing_link_is_false(self) -> None:
        assert evaluate("{{ trigger.body.customerId is defined }}", trigger={"body": {}}) is False

    def test_present_value_is_true_even_when_null(self) -> None:
        assert evaluate("{{ a.b is defined }}", a={"b": None}) is True

    def test_corpus_condition(self) -> None:
        # core-Labels-1
        source = (
            "{{ trigger.body.customerId is defined and trigger.body.orderId is defined "
            "and trigger.body.orderType is defined }}"
        )
        body = {"customerId": 1, "orderId": 2, "orderType": "x"}
        assert render(source, trigger={"body": body}) == "true"
        assert render(source, trigger={"body": {"customerId": 1}}) == "false"

    def test_is_not_defined(self) -> None:
        assert evaluate("{{ a.b is not defined }}", a={}) is True

    def test_is_null_and_empty(self) -> None:
        assert evaluate("{{ a is null }}", a=None) is True
        assert evaluate("{{ a is empty }}", a="  ") is True
        assert evaluate("{{ a is not empty }}", a=[1]) is True


class TestNamedArguments:
    def test_camel_case_names(self) -> None:
        # docs-expressions-10
        moment = dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)
        source = "{{ d | date('yyyy-MM-dd HH:mm', timeZone='Asia/Kolkata') }}"
        assert render(source, d=moment) == "2024-01-01 05:30"

    def test_named_format(self) -> None:
        moment = dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)
        assert render("{{ d | date(format='yyyy') }}", d=moment) == "2024"


class TestStatementsAndMisc:
    def test_if_elseif_else(self) -> None:
        source = "{% if x == 1 %}one{% elseif x == 2 %}two{% else %}many{% endif %}"
        assert [render(source, x=i) for i in (1, 2, 3)] == ["one", "two", "many"]

    def test_for_loop_index_counts_from_zero(self) -> None:
        source = "{% for v in xs %}{{ loop.index }}{{ v }},{% endfor %}"
        assert render(source, xs=["a", "b"]) == "0a,1b,"  # Pebble does not iterate strings

    def test_set(self) -> None:
        assert render("{% set y = x + 1 %}{{ y }}", x=1) == "2"

    def test_raw_block_is_not_rendered(self) -> None:
        assert render("{% raw %}{{ not rendered }}{% endraw %}") == "{{ not rendered }}"

    def test_comment(self) -> None:
        assert render("a{# note #}b") == "ab"

    def test_string_holding_closing_braces(self) -> None:
        assert render("{{ '}}' ~ \"%}\" }}") == "}}%}"

    def test_text_is_kept_verbatim_with_trailing_newline(self) -> None:
        assert render("line {{ x }}\n\n", x=1) == "line 1\n\n"

    def test_whitespace_control(self) -> None:
        assert render("a  {{- x -}}  b", x=1) == "a1b"

    def test_contains_operator(self) -> None:
        assert evaluate("{{ [1, 2] contains 2 }}") is True
        assert evaluate("{{ 'abc' contains 'd' }}") is False
        assert evaluate("{{ {'k': 1} contains 'k' }}") is True

    def test_range(self) -> None:
        assert evaluate("{{ 1..3 }}") == [1, 2, 3]

    def test_not_and_arithmetic(self) -> None:
        assert evaluate("{{ not false and 2 * 3 + 1 == 7 }}") is True

    def test_bracket_access_for_dashed_task_ids(self) -> None:
        assert render("{{ outputs['my-task'].value }}", outputs={"my-task": {"value": 7}}) == "7"

    def test_map_entries_win_over_methods(self) -> None:
        # core-OutputValues-1: outputs.output_values.values.*
        outputs = {"output_values": {"values": {"execution_data": "e"}}}
        assert render("{{ outputs.output_values.values.execution_data }}", outputs=outputs) == "e"

    def test_reserved_names_are_rejected(self) -> None:
        with pytest.raises(ExpressionError, match="reserved"):
            compile_template("{{ _secrets }}")
        with pytest.raises(ExpressionError, match="reserved"):
            compile_template("{{ __kf_get(x) }}")

    def test_sandbox_blocks_private_attributes(self) -> None:
        with pytest.raises(ExpressionError):
            compile_template("{{ x.__class__ }}")


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("{{ 7 / 2 }}", 3),
        ("{{ -7 / 2 }}", -3),
        ("{{ 7.0 / 2 }}", 3.5),
        ("{{ 7 % 3 }}", 1),
        ("{{ -7 % 3 }}", -1),
        ("{{ 7.5 % 2 }}", 1.5),
    ],
)
def test_arithmetic_follows_java_for_integers(source: str, value: object) -> None:
    result = evaluate(source)
    assert result == value
    assert type(result) is type(value)


def test_division_by_zero_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="division by zero"):
        render("{{ 1 / 0 }}")


def test_string_literals_unescape_only_their_quote_as_pebble_does() -> None:
    assert render(r"{{ 'it\'s' ~ " + r'"say \"hi\""' + " }}") == "it's" + 'say "hi"'
    assert render(r"{{ 'a\nb\\c' }}") == r"a\nb\\c"
    # so jq programs keep their own escapes: string interpolation \( )
    assert render(r"""{{ v | jq('"id-\(.a)"') | first }}""", v='{"a": 7}') == "id-7"
