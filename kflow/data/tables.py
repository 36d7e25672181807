"""Writing order events as rows of a PostgreSQL or MySQL/MariaDB table
(``kflow produce orders --to postgres://... | mysql://...``).

- ``postgres://user:password@host[:port]/database?table=orders[&key=order_id]``
  (``postgresql://`` too); ``mysql://...`` or ``mariadb://...`` likewise.
- The table is created if missing: one column per field of the first event, typed from
  its value (whole numbers ``BIGINT``, numbers with up to two decimals ``NUMERIC(12,2)``,
  other numbers ``DOUBLE PRECISION``, the rest text), the ``key`` field (``order_id`` by
  default) as primary key.
- Each event is an upsert: a row with the same key is updated, not duplicated, so
  replaying the file twice leaves one row per order (and the second pass shows up as
  updates to a change-data-capture reader).
- Paced events (``--rate`` > 0) are committed one by one, each in its own transaction;
  unpaced ones in batches of :data:`BATCH_ROWS`. A row counts as acknowledged once its
  transaction is committed.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from kflow.connectors.masking import register_secret
from kflow.data.pacing import RateSchedule
from kflow.data.produce import ProduceResult, ProduceStats
from kflow.errors import UsageError

__all__ = [
    "BATCH_ROWS",
    "TableTarget",
    "column_type",
    "create_table_sql",
    "parse_table_target",
    "produce_rows",
    "upsert_sql",
]

BATCH_ROWS = 500
"""Rows per transaction when events are not paced."""

PROGRESS_INTERVAL_S = 0.1

_SCHEMES: dict[str, Literal["postgres", "mysql"]] = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[+-]?\d{1,18}")
_MONEY = re.compile(r"[+-]?\d{1,10}\.\d{1,2}")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class TableTarget:
    """A table of a PostgreSQL or MySQL/MariaDB database to upsert events into."""

    dialect: Literal["postgres", "mysql"]
    scheme: str
    host: str
    port: int
    database: str
    table: str
    key: str = "order_id"
    user: str | None = None
    password: str | None = None

    @property
    def service(self) -> str:
        if self.dialect == "postgres":
            return "PostgreSQL"
        return "MariaDB" if self.scheme == "mariadb" else "MySQL"

    def describe(self) -> str:
        return (
            f"table {self.table} of {self.service} {self.host}:{self.port}/{self.database} "
            f"(upsert on {self.key})"
        )

    def jdbc_config(self) -> Any:
        """The connection config of ``kflow.connectors.jdbc`` (for connecting and errors)."""
        from kflow.connectors.jdbc import ConnectionConfig, JdbcUrl

        scheme = "jdbc:postgresql" if self.dialect == "postgres" else f"jdbc:{self.scheme}"
        if self.dialect == "mysql" and self.scheme not in ("mysql", "mariadb"):
            scheme = "jdbc:mysql"
        url = JdbcUrl(scheme, self.dialect, ((self.host, self.port),), self.database)
        return ConnectionConfig(url, self.user, self.password)


def parse_table_target(url: str) -> TableTarget:
    """The target of a ``--to postgres://...`` / ``mysql://...`` URL, or a UsageError."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise UsageError(f"--to {url!r}: expected postgres://, mysql:// or mariadb://")
    dialect = _SCHEMES[scheme]
    if not parts.hostname:
        raise UsageError(f"--to {_masked(url)!r}: no host")
    try:
        port = parts.port or (5432 if dialect == "postgres" else 3306)
    except ValueError as exc:
        raise UsageError(f"--to {_masked(url)!r}: {exc}") from exc
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise UsageError(
            f"--to {_masked(url)!r}: the database goes after the host ({scheme}://host/DATABASE)"
        )
    query = parse_qs(parts.query)
    table = (query.get("table") or ["orders"])[-1]
    key = (query.get("key") or ["order_id"])[-1]
    if not all(_NAME.fullmatch(p) for p in table.split(".")) or table.count(".") > 1:
        raise UsageError(f"--to: table {table!r} is not a plain [schema.]name")
    if not _NAME.fullmatch(key):
        raise UsageError(f"--to: key {key!r} is not a plain column name")
    unknown = sorted(set(query) - {"table", "key"})
    if unknown:
        raise UsageError(f"--to: unknown parameter(s) {', '.join(unknown)} (table and key only)")
    password = unquote(parts.password) if parts.password is not None else None
    register_secret(password)
    return TableTarget(
        dialect,
        scheme,
        parts.hostname,
        port,
        database,
        table,
        key,
        unquote(parts.username) if parts.username else None,
        password,
    )


def _masked(url: str) -> str:
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def quote_name(name: str, dialect: str) -> str:
    """An identifier quoted for ``dialect`` (``a.b`` is schema and table)."""
    mark = '"' if dialect == "postgres" else "`"
    return ".".join(f"{mark}{part}{mark}" for part in name.split("."))


def column_type(value: Any, dialect: str, *, key: bool = False) -> str:
    """The SQL type of a column whose first value is ``value`` (CSV text)."""
    text = "" if value is None else str(value).strip()
    if _INT.fullmatch(text):
        return "BIGINT"
    if _MONEY.fullmatch(text):
        return "NUMERIC(12,2)"
    if _NUMBER.fullmatch(text):
        return "DOUBLE PRECISION" if dialect == "postgres" else "DOUBLE"
    if dialect == "mysql":
        return "VARCHAR(255)" if key else "TEXT"
    return "TEXT"


def create_table_sql(target: TableTarget, first: Mapping[str, Any]) -> str:
    columns = [
        f"{quote_name(name, target.dialect)} "
        f"{column_type(value, target.dialect, key=name == target.key)}"
        + (" NOT NULL" if name == target.key else "")
        for name, value in first.items()
    ]
    columns.append(f"PRIMARY KEY ({quote_name(target.key, target.dialect)})")
    charset = " DEFAULT CHARSET=utf8mb4" if target.dialect == "mysql" else ""
    return (
        f"CREATE TABLE IF NOT EXISTS {quote_name(target.table, target.dialect)} "
        f"({', '.join(columns)}){charset}"
    )


def upsert_sql(target: TableTarget, columns: Sequence[str]) -> str:
    """An INSERT of ``columns`` that updates the row when its key exists."""
    dialect = target.dialect
    names = ", ".join(quote_name(c, dialect) for c in columns)
    marks = ", ".join("%s" for _ in columns)
    others = [c for c in columns if c != target.key] or [target.key]
    table = quote_name(target.table, dialect)
    if dialect == "postgres":
        updates = ", ".join(
            f"{quote_name(c, dialect)} = EXCLUDED.{quote_name(c, dialect)}" for c in others
        )
        key = quote_name(target.key, dialect)
        return (
            f"INSERT INTO {table} ({names}) VALUES ({marks}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )
    updates = ", ".join(
        f"{quote_name(c, dialect)} = VALUES({quote_name(c, dialect)})" for c in others
    )
    return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {updates}"


def _row(event: Mapping[str, Any], columns: Sequence[str]) -> list[Any]:
    """The values of ``columns`` (an empty CSV field is NULL)."""
    out = []
    for column in columns:
        value = event.get(column)
        out.append(None if value == "" else value)
    return out


def _connect(target: TableTarget) -> Any:
    from kflow.connectors.jdbc import (
        jdbc_errors,
        mysql_connect_args,
        postgres_connect_args,
    )

    config = target.jdbc_config()
    with jdbc_errors(config, connecting=True):
        if target.dialect == "postgres":
            import psycopg2

            args = postgres_connect_args(config)
            args["application_name"] = "kflow-produce"
            return psycopg2.connect(**args)
        import pymysql

        args = mysql_connect_args(config)
        args["autocommit"] = False
        return pymysql.connect(**args)


def produce_rows(
    events: Iterable[Mapping[str, Any]],
    target: TableTarget,
    rate: float = 1.0,
    on_progress: Callable[[ProduceStats], None] | None = None,
) -> ProduceResult:
    """Upsert ``events`` into ``target`` at ``rate`` per second (0: batches, as fast as it can).

    Raises :class:`~kflow.connectors.jdbc.JdbcError` when the database cannot be reached or
    the table cannot be created; a row the server rejects stops the run and counts as failed.
    """
    from kflow.connectors.jdbc import jdbc_errors

    config = target.jdbc_config()
    stats = ProduceStats()
    last_report = 0.0

    def report(force: bool = False) -> None:
        nonlocal last_report
        now = time.monotonic()
        if on_progress is not None and (force or now - last_report >= PROGRESS_INTERVAL_S):
            last_report = now
            on_progress(stats)

    def sleep_reporting(seconds: float) -> None:
        time.sleep(min(seconds, PROGRESS_INTERVAL_S))
        report()

    schedule = RateSchedule(rate, sleep=sleep_reporting)
    connection = _connect(target)
    interrupted = False
    pending: list[list[Any]] = []
    columns: list[str] = []
    statement = ""

    def flush() -> None:
        if not pending:
            return
        count = len(pending)
        try:
            with jdbc_errors(config), connection.cursor() as cursor:
                cursor.executemany(statement, pending)
                connection.commit()
        except Exception as exc:
            _rollback(connection)
            with stats._lock:
                stats.failed += count - 1
            stats.fail(exc)
        else:
            with stats._lock:
                stats.acknowledged += count
        pending.clear()

    try:
        for index, event in enumerate(events):
            if stats.first_error is not None:
                break
            if not columns:
                columns = list(event)
                if target.key not in columns:
                    raise UsageError(
                        f"--to: the events have no field {target.key!r} for the primary key "
                        f"(fields: {', '.join(columns)}); set ?key=FIELD"
                    )
                with jdbc_errors(config), connection.cursor() as cursor:
                    cursor.execute(create_table_sql(target, event))
                    connection.commit()
                statement = upsert_sql(target, columns)
            schedule.wait(index)
            pending.append(_row(event, columns))
            stats.sent += 1
            if rate > 0 or len(pending) >= BATCH_ROWS:
                flush()
            report()
        flush()
    except KeyboardInterrupt:
        interrupted = True
        flush()
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    with stats._lock:
        stats.frozen = True
    report(force=True)
    return ProduceResult(
        stats.sent, stats.acknowledged, stats.failed, stats.seconds, stats.first_error, interrupted
    )


def _rollback(connection: Any) -> None:
    with contextlib.suppress(Exception):
        connection.rollback()
