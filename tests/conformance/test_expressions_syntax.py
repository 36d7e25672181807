"""Core syntax: string interpolation, method calls, ``for`` over maps, ``??`` with subscripts.

Each case follows one of Kestra's or Pebble's own tests. ``kestra:`` paths are in
kestra-io/kestra, ``pebble:`` paths in PebbleTemplates/pebble. Every case asserts
the rendered text exactly.
"""

from __future__ import annotations

from typing import Any

import pytest

from kflow.errors import ExpressionError
from kflow.expr import compile_template

P = "pebble: pebble/src/test/java/io/pebbletemplates/pebble/"
INTERPOLATION = P + "StringInterpolationTest.java"
FOR_MAP = P + "CoreTagsTest.java (testForWithMap)"
FOR_NODE = "pebble: pebble/src/main/java/io/pebbletemplates/pebble/node/ForNode.java"
FOR_DOC = "pebble: docs/src/orchid/resources/wiki/tag/for.md"
FOR_PARSER = (
    "pebble: pebble/src/main/java/io/pebbletemplates/pebble/tokenParser/ForTokenParser.java"
)
STRICT = P + "StrictModeTest.java"
METHODS = P + "GetAttributeTest.java (public methods are callable, with arguments)"
COALESCE = (
    "kestra: core/src/test/java/io/kestra/core/runners/pebble/expression/"
    "NullCoalescingExpressionTest.java"
)


def render(source: str, ctx: dict[str, Any] | None = None) -> str:
    return compile_template(source).render(ctx or {})


CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # (source of the case, template, variables, expected text)
    (INTERPOLATION, '{{ "Hello, #{name}" }}', {"name": "joe"}, "Hello, joe"),
    (INTERPOLATION, '{{ "1 plus 2 equals #{1 + 2}" }}', {}, "1 plus 2 equals 3"),
    (INTERPOLATION, '{{ "#{3}}" }}', {}, "3}"),
    (INTERPOLATION, '{{ "Maximum: #{ max(5, 10) } " }}', {}, "Maximum: 10 "),
    (
        INTERPOLATION,
        '{% verbatim %}{{ "Sum: #{ 1 + 2 }" }}{% endverbatim %}',
        {},
        '{{ "Sum: #{ 1 + 2 }" }}',
    ),
    (INTERPOLATION, '{{ "The cow says: #{"\\"moo\\""}" }}', {}, 'The cow says: "moo"'),
    (
        INTERPOLATION,
        '{{ "Nested: #{ outer + " #{ inner }" }" }}',
        {"outer": "OUTER", "inner": "INNER"},
        "Nested: OUTER INNER",
    ),
    (INTERPOLATION, '{{ "#{"#{"#{\'hi\'}"}"}" }}', {}, "hi"),
    (INTERPOLATION, '{{ "Outer: #{3+4}" }}', {}, "Outer: 7"),
    (INTERPOLATION, '{{ "Outer: #{ 3 + 4 }" }}', {}, "Outer: 7"),
    (INTERPOLATION, '{{ "Outer:#{ 3 + 4 }" }}', {}, "Outer:7"),
    (INTERPOLATION, '{{ "Outer:#{ 3 + 4 } " }}', {}, "Outer:7 "),
    (INTERPOLATION, '{{ "Outer:  #{ 3 + 4 }  " }}', {}, "Outer:  7  "),
    (INTERPOLATION, '{{ "#bang #crash }!!" }}', {}, "#bang #crash }!!"),
    (INTERPOLATION, "{{ \"The cow said ##{'moo'}#\" }}", {}, "The cow said #moo#"),
    (INTERPOLATION, '{{ "Green eggs and # {ham}" }}', {}, "Green eggs and # {ham}"),
    (INTERPOLATION, '{{ "Outer: #{ "inner" }" }}', {}, "Outer: inner"),
    (INTERPOLATION, "{{ '#{3}'}}", {}, "#{3}"),
    (
        INTERPOLATION,
        "{{ \"The cow says: #{'moo' + '#{moo}'}\" }}",
        {},
        "The cow says: moo#{moo}",
    ),
    (INTERPOLATION, '{{ "#{1+1}#{2+2}" }}', {}, "24"),
    (
        INTERPOLATION,
        "{{ \"The #{'cow'} says #{'moo'} and jumps #{'over'} the #{'moon'}\"}}",
        {},
        "The cow says moo and jumps over the moon",
    ),
    (INTERPOLATION, '{{ "Hey #{name}" }}', {"name": "#{1+1}"}, "Hey #{1+1}"),
    (INTERPOLATION, "{{ \"Sum = #{ 'egg\negg'}\" }}", {}, "Sum = egg\negg"),
    # for over a map: its entries, with key and value
    (
        FOR_MAP,
        "{% for entry in data %}{{ entry.key }} {{ entry.value }}{% endfor %}",
        {"data": {"One": 1, "Two": 2, "Three": 3}},
        "One 1Two 2Three 3",
    ),
    (
        FOR_DOC,
        "{% for entry in map %}{{ entry.key }} - {{ entry.value }};{% endfor %}",
        {"map": {"a": "x", "b": "y"}},
        "a - x;b - y;",
    ),
    (
        FOR_NODE + " (entries are Map.Entry: getKey(), toString key=value)",
        "{% for e in m %}{{ e.getKey() }}:{{ e.getValue() }}/{{ e }} {% endfor %}",
        {"m": {"k": "v", "n": 2}},
        "k:v/k=v n:2/n=2 ",
    ),
    (
        FOR_NODE + " (loop.length over a map)",
        "{% for e in m %}{{ loop.index }}/{{ loop.length }}{% endfor %}",
        {"m": {"a": 1, "b": 2}},
        "0/21/2",
    ),
    (
        FOR_NODE + " (null iterates nothing)",
        "{% for x in n %}{{ x }}{% endfor %}.",
        {"n": None},
        ".",
    ),
    (
        FOR_NODE + " (empty map takes the else branch)",
        "{% for e in m %}{{ e.key }}{% else %}none{% endfor %}",
        {"m": {}},
        "none",
    ),
    # method calls on values
    (STRICT, '{%- set a = null -%}{{- a is not null and a.toLowerCase() == "abc" -}}', {}, "false"),
    (STRICT, '{%- set a = null -%}{{- a is null or a.toLowerCase() == "abc" -}}', {}, "true"),
    (STRICT + " (a set value)", '{{ a.toLowerCase() == "abc" }}', {"a": "ABC"}, "true"),
    (METHODS + ": List.size()", "{{ items.size() }}", {"items": [1, 2, 3]}, "3"),
    (METHODS + ": Map.size()", "{{ m.size() }}", {"m": {"a": 1, "b": 2}}, "2"),
    (
        METHODS + ": isEmpty()",
        "{{ m.isEmpty() }} {{ l.isEmpty() }}",
        {"m": {}, "l": [1]},
        "true false",
    ),
    (METHODS + ": Map.keySet()", "{{ m.keySet() }}", {"m": {"a": 1, "b": 2}}, '["a","b"]'),
    (METHODS + ": Map.values()", "{{ m.values() }}", {"m": {"a": 1, "b": 2}}, "[1,2]"),
    (
        METHODS + ": Map.containsKey() / get()",
        "{{ m.containsKey('a') }} {{ m.containsKey('z') }} {{ m.get('a') }}",
        {"m": {"a": 1}},
        "true false 1",
    ),
    (
        METHODS + ": List.contains() / get() / indexOf()",
        "{{ l.contains('b') }} {{ l.get(0) }} {{ l.indexOf('b') }} {{ l.indexOf('z') }}",
        {"l": ["a", "b"]},
        "true a 1 -1",
    ),
    (
        METHODS + ": String.length() / toUpperCase()",
        "{{ s.length() }} {{ s.toUpperCase() }}",
        {"s": "Hello"},
        "5 HELLO",
    ),
    (
        METHODS + ": String.startsWith() / endsWith() / contains()",
        "{{ s.startsWith('He') }} {{ s.endsWith('x') }} {{ s.contains('ll') }}",
        {"s": "Hello"},
        "true false true",
    ),
    (
        METHODS + ": String.substring() / trim() / replace()",
        "{{ s.substring(1, 3) }}|{{ s.substring(3) }}|{{ p.trim() }}|{{ s.replace('l', 'L') }}",
        {"s": "Hello", "p": "  pad \t"},
        "el|lo|pad|HeLLo",
    ),
    (
        METHODS + ": String.split() takes a regex",
        "{{ s.split('[,;]') }}",
        {"s": "a,b;c"},
        '["a","b","c"]',
    ),
    (METHODS + ": chained", "{{ s.trim().toLowerCase().length() }}", {"s": " AB "}, "2"),
    # ?? and is defined with a missing subscript
    (COALESCE, "{{ block[inner].child ?? null }}", {}, "awesome"),
    (COALESCE, "{{ block[missing].child ?? block[inner].child }}", {}, "awesome"),
    (
        COALESCE,
        "{{ block[missing].child ?? block[missing2].child ?? block[inner].child }}",
        {},
        "awesome",
    ),
    (COALESCE, "{{ missing ?? block.test.child }}", {}, "awesome"),
    (COALESCE + " (is defined, as ??)", "{{ block[missing].child is defined }}", {}, "false"),
    (COALESCE + " (is defined, as ??)", "{{ block[inner].child is defined }}", {}, "true"),
]

_COALESCE_VARS = {"block": {"test": {"child": "awesome"}}, "inner": "test"}


@pytest.mark.parametrize(
    ("source", "ctx", "expected"),
    [
        pytest.param(tpl, ctx, exp, id=f"{where.split('/')[-1]}:{tpl}")
        for where, tpl, ctx, exp in CASES
    ],
)
def test_syntax(source: str, ctx: dict[str, Any], expected: str) -> None:
    assert render(source, ctx or _COALESCE_VARS) == expected


@pytest.mark.parametrize(
    ("source", "ctx"),
    [
        # pebble: StringInterpolationTest.java testUnclosedInterpolation
        pytest.param('{{ " #{ 1 +" }}', {}, id="pebble StringInterpolationTest unclosed"),
        # kestra: NullCoalescingExpressionTest.java: both sides missing
        pytest.param("{{ missing ?? missing2 }}", _COALESCE_VARS, id="kestra ?? both missing"),
        # pebble: ForTokenParser.java reads one loop variable
        pytest.param("{% for k, v in m %}{{ k }}{% endfor %}", {"m": {}}, id="pebble for k, v"),
        # pebble: ForNode.java: a string is "Not an iterable object"
        pytest.param("{% for c in s %}{{ c }}{% endfor %}", {"s": "ab"}, id="pebble for string"),
        # pebble: GetAttributeTest.java: a method the value does not have
        pytest.param("{{ s.size() }}", {"s": "ab"}, id="pebble String has no size()"),
        pytest.param("{{ l.get(5) }}", {"l": [1]}, id="java List.get out of bounds"),
    ],
)
def test_syntax_errors(source: str, ctx: dict[str, Any]) -> None:
    with pytest.raises(ExpressionError):
        render(source, ctx)
