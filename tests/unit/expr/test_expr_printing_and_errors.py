"""How values print, native evaluation, and error messages with positions."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from kflow.errors import ExpressionError
from kflow.expr import (
    ExprProblem,
    check_template,
    compile_template,
    is_templated,
    referenced_outputs,
)


def render(source: str, **ctx: object) -> str:
    return compile_template(source).render(ctx)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (20, "20"),
        (1.0, "1.0"),
        (166.89, "166.89"),
        (1e16, "1.0E16"),
        (1.5e-5, "1.5E-5"),
        ({"a": [1, "b", None, True]}, '{"a":[1,"b",null,true]}'),
        (["20"], '["20"]'),
        ({"name": "Ünïcode"}, '{"name":"Ünïcode"}'),
        (dt.datetime(2024, 7, 9, 6, 17, 1, 171193, tzinfo=dt.UTC), "2024-07-09T06:17:01.171193Z"),
        (dt.datetime(2024, 7, 9, 6, 17, 1, 171000, tzinfo=dt.UTC), "2024-07-09T06:17:01.171Z"),
        (dt.datetime(2024, 7, 9, 6, 17, 1, tzinfo=dt.UTC), "2024-07-09T06:17:01Z"),
        (dt.date(2024, 7, 9), "2024-07-09"),
        (decimal.Decimal("1.50"), "1.50"),
    ],
)
def test_printing(value: object, text: str) -> None:
    assert render("{{ v }}", v=value) == text


def test_driver_values_print_as_json_or_text() -> None:
    import uuid

    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert render("{{ v }}", v=value) == "12345678-1234-5678-1234-567812345678"
    assert render("{{ v }}", v=frozenset({3})) == "[3]"
    assert render("{{ v }}", v=(1, "a")) == '[1,"a"]'
    assert render("{{ v }}", v={"id": value, "tags": {"x"}}) == (
        '{"id":"12345678-1234-5678-1234-567812345678","tags":["x"]}'
    )


def test_dates_inside_maps_print_as_iso() -> None:
    moment = dt.datetime(2024, 7, 9, 6, 17, 1, tzinfo=dt.UTC)
    assert render("{{ m }}", m={"at": moment}) == '{"at":"2024-07-09T06:17:01Z"}'


def test_evaluate_returns_native_values_for_a_lone_expression() -> None:
    template = compile_template("  {{ xs | length }}\n")
    assert template.evaluate({"xs": [1, 2]}) == 2
    assert compile_template("{{ m }}").evaluate({"m": {"a": 1}}) == {"a": 1}


def test_evaluate_renders_when_there_is_more_than_one_expression() -> None:
    assert compile_template("{{ a }}-{{ b }}").evaluate({"a": 1, "b": 2}) == "1-2"


def test_is_templated() -> None:
    assert is_templated("a {{ b }}")
    assert is_templated("{% if x %}{% endif %}")
    assert not is_templated("plain { text } here")


def test_undefined_name_names_the_expression() -> None:
    with pytest.raises(ExpressionError) as err:
        render("{{ x + 1 }}")
    assert str(err.value) == "Unable to find `x` used in the expression `{{ x + 1 }}`"


def test_undefined_attribute_names_the_right_expression_among_several() -> None:
    with pytest.raises(ExpressionError) as err:
        render("{{ flow.id }} and {{ flow.nope | upper }}", flow={"id": "f"})
    expected = "Unable to find `nope` used in the expression `{{ flow.nope | upper }}`"
    assert str(err.value) == expected


def test_undefined_in_evaluate() -> None:
    with pytest.raises(ExpressionError, match="Unable to find `missing`"):
        compile_template("{{ missing }}").evaluate({})


def test_filter_failure_names_the_expression() -> None:
    with pytest.raises(ExpressionError, match=r"not a number.*\{\{ v \| number \}\}"):
        render("{{ v | number }}", v="abc")


def test_compile_error_gives_line_and_column() -> None:
    with pytest.raises(ExpressionError, match="at line 2, column 8"):
        compile_template("first\n{{ a + }}")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ x + }}", ExprProblem("expression is incomplete", 1, 8)),
        ("a\n  {{ a | nofilter }}", ExprProblem("unknown filter 'nofilter'", 2, 10)),
        ("{{ a ? b }}", ExprProblem("expected ':' but found the end of the expression", 1, 10)),
        ("{% frobnicate %}", ExprProblem("unknown or unsupported tag 'frobnicate'", 1, 4)),
        ("x {{ a", ExprProblem("'{{' is never closed with '}}'", 1, 3)),
        ("{{ 'abc }}", ExprProblem("unterminated string literal", 1, 4)),
        ("{{ a is frob }}", ExprProblem("unknown test 'frob'", 1, 9)),
        ("{{ }}", ExprProblem("empty expression", 1, 3)),
        ("{{ a b }}", ExprProblem("unexpected 'b'", 1, 6)),
        ("{{ a # b }}", ExprProblem("unexpected character '#'", 1, 6)),
    ],
)
def test_check_template_positions(source: str, problem: ExprProblem) -> None:
    assert check_template(source) == [problem]


def test_check_template_reports_jq_syntax_errors_at_the_literal() -> None:
    problems = check_template("x\n{{ v | jq('.a[') }}")
    assert len(problems) == 1
    assert (problems[0].line, problems[0].column) == (2, 11)
    assert "jq" in problems[0].message


def test_check_template_accepts_valid_templates() -> None:
    assert check_template("{{ trigger.value | jq('.a | length') | first }}") == []
    assert check_template("{% if a %}{{ b }}{% endif %}") == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("x\n  {% if a %}yes", ExprProblem("'{% if %}' is never closed with '{% endif %}'", 2, 3)),
        (
            "{% for a in b %}{% endif %}",
            ExprProblem("unexpected '{% endif %}'; expected '{% endfor %}'", 1, 17),
        ),
        ("{% endfor %}", ExprProblem("unexpected '{% endfor %}'", 1, 1)),
        ("{% elseif a %}", ExprProblem("'{% elseif %}' outside of an if or for block", 1, 1)),
    ],
)
def test_block_structure_is_checked(source: str, problem: ExprProblem) -> None:
    assert check_template(source) == [problem]


def test_referenced_outputs() -> None:
    source = (
        "{{ outputs.a.row }} {{ outputs['b-c'].x }} {{ outputs[\"d\"] }} "
        "{{ other.outputs.e }} {% if outputs.f is defined %}{% endif %}"
    )
    assert referenced_outputs(source) == {"a", "b-c", "d", "f"}
    assert referenced_outputs("no template outputs.a") == set()


def test_error_inside_a_loop_names_the_failing_expression() -> None:
    source = "{% for v in xs %}{{ v }}{{ v.missing }}{% endfor %}"
    with pytest.raises(ExpressionError) as err:
        render(source, xs=[{"a": 1}])
    assert str(err.value) == "Unable to find `missing` used in the expression `{{ v.missing }}`"
