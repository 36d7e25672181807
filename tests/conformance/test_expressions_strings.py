"""String filters, each case taken from Kestra's or Pebble's own tests.

``kestra:`` paths are in kestra-io/kestra, ``pebble:`` paths in PebbleTemplates/pebble
(the core filters Kestra keeps). Every case asserts the rendered text exactly.
"""

from __future__ import annotations

from typing import Any

import pytest

from kflow.errors import ExpressionError
from kflow.expr import compile_template

INDENT = "kestra: core/src/test/java/io/kestra/core/runners/pebble/filters/IndentFilterTest.java"
NINDENT = "kestra: core/src/test/java/io/kestra/core/runners/pebble/filters/NindentFilterTest.java"
REPLACE = "kestra: core/src/test/java/io/kestra/core/runners/pebble/filters/ReplaceFilterTest.java"
PEBBLE_FILTERS = "pebble: pebble/src/test/java/io/pebbletemplates/pebble/CoreFiltersTest.java"
PEBBLE_SPLIT = "pebble: pebble/src/test/java/io/pebbletemplates/pebble/SplitFilterTest.java"
NUMBER_FORMAT = (
    "kestra: core/src/test/java/io/kestra/core/runners/pebble/PebbleVariableRendererTest.java"
)


def render(source: str, ctx: dict[str, Any] | None = None) -> str:
    return compile_template(source).render(ctx or {})


CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # (source of the case, template, variables, expected text)
    (INDENT, "{{ null | indent(2) }}", {}, ""),
    (INDENT, "{{ '' | indent(2) }}", {}, ""),
    (INDENT, '{{ "\n\n" | indent(2) }}', {}, "\n  \n  "),
    (INDENT, "{{ 'string' | indent(2) }}", {}, "string"),
    (INDENT, "{{ 1 | indent(2) }}", {}, "1"),
    (INDENT, '{{ "first line\r\nsecond line" | indent(2) }}', {}, "first line\r\n  second line"),
    (INDENT, '{{ "first line\nsecond line" | indent(2) }}', {}, "first line\n  second line"),
    (INDENT, '{{ "first line\rsecond line" | indent(2) }}', {}, "first line\r  second line"),
    (
        INDENT,
        '{{ "first line\nsecond line" | indent(2, "\t") }}',
        {},
        "first line\n\t\tsecond line",
    ),
    (NINDENT, "{{ null | nindent(2) }}", {}, ""),
    (NINDENT, "{{ '' | nindent(2) }}", {}, ""),
    (NINDENT, '{{ "\n\n" | nindent(2) }}', {}, "\n  \n  \n  "),
    (NINDENT, "{{ 'string' | nindent(2) }}", {}, "\n  string"),
    (NINDENT, "{{ 1 | nindent(2) }}", {}, "\n  1"),
    (
        NINDENT,
        '{{ "first line\r\nsecond line" | nindent(2) }}',
        {},
        "\r\n  first line\r\n  second line",
    ),
    (NINDENT, '{{ "first line\nsecond line" | nindent(2) }}', {}, "\n  first line\n  second line"),
    (NINDENT, '{{ "first line\rsecond line" | nindent(2) }}', {}, "\r  first line\r  second line"),
    (
        NINDENT,
        '{{ "first line\nsecond line" | nindent(2, "\t") }}',
        {},
        "\n\t\tfirst line\n\t\tsecond line",
    ),
    (
        REPLACE,
        "{{ 'john doe is john doe' | replace({'john': 'jane'}) }}",
        {},
        "jane doe is jane doe",
    ),
    (
        REPLACE,
        r"{{ 'aa1bb2cc3dd4ee5' | replace({'(\d)': '-$1-'}, regexp=true) }}",
        {},
        "aa-1-bb-2-cc-3-dd-4-ee-5-",
    ),
    (
        PEBBLE_FILTERS,
        "{{ 'this should be capitalized.' | capitalize }}",
        {},
        "This should be capitalized.",
    ),
    (
        PEBBLE_FILTERS,
        "{{ ' \nthis should be capitalized.' | capitalize }}",
        {},
        " \nThis should be capitalized.",
    ),
    (PEBBLE_FILTERS, "{{ null | capitalize }}", {}, ""),
    (PEBBLE_FILTERS, "{{ '' | capitalize }}", {}, ""),
    (PEBBLE_FILTERS, "{{ name | slice }}", {"name": "Alex"}, "Alex"),
    (PEBBLE_FILTERS, "{{ null | slice }}", {}, ""),
    (PEBBLE_FILTERS, "{{ name | slice(2,5) }}", {"name": "Alexander"}, "exa"),
    (
        PEBBLE_FILTERS,
        "{{ 'abcdefghijklmnopqrstuvwxyz' | slice(from, to) }}",
        {"from": 2, "to": 4},
        "cd",
    ),
    (
        PEBBLE_FILTERS,
        "You owe me {{ 10000.235166 | numberFormat(currencyFormat) }}.",
        {"currencyFormat": "$#,###,###,##0.00"},
        "You owe me $10,000.24.",
    ),
    (
        PEBBLE_FILTERS,
        "You owe me {{ 10000.235166 | numberFormat(format=currencyFormat) }}.",
        {"currencyFormat": "$#,###,###,##0.00"},
        "You owe me $10,000.24.",
    ),
    (PEBBLE_FILTERS, "{{ null | numberFormat(currencyFormat) }}", {"currencyFormat": "#"}, ""),
    (PEBBLE_FILTERS, "{{ 1000000 | numberFormat }}", {}, "1,000,000"),
    (NUMBER_FORMAT, '{{ var | numberFormat("#.##") }}', {"var": 1.232654}, "1.23"),
    (
        "kestra: ui/src/assets/documentations/basic.md (numberFormat row)",
        '{{ 12345.6789 | numberFormat("###,###.##") }}',
        {},
        "12,345.68",
    ),
    (
        PEBBLE_SPLIT,
        "{% set foo = 'one|two|three' | split('\\|') %}{% for x in foo %}{{ x }}{% endfor %}",
        {},
        "onetwothree",
    ),
    (
        PEBBLE_SPLIT,
        '{% set foo = "one,two,three,four,five" | split('
        "',',3) %}{% for x in foo %}{{ x }}{% endfor %}",
        {},
        "onetwothree,four,five",
    ),
    (
        PEBBLE_SPLIT,
        '{% set foo = "one,two,three,four,five" | split('
        "',',-1) %}{% for x in foo %}{{ x }}{% endfor %}",
        {},
        "onetwothreefourfive",
    ),
    (
        PEBBLE_SPLIT,
        '{% set foo = "one,two,three,four,five" | split('
        "',',0) %}{% for x in foo %}{{ x }}{% endfor %}",
        {},
        "onetwothreefourfive",
    ),
    (PEBBLE_SPLIT, "{% set foo = null | split(',') %}{{ foo }}", {}, ""),
    # Java's split takes a regular expression: an unescaped '|' splits between characters
    (PEBBLE_SPLIT + " (Java String.split regex)", "{{ 'a|b' | split('|') }}", {}, '["a","|","b"]'),
    (PEBBLE_SPLIT + " (Java String.split)", "{{ 'a,b,,' | split(',') }}", {}, '["a","b"]'),
    (
        PEBBLE_SPLIT + " (Java String.split)",
        "{{ 'a,b,,' | split(',', -1) }}",
        {},
        '["a","b","",""]',
    ),
]


@pytest.mark.parametrize(
    ("source", "ctx", "expected"),
    [
        pytest.param(tpl, ctx, exp, id=f"{where.split('/')[-1]}:{tpl}")
        for where, tpl, ctx, exp in CASES
    ],
)
def test_string_filter(source: str, ctx: dict[str, Any], expected: str) -> None:
    assert render(source, ctx) == expected


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("{{ name | slice(-1) }}", id="pebble CoreFiltersTest slice(-1)"),
        pytest.param("{{ name | slice(0,-1) }}", id="pebble CoreFiltersTest slice(0,-1)"),
        pytest.param("{{ name | slice(0,1000) }}", id="pebble CoreFiltersTest slice(0,1000)"),
        pytest.param("{{ 1 | slice }}", id="pebble CoreFiltersTest slice on a number"),
        pytest.param('{{ "one,two,three" | split }}', id="pebble SplitFilterTest no delimiter"),
        pytest.param("{{ 'abc' | numberFormat }}", id="pebble NumberFormatFilter not a number"),
    ],
)
def test_string_filter_errors(source: str) -> None:
    # pebble: pebble/src/test/java/io/pebbletemplates/pebble/CoreFiltersTest.java
    # pebble: pebble/src/test/java/io/pebbletemplates/pebble/SplitFilterTest.java
    with pytest.raises(ExpressionError):
        render(source, {"name": "Alex"})
