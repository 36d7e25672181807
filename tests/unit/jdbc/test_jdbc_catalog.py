"""The JDBC types validate as Kestra's, with located errors for what kflow refuses."""

from __future__ import annotations

import textwrap

from kflow.flow import Flow, load_flow_text

HEAD = """
id: f
namespace: dev
tasks:
  - id: q
"""


def task(body: str) -> str:
    return HEAD + textwrap.indent(textwrap.dedent(body), "    ")


def load(yaml: str) -> Flow:
    result = load_flow_text(textwrap.dedent(yaml), "flow.yaml")
    assert [d.format() for d in result.errors] == []
    assert result.flow is not None
    return result.flow


def problems(yaml: str) -> list[str]:
    result = load_flow_text(textwrap.dedent(yaml), "flow.yaml")
    return [d.format().removeprefix("flow.yaml:") for d in result.diagnostics]


PG = "type: io.kestra.plugin.jdbc.postgresql.Query\nurl: jdbc:postgresql://h:5432/db\n"
MY = "type: io.kestra.plugin.jdbc.mysql.Query\nurl: jdbc:mysql://h:3306/db\n"


def test_defaults_are_kestras_and_the_runner_is_set() -> None:
    flow = load(task(PG + "sql: SELECT 1\n"))
    props = flow.tasks[0].props
    assert props["fetchType"] == "NONE"
    assert props["fetchSize"] == 10000
    assert props["ssl"] is False
    assert props["autoCommit"] is True
    assert flow.tasks[0].spec.runner == "kflow.plugins.jdbc_query:PostgresQuery"


def test_a_url_of_the_wrong_database_is_a_located_error() -> None:
    assert problems(task(MY.replace("mysql://", "postgresql://") + "sql: SELECT 1\n")) == [
        "7:10 tasks.q.url: expected a jdbc:mysql:// or jdbc:mariadb:// URL, got 'jdbc:postgresql:'"
    ]
    assert problems(task(PG.replace("jdbc:postgresql", "jdbc:mysql") + "sql: SELECT 1\n")) == [
        "7:10 tasks.q.url: expected a jdbc:postgresql:// URL, got 'jdbc:mysql:'"
    ]
    assert problems(task(MY.replace("jdbc:mysql", "jdbc:mariadb") + "sql: SELECT 1\n")) == []


def test_fetch_type_values_and_templated_properties() -> None:
    assert problems(task(PG + "sql: SELECT 1\nfetchType: FETCH_ALL\n")) == [
        "9:16 tasks.q.fetchType: 'FETCH_ALL' is not allowed; expected one of "
        "NONE, FETCH_ONE, FETCH, STORE"
    ]
    flow = load(
        task(
            "type: io.kestra.plugin.jdbc.postgresql.Query\n"
            'url: "{{ envs.pg_url }}"\n'
            "sql: SELECT 1\n"
            'fetchType: "{{ inputs.mode }}"\n'
            'fetchSize: "{{ vars.n }}"\n'
            'ssl: "{{ vars.tls }}"\n'
        )
    )
    assert flow.tasks[0].props["fetchType"] == "{{ inputs.mode }}"


def test_deprecated_booleans_warn_and_win_in_kestras_order() -> None:
    flow = load(task(PG + "sql: SELECT 1\nfetchOne: true\nstore: true\n"))
    assert flow.tasks[0].props["fetchType"] == "FETCH_ONE"
    found = problems(task(PG + "sql: SELECT 1\nfetch: true\n"))
    assert found == ["9:5 tasks.q.fetch: warning: 'fetch' is deprecated: use fetchType: FETCH"]


def test_sql_that_would_paste_an_event_value_and_several_statements_are_errors() -> None:
    found = problems(task(PG + 'sql: "SELECT * FROM {{ trigger.value }}; SELECT 2"\n'))
    assert found == [
        "8:10 tasks.q.sql: Query runs a single SQL statement; use Queries to run several",
        "8:10 tasks.q.sql: the expression `{{ trigger.value }}` stands where SQL expects a "
        "name or keyword (after FROM); it reads per-execution values, which are bound, never "
        "pasted into the SQL: write the name in the query, or read it from vars, inputs or "
        "envs (sql line 1, column 15)",
    ]
    queries = PG.replace(".Query", ".Queries")
    assert problems(task(queries + "sql: SELECT 1; SELECT 2\n")) == []


def test_parameters_must_be_a_map_and_unknown_placeholders_warn() -> None:
    found = problems(task(PG + "sql: SELECT :a, :b\nparameters:\n  a: 1\n"))
    assert found == [
        "8:10 tasks.q.sql: warning: :b is not a key of parameters; "
        "it is sent to the server as written"
    ]
    assert problems(task(PG + "sql: SELECT 1\nparameters: [1]\n")) == [
        "9:17 tasks.q.parameters: parameters must be a map of :name to value"
    ]


def test_mysql_input_file_is_refused_and_declared_types_validate() -> None:
    assert problems(task(MY + "sql: SELECT 1\ninputFile: x\n")) == [
        "9:16 tasks.q.inputFile: inputFile (LOAD DATA LOCAL INFILE) is not supported yet by kflow"
    ]
    copy = (
        "type: io.kestra.plugin.jdbc.postgresql.CopyOut\n"
        "url: jdbc:postgresql://h/db\n"
        "table: orders\nformat: CSV\nheader: true\n"
    )
    flow = load(task(copy))
    assert flow.tasks[0].spec.runner is None
