"""JDBC ``Query`` and ``Queries`` for PostgreSQL (``io.kestra.plugin.jdbc.postgresql.*``) and
MySQL / MariaDB (``io.kestra.plugin.jdbc.mysql.*``).

Unlike Kestra, values never become SQL text: ``{{ }}`` in a value position and
``:name`` placeholders of ``parameters`` are parameters the driver binds (see
``jdbc_sql``). Connections come from one pool per connection config, shared by every
execution of the run (``kflow.connectors.jdbc``); statements run on the engine's worker
threads, at most the pool's size at once per task.

Outputs as Kestra's: ``row`` (FETCH_ONE, null when there is no row), ``rows``
(FETCH), ``uri`` (STORE: an Ion file of the rows in the internal storage) and ``size``;
a statement that returns no rows (an INSERT) gives only ``row: null``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Any

from kflow.connectors.jdbc import (
    ConnectionConfig,
    PostgresTls,
    jdbc_errors,
    jdbc_pool,
    parse_jdbc_url,
)
from kflow.engine.task import TaskContext, TaskRunner
from kflow.errors import TaskError
from kflow.expr import compile_template, is_templated
from kflow.expr.printing import to_text
from kflow.flow.model import TaskDef
from kflow.flow.properties import is_template_text
from kflow.plugins.jdbc_sql import ALL_NAMES, Dialect, SqlStatement, compile_sql
from kflow.plugins.jdbc_values import mysql_cell, postgres_cell, stored_value, zone_of
from kflow.plugins.templating import is_static

FETCH_TYPES = ("NONE", "FETCH_ONE", "FETCH", "STORE")

_CONNECTION_KEYS = (
    "url",
    "username",
    "password",
    "ssl",
    "sslMode",
    "sslRootCert",
    "sslCert",
    "sslKey",
    "sslKeyPassword",
    "timeZoneId",
)
_CURSOR_STATEMENTS = ("SELECT", "WITH", "VALUES", "TABLE")


class _Native:
    """A property value whose templated strings are evaluated to native values."""

    __slots__ = ("_compiled",)

    def __init__(self, value: Any) -> None:
        self._compiled = _compile_native(value)

    def render(self, ctx: Mapping[str, Any]) -> Any:
        return _render_native(self._compiled, ctx)


def _compile_native(value: Any) -> Any:
    if isinstance(value, str):
        return compile_template(value) if is_templated(value) else value
    if isinstance(value, Mapping):
        return {k: _compile_native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_compile_native(v) for v in value]
    return value


def _render_native(compiled: Any, ctx: Mapping[str, Any]) -> Any:
    if hasattr(compiled, "evaluate"):
        return compiled.evaluate(ctx)
    if isinstance(compiled, dict):
        return {k: _render_native(v, ctx) for k, v in compiled.items()}
    if isinstance(compiled, list):
        return [_render_native(v, ctx) for v in compiled]
    return compiled


def bind_value(value: Any) -> Any:
    """A rendered value as the drivers take it: maps as JSON text, lists kept (arrays)."""
    if value is None or isinstance(value, str | bool | int | float | bytes):
        return value
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, list | tuple):
        return [bind_value(v) for v in value]
    from datetime import date, time, timedelta
    from decimal import Decimal

    if isinstance(value, date | time | timedelta | Decimal):
        return value
    return to_text(value)


def fetch_type(props: Mapping[str, Any]) -> str:
    """``fetchType`` with Kestra's deprecated booleans folded in (``fetch`` wins, then
    ``fetchOne``, then ``store``, as ``AbstractJdbcBaseQuery.renderFetchType``)."""
    for flag, mode in (("fetch", "FETCH"), ("fetchOne", "FETCH_ONE"), ("store", "STORE")):
        if props.get(flag) is True:
            return mode
    return str(props.get("fetchType") or "NONE")


class _JdbcTask(TaskRunner):
    dialect: Dialect = "postgres"

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        props = task.props
        connection = {k: props[k] for k in _CONNECTION_KEYS if props.get(k) is not None}
        self._connection = _Native(connection)
        self._pool_size = int(props.get("connectionPoolSize") or 10)
        # Connection settings that read only run-wide names are rendered once, here.
        self._static: tuple[ConnectionConfig, tzinfo] | None = None
        if is_static(connection):
            self._static = self._config(self._connection.render(engine.flow_variables))
        parameters = props.get("parameters")
        self._parameters = _Native(parameters) if isinstance(parameters, dict) else None
        self._parameters_text = (
            compile_template(parameters) if isinstance(parameters, str) else None
        )
        names: Any = list(parameters) if isinstance(parameters, dict) else None
        if isinstance(parameters, str):
            names = ALL_NAMES  # a map known only per execution: every :name is a parameter
        sql = props.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise TaskError(f"task '{task.id}': sql is empty")
        after = props.get("afterSQL")
        self.statements = compile_sql(sql, self.dialect, engine.flow_variables, names)
        self.after = compile_sql(after, self.dialect, engine.flow_variables, names) if after else []
        self._fetch_type = fetch_type(props)
        self._fetch_type_template = (
            compile_template(self._fetch_type) if is_template_text(self._fetch_type) else None
        )
        self.fetch_size = max(1, int(props.get("fetchSize") or 10000))
        self._gates: dict[int, asyncio.Semaphore] = {}

    # -- settings of one execution

    def _config(self, conf: Mapping[str, Any]) -> tuple[ConnectionConfig, tzinfo]:
        url = conf.get("url")
        if not url:
            raise TaskError("url is empty")
        tls = PostgresTls(
            ssl=_truthy(conf.get("ssl")),
            mode=_text(conf.get("sslMode")),
            root_cert=_text(conf.get("sslRootCert")),
            cert=_text(conf.get("sslCert")),
            key=_text(conf.get("sslKey")),
            key_password=_text(conf.get("sslKeyPassword")),
        )
        config = ConnectionConfig(
            parse_jdbc_url(str(url), self.dialect),
            _text(conf.get("username")),
            _text(conf.get("password")),
            tls,
            self._pool_size,
        )
        return config, zone_of(_text(conf.get("timeZoneId")))

    def _settings(self, ctx: TaskContext) -> tuple[ConnectionConfig, tzinfo]:
        if self._static is not None:
            return self._static
        return self._config(self._connection.render(ctx.variables))

    def _mode(self, ctx: TaskContext) -> str:
        mode = self._fetch_type
        if self._fetch_type_template is not None:
            mode = str(self._fetch_type_template.render(ctx.variables)).strip().upper()
        if mode not in FETCH_TYPES:
            raise TaskError(f"fetchType {mode!r} is not one of {', '.join(FETCH_TYPES)}")
        return mode

    def _named(self, ctx: TaskContext) -> dict[str, Any] | None:
        if self._parameters is not None:
            rendered = self._parameters.render(ctx.variables)
        elif self._parameters_text is not None:
            text = self._parameters_text.evaluate(ctx.variables)
            rendered = json.loads(text) if isinstance(text, str) else text
            if not isinstance(rendered, dict):
                raise TaskError("parameters must render to a map")
        else:
            return None
        return {k: bind_value(v) for k, v in rendered.items()}

    def _bound(
        self, statement: SqlStatement, ctx: TaskContext, named: Mapping[str, Any] | None
    ) -> list[Any] | None:
        params = statement.params(ctx.variables, named)
        return None if params is None else [bind_value(v) for v in params]

    def _gate(self, config: ConnectionConfig) -> asyncio.Semaphore:
        pool = jdbc_pool(config)
        gate = self._gates.get(id(pool))
        if gate is None:
            gate = self._gates[id(pool)] = asyncio.Semaphore(pool.max_size)
        return gate

    async def _run_blocking(
        self, ctx: TaskContext, config: ConnectionConfig, work: Callable[[Any], Any]
    ) -> Any:
        def call() -> Any:
            with jdbc_pool(config).connection() as connection, jdbc_errors(config):
                return work(connection)

        async with self._gate(config):
            return await ctx.in_thread(call)

    # -- one statement on a connection (worker thread)

    def _execute(
        self,
        ctx: TaskContext,
        connection: Any,
        statement: SqlStatement,
        params: list[Any] | None,
        mode: str,
        zone: tzinfo,
    ) -> dict[str, Any] | None:
        """Run ``statement``; its output, or None when it returned no rows."""
        cursor = self._cursor(connection, statement, mode)
        try:
            cursor.execute(statement.query, params)
            description = cursor.description
            first_batch: list[Any] = []
            if description is None and getattr(cursor, "name", None):
                # A server-side cursor describes its rows once the first batch is read.
                first_batch = cursor.fetchmany(self.fetch_size)
                description = cursor.description
            if description is None:
                return None
            names = [d[0] for d in description]
            convert = self._converter([d[1] for d in description], zone)

            def row_of(raw: Any) -> dict[str, Any]:
                return dict(zip(names, convert(raw), strict=True))

            if mode == "FETCH_ONE":
                first = cursor.fetchone()
                return {
                    "row": row_of(first) if first is not None else None,
                    "size": int(first is not None),
                }
            if mode == "FETCH":
                rows = [row_of(r) for r in cursor.fetchall()]
                return {"row": None, "rows": rows, "size": len(rows)}
            if mode == "STORE":
                return self._store(ctx, cursor, row_of, first_batch)
            return {"row": None}
        finally:
            cursor.close()

    def _store(
        self,
        ctx: TaskContext,
        cursor: Any,
        row_of: Callable[[Any], dict[str, Any]],
        first_batch: list[Any],
    ) -> dict[str, Any]:
        from kflow.storage import default_storage, task_run_prefix

        with default_storage().new_file(task_run_prefix(ctx)) as out:
            batch = first_batch
            while True:
                batch = batch or cursor.fetchmany(self.fetch_size)
                if not batch:
                    break
                for raw in batch:
                    out.write(stored_value(row_of(raw)))
                batch = []
        return {"row": None, "uri": out.uri, "size": out.count}

    def _cursor(self, connection: Any, statement: SqlStatement, mode: str) -> Any:
        return connection.cursor()

    def _converter(self, types: list[Any], zone: tzinfo) -> Callable[[Any], list[Any]]:
        raise NotImplementedError

    def _begin(self, connection: Any) -> None:
        raise NotImplementedError

    def _end(self, connection: Any, commit: bool) -> None:
        raise NotImplementedError


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = to_text(value)
    return text if text != "" else None


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true" if value is not None else False


class _PostgresMixin:
    dialect: Dialect = "postgres"

    def _converter(self, types: list[Any], zone: tzinfo) -> Callable[[Any], list[Any]]:
        def convert(raw: Any) -> list[Any]:
            return [postgres_cell(v, t, zone) for v, t in zip(raw, types, strict=True)]

        return convert

    def _cursor(self, connection: Any, statement: SqlStatement, mode: str) -> Any:
        first = statement.query.lstrip("( \n\t").split(None, 1)
        if (
            mode == "STORE"
            and not connection.autocommit
            and first
            and first[0].upper() in _CURSOR_STATEMENTS
        ):
            import uuid

            cursor = connection.cursor(name=f"kflow_{uuid.uuid4().hex[:12]}")
            cursor.itersize = getattr(self, "fetch_size", 10000)
            return cursor
        return connection.cursor()

    def _begin(self, connection: Any) -> None:
        connection.autocommit = False

    def _end(self, connection: Any, commit: bool) -> None:
        try:
            if commit:
                connection.commit()
            else:
                connection.rollback()
        finally:
            connection.autocommit = True


class _MysqlMixin:
    dialect: Dialect = "mysql"

    def _converter(self, types: list[Any], zone: tzinfo) -> Callable[[Any], list[Any]]:
        def convert(raw: Any) -> list[Any]:
            return [mysql_cell(v, t, zone) for v, t in zip(raw, types, strict=True)]

        return convert

    def _cursor(self, connection: Any, statement: SqlStatement, mode: str) -> Any:
        if mode == "STORE":
            import pymysql.cursors

            return connection.cursor(pymysql.cursors.SSCursor)  # streamed, not buffered
        return connection.cursor()

    def _begin(self, connection: Any) -> None:
        connection.autocommit(False)
        connection.begin()

    def _end(self, connection: Any, commit: bool) -> None:
        try:
            if commit:
                connection.commit()
            else:
                connection.rollback()
        finally:
            connection.autocommit(True)


class _Query(_JdbcTask):
    """One statement (``Query``); with ``afterSQL``, both run in one transaction."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        if len(self.statements) > 1:
            raise TaskError("Query runs a single SQL statement; use Queries to run several")

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        config, zone = self._settings(ctx)
        mode = self._mode(ctx)
        named = self._named(ctx)
        statement = self.statements[0]
        params = self._bound(statement, ctx, named)
        after = [(s, self._bound(s, ctx, named)) for s in self.after]
        transactional = bool(after) or (mode == "STORE" and self.dialect == "postgres")

        def work(connection: Any) -> dict[str, Any] | None:
            if not transactional:
                return self._execute(ctx, connection, statement, params, mode, zone)
            self._begin(connection)
            try:
                output = self._execute(ctx, connection, statement, params, mode, zone)
                for extra, extra_params in after:
                    with connection.cursor() as cursor:
                        cursor.execute(extra.query, extra_params)
            except BaseException:
                self._end(connection, commit=False)
                raise
            self._end(connection, commit=True)
            return output

        output = await self._run_blocking(ctx, config, work)
        return output if output is not None else {"row": None}


class _Queries(_JdbcTask):
    """Several statements separated by ``;``, in one transaction unless ``transaction: false``;
    ``outputs``: one output per statement that returned rows (Kestra's ``MultiQueryOutput``)."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.transaction = task.props.get("transaction", True) is not False

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        config, zone = self._settings(ctx)
        mode = self._mode(ctx)
        named = self._named(ctx)
        bound = [(s, self._bound(s, ctx, named)) for s in self.statements]

        def work(connection: Any) -> list[dict[str, Any]]:
            outputs: list[dict[str, Any]] = []
            if self.transaction:
                self._begin(connection)
            try:
                for statement, params in bound:
                    output = self._execute(ctx, connection, statement, params, mode, zone)
                    if output is not None:
                        outputs.append(
                            {k: v for k, v in output.items() if mode != "NONE" or k == "row"}
                        )
            except BaseException:
                if self.transaction:
                    self._end(connection, commit=False)
                raise
            if self.transaction:
                self._end(connection, commit=True)
            return outputs

        return {"outputs": await self._run_blocking(ctx, config, work)}


class PostgresQuery(_PostgresMixin, _Query):
    """``io.kestra.plugin.jdbc.postgresql.Query``."""


class PostgresQueries(_PostgresMixin, _Queries):
    """``io.kestra.plugin.jdbc.postgresql.Queries``."""


class MysqlQuery(_MysqlMixin, _Query):
    """``io.kestra.plugin.jdbc.mysql.Query``."""


class MysqlQueries(_MysqlMixin, _Queries):
    """``io.kestra.plugin.jdbc.mysql.Queries``."""
