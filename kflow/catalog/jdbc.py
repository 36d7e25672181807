"""JDBC: PostgreSQL and MySQL/MariaDB ``Query`` and ``Queries`` (runnable); the PostgreSQL
``CopyIn``, ``CopyOut``, ``Batch`` and the polling ``Trigger`` of both (declared).

Values in ``sql`` are bound by the driver, never pasted (see ``kflow.plugins.jdbc_sql``):
an expression that cannot be bound is an error here, with its line and column in the SQL.
"""

from __future__ import annotations

from typing import Any

from kflow.flow.properties import (
    CheckContext,
    Prop,
    any_value,
    boolean,
    duration,
    enum,
    integer,
    is_template_text,
    list_of,
    string,
)
from kflow.flow.registry import TypeSpec
from kflow.flow.yamltree import YNode

JDBC = "io.kestra.plugin.jdbc"
POSTGRES = f"{JDBC}.postgresql"
MYSQL = f"{JDBC}.mysql"

FETCH_TYPES = ("NONE", "FETCH_ONE", "FETCH", "STORE")
SSL_MODES = ("DISABLE", "ALLOW", "PREFER", "REQUIRE", "VERIFY_CA", "VERIFY_FULL")
COPY_FORMATS = ("TEXT", "CSV", "BINARY")

_URL_SCHEMES = {
    "postgres": ("jdbc:postgresql:",),
    "mysql": ("jdbc:mysql:", "jdbc:mariadb:"),
}

_CONNECTION: dict[str, Prop] = {
    "url": string(
        required=True,
        templated=True,
        description="The JDBC URL: jdbc:postgresql://host:port/db, jdbc:mysql://host:port/db "
        "or jdbc:mariadb://host:port/db.",
    ),
    "username": string(templated=True, description="The database user."),
    "password": string(templated=True, description="The user's password (masked in output)."),
}

_POSTGRES_TLS: dict[str, Prop] = {
    "ssl": boolean(default=False, templated=True, description="Connect with TLS."),
    "sslMode": enum(*SSL_MODES, templated=True, description="libpq's sslmode."),
    "sslRootCert": string(templated=True, description="CA certificate (PEM text or a path)."),
    "sslCert": string(templated=True, description="Client certificate (PEM text or a path)."),
    "sslKey": string(templated=True, description="Client key (PEM text or a path)."),
    "sslKeyPassword": string(templated=True, description="Password of the client key."),
}

_QUERY_COMMON: dict[str, Prop] = {
    **_CONNECTION,
    "timeZoneId": string(
        templated=True,
        description="Zone of timestamps with a time zone in outputs (default UTC).",
    ),
    "sql": string(
        required=True,
        templated=True,
        description="The SQL; {{ }} in value positions and :name parameters are bound.",
    ),
    "fetchType": enum(
        *FETCH_TYPES,
        default="NONE",
        templated=True,
        description="NONE, FETCH_ONE (outputs.row), FETCH (outputs.rows) or STORE "
        "(outputs.uri, an Ion file).",
    ),
    "fetchOne": boolean(deprecated="use fetchType: FETCH_ONE"),
    "fetch": boolean(deprecated="use fetchType: FETCH"),
    "store": boolean(deprecated="use fetchType: STORE"),
    "fetchSize": integer(
        minimum=1, default=10000, templated=True, description="Rows read per round trip (STORE)."
    ),
    "parameters": any_value(
        templated=True,
        description="Values of the :name placeholders of sql, bound by the driver.",
    ),
}

_TASK_EXTRA: dict[str, Prop] = {
    "afterSQL": string(
        templated=True, description="A statement run after sql, in the same transaction."
    ),
    "autoCommit": boolean(
        default=True, description="Kept for Kestra; every Query commits its statement."
    ),
}


def _url_node(node: YNode) -> YNode | None:
    child = node.value.get("url") if node.is_map else None
    return child if isinstance(child, YNode) else None


def _check_url(
    dialect: str, props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str
) -> None:
    url = props.get("url")
    if not isinstance(url, str) or is_template_text(url):
        return
    at = _url_node(node) or node
    schemes = _URL_SCHEMES[dialect]
    if not url.strip().lower().startswith(schemes):
        wanted = " or ".join(s + "//" for s in schemes)
        found = url.split("//", 1)[0] if "//" in url else url[:30]
        ctx.error(at, f"{key_path}.url", f"expected a {wanted} URL, got {found!r}", "url")
        return
    from kflow.connectors.jdbc import parse_jdbc_url
    from kflow.errors import TaskError

    try:
        parse_jdbc_url(url, "postgres" if dialect == "postgres" else "mysql")
    except TaskError as exc:
        ctx.error(at, f"{key_path}.url", str(exc), "url")


def _fold_fetch_flags(props: dict[str, Any]) -> None:
    """The deprecated booleans win over ``fetchType``: fetch, then fetchOne, then store."""
    for flag, mode in (("fetch", "FETCH"), ("fetchOne", "FETCH_ONE"), ("store", "STORE")):
        if props.get(flag) is True:
            props["fetchType"] = mode
            return


def _check_sql(
    dialect: str,
    props: dict[str, Any],
    node: YNode,
    ctx: CheckContext,
    key_path: str,
    *,
    key: str = "sql",
    single: bool = False,
) -> None:
    sql = props.get(key)
    if not isinstance(sql, str):
        return
    from kflow.plugins.jdbc_sql import check_sql, named_placeholders

    parameters = props.get("parameters")
    names = list(parameters) if isinstance(parameters, dict) else None
    at = node.value.get(key) if node.is_map else None
    where = at if isinstance(at, YNode) else node
    flavour: Any = "postgres" if dialect == "postgres" else "mysql"
    problems, count = check_sql(sql, flavour, names)
    for problem in problems:
        ctx.error(
            where,
            f"{key_path}.{key}",
            f"{problem.message} (sql line {problem.line}, column {problem.column})",
            "sql",
        )
    if single and count > 1:
        ctx.error(
            where,
            f"{key_path}.{key}",
            "Query runs a single SQL statement; use Queries to run several",
            "sql",
        )
    if names is not None:
        missing = sorted(set(named_placeholders(sql, flavour)) - set(names))
        for name in missing:
            ctx.warning(
                where,
                f"{key_path}.{key}",
                f":{name} is not a key of parameters; it is sent to the server as written",
                "sql",
            )


def _check_parameters(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    parameters = props.get("parameters")
    if parameters is None or isinstance(parameters, dict) or is_template_text(parameters):
        return
    at = node.value.get("parameters") if node.is_map else None
    ctx.error(
        at if isinstance(at, YNode) else node,
        f"{key_path}.parameters",
        "parameters must be a map of :name to value",
        "type",
    )


def _checker(dialect: str, *, single: bool = False, sql: bool = True) -> Any:
    def check(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
        _fold_fetch_flags(props)
        _check_url(dialect, props, node, ctx, key_path)
        _check_parameters(props, node, ctx, key_path)
        if sql:
            _check_sql(dialect, props, node, ctx, key_path, single=single)
            if props.get("afterSQL"):
                _check_sql(dialect, props, node, ctx, key_path, key="afterSQL", single=True)
        if props.get("inputFile") is not None:
            at = node.value.get("inputFile") if node.is_map else None
            ctx.error(
                at if isinstance(at, YNode) else node,
                f"{key_path}.inputFile",
                "inputFile (LOAD DATA LOCAL INFILE) is not supported yet by kflow",
                "unsupported",
            )

    return check


_MYSQL_EXTRA: dict[str, Prop] = {
    "inputFile": string(
        templated=True, description="A file for LOAD DATA LOCAL INFILE (not supported yet)."
    ),
}

POSTGRES_QUERY = TypeSpec(
    name=f"{POSTGRES}.Query",
    kind="task",
    runner="kflow.plugins.jdbc_query:PostgresQuery",
    description="Run one SQL statement on PostgreSQL; values are bound parameters.",
    properties={**_QUERY_COMMON, **_POSTGRES_TLS, **_TASK_EXTRA},
    check=_checker("postgres", single=True),
)

POSTGRES_QUERIES = TypeSpec(
    name=f"{POSTGRES}.Queries",
    kind="task",
    runner="kflow.plugins.jdbc_query:PostgresQueries",
    description="Run several SQL statements on PostgreSQL, in one transaction by default.",
    properties={
        **_QUERY_COMMON,
        **_POSTGRES_TLS,
        "transaction": boolean(default=True, description="Run all statements in one transaction."),
    },
    check=_checker("postgres"),
)

MYSQL_QUERY = TypeSpec(
    name=f"{MYSQL}.Query",
    kind="task",
    runner="kflow.plugins.jdbc_query:MysqlQuery",
    description="Run one SQL statement on MySQL or MariaDB; values are bound parameters.",
    properties={**_QUERY_COMMON, **_TASK_EXTRA, **_MYSQL_EXTRA},
    check=_checker("mysql", single=True),
)

MYSQL_QUERIES = TypeSpec(
    name=f"{MYSQL}.Queries",
    kind="task",
    runner="kflow.plugins.jdbc_query:MysqlQueries",
    description="Run several SQL statements on MySQL or MariaDB, in one transaction by default.",
    properties={
        **_QUERY_COMMON,
        **_MYSQL_EXTRA,
        "transaction": boolean(default=True, description="Run all statements in one transaction."),
    },
    check=_checker("mysql"),
)

_TRIGGER_PROPS: dict[str, Prop] = {
    **_QUERY_COMMON,
    "interval": duration(default="PT1M", description="Time between polls."),
}

POSTGRES_TRIGGER = TypeSpec(
    name=f"{POSTGRES}.Trigger",
    kind="trigger",
    description="Poll PostgreSQL with a query; an execution when it returns rows.",
    properties={**_TRIGGER_PROPS, **_POSTGRES_TLS},
    check=_checker("postgres", single=True),
)

MYSQL_TRIGGER = TypeSpec(
    name=f"{MYSQL}.Trigger",
    kind="trigger",
    description="Poll MySQL or MariaDB with a query; an execution when it returns rows.",
    properties=_TRIGGER_PROPS,
    check=_checker("mysql", single=True),
)

_COPY: dict[str, Prop] = {
    **_CONNECTION,
    **_POSTGRES_TLS,
    "table": string(templated=True, description="The (schema-qualified) table."),
    "columns": list_of(string(templated=True), templated=True, description="Columns to copy."),
    "format": enum(*COPY_FORMATS, default="TEXT", templated=True, description="COPY format."),
    "oids": boolean(templated=True, description="Copy OIDs."),
    "freeze": boolean(templated=True, description="COPY FREEZE."),
    "delimiter": string(templated=True, description="Column delimiter."),
    "nullString": string(templated=True, description="Text of a null value."),
    "header": boolean(templated=True, description="The file has a header line (CSV)."),
    "quote": string(templated=True, description="Quote character (CSV)."),
    "escape": string(templated=True, description="Escape character (CSV)."),
    "forceQuote": list_of(string(), templated=True, description="Columns always quoted."),
    "forceNotNull": list_of(string(), templated=True, description="Columns never null."),
    "forceNull": list_of(string(), templated=True, description="Columns matched as null."),
    "encoding": string(templated=True, description="File encoding."),
    "socketTimeout": integer(minimum=0, templated=True, description="Read timeout (s)."),
}

POSTGRES_COPY_IN = TypeSpec(
    name=f"{POSTGRES}.CopyIn",
    kind="task",
    description="COPY a file of the internal storage into a PostgreSQL table.",
    properties={
        **_COPY,
        "from": string(required=True, templated=True, description="kestra:// URI of the file."),
    },
    check=_checker("postgres", sql=False),
)

POSTGRES_COPY_OUT = TypeSpec(
    name=f"{POSTGRES}.CopyOut",
    kind="task",
    description="COPY a PostgreSQL table or query into a file of the internal storage.",
    properties={**_COPY, "sql": string(templated=True, description="A query to copy out.")},
    check=_checker("postgres", sql=False),
)

_BATCH: dict[str, Prop] = {
    **_CONNECTION,
    "timeZoneId": string(templated=True, description="Zone of timestamps."),
    "from": string(required=True, templated=True, description="kestra:// URI of the rows."),
    "sql": string(templated=True, description="The INSERT with ? placeholders."),
    "table": string(templated=True, description="The table (when sql is not given)."),
    "columns": list_of(string(), templated=True, description="Columns of the insert."),
    "chunk": integer(minimum=1, default=1000, templated=True, description="Rows per batch."),
}

POSTGRES_BATCH = TypeSpec(
    name=f"{POSTGRES}.Batch",
    kind="task",
    description="Insert the rows of an Ion file into PostgreSQL in batches.",
    properties={**_BATCH, **_POSTGRES_TLS},
    check=_checker("postgres", sql=False),
)

MYSQL_BATCH = TypeSpec(
    name=f"{MYSQL}.Batch",
    kind="task",
    description="Insert the rows of an Ion file into MySQL or MariaDB in batches.",
    properties=_BATCH,
    check=_checker("mysql", sql=False),
)

SPECS = (
    POSTGRES_QUERY,
    POSTGRES_QUERIES,
    POSTGRES_TRIGGER,
    POSTGRES_COPY_IN,
    POSTGRES_COPY_OUT,
    POSTGRES_BATCH,
    MYSQL_QUERY,
    MYSQL_QUERIES,
    MYSQL_TRIGGER,
    MYSQL_BATCH,
)
