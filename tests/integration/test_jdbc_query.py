"""JDBC ``Query`` / ``Queries`` against the real PostgreSQL and MariaDB, in flows run by the
engine, and ``kflow produce orders --to postgres://... | mysql://...``.

Every test works on tables of its own (``unique_name``) and drops them.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg2
import pymysql
import pytest
from typer.testing import CliRunner

from kflow.cli.app import app
from kflow.connectors.jdbc import (
    ConnectionConfig,
    JdbcError,
    close_jdbc_pools,
    parse_jdbc_url,
    run_blocking,
)
from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.expr.ion import from_ion
from kflow.flow import load_flow_text
from kflow.run.connections import close_connections
from kflow.storage import LocalStorage
from testkit.stack import mysql_address, postgres_address, restart
from testkit.waiting import wait_until

PG_URL = "jdbc:postgresql://{host}:{port}/kflow"
MY_URL = "jdbc:mariadb://{host}:{port}/kflow"
PG_TYPE = "io.kestra.plugin.jdbc.postgresql"
MY_TYPE = "io.kestra.plugin.jdbc.mysql"
cli = CliRunner()


def pg_url(extra: str = "") -> str:
    host, port = postgres_address()
    return PG_URL.format(host=host, port=port) + extra


def my_url() -> str:
    host, port = mysql_address()
    return MY_URL.format(host=host, port=port)


def flow_of(tasks: str) -> Any:
    text = "id: jdbc_flow\nnamespace: kflow.tests\ntasks:\n" + textwrap.indent(
        textwrap.dedent(tasks), "  "
    )
    result = load_flow_text(text)
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    return result.flow


def run_many(tasks: str, values: list[Any]) -> list[Execution]:
    """One execution per trigger value, all at once, in one run (shared pools)."""
    flow = flow_of(tasks)

    async def main() -> list[Execution]:
        runner = FlowRunner(flow)
        try:
            return list(
                await asyncio.gather(*(runner.execute(TriggerRecord(value=v)) for v in values))
            )
        finally:
            await runner.close()

    try:
        return asyncio.run(main())
    finally:
        close_connections()


def run_one(tasks: str, value: Any = None) -> Execution:
    return run_many(tasks, [value])[0]


def outputs(ex: Execution, task_id: str = "q") -> dict[str, Any]:
    assert ex.state.value == "SUCCESS", ex.error
    return dict(ex.outputs[task_id])


def pg_task(sql: str, extra: str = "", task_id: str = "q", kind: str = "Query") -> str:
    return f"""
- id: {task_id}
  type: {PG_TYPE}.{kind}
  url: {pg_url()}
  username: kflow
  password: kflow
  sql: {json.dumps(sql)}
{textwrap.indent(textwrap.dedent(extra), "  ")}"""


def my_task(sql: str, extra: str = "", task_id: str = "q", kind: str = "Query") -> str:
    return f"""
- id: {task_id}
  type: {MY_TYPE}.{kind}
  url: {my_url()}
  username: kflow
  password: kflow
  sql: {json.dumps(sql)}
{textwrap.indent(textwrap.dedent(extra), "  ")}"""


@dataclass
class Db:
    """A test's own connection and the tables it made (dropped at the end)."""

    connection: Any
    tables: list[str] = field(default_factory=list)


@pytest.fixture
def pg(postgres_dsn: str) -> Iterator[Db]:
    connection = psycopg2.connect(postgres_dsn)
    connection.autocommit = True
    db = Db(connection)
    yield db
    with connection.cursor() as cursor:
        for name in db.tables:
            cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
    connection.close()


@pytest.fixture
def my(mysql_dsn: str) -> Iterator[Db]:
    host, port = mysql_address()
    connection = pymysql.connect(
        host=host, port=port, user="kflow", password="kflow", database="kflow", autocommit=True
    )
    db = Db(connection)
    yield db
    with connection.cursor() as cursor:
        for name in db.tables:
            cursor.execute(f"DROP TABLE IF EXISTS `{name}`")
    connection.close()


def sql(db: Db, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    with db.connection.cursor() as cursor:
        cursor.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []


def table(db: Db, unique_name: Callable[[str], str], ddl: str) -> str:
    name = unique_name("tbl")
    db.tables.append(name)
    sql(db, ddl.format(t=name))
    return name


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalStorage:
    monkeypatch.setenv("KFLOW_STORAGE_DIR", str(tmp_path / "storage"))
    return LocalStorage(tmp_path / "storage")


# --------------------------------------------------------------------------- fetch types


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_each_fetch_type_gives_kestras_outputs(
    dialect: str,
    pg: Db,
    my: Db,
    unique_name: Callable[[str], str],
    storage: LocalStorage,
) -> None:
    connection, task = (pg, pg_task) if dialect == "postgres" else (my, my_task)
    name = table(connection, unique_name, "CREATE TABLE {t} (id INT PRIMARY KEY, label TEXT)")
    sql(connection, f"INSERT INTO {name} VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    select = f"SELECT id, label FROM {name} ORDER BY id"
    ex = run_one(
        task(select, "fetchType: FETCH_ONE", "one")
        + task(select, "fetchType: FETCH", "all")
        + task(select, "fetchType: STORE\nfetchSize: 2", "stored")
        + task(select, "", "none")
        + task(f"SELECT id FROM {name} WHERE id > 99", "fetchType: FETCH_ONE", "empty")
        + task(f"UPDATE {name} SET label = 'uno' WHERE id = 1", "fetchType: FETCH", "update")
    )
    assert outputs(ex, "one") == {"row": {"id": 1, "label": "one"}, "size": 1}
    assert outputs(ex, "all") == {
        "row": None,
        "rows": [
            {"id": 1, "label": "one"},
            {"id": 2, "label": "two"},
            {"id": 3, "label": "three"},
        ],
        "size": 3,
    }
    stored = outputs(ex, "stored")
    assert stored["size"] == 3
    assert [from_ion(line) for line in storage.read_text(stored["uri"]).splitlines()] == [
        {"id": 1, "label": "one"},
        {"id": 2, "label": "two"},
        {"id": 3, "label": "three"},
    ]
    assert outputs(ex, "none") == {"row": None}
    assert outputs(ex, "empty") == {"row": None, "size": 0}
    assert outputs(ex, "update") == {"row": None}
    assert sql(connection, f"SELECT label FROM {name} WHERE id = 1") == [("uno",)]


# --------------------------------------------------------------------------- binding

NASTY = "O'Brien'); DROP TABLE x; --"


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_event_values_and_named_parameters_are_bound_so_quotes_stay_data(
    dialect: str, pg: Db, my: Db, unique_name: Callable[[str], str]
) -> None:
    connection, task = (pg, pg_task) if dialect == "postgres" else (my, my_task)
    name = table(
        connection, unique_name, "CREATE TABLE {t} (id INT PRIMARY KEY, name TEXT, note TEXT)"
    )
    insert = (
        f"INSERT INTO {name} (id, name, note) VALUES ({{{{ trigger.value.id }}}}, "
        "{{ trigger.value.name }}, 'note: {{ trigger.value.name }} 100%')"
    )
    named = f"SELECT name, :tag AS tag FROM {name} WHERE name = :name AND id = :id"
    params = """
        fetchType: FETCH_ONE
        parameters:
          name: "{{ trigger.value.name }}"
          id: "{{ trigger.value.id }}"
          tag: "it's {{ trigger.value.id }}"
    """
    ex = run_one(task(insert, "", "ins") + task(named, params), {"id": 7, "name": NASTY})
    assert outputs(ex) == {"row": {"name": NASTY, "tag": "it's 7"}, "size": 1}
    assert sql(connection, f"SELECT id, name, note FROM {name}") == [
        (7, NASTY, f"note: {NASTY} 100%")
    ]


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_queries_run_several_statements_in_one_transaction(
    dialect: str, pg: Db, my: Db, unique_name: Callable[[str], str]
) -> None:
    db, task = (pg, pg_task) if dialect == "postgres" else (my, my_task)
    name = table(db, unique_name, "CREATE TABLE {t} (id INT PRIMARY KEY)")
    good = f"INSERT INTO {name} VALUES ({{{{ trigger.value }}}}); SELECT count(*) AS n FROM {name}"
    ex = run_one(task(good, "fetchType: FETCH_ONE", kind="Queries"), 1)
    assert outputs(ex) == {"outputs": [{"row": {"n": 1}, "size": 1}]}
    bad = f"INSERT INTO {name} VALUES (2); INSERT INTO {name} VALUES (1)"
    failed = run_one(task(bad, kind="Queries"))
    assert failed.state.value == "FAILED"
    assert sql(db, f"SELECT id FROM {name}") == [(1,)]  # the first insert was rolled back


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_after_sql_runs_in_the_same_transaction(
    dialect: str, pg: Db, my: Db, unique_name: Callable[[str], str]
) -> None:
    db, task = (pg, pg_task) if dialect == "postgres" else (my, my_task)
    name = table(db, unique_name, "CREATE TABLE {t} (id INT PRIMARY KEY, done INT)")
    sql(db, f"INSERT INTO {name} VALUES (1, 0), (2, 0)")
    marks = f"fetchType: FETCH\nafterSQL: UPDATE {name} SET done = 1 WHERE done = 0"
    ex = run_one(task(f"SELECT id FROM {name} WHERE done = 0 ORDER BY id", marks))
    assert outputs(ex)["rows"] == [{"id": 1}, {"id": 2}]
    assert sql(db, f"SELECT count(*) FROM {name} WHERE done = 1") == [(2,)]
    failing = f"afterSQL: UPDATE {name} SET nope = 1"
    ex = run_one(task(f"INSERT INTO {name} VALUES (3, 0)", failing))
    assert ex.state.value == "FAILED"
    assert sql(db, f"SELECT count(*) FROM {name}") == [(2,)]  # the insert was rolled back


# --------------------------------------------------------------------------- types


def test_postgres_types_come_out_as_kestras_converter_gives_them(
    pg: Db, unique_name: Callable[[str], str]
) -> None:
    name = table(
        pg,
        unique_name,
        """CREATE TABLE {t} (
            i int, b bigint, s smallint, f float8, r real, n numeric, ok boolean, c char(4),
            d date, tm time, tz timetz, ts timestamp, tstz timestamptz, iv interval,
            arr int[], txt text[][], j json, jb jsonb, u uuid, by bytea
        )""",
    )
    sql(
        pg,
        f"""INSERT INTO {name} VALUES (
            1, 9223372036854775807, 32767, 1.5, 2.5, 2147483645.1234, true, 'four',
            '2030-12-25', '04:05:30', '04:05:06 PST', '2004-10-19 10:23:54.999999',
            '2004-10-19 10:23:54.250+04', '10 years 4 months 5 days 10 seconds',
            '{{100,200,300}}', '{{{{meeting,lunch}},{{training,presentation}}}}',
            '{{"color":"red"}}', '{{"color":"blue","n":[1]}}',
            'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\xDEADBEEF'
        )""",
    )
    ex = run_one(pg_task(f"SELECT * FROM {name}", "fetchType: FETCH_ONE\ntimeZoneId: Europe/Paris"))
    paris = ZoneInfo("Europe/Paris")
    assert outputs(ex)["row"] == {
        "i": 1,
        "b": 9223372036854775807,
        "s": 32767,
        "f": 1.5,
        "r": 2.5,
        "n": Decimal("2147483645.1234"),
        "ok": True,
        "c": "four",
        "d": date(2030, 12, 25),
        "tm": time(4, 5, 30),
        "tz": time(13, 5, 6),
        "ts": datetime(2004, 10, 19, 10, 23, 54, 999999),
        "tstz": datetime(2004, 10, 19, 8, 23, 54, 250000, tzinfo=paris),
        "iv": "P10Y4M5DT0H0M10S",
        "arr": [100, 200, 300],
        "txt": [["meeting", "lunch"], ["training", "presentation"]],
        "j": {"color": "red"},
        "jb": {"color": "blue", "n": [1]},
        "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "by": b"\xde\xad\xbe\xef",
    }


def test_mysql_types_come_out_as_kestras_converter_gives_them(
    my: Db, unique_name: Callable[[str], str]
) -> None:
    name = table(
        my,
        unique_name,
        """CREATE TABLE {t} (
            i INT, b BIGINT, t TINYINT, f FLOAT, d DOUBLE, n DECIMAL(5,2), ch CHAR(4),
            dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME, y YEAR, bit1 BIT(6),
            j JSON, bl BLOB, e ENUM('a','b')
        )""",
    )
    sql(my, "SET time_zone = '+00:00'")
    sql(
        my,
        f"""INSERT INTO {name} VALUES (
            1, -9223372036854775808, 1, 1.5, 2147483645.1234, 5.36, 'four', '2030-12-25',
            '2050-12-31 22:59:57.150150', '2004-10-19 10:23:54.999999', '04:05:30', 2025,
            b'000101', '{{"color": "red"}}', x'DEADBEEF', 'b'
        )""",
    )
    ex = run_one(my_task(f"SELECT * FROM {name}", "fetchType: FETCH_ONE"))
    row = outputs(ex)["row"]
    assert row == {
        "i": 1,
        "b": -9223372036854775808,
        "t": 1,
        "f": 1.5,
        "d": 2147483645.1234,
        "n": Decimal("5.36"),
        "ch": "four",
        "dt": date(2030, 12, 25),
        "dtm": datetime(2050, 12, 31, 22, 59, 57, 150150),
        "ts": row["ts"],
        "tm": time(4, 5, 30),
        "y": date(2025, 1, 1),
        "bit1": b"\x05",
        "j": '{"color": "red"}',
        "bl": b"\xde\xad\xbe\xef",
        "e": "b",
    }
    assert row["ts"].tzinfo is UTC  # an instant, as Kestra's converter gives it


def test_values_bound_into_typed_columns_round_trip(
    pg: Db, my: Db, unique_name: Callable[[str], str]
) -> None:
    ddl = "CREATE TABLE {t} (id INT, price NUMERIC(10,2), seen DATE, tags TEXT)"
    pg_name, my_name = table(pg, unique_name, ddl), table(my, unique_name, ddl)
    value = {"id": "42", "price": "19.99", "seen": "2024-04-21", "tags": {"a": [1, "x"]}}
    insert = (
        "INSERT INTO {t} VALUES ({{{{ trigger.value.id }}}}, {{{{ trigger.value.price }}}}, "
        "{{{{ trigger.value.seen }}}}, {{{{ trigger.value.tags }}}})"
    )
    select = "SELECT * FROM {t}"
    ex = run_one(
        pg_task(insert.format(t=pg_name), "", "pi")
        + pg_task(select.format(t=pg_name), "fetchType: FETCH_ONE", "ps")
        + my_task(insert.format(t=my_name), "", "mi")
        + my_task(select.format(t=my_name), "fetchType: FETCH_ONE", "ms"),
        value,
    )
    expected = {
        "id": 42,
        "price": Decimal("19.99"),
        "seen": date(2024, 4, 21),
        "tags": '{"a": [1, "x"]}',
    }
    assert outputs(ex, "ps")["row"] == expected
    assert outputs(ex, "ms")["row"] == expected


# --------------------------------------------------------------------------- errors


RETRY = "retry:\n  type: constant\n  interval: PT0.2S\n  maxAttempts: 10\n"


def config_of(jdbc_url: str, password: str = "kflow") -> ConnectionConfig:
    return ConnectionConfig(parse_jdbc_url(jdbc_url), "kflow", password)


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_a_sql_error_fails_with_one_line_naming_the_database_and_is_not_retryable(
    dialect: str, pg: Db, my: Db
) -> None:
    task = pg_task if dialect == "postgres" else my_task
    ex = run_one(task("SELECT * FROM no_such_table_xyz"))
    assert ex.state.value == "FAILED"
    # (the password of the test servers, kflow, is also the database name: both are masked)
    if dialect == "postgres":
        assert str(ex.error) == (
            "task q: PostgreSQL at 127.0.0.1:5432/*** rejected the SQL: "
            'relation "no_such_table_xyz" does not exist (SQLSTATE 42P01)'
        )
    else:
        assert str(ex.error) == (
            "task q: MariaDB at 127.0.0.1:3306/*** rejected the SQL: "
            "Table '***.no_such_table_xyz' doesn't exist (error 1146)"
        )
    config = config_of(pg_url() if dialect == "postgres" else my_url())
    try:
        with pytest.raises(JdbcError) as caught:
            run_blocking(config, lambda c: c.cursor().execute("SELECT * FROM no_such_table_xyz"))
        assert caught.value.retryable is False
        assert run_blocking(config, lambda c: _one(c, "SELECT 2")) == 2  # the connection is fine
    finally:
        close_jdbc_pools()


def _one(connection: Any, statement: str) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchone()[0]


def test_wrong_credentials_are_one_line_without_the_password(pg: Db, my: Db) -> None:
    secret = "n0t-the-Passw0rd"
    for task, service, port in ((my_task, "MariaDB", 3306), (pg_task, "PostgreSQL", 5432)):
        ex = run_one(task("SELECT 1").replace("password: kflow", f"password: {secret}"))
        assert ex.state.value == "FAILED"
        error = str(ex.error)
        assert error.startswith(f"task q: {service} at 127.0.0.1:{port} refused the credentials")
        assert "kflow" in error and secret not in error and "\n" not in error
    config = config_of(pg_url(), secret)
    with pytest.raises(JdbcError) as caught:
        run_blocking(config, lambda c: None)
    close_jdbc_pools()
    assert caught.value.retryable is False
    assert str(caught.value) == (
        "PostgreSQL at 127.0.0.1:5432 refused the credentials of user 'kflow': "
        'password authentication failed for user "kflow"'
    )


def test_a_refused_connection_is_retryable_and_names_the_address() -> None:
    ex = run_one(pg_task("SELECT 1").replace(pg_url(), "jdbc:postgresql://127.0.0.1:1/kflow"))
    assert ex.state.value == "FAILED"
    error = str(ex.error)
    assert error.startswith("task q: cannot reach PostgreSQL at 127.0.0.1:1: ")
    assert "Connection refused" in error and "\n" not in error
    ex = run_one(my_task("SELECT 1").replace(my_url(), "jdbc:mysql://127.0.0.1:1/kflow"))
    assert str(ex.error).startswith("task q: cannot reach MySQL at 127.0.0.1:1: ")
    for url in ("jdbc:postgresql://127.0.0.1:1/kflow", "jdbc:mysql://127.0.0.1:1/kflow"):
        with pytest.raises(JdbcError) as caught:
            run_blocking(config_of(url), lambda c: None)
        assert caught.value.retryable is True
        assert caught.value.address == "127.0.0.1:1"
    close_jdbc_pools()


@pytest.mark.parametrize(("dialect", "service"), [("postgres", "postgres"), ("mysql", "mariadb")])
def test_after_a_server_restart_the_pool_drops_dead_connections_and_a_retry_succeeds(
    dialect: str, service: str, pg: Db, my: Db
) -> None:
    task = pg_task if dialect == "postgres" else my_task
    flow = flow_of(task("SELECT {{ trigger.value }} AS n", "fetchType: FETCH_ONE\n" + RETRY))

    async def main() -> list[Execution]:
        runner = FlowRunner(flow)
        try:
            before = await asyncio.gather(
                *(runner.execute(TriggerRecord(value=i)) for i in range(4))
            )
            await asyncio.to_thread(restart, service)
            after = await asyncio.gather(
                *(runner.execute(TriggerRecord(value=i)) for i in range(4))
            )
            return [*before, *after]
        finally:
            await runner.close()

    try:
        executions = asyncio.run(main())
    finally:
        close_connections()
    assert [outputs(ex)["row"]["n"] for ex in executions] == [0, 1, 2, 3, 0, 1, 2, 3]
    # A dead connection fails one attempt (retryable) and is never handed out again.
    assert all(ex.task_runs[0].attempts <= 2 for ex in executions)


# --------------------------------------------------------------------------- pools


def _server_connections(pg: Db, application: str) -> int:
    rows = sql(
        pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application,)
    )
    return int(rows[0][0])


def test_one_pool_serves_every_execution_and_task_of_a_run_and_closes_at_the_end(
    pg: Db, unique_name: Callable[[str], str]
) -> None:
    application = unique_name("app")
    url = pg_url(f"?ApplicationName={application}")
    tasks = (
        pg_task("SELECT pg_sleep(0.05), {{ trigger.value }} AS n", "fetchType: FETCH_ONE", "a")
        + pg_task(
            f"SELECT count(*) AS c FROM pg_stat_activity WHERE application_name = '{application}'",
            "fetchType: FETCH_ONE",
            "b",
        )
    ).replace(pg_url(), url)
    flow = flow_of(tasks)
    seen: list[int] = []

    async def main() -> list[Execution]:
        runner = FlowRunner(flow, threads=32)
        try:
            first = await asyncio.gather(
                *(runner.execute(TriggerRecord(value=i)) for i in range(30))
            )
            seen.append(_server_connections(pg, application))
            second = await asyncio.gather(
                *(runner.execute(TriggerRecord(value=i)) for i in range(30))
            )
            seen.append(_server_connections(pg, application))
            return [*first, *second]
        finally:
            await runner.close()

    try:
        executions = asyncio.run(main())
    finally:
        close_connections()
    assert [outputs(ex, "a")["row"]["n"] for ex in executions] == [*range(30), *range(30)]
    assert all(1 <= outputs(ex, "b")["row"]["c"] <= 10 for ex in executions)
    # 60 executions of two tasks: at most the pool's 10 connections, kept between them.
    assert 1 <= seen[0] <= 10
    assert seen[1] == seen[0]
    wait_until(
        lambda: _server_connections(pg, application),
        lambda count: count == 0,
        timeout=10,
        what="the pool's connections to be closed",
    )


# --------------------------------------------------------------------------- produce


def produce(*args: str) -> str:
    result = cli.invoke(app, ["produce", "orders", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_produce_orders_into_a_table_upserts_by_order_id(
    dialect: str, pg: Db, my: Db, unique_name: Callable[[str], str]
) -> None:
    connection = pg if dialect == "postgres" else my
    name = unique_name("orders")
    connection.tables.append(name)
    if dialect == "postgres":
        host, port = postgres_address()
        url = f"postgres://kflow:kflow@{host}:{port}/kflow?table={name}"
        service = "PostgreSQL"
    else:
        host, port = mysql_address()
        url = f"mysql://kflow:kflow@{host}:{port}/kflow?table={name}"
        service = "MySQL"
    out = produce("--to", url, "--rate", "0")
    assert out.startswith(
        f"sent 100, acknowledged 100, failed 0 to table {name} of {service} "
        f"{host}:{port}/kflow (upsert on order_id)"
    )
    rows = sql(connection, f"SELECT count(*), sum(total) FROM {name}")
    assert rows == [(100, Decimal("51073.75"))]
    sql(connection, f"UPDATE {name} SET customer_name = 'changed' WHERE order_id <= 3")
    out = produce("--to", url, "--rate", "20", "--count", "3")
    assert out.startswith("sent 3, acknowledged 3, failed 0")
    assert sql(connection, f"SELECT count(*) FROM {name}") == [(100,)]
    names = sql(connection, f"SELECT customer_name FROM {name} WHERE order_id <= 3 ORDER BY 1")
    assert names == [("Angela Thomas",), ("Christopher Schroeder",), ("Michael Rodriguez",)]


def test_produce_to_an_unreachable_database_is_one_line() -> None:
    result = cli.invoke(
        app, ["produce", "orders", "--to", "postgres://kflow:pw@127.0.0.1:1/kflow?table=t"]
    )
    assert result.exit_code != 0
    assert "cannot reach PostgreSQL at 127.0.0.1:1" in str(result.exception or result.output)
