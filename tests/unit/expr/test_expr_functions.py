"""Template functions, property values, envs and secrets."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest

from kflow.errors import ExpressionError, NotSupportedError
from kflow.expr import (
    ExprProblem,
    all_secret_values,
    check_template,
    compile_template,
    compile_value,
    envs_from_environ,
    render_value,
    secret_values_seen,
)


def ev(source: str, ctx: dict[str, object] | None = None) -> object:
    return compile_template(source).evaluate(ctx or {})


def test_now_is_the_utc_time_as_iso_text() -> None:
    # Kestra's NowFunction returns the time formatted ("iso" by default), not a date value
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    value = ev("{{ now() }}")
    assert isinstance(value, str) and value.endswith("Z")
    assert before <= dt.datetime.fromisoformat(value) <= dt.datetime.now(dt.UTC)


def test_now_in_a_time_zone() -> None:
    value = ev("{{ now(timeZone='Asia/Kolkata') }}")
    assert isinstance(value, str)
    assert dt.datetime.fromisoformat(value).utcoffset() == dt.timedelta(hours=5, minutes=30)


def test_uuid_is_a_fresh_uuid4() -> None:
    a, b = ev("{{ uuid() }}"), ev("{{ uuid() }}")
    assert isinstance(a, str)
    assert uuid.UUID(a).version == 4
    assert a != b


def test_random_int_stays_in_range_upper_excluded() -> None:
    seen = {ev("{{ randomInt(1, 3) }}") for _ in range(200)}
    assert seen == {1, 2}


def test_random_int_equal_bounds_and_reversed_range() -> None:
    # kestra: RandomIntFunctionTest.testGenerateNumberSame / testGenerateNumberUpperLessThanLower
    assert ev("{{ randomInt(3, 3) }}") == 3
    with pytest.raises(ExpressionError, match="randomInt"):
        ev("{{ randomInt(3, 2) }}")


def test_from_json_function() -> None:
    # mongodb-Trigger-1: format: "{{ fromJson(taskrun.value) }}"
    assert ev("{{ fromJson(taskrun.value) }}", {"taskrun": {"value": '{"a": [1]}'}}) == {"a": [1]}
    rendered = compile_template("{{ fromJson(taskrun.value) }}").render(
        {"taskrun": {"value": '{"a": [1]}'}}
    )
    assert rendered == '{"a":[1]}'


def test_render_function_renders_a_variable_holding_a_template() -> None:
    # docs-expressions-8: render(vars.trigger_or_yesterday)
    ctx = {
        "vars": {"greeting": "hello {{ inputs.name }}"},
        "inputs": {"name": "kestra"},
    }
    assert ev("{{ render(vars.greeting) }}", ctx) == "hello kestra"
    assert ev("{{ render('plain') }}") == "plain"


def test_error_logs() -> None:
    logs = [{"taskId": "fail", "message": "boom"}]
    assert ev("{{ errorLogs() }}", {"_error_logs": logs}) == logs
    assert compile_template("{{ errorLogs() }}").render({"_error_logs": logs}) == (
        '[{"taskId":"fail","message":"boom"}]'
    )
    assert ev("{{ errorLogs() }}") == []


@pytest.mark.parametrize("call", ["kv('KEY')", "fileURI('f')"])
def test_kestra_functions_needing_services_are_not_supported_yet(call: str) -> None:
    assert check_template("{{ " + call + " }}") == []
    with pytest.raises(ExpressionError, match="is not supported yet") as err:
        ev("{{ " + call + " }}", {"inputs": {"file": "x"}})
    assert isinstance(err.value, NotSupportedError)


def test_unknown_function_is_a_syntax_error_at_its_position() -> None:
    assert check_template("a {{ frob(1) }}") == [ExprProblem("unknown function 'frob'", 1, 6)]
    assert check_template("{{ lipsum() }}") == [ExprProblem("unknown function 'lipsum'", 1, 4)]


def test_pebble_max_min_range() -> None:
    assert ev("{{ max(1, 5, 3) }}") == 5
    assert ev("{{ min([4, 2]) }}") == 2
    assert ev("{{ range(0, 3) }}") == [0, 1, 2, 3]
    assert ev("{{ range(0, 6, 2) }}") == [0, 2, 4, 6]


class TestSecrets:
    def test_from_the_context(self) -> None:
        seen: set[str] = set()
        ctx = {"_secrets": {"PASSWORD": "s3cret"}, "_secrets_seen": seen}
        assert ev("{{ secret('PASSWORD') }}", ctx) == "s3cret"
        assert secret_values_seen(ctx) == {"s3cret"}
        assert "s3cret" in all_secret_values()

    def test_from_base64_prefixed_environment(self) -> None:
        encoded = base64.b64encode(b"pa55word").decode()
        ctx = {"_environ": {"SECRET_CASSANDRA_PASSWORD": encoded, "CASSANDRA_PASSWORD": "no"}}
        assert ev("{{ secret('CASSANDRA_PASSWORD') }}", ctx) == "pa55word"

    def test_falls_back_to_the_plain_variable(self) -> None:
        assert ev("{{ secret('TOKEN') }}", {"_environ": {"TOKEN": "plain"}}) == "plain"

    def test_bad_base64_is_an_error(self) -> None:
        with pytest.raises(ExpressionError, match="base64"):
            ev("{{ secret('X') }}", {"_environ": {"SECRET_X": "not base64!"}})

    def test_missing_secret_is_an_error(self) -> None:
        with pytest.raises(ExpressionError, match="cannot find secret 'NOPE'"):
            ev("{{ secret('NOPE') }}", {"_environ": {}})

    def test_private_keys_cannot_be_read_by_name(self) -> None:
        with pytest.raises(ExpressionError, match="reserved"):
            compile_template("{{ _secrets.PASSWORD }}")


def test_envs_from_environ_prefixed_wins_and_is_lower_cased() -> None:
    environ = {"ENV_MY_VAR": "prefixed", "my_var": "plain", "HOME": "/home/u", "ENV_": "x"}
    assert envs_from_environ(environ) == {"my_var": "prefixed", "HOME": "/home/u"}


def test_render_value_renders_templated_strings_of_maps_and_lists() -> None:
    value = {
        "plain": "no {template}",
        "{{ key }}": ["{{ a }}", 3, {"deep": "{{ a | upper }}"}],
        "_id": {"$oid": "5f1d8e1b9f1b9c0c8c8b4567"},
    }
    ctx = {"key": "k", "a": "x"}
    assert render_value(value, ctx) == {
        "plain": "no {template}",
        "k": ["x", 3, {"deep": "X"}],
        "_id": {"$oid": "5f1d8e1b9f1b9c0c8c8b4567"},
    }


def test_compiled_value_gives_fresh_copies() -> None:
    compiled = compile_value({"a": ["{{ x }}"], "b": [1]})
    first = compiled.render({"x": 1})
    first["b"].append(2)
    assert compiled.render({"x": 2}) == {"a": ["2"], "b": [1]}


def test_compile_value_reports_syntax_errors_at_compile_time() -> None:
    with pytest.raises(ExpressionError, match="incomplete"):
        compile_value({"a": ["{{ x + }}"]})
