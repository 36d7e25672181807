"""pgoutput messages and snapshot rows -> :class:`~kflow.plugins.debezium_shape.Change`.

:class:`ChangeBuilder` remembers the tables (``Relation`` messages, sent before a table's
first change and again after its schema changed, so a column added mid-stream shows up in
the next change) and the open transaction, and turns each row message into the changes
Debezium emits for it:

- an insert is ``c``, a delete ``d`` (its ``before`` holds what the replica identity gives:
  the key columns by default, the whole row with ``REPLICA IDENTITY FULL``);
- an update is ``u``; ``before`` is null unless the table has ``REPLICA IDENTITY FULL``. An
  update that changes the key is a ``d`` of the old key then a ``c`` of the new row, as
  Debezium's PostgreSQL connector emits it;
- a truncate is skipped (Debezium's default ``skipped.operations=t``) unless the trigger's
  ``properties`` set ``skipped.operations`` without ``t``: then one ``t`` per table;
- a TOASTed value an update did not change (PostgreSQL does not send it) is Debezium's
  placeholder ``__debezium_unavailable_value``.

Pure: no I/O.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kflow.plugins.debezium_shape import Change, TableFilter
from kflow.plugins.pgoutput import (
    UNCHANGED,
    Begin,
    Column,
    Commit,
    Delete,
    Insert,
    Relation,
    Truncate,
    Tuple,
    Update,
)
from kflow.plugins.postgres_values import UNAVAILABLE, convert

DEBEZIUM_VERSION = "2.7.3.Final"
"""The version the source block reports (the Debezium line Kestra's plug-in runs)."""
CONNECTOR = "postgresql"
SERVER_NAME = "kestra"
"""Debezium's ``topic.prefix`` (source.name) when the trigger gives none."""


@dataclass(frozen=True, slots=True)
class Table:
    """What a change needs of a table: its name and columns (from a Relation message or,
    for the snapshot, from the catalog)."""

    schema: str
    name: str
    columns: tuple[Column, ...]
    replica_identity: str = "d"

    @classmethod
    def of(cls, relation: Relation) -> Table:
        return cls(
            relation.namespace or "pg_catalog",
            relation.name,
            relation.columns,
            relation.replica_identity,
        )

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.key)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def now_ms() -> int:
    return int(time.time() * 1000)


class ChangeBuilder:
    """Row messages of one replication stream -> changes (see the module docstring)."""

    def __init__(
        self,
        database: str,
        table_filter: TableFilter,
        *,
        skip_truncate: bool = True,
        name: str = SERVER_NAME,
    ) -> None:
        self.database = database
        self.name = name
        self.filter = table_filter
        self.skip_truncate = skip_truncate
        self.tables: dict[int, Table] = {}
        self.xid: int | None = None
        self.commit_ms: int | None = None
        self.commit_lsn: int | None = None
        self.last_commit_lsn: int | None = None

    # stream state ----------------------------------------------------------------------

    def relation(self, relation: Relation) -> None:
        self.tables[relation.oid] = Table.of(relation)

    def begin(self, begin: Begin) -> None:
        self.xid = begin.xid
        self.commit_ms = int(begin.commit_time.timestamp() * 1000)
        self.commit_lsn = begin.final_lsn

    def commit(self, commit: Commit) -> None:
        self.last_commit_lsn = commit.commit_lsn
        self.xid = self.commit_ms = self.commit_lsn = None

    def wants(self, table: Table) -> bool:
        return self.filter.wants_table(table.schema, table.name)

    # row messages ------------------------------------------------------------------------

    def changes(self, message: Insert | Update | Delete | Truncate, lsn: int) -> list[Change]:
        """The changes of one row message at ``lsn`` (empty when its table is left out)."""
        if isinstance(message, Truncate):
            if self.skip_truncate:
                return []
            out = []
            for oid in message.relation_oids:
                table = self.tables.get(oid)
                if table is not None and self.wants(table):
                    out.append(self._change("t", table, None, None, None, lsn))
            return out
        table = self.tables.get(message.relation_oid)
        if table is None:
            raise ValueError(
                f"a change of relation {message.relation_oid} came before its Relation"
            )
        if not self.wants(table):
            return []
        if isinstance(message, Insert):
            after = self.row(table, message.new)
            return [self._change("c", table, None, after, self._key(table, after), lsn)]
        if isinstance(message, Delete):
            gone = self.row(table, message.old, key_only=message.old_kind == "K")
            return [self._change("d", table, gone, None, self._key(table, gone), lsn)]
        after = self.row(table, message.new)
        before: dict[str, Any] | None = None
        if message.old is not None:
            before = self.row(table, message.old, key_only=message.old_kind == "K")
        new_key = self._key(table, after)
        old_key = self._key(table, before)
        if old_key is not None and old_key != new_key:
            return [
                self._change("d", table, before, None, old_key, lsn),
                self._change("c", table, None, after, new_key, lsn),
            ]
        if message.old_kind != "O":
            before = None
        return [self._change("u", table, before, after, new_key, lsn)]

    def snapshot_change(
        self, table: Table, texts: Sequence[str | None], *, last: bool, lsn: int, ts_ms: int
    ) -> Change:
        """One row read by the snapshot (op ``r``)."""
        row = self.row(table, tuple(texts))
        key = self._key(table, row)
        source = self._source(table, lsn, snapshot="last" if last else "true", ts_ms=ts_ms)
        return Change(
            op="r",
            database=self.database,
            table=table.name,
            before=None,
            after=self.filter.columns(table.schema, table.name, row),
            key=key,
            source=source,
            ts_ms=now_ms(),
        )

    # values ------------------------------------------------------------------------------

    def row(self, table: Table, cells: Tuple, *, key_only: bool = False) -> dict[str, Any]:
        """Column name -> converted value; with ``key_only`` (an old key) the other columns
        are null, as in Debezium's ``before`` of a default replica identity."""
        out: dict[str, Any] = {}
        for column, cell in zip(table.columns, cells, strict=False):
            if key_only and not column.key:
                out[column.name] = None
            elif cell is UNCHANGED:
                out[column.name] = UNAVAILABLE
            elif isinstance(cell, bytes):
                out[column.name] = convert(column.type_oid, cell.decode("utf-8", "replace"))
            elif cell is None or isinstance(cell, str):
                out[column.name] = convert(column.type_oid, cell)
        return out

    def _key(self, table: Table, row: dict[str, Any] | None) -> dict[str, Any] | None:
        names = table.key_columns
        if not names or row is None:
            return None
        return {name: row.get(name) for name in names}

    def _source(
        self, table: Table, lsn: int, *, snapshot: str = "false", ts_ms: int | None = None
    ) -> dict[str, Any]:
        last = self.last_commit_lsn
        return {
            "version": DEBEZIUM_VERSION,
            "connector": CONNECTOR,
            "name": self.name,
            "ts_ms": ts_ms if ts_ms is not None else (self.commit_ms or now_ms()),
            "snapshot": snapshot,
            "db": self.database,
            "sequence": json.dumps(
                [None if last is None else str(last), str(lsn)], separators=(",", ":")
            ),
            "schema": table.schema,
            "table": table.name,
            "txId": self.xid,
            "lsn": lsn,
            "xmin": None,
        }

    def _change(
        self,
        op: str,
        table: Table,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        key: dict[str, Any] | None,
        lsn: int,
    ) -> Change:
        columns = self.filter.columns
        return Change(
            op=op,
            database=self.database,
            table=table.name,
            before=columns(table.schema, table.name, before),
            after=columns(table.schema, table.name, after),
            key=key,
            source=self._source(table, lsn),
            ts_ms=now_ms(),
        )
