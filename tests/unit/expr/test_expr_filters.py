"""Each Kestra filter as flows use it."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from kflow.errors import ExpressionError
from kflow.expr import compile_template


def ev(source: str, **ctx: object) -> object:
    return compile_template(source).evaluate(ctx)


ORDER = (
    '{"order_id": "1", "customer_name": "Kelly Olsen", "product_id": "20", '
    '"price": "166.89", "nested": {"a-b": [10, 20, 30]}, "n": null}'
)


class TestJq:
    def test_returns_a_list(self) -> None:
        assert ev("{{ v | jq('.product_id') }}", v=ORDER) == ["20"]
        assert compile_template("{{ v | jq('.product_id') }}").render({"v": ORDER}) == '["20"]'

    def test_first_of_jq(self) -> None:
        assert ev("{{ v | jq('.product_id') | first }}", v=ORDER) == "20"

    @pytest.mark.parametrize(
        "program",
        [
            ".",
            ".order_id",
            ".missing",
            ".nested.missing.deeper",
            '.nested["a-b"]',
            '.nested."a-b"',
            '.nested["a-b"][1]',
            '.nested["a-b"][-1]',
            '.nested["a-b"][7]',
            ".n.x",
        ],
    )
    def test_simple_paths_match_real_jq(self, program: str) -> None:
        import json

        import jq

        expected = jq.compile(program).input_text(ORDER).all()
        assert ev("{{ v | jq(p) }}", v=ORDER, p=program) == expected
        assert ev("{{ v | jq(p) }}", v=json.loads(ORDER), p=program) == expected

    def test_full_programs_run_through_jq(self) -> None:
        # docs-expressions-9: map values summed by jq
        score = {"English": 1, "French": 2, "Spanish": 3}
        source = "{{ s | values | jq('reduce .[] as $num (0; .+$num)') | first }}"
        assert ev(source, s=score) == 6
        assert ev("{{ v | jq('.nested[\"a-b\"][] | . * 2') }}", v=ORDER) == [20, 40, 60]

    def test_indexing_a_string_gives_jq_error(self) -> None:
        with pytest.raises(ExpressionError, match="jq"):
            ev("{{ v | jq('.order_id.x') }}", v=ORDER)

    def test_empty_string_reads_as_null(self) -> None:
        assert ev("{{ '' | jq('.a') | first }}") is None

    def test_non_json_string_is_an_error(self) -> None:
        with pytest.raises(ExpressionError, match="not JSON"):
            ev("{{ 'not json' | jq('.a') }}")

    def test_results_are_not_shared_between_renders(self) -> None:
        first = ev("{{ v | jq('.nested') | first }}", v=ORDER)
        assert isinstance(first, dict)
        first["a-b"].append(99)
        assert ev("{{ v | jq('.nested') | first }}", v=ORDER) == {"a-b": [10, 20, 30]}


@pytest.mark.parametrize(
    ("source", "ctx", "expected"),
    [
        ("{{ xs | first }}", {"xs": [3, 4]}, 3),
        ("{{ xs | last }}", {"xs": [3, 4]}, 4),
        ("{{ xs | first }}", {"xs": []}, None),
        ("{{ 'abc' | first }}", {}, "a"),
        ("{{ m | toJson }}", {"m": {"a": [1, None]}}, '{"a":[1,null]}'),
        ("{{ m | json }}", {"m": "x"}, '"x"'),
        ("{{ s | fromJson }}", {"s": '{"a": 1}'}, {"a": 1}),
        ("{{ x | default('d') }}", {"x": None}, "d"),
        ("{{ x | default('d') }}", {"x": " "}, "d"),
        ("{{ x | default('d') }}", {"x": []}, "d"),
        ("{{ x | default('d') }}", {"x": 0}, 0),
        ("{{ x.y.z | default('d') }}", {}, "d"),
        ("{{ 'Hello' | upper }}", {}, "HELLO"),
        ("{{ 'Hello' | lower }}", {}, "hello"),
        ("{{ 'hello wORLD' | title }}", {}, "Hello WORLD"),
        ("{{ 'hello World' | capitalize }}", {}, "Hello World"),
        ("{{ '  x  ' | trim }}", {}, "x"),
        ("{{ 'a-b-c' | replace({'-': '+', 'a': 'A'}) }}", {}, "A+b+c"),
        ("{{ 'a-b-c' | replace('-', '') }}", {}, "abc"),
        ("{{ 'abc' | length }}", {}, 3),
        ("{{ m | length }}", {"m": {"a": 1, "b": 2}}, 2),
        ("{{ m | keys }}", {"m": {"a": 1, "b": 2}}, ["a", "b"]),
        ("{{ m | values }}", {"m": {"a": 1, "b": 2}}, [1, 2]),
        ("{{ xs | join(', ') }}", {"xs": [1, "b"]}, "1, b"),
        ("{{ 'a,b,,c' | split(',') }}", {}, ["a", "b", "", "c"]),
        ("{{ 'a,b,c' | split(',', 2) }}", {}, ["a", "b,c"]),
        ("{{ 'this is long' | abbreviate(7) }}", {}, "this..."),
        ("{{ 'short' | abbreviate(7) }}", {}, "short"),
        ("{{ 'Héllo, World!' | slugify }}", {}, "hello-world"),
        ("{{ 'kestra' | startsWith('kes') }}", {}, True),
        ("{{ 'kestra' | endsWith('kes') }}", {}, False),
        ("{{ 'a.b.c' | substringBefore('.') }}", {}, "a"),
        ("{{ 'a.b.c' | substringAfter('.') }}", {}, "b.c"),
        ("{{ 'a.b.c' | substringBeforeLast('.') }}", {}, "a.b"),
        ("{{ 'a.b.c' | substringAfterLast('.') }}", {}, "c"),
        ("{{ 'abc' | substringAfter('x') }}", {}, ""),
        ("{{ '20' | number }}", {}, 20),
        ("{{ '166.89' | number }}", {}, 166.89),
        ("{{ '20' | number('FLOAT') }}", {}, 20.0),
        ("{{ '2.7' | number(type='INT') }}", {}, 2),
        ("{{ 'a%20b+c%2F' | urldecode }}", {}, "a b c/"),
        ("{{ 'line1\nline2' | indent(2) }}", {}, "line1\n  line2"),
        ("{{ 'line1\nline2' | nindent(2) }}", {}, "\n  line1\n  line2"),
        ("{{ [[1, 2], [3], 4] | flatten }}", {}, [1, 2, 3, 4]),
        ("{{ \"it's\" | escapeChar('single') }}", {}, "it\\'s"),
        ("{{ 'say \"hi\"' | escapeChar('double') }}", {}, 'say \\"hi\\"'),
        ("{{ [1, 2, 3, 4, 5] | chunk(2) }}", {}, [[1, 2], [3, 4], [5]]),
    ],
)
def test_filter(source: str, ctx: dict[str, object], expected: object) -> None:
    assert compile_template(source).evaluate(ctx) == expected


def test_urlencode_and_to_yaml() -> None:
    assert ev("{{ 'a b/c' | urlencode }}") == "a+b%2Fc"
    assert ev("{{ m | toYaml }}", m={"k": [1]}) == "k:\n- 1\n"


@pytest.mark.parametrize("name", ["sha1", "sha256", "sha512", "md5"])
def test_hashes(name: str) -> None:
    assert ev("{{ 'kestra' | " + name + " }}") == hashlib.new(name, b"kestra").hexdigest()


def test_yaml_filter_writes_and_yaml_function_parses() -> None:
    # Kestra's yaml filter always writes YAML (YamlFilterTest); yaml() parses (YamlFunctionTest)
    assert ev("{{ 'foo: bar' | yaml }}") == '"foo: bar"\n'
    assert ev("{{ yaml('foo: bar') }}") == {"foo": "bar"}
    assert ev("{{ m | yaml }}", m={"a": 1, "b": ["x"]}) == "a: 1\nb:\n - x\n"
    assert ev("{{ m | yaml | indent(2) }}", m={"a": 1, "b": 2}) == "a: 1\n  b: 2\n  "
    with pytest.raises(ExpressionError, match="invalid YAML"):
        ev("{{ yaml('a: [') }}")


def test_number_rejects_text() -> None:
    with pytest.raises(ExpressionError, match="not a number"):
        ev("{{ 'abc' | number }}")


class TestDates:
    moment = dt.datetime(2024, 7, 9, 6, 17, 1, 171000, tzinfo=dt.UTC)

    def test_date_with_java_pattern(self) -> None:
        assert ev("{{ d | date('yyyy-MM-dd') }}", d=self.moment) == "2024-07-09"
        assert ev("{{ d | date(\"yyyy-MM-dd'T'HH:mm:ss.SSSXXX\") }}", d=self.moment) == (
            "2024-07-09T06:17:01.171Z"
        )
        assert ev("{{ d | date('d/M/yy h a') }}", d=self.moment) == "9/7/24 6 AM"

    def test_date_reads_iso_strings_and_converts_zones(self) -> None:
        source = "{{ '2024-07-09T06:17:01Z' | date('HH:mm', timeZone='Europe/Paris') }}"
        assert ev(source) == "08:17"

    def test_date_with_existing_format(self) -> None:
        source = "{{ '09/07/2024' | date('yyyy-MM-dd', existingFormat='dd/MM/yyyy') }}"
        assert ev(source) == "2024-07-09"

    def test_named_formats(self) -> None:
        # Kestra's iso_date is DateTimeFormatter.ISO_DATE: the offset is printed
        assert ev("{{ d | date('iso_date') }}", d=self.moment) == "2024-07-09Z"
        assert ev("{{ d | date('sql_seconds') }}", d=self.moment) == "2024-07-09 06:17:01"

    def test_date_add(self) -> None:
        # Kestra's default format is "iso": yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX
        assert ev("{{ d | dateAdd(-1, 'DAYS') }}", d=self.moment) == ("2024-07-08T06:17:01.171000Z")
        assert ev("{{ d | dateAdd(2, 'HOURS', format='HH') }}", d=self.moment) == "08"
        assert ev("{{ '2024-01-31' | dateAdd(1, 'MONTHS', format='yyyy-MM-dd') }}") == (
            "2024-02-29"
        )

    def test_date_add_rejects_unknown_unit(self) -> None:
        with pytest.raises(ExpressionError, match="unknown time unit"):
            ev("{{ d | dateAdd(1, 'FORTNIGHTS') }}", d=self.moment)

    def test_timestamps(self) -> None:
        epoch = int(self.moment.timestamp())
        assert ev("{{ d | timestamp }}", d=self.moment) == epoch
        assert ev("{{ d | timestampMilli(timeZone='Asia/Kolkata') }}", d=self.moment) == (
            epoch * 1000 + 171
        )
        # Kestra's timestampMicro / timestampNano give text: epoch seconds in
        # nanoseconds plus the fraction in micro- (sic) or nanoseconds
        assert ev("{{ d | timestampMicro }}", d=self.moment) == str(epoch * 10**9 + 171_000)
        assert ev("{{ d | timestampNano }}", d=self.moment) == str(epoch * 10**9 + 171_000_000)

    def test_unknown_zone(self) -> None:
        with pytest.raises(ExpressionError, match="unknown time zone"):
            ev("{{ d | date('yyyy', timeZone='Mars/Olympus') }}", d=self.moment)
