"""What a Debezium trigger hands a flow: one row change shaped as Kestra's trigger shapes it.

Kestra runs Debezium and turns each change event into ``trigger.stream`` and
``trigger.data`` (its ``ChangeConsumer`` over ``MapConverter``). kflow's CDC sources read
the databases' replication streams themselves, describe each row change as a
:class:`Change`, and :func:`shape` gives the same two values:

- ``format: INLINE`` (default): the row's columns (after the change; before it for a
  delete), then the ``deleted`` flag, the key columns, and ``metadata``
  ``{source, operation, timestamp, ...}``;
- ``WRAP``: the same, with the columns under ``record``;
- ``RAW``: Debezium's envelope, ``{key, value: {before, after, source, op, ts_ms, ...}}``.

``trigger.stream`` is ``database.table`` (``splitTable: TABLE``, the default), the database
(``DATABASE``) or ``data`` (``OFF``).

Two places where kflow does what Kestra documents rather than what it does: ``deleted:
DROP`` starts no execution for a delete (Kestra's check looks for a tombstone that its
own settings turn off, so deletes still arrive), and ``key: ADD_FIELD`` / RAW's ``key``
carry the row's key columns (Kestra's converter never reads the key, so it is null).

:class:`TableFilter` applies ``included``/``excluded`` ``Databases``/``Tables``/``Columns``
with Debezium's rules: comma-separated regular expressions (``\\,`` for a comma inside
one), each matching the whole identifier, case-insensitively.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kflow.expr.printing import iso_datetime

OPERATIONS = {"c": "CREATE", "u": "UPDATE", "d": "DELETE", "r": "READ", "t": "TRUNCATE"}
"""Debezium's operation codes and the names Kestra's metadata shows."""


def instant_text(epoch_ms: int) -> str:
    """An instant as Java prints it: ``2026-12-01T13:05:00.123Z`` (no fraction when zero)."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return iso_datetime(moment.replace(microsecond=(epoch_ms % 1000) * 1000))


@dataclass(frozen=True, slots=True)
class Change:
    """One row change, its values already converted as Debezium's defaults leave them."""

    op: str
    """``c`` insert, ``u`` update, ``d`` delete, ``r`` read by a snapshot, ``t`` truncate."""
    database: str
    table: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    key: dict[str, Any] | None
    """The primary-key (replica identity) columns of the row and their values."""
    source: dict[str, Any]
    """Debezium's source block: version, connector, name, ts_ms, snapshot, db, table, and
    the connector's own fields (PostgreSQL: schema, txId, lsn, ...; MySQL: file, pos, ...)."""
    ts_ms: int
    """When kflow read the change (epoch milliseconds)."""
    transaction: dict[str, Any] | None = None

    @property
    def row(self) -> dict[str, Any]:
        """The columns a flow sees: before the change for a delete, after it otherwise."""
        if self.op == "d":
            return dict(self.before or {})
        return dict(self.after or {})


@dataclass(frozen=True, slots=True)
class ShapeOptions:
    """The trigger's output properties (``format``, ``deleted``, ``key``, ...)."""

    format: Literal["INLINE", "WRAP", "RAW"] | str = "INLINE"
    deleted: str = "ADD_FIELD"
    deleted_field_name: str = "deleted"
    key: str = "ADD_FIELD"
    metadata: str = "ADD_FIELD"
    metadata_field_name: str = "metadata"
    split_table: str = "TABLE"

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> ShapeOptions:
        """From a trigger's properties (defaults filled in by the catalog)."""
        defaults = cls()

        def get(name: str, default: str) -> str:
            value = props.get(name)
            return default if value is None else str(value)

        return cls(
            format=get("format", defaults.format),
            deleted=get("deleted", defaults.deleted),
            deleted_field_name=get("deletedFieldName", defaults.deleted_field_name),
            key=get("key", defaults.key),
            metadata=get("metadata", defaults.metadata),
            metadata_field_name=get("metadataFieldName", defaults.metadata_field_name),
            split_table=get("splitTable", defaults.split_table),
        )


def stream_of(change: Change, split_table: str) -> str:
    """``trigger.stream``: ``db.table``, ``db`` or ``data``."""
    if split_table == "OFF":
        return "data"
    if split_table == "DATABASE":
        return change.database
    return f"{change.database}.{change.table}"


def source_block(change: Change) -> dict[str, Any]:
    """The source block as Kestra serializes it: ``ts_ms`` read as ``timestamp`` (an
    instant), nulls left out."""
    out: dict[str, Any] = {}
    for name, value in change.source.items():
        if value is None:
            continue
        if name == "ts_ms":
            out["timestamp"] = instant_text(int(value))
        else:
            out[name] = value
    out.setdefault("db", change.database)
    out.setdefault("table", change.table)
    return out


def envelope(change: Change) -> dict[str, Any]:
    """Debezium's value envelope (``format: RAW``)."""
    out: dict[str, Any] = {
        "before": change.before,
        "after": change.after,
        "source": source_block(change),
        "op": change.op,
        "ts_ms": change.ts_ms,
        "ts_us": change.ts_ms * 1000,
        "ts_ns": change.ts_ms * 1_000_000,
    }
    if change.transaction is not None:
        out["transaction"] = change.transaction
    return out


def metadata_of(change: Change) -> dict[str, Any]:
    """What ``metadata: ADD_FIELD`` adds."""
    out: dict[str, Any] = {
        "ts_us": change.ts_ms * 1000,
        "ts_ns": change.ts_ms * 1_000_000,
        "operation": OPERATIONS.get(change.op, change.op),
        "source": source_block(change),
        "timestamp": instant_text(change.ts_ms),
    }
    if change.transaction is not None:
        out["transaction"] = change.transaction
    return out


def _is_delete(change: Change) -> bool:
    return change.op in ("d", "t")


def shape(change: Change, options: ShapeOptions) -> tuple[str, dict[str, Any]] | None:
    """``(trigger.stream, trigger.data)``, or None when the change starts no execution."""
    if options.deleted == "DROP" and _is_delete(change):
        return None
    data: dict[str, Any]
    if options.format == "RAW":
        data = {"key": dict(change.key) if change.key is not None else None}
        data["value"] = envelope(change)
        if options.deleted == "ADD_FIELD":
            data[options.deleted_field_name] = _is_delete(change)
        return stream_of(change, options.split_table), data
    data = {"record": change.row} if options.format == "WRAP" else change.row
    if options.deleted == "ADD_FIELD":
        data[options.deleted_field_name] = _is_delete(change)
    if options.key == "ADD_FIELD" and change.key:
        data.update(change.key)
    if options.metadata == "ADD_FIELD":
        data[options.metadata_field_name] = metadata_of(change)
    return stream_of(change, options.split_table), data


# ------------------------------------------------------------------------------ filters


def patterns(raw: Any) -> tuple[re.Pattern[str], ...]:
    """Debezium's include/exclude list: a string (comma-separated, ``\\,`` escapes a comma)
    or a list of strings; each pattern matches a whole identifier, case-insensitively."""
    if raw is None:
        return ()
    items: Sequence[Any] = [raw] if isinstance(raw, str) else list(raw)
    out: list[re.Pattern[str]] = []
    for item in items:
        for part in re.split(r"(?<!\\),", str(item)):
            text = part.replace("\\,", ",").strip()
            if text:
                out.append(re.compile(text, re.IGNORECASE))
    return tuple(out)


def _selected(
    name: str, include: tuple[re.Pattern[str], ...], exclude: tuple[re.Pattern[str], ...]
) -> bool:
    if include:
        return any(p.fullmatch(name) for p in include)
    return not any(p.fullmatch(name) for p in exclude)


@dataclass(frozen=True)
class TableFilter:
    """Which databases, tables and columns a trigger captures.

    ``qualifier`` is what names a table's container in the identifiers: ``schema`` for
    PostgreSQL (``public.orders``, ``public.orders.note``; ``includedDatabases`` does not
    apply, as in Debezium's PostgreSQL connector) or ``database`` for MySQL/MariaDB
    (``shop.orders``, ``shop.orders.note``).
    """

    qualifier: Literal["schema", "database"]
    included_databases: tuple[re.Pattern[str], ...] = ()
    excluded_databases: tuple[re.Pattern[str], ...] = ()
    included_tables: tuple[re.Pattern[str], ...] = ()
    excluded_tables: tuple[re.Pattern[str], ...] = ()
    included_columns: tuple[re.Pattern[str], ...] = ()
    excluded_columns: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_props(
        cls, props: Mapping[str, Any], qualifier: Literal["schema", "database"]
    ) -> TableFilter:
        return cls(
            qualifier=qualifier,
            included_databases=patterns(props.get("includedDatabases")),
            excluded_databases=patterns(props.get("excludedDatabases")),
            included_tables=patterns(props.get("includedTables")),
            excluded_tables=patterns(props.get("excludedTables")),
            included_columns=patterns(props.get("includedColumns")),
            excluded_columns=patterns(props.get("excludedColumns")),
        )

    def wants_database(self, database: str) -> bool:
        if self.qualifier == "schema":
            return True
        return _selected(database, self.included_databases, self.excluded_databases)

    def wants_table(self, container: str, table: str) -> bool:
        """``container`` is the schema (PostgreSQL) or the database (MySQL)."""
        if not self.wants_database(container):
            return False
        return _selected(f"{container}.{table}", self.included_tables, self.excluded_tables)

    @property
    def filters_columns(self) -> bool:
        return bool(self.included_columns or self.excluded_columns)

    def columns(
        self, container: str, table: str, row: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """``row`` without the columns the filters leave out."""
        if row is None or not self.filters_columns:
            return row
        prefix = f"{container}.{table}."
        return {
            name: value
            for name, value in row.items()
            if _selected(prefix + name, self.included_columns, self.excluded_columns)
        }
