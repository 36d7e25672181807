"""JSON and YAML filters, functions and the ``json`` test, from Kestra's tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kflow.errors import ExpressionError
from kflow.expr import compile_template

K = "kestra: core/src/test/java/io/kestra/core/runners/pebble/"
SECOND = {
    "string": "string",
    "int": 1,
    "float": 1.123,
    "list": ["string", 1, 1.123],
    "bool": True,
    "date": dt.datetime(2013, 9, 8, 16, 19, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    "map": {"string": "string", "int": 1, "float": 1.123},
}
VARS = {"vars": {"second": SECOND}}
YAML_DOC = """\
# comment
string: string
int: 123
bool: true
float: 1.23
instant: "1918-02-24T00:00:00Z"
date: "1991-08-20"
time: "23:59:59"
duration: "PT5M6S"
'null':
object:
  key: "value"
  child:
    key: "value"
array:
  - string
"""


def render(source: str, ctx: dict[str, Any] | None = None) -> str:
    return compile_template(source).render(ctx or {})


CASES: list[tuple[str, str, dict[str, Any], str]] = [
    (K + "filters/YamlFilterTest.java", "{{ vars.second.string | yaml }}", VARS, "string\n"),
    (K + "filters/YamlFilterTest.java", "{{ vars.second.int | yaml }}", VARS, "1\n"),
    (K + "filters/YamlFilterTest.java", "{{ vars.second.float | yaml }}", VARS, "1.123\n"),
    (
        K + "filters/YamlFilterTest.java",
        "{{ vars.second.list | yaml }}",
        VARS,
        " - string\n - 1\n - 1.123\n",
    ),
    (K + "filters/YamlFilterTest.java", "{{ vars.second.bool | yaml }}", VARS, "true\n"),
    (
        K + "filters/YamlFilterTest.java",
        "{{ vars.second.date | yaml }}",
        VARS,
        "2013-09-08T16:19:00+02:00\n",
    ),
    (
        K + "filters/YamlFilterTest.java",
        "{{ vars.second.map | yaml }}",
        VARS,
        "string: string\nint: 1\nfloat: 1.123\n",
    ),
    (K + "filters/YamlFilter.java (null input)", "{{ null | yaml }}", {}, "null"),
    (
        K + "functions/YamlFunctionTest.java",
        "{{ yaml(doc).string }}",
        {"doc": YAML_DOC},
        "string",
    ),
    (K + "functions/YamlFunctionTest.java", "{{ yaml(doc).int }}", {"doc": YAML_DOC}, "123"),
    (K + "functions/YamlFunctionTest.java", "{{ yaml(doc).bool }}", {"doc": YAML_DOC}, "true"),
    (K + "functions/YamlFunctionTest.java", "{{ yaml(doc).float }}", {"doc": YAML_DOC}, "1.23"),
    (
        K + "functions/YamlFunctionTest.java",
        "{{ yaml(doc).instant }}",
        {"doc": YAML_DOC},
        "1918-02-24T00:00:00Z",
    ),
    (
        K + "functions/YamlFunctionTest.java",
        "{{ yaml(doc).date }}",
        {"doc": YAML_DOC},
        "1991-08-20",
    ),
    (
        K + "functions/YamlFunctionTest.java",
        "{{ yaml(doc).time }}",
        {"doc": YAML_DOC},
        "23:59:59",
    ),
    (
        K + "functions/YamlFunctionTest.java",
        "{{ yaml(doc).object.child.key }}",
        {"doc": YAML_DOC},
        "value",
    ),
    (
        K + "functions/YamlFunctionTest.java",
        "{{ yaml(doc).array[0] }}",
        {"doc": YAML_DOC},
        "string",
    ),
    (
        K + "functions/JsonFunctionTest.java",
        '{{ json(\'{"test1": 1, "test2": 2, "test3": 3}\').test1 }}',
        {},
        "1",
    ),
    (
        K + "functions/JsonFunctionTest.java",
        '{{ json(\'{"test1": [{"test1": 666}, 2, 3], "test2": 2, "test3": 3}\').test1[0].test1 }}',
        {},
        "666",
    ),
    (K + "functions/JsonFunctionTest.java", "{{ json('[1, 2, 3]')[0] }}", {}, "1"),
    (
        K + "functions/FromJsonFunctionTest.java",
        '{{ fromJson(\'{"test1": 1, "test2": 2, "test3": 3}\').test1 }}',
        {},
        "1",
    ),
    (K + "functions/FromJsonFunctionTest.java", "{{ fromJson('[1, 2, 3]')[0] }}", {}, "1"),
    (
        K + "functions/FromJsonFunctionTest.java",
        "{{ fromJson('{\"empty_object\":{}}') }}",
        {},
        '{"empty_object":{}}',
    ),
    (K + "functions/FromJsonFunctionTest.java", "{{ fromJson(null) }}", {}, ""),
    (K + "filters/ToJsonFilterTest.java", "{{ vars.second.string | toJson }}", VARS, '"string"'),
    (K + "filters/ToJsonFilterTest.java", "{{ vars.second.int | toJson }}", VARS, "1"),
    (K + "filters/ToJsonFilterTest.java", "{{ vars.second.float | toJson }}", VARS, "1.123"),
    (
        K + "filters/ToJsonFilterTest.java",
        "{{ vars.second.list | toJson }}",
        VARS,
        '["string",1,1.123]',
    ),
    (K + "filters/ToJsonFilterTest.java", "{{ vars.second.bool | toJson }}", VARS, "true"),
    (
        K + "filters/ToJsonFilterTest.java",
        "{{ vars.second.date | toJson }}",
        VARS,
        '"2013-09-08T16:19:00+02:00"',
    ),
    (
        K + "filters/ToJsonFilterTest.java",
        '{{ {"empty_object":{}} | toJson }}',
        {},
        '{"empty_object":{}}',
    ),
    (K + "filters/ToJsonFilterTest.java", "{{ null | toJson }}", {}, "null"),
    (K + "filters/ToJsonFilterTest.java", "{{ vars.second.string | json }}", VARS, '"string"'),
    (
        "kestra: ui/src/assets/documentations/basic.md (is json row)",
        "{% if '{\"test\": 1}' is json %}yes{% endif %}",
        {},
        "yes",
    ),
    (
        "kestra: core/src/main/java/io/kestra/core/runners/pebble/tests/JsonTest.java",
        "{{ 'not json' is json }}",
        {},
        "false",
    ),
    (
        "kestra: core/src/main/java/io/kestra/core/runners/pebble/tests/JsonTest.java",
        "{{ m is json }}",
        {"m": {"a": 1}},
        "true",
    ),
    (
        "kestra: core/src/main/java/io/kestra/core/runners/pebble/tests/JsonTest.java",
        "{{ null is json }}",
        {},
        "false",
    ),
    (
        "kestra: core/src/main/java/io/kestra/core/runners/pebble/tests/JsonTest.java",
        "{{ 1 is json }}",
        {},
        "false",
    ),
    (
        "kestra: core/src/test/resources/flows/valids/each-object.yaml",
        "{{ v is not json }}",
        {"v": "[1, 2]"},
        "false",
    ),
]


@pytest.mark.parametrize(
    ("source", "ctx", "expected"),
    [
        pytest.param(tpl, ctx, exp, id=f"{where.split('/')[-1]}:{tpl}")
        for where, tpl, ctx, exp in CASES
    ],
)
def test_json_yaml_expression(source: str, ctx: dict[str, Any], expected: str) -> None:
    assert render(source, ctx) == expected


@pytest.mark.xfail(
    strict=True,
    reason="kflow functions share Jinja2's namespace with variables: "
    "a variable named yaml hides yaml()",
)
def test_yaml_function_called_on_a_variable_named_yaml() -> None:
    # kestra: core/src/test/java/io/kestra/core/runners/pebble/functions/YamlFunctionTest.java
    assert render("{{ yaml(yaml).string }}", {"yaml": YAML_DOC}) == "string"


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("{{ fromJson('{not: json}') }}", id="kestra FromJsonFunctionTest not JSON"),
        pytest.param("{{ yaml(1) }}", id="kestra YamlFunction not a string"),
        pytest.param("{{ yaml('a: [') }}", id="kestra YamlFunction invalid"),
    ],
)
def test_json_yaml_errors(source: str) -> None:
    # kestra: core/src/test/java/io/kestra/core/runners/pebble/functions/FromJsonFunctionTest.java
    with pytest.raises(ExpressionError):
        render(source)
