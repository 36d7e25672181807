"""Table definitions for the binlog reader, from ``information_schema`` (no schema history).

Debezium's MySQL connector keeps a schema history: it parses every DDL statement of the
binlog, so it knows each table's columns *at the position of every row event*. kflow keeps
none: it reads a table's columns from ``information_schema`` (the columns *now*), and reads
them again when a row event's table map carries another number of columns than it knows
(a column added or dropped since) or after a DDL statement on the table.

So kflow names the values of a row event by position, with today's column list. That is
exact while the reader keeps up with the server, and for columns added at the end of a
table (``ALTER TABLE ... ADD COLUMN`` without ``FIRST``/``AFTER``) even when it does not:
an event written before the column was added carries fewer values, named by the first
columns. A column added in the middle, dropped, renamed or retyped *while kflow is behind*
names or converts the older events' values wrongly; catch up first, or restart with a
snapshot. With ``binlog_row_metadata=FULL`` (MariaDB 10.5+, MySQL 8.0.14+) the table map
carries the column names themselves, and kflow uses those names instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kflow.plugins.mysql_values import ColumnInfo

SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})

_COLUMNS_SQL = (
    "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_SCALE, CHARACTER_SET_NAME, "
    "COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s "
    "ORDER BY ORDINAL_POSITION"
)


@dataclass(frozen=True)
class TableSchema:
    database: str
    table: str
    columns: tuple[ColumnInfo, ...]

    @property
    def key_columns(self) -> tuple[ColumnInfo, ...]:
        return tuple(c for c in self.columns if c.primary)

    def first(self, count: int) -> tuple[ColumnInfo, ...]:
        """The columns of a row event carrying ``count`` values (see the module's doc):
        the first ``count``, with placeholders if the table has fewer now."""
        if count <= len(self.columns):
            return self.columns[:count]
        extra = tuple(
            ColumnInfo(name=f"UNKNOWN_COL{i}", data_type="unknown")
            for i in range(len(self.columns), count)
        )
        return self.columns + extra


class SchemaCache:
    """Table definitions by ``(database, table)``, read through ``conn`` (a PyMySQL
    connection with dict rows) when missing or stale."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._tables: dict[tuple[str, str], TableSchema] = {}
        self.reads = 0

    def get(self, database: str, table: str, column_count: int | None = None) -> TableSchema:
        key = (database, table)
        schema = self._tables.get(key)
        if schema is None or (column_count is not None and len(schema.columns) != column_count):
            schema = self.read(database, table)
        return schema

    def read(self, database: str, table: str) -> TableSchema:
        with self.conn.cursor() as cur:
            cur.execute(_COLUMNS_SQL, (database, table))
            rows = cur.fetchall()
        self.reads += 1
        schema = TableSchema(database, table, tuple(ColumnInfo.from_row(r) for r in rows))
        self._tables[(database, table)] = schema
        return schema

    def forget(self, database: str | None, table: str | None = None) -> None:
        """Drop what a DDL statement may have changed (a whole database when ``table`` is
        None, everything when both are)."""
        for key in list(self._tables):
            if database is None or (key[0] == database and table in (None, key[1])):
                del self._tables[key]


def enrich_table_map(columns: Sequence[Any], schema: TableSchema) -> None:
    """Give python-mysql-replication's columns of one table map what its binlog lacks
    without ``binlog_row_metadata=FULL``: names, signedness, ENUM/SET members and whether a
    string column holds bytes, so that it decodes the row values right."""
    infos = schema.first(len(columns))
    for column, info in zip(columns, infos, strict=True):
        if not getattr(column, "name", None):
            column.name = info.name
        if info.data_type == "unknown":
            continue
        column.unsigned = info.unsigned
        if info.data_type == "enum":
            column.enum_values = ["", *info.values]
        elif info.data_type == "set":
            column.set_values = list(info.values)
        if info.is_binary:
            column.character_set_name = "binary"  # PyMySQL has no codec: bytes stay bytes
        elif info.charset and getattr(column, "character_set_name", None) is None:
            column.character_set_name = info.charset


DDL_VERBS = frozenset({"ALTER", "CREATE", "DROP", "RENAME"})


def is_ddl(query: str) -> bool:
    """Whether a statement of the binlog may change a table definition."""
    words = query.lstrip().split(None, 1)
    return bool(words) and words[0].upper() in DDL_VERBS
