"""SQL templates: values are bound parameters, names fixed for the run are printed once,
and what could only be pasted is refused with its line and column."""

from __future__ import annotations

from typing import Any

import pytest

from kflow.errors import ExpressionError
from kflow.plugins.jdbc_sql import check_sql, compile_sql, named_placeholders

CTX: dict[str, Any] = {
    "trigger": {"value": {"id": "20", "name": "O'Brien; DROP TABLE t --", "qty": 3}},
    "vars": {"table": "orders", "schema": "shop"},
    "outputs": {"q": {"row": {"n": 7}}},
    "envs": {},
    "flow": {"id": "f"},
}


def one(sql: str, dialect: Any = "postgres", names: Any = None) -> tuple[str, list[Any] | None]:
    statements = compile_sql(sql, dialect, CTX, names)
    assert len(statements) == 1
    return statements[0].query, statements[0].params(CTX, {"id": 5, "name": "x'y"})


def messages(sql: str, dialect: Any = "postgres", names: Any = None) -> list[str]:
    problems, _count = check_sql(sql, dialect, names)
    return [f"{p.line}:{p.column} {p.message}" for p in problems]


def test_an_expression_after_a_comparison_is_a_bound_parameter_with_its_native_value() -> None:
    query, params = one("SELECT * FROM t WHERE qty = {{ trigger.value.qty }}")
    assert query == "SELECT * FROM t WHERE qty = %s"
    assert params == [3]


def test_a_value_with_quotes_and_semicolons_stays_data() -> None:
    query, params = one("SELECT * FROM t WHERE name = {{ trigger.value.name }}")
    assert query == "SELECT * FROM t WHERE name = %s"
    assert params == ["O'Brien; DROP TABLE t --"]


def test_an_expression_inside_a_string_literal_binds_the_whole_literal() -> None:
    query, params = one("SELECT 'order-{{ trigger.value.id }}-x' AS label, 'plain' AS p")
    assert query == "SELECT %s AS label, 'plain' AS p"
    assert params == ["order-20-x"]


def test_values_lists_and_function_calls_in_value_positions_are_bound() -> None:
    query, params = one(
        "INSERT INTO t (a, b, c) VALUES ({{ trigger.value.id }}, lower({{ trigger.value.name }}),"
        " {{ outputs.q.row.n }})"
    )
    assert query == "INSERT INTO t (a, b, c) VALUES (%s, lower(%s), %s)"
    assert params == ["20", "O'Brien; DROP TABLE t --", 7]


def test_names_fixed_for_the_run_are_printed_once_and_per_event_names_are_refused() -> None:
    query, params = one("SELECT * FROM {{ vars.schema }}.{{ vars.table }} WHERE id = 1")
    assert query == "SELECT * FROM shop.orders WHERE id = 1"
    assert params is None
    assert messages("SELECT * FROM {{ trigger.value.table }}") == [
        "1:15 the expression `{{ trigger.value.table }}` stands where SQL expects a name or "
        "keyword (after FROM); it reads per-execution values, which are bound, never pasted "
        "into the SQL: write the name in the query, or read it from vars, inputs or envs"
    ]


def test_control_tags_and_glued_expressions_are_refused() -> None:
    found = messages("{% if trigger.value %}SELECT 1{% endif %}")
    assert found[0].startswith("1:1 control tags ({% ... %}) cannot be used in sql")
    assert messages("SELECT * FROM t WHERE id = x{{ trigger.value.id }}") == [
        "1:29 the expression `{{ trigger.value.id }}` is glued to other characters; only a "
        "whole value can be bound"
    ]
    with pytest.raises(ExpressionError, match=r"glued .* \(sql line 1, column 29\)"):
        compile_sql("SELECT * FROM t WHERE id = x{{ trigger.value.id }}", "postgres", CTX)


def test_named_parameters_are_bound_and_casts_times_and_literals_are_left_alone() -> None:
    query, params = one(
        "SELECT :id::int AS a, '10:30 :name' AS t, x::text FROM t WHERE n = :name AND m = :other",
        names=["id", "name"],
    )
    assert query == (
        "SELECT %s::int AS a, '10:30 :name' AS t, x::text FROM t WHERE n = %s AND m = :other"
    )
    assert params == [5, "x'y"]
    assert named_placeholders("SELECT :a, ':b', x::int /* :c */ , :d", "postgres") == ["a", "d"]


def test_percent_is_doubled_only_when_parameters_are_sent() -> None:
    assert one("SELECT 'a%' LIKE 'a%%'")[0] == "SELECT 'a%' LIKE 'a%%'"
    query, _ = one("SELECT 5 % 2, 'a%' WHERE x = {{ trigger.value.id }}")
    assert query == "SELECT 5 %% 2, 'a%%' WHERE x = %s"


def test_statements_are_split_at_top_level_semicolons_only() -> None:
    statements = compile_sql("SELECT ';'; SELECT $$ ; $$ ; -- done;\n", "postgres", CTX)
    assert [s.query for s in statements] == ["SELECT ';'", "SELECT $$ ; $$"]
    assert check_sql("SELECT 1;", "postgres")[1] == 1
    assert check_sql("SELECT 1; SELECT 2", "mysql")[1] == 2


def test_postgres_dollar_quotes_and_quoted_identifiers_are_not_values() -> None:
    assert messages('SELECT "{{ trigger.value.id }}" FROM t')[0].startswith(
        "1:9 the expression `{{ trigger.value.id }}` is inside a quoted identifier"
    )
    assert messages("SELECT $$ {{ trigger.value.id }} $$")[0].startswith(
        "1:11 the expression `{{ trigger.value.id }}` is inside a dollar-quoted string"
    )
    assert one('SELECT "{{ vars.table }}".id FROM t')[0] == 'SELECT "orders".id FROM t'


def test_postgres_escape_strings_keep_their_backslashes_and_refuse_expressions() -> None:
    assert one("SELECT E'a\\'b', 'c\\'")[0] == "SELECT E'a\\'b', 'c\\'"
    assert messages("SELECT E'{{ trigger.value.id }}'")[0].startswith(
        "1:32 an expression inside a E'...' literal cannot be bound"
    )


def test_mysql_strings_backslashes_double_quotes_backticks_and_hash_comments() -> None:
    query, params = one(
        'SELECT `id`, "it\\\'s {{ trigger.value.id }}" AS a # {{ vars.table }}\n'
        "FROM t WHERE b = 'x\\n{{ trigger.value.qty }}'",
        "mysql",
    )
    assert query == "SELECT `id`, %s AS a # orders\nFROM t WHERE b = %s"
    assert params == ["it's 20", "x\n3"]


def test_an_undefined_name_is_reported_with_its_expression() -> None:
    statement = compile_sql("SELECT {{ trigger.value.nope }} + 1", "postgres", CTX)[0]
    with pytest.raises(ExpressionError, match=r"`{{ trigger.value.nope }}`"):
        statement.params(CTX)


def test_select_lists_bind_event_values_and_print_run_wide_names() -> None:
    query, params = one("SELECT {{ trigger.value.id }} AS id, {{ vars.table }}, (SELECT 1) FROM t")
    assert query == "SELECT %s AS id, orders, (SELECT 1) FROM t"
    assert params == ["20"]
    assert messages("SELECT a FROM t ORDER BY {{ trigger.value.id }}")[0].startswith(
        "1:26 the expression `{{ trigger.value.id }}` stands where SQL expects a name"
    )


def test_parameters_known_only_per_execution_make_every_name_a_placeholder() -> None:
    from kflow.errors import TaskError
    from kflow.plugins.jdbc_sql import ALL_NAMES

    statement = compile_sql("SELECT :a, x::int, ':b' WHERE c = :c", "postgres", CTX, ALL_NAMES)[0]
    assert statement.query == "SELECT %s, x::int, ':b' WHERE c = %s"
    assert statement.params(CTX, {"a": 1, "c": None}) == [1, None]
    with pytest.raises(TaskError, match="sql uses :c but parameters has no 'c'"):
        statement.params(CTX, {"a": 1})
