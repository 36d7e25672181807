"""Cassandra ``Query`` task (``io.kestra.plugin.cassandra.standard.Query``).

Unlike Kestra, values in the CQL are never interpolated: each expression in a
value position is a bind marker of a statement prepared once per session, and
its value is converted to the column's type. Sessions are shared by every
task with the same connection settings for the life of the process; queries
run asynchronously so executions overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kflow.connectors.cassandra import cassandra_errors, cassandra_session, format_endpoints
from kflow.connectors.cassandra_tls import CassandraTls
from kflow.engine.task import TaskContext, TaskRunner
from kflow.expr import compile_cql, compile_value
from kflow.flow.model import TaskDef
from kflow.plugins.cassandra_sender import turn_sender
from kflow.plugins.cassandra_values import from_column, to_column
from kflow.plugins.driver_futures import settle_from_thread
from kflow.plugins.templating import is_static


def fetch_mode(props: Mapping[str, Any]) -> str:
    """NONE, FETCH_ONE or FETCH (the deprecated booleans were folded into ``fetchType`` by
    the catalog's check, ``kflow.catalog.cassandra.check_query``)."""
    mode = str(props.get("fetchType") or "NONE").upper()
    return "FETCH" if mode == "STORE" else mode  # STORE is served as FETCH (no file store)


def _endpoints(session: Mapping[str, Any]) -> list[tuple[str, int]]:
    return [
        (str(e.get("hostname")), int(e.get("port") or 9042)) for e in session.get("endpoints") or []
    ]


class _Prepared:
    """A prepared statement with its bind types, for one session."""

    __slots__ = ("names", "statement", "types")

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        meta = statement.column_metadata or []
        self.types = [m.type.cql_parameterized_type() for m in meta]
        self.names = [m.name for m in meta]


class Query(TaskRunner):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        props = task.props
        self.cql = compile_cql(str(props["cql"]))
        self.session_conf = compile_value(props.get("session") or {})
        # Connection settings that read only run-wide names are rendered once, here.
        self._conf: dict[str, Any] | None = (
            self.session_conf.render(engine.flow_variables)
            if is_static(props.get("session"))
            else None
        )
        self.mode = fetch_mode(props)
        self._prepared: dict[int, _Prepared] = {}
        self._profile: Any = None
        self._static: tuple[Any, str] | None = None

    def _session(self, ctx: TaskContext) -> tuple[Any, str]:
        if self._static is not None:
            return self._static
        conf = self._conf if self._conf is not None else self.session_conf.render(ctx.variables)
        endpoints = _endpoints(conf)
        session = cassandra_session(
            endpoints,
            str(conf.get("localDatacenter") or "datacenter1"),
            conf.get("username"),
            conf.get("password"),
            conf.get("applicationName"),
            CassandraTls.from_conf(conf.get("secureConnection")),
        )
        result = (session, format_endpoints(endpoints))
        if self._conf is not None:
            self._static = result
        return result

    def _prepare(self, session: Any, address: str) -> _Prepared:
        prepared = self._prepared.get(id(session))
        if prepared is None:
            with cassandra_errors(address):
                prepared = _Prepared(session.prepare(self.cql.query))
            self._prepared[id(session)] = prepared
        return prepared

    def _dict_profile(self, session: Any) -> Any:
        if self._profile is None:
            from cassandra.cluster import EXEC_PROFILE_DEFAULT
            from cassandra.query import dict_factory

            self._profile = session.execution_profile_clone_update(
                EXEC_PROFILE_DEFAULT, row_factory=dict_factory
            )
        return self._profile

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        if self._static is not None:
            session, address = self._static
        else:  # connecting blocks: never on the event loop
            session, address = await ctx.in_thread(self._session, ctx)
        if id(session) not in self._prepared:
            await ctx.in_thread(self._prepare, session, address)
        prepared = self._prepared[id(session)]
        params = self.cql.params(ctx.variables)
        values = [
            to_column(v, t, n)
            for v, t, n in zip(params, prepared.types, prepared.names, strict=False)
        ]
        rows = await self._execute(session, address, prepared.statement.bind(values))
        if self.mode == "FETCH_ONE":
            row = rows[0] if rows else None
            return {"row": _row(row) if row is not None else None, "size": 1 if rows else 0}
        if self.mode == "FETCH":
            return {"rows": [_row(r) for r in rows], "size": len(rows)}
        return {}

    async def _execute(self, session: Any, address: str, bound: Any) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        future, ok, err = settle_from_thread(loop)
        rows: list[dict[str, Any]] = []
        fetch_all = self.mode == "FETCH"

        def on_page(response: Any, page: list[dict[str, Any]]) -> None:
            rows.extend(page)
            if fetch_all and response.has_more_pages:
                response.start_fetching_next_page()
            else:
                ok(rows)

        with cassandra_errors(address):
            turn_sender(loop).send(session, bound, self._dict_profile(session), on_page, err)
            return await future


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: from_column(v) for k, v in row.items()}
