"""MariaDB for the CDC tests: SQL through PyMySQL, and the conformance kit of the binlog trigger.

:class:`MysqlCdcKit` makes one table ``kflow.<name>`` (``id`` primary key, ``k``, ``n``);
``publish`` inserts one row per message (committed, so it is in the binlog), and the
trigger captures that table only, with its own ``stateName`` so that tests sharing the
default state directory never read each other's positions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from testkit.sources import Message, SourceKit
from testkit.stack import mysql_address

DATABASE = "kflow"
USER = PASSWORD = "kflow"


@contextmanager
def connection(database: str = DATABASE, autocommit: bool = True) -> Iterator[Any]:
    import pymysql
    import pymysql.cursors

    host, port = mysql_address()
    conn = pymysql.connect(
        host=host,
        port=port,
        user=USER,
        password=PASSWORD,
        database=database,
        autocommit=autocommit,
        charset="utf8mb4",
        cursorclass=pymysql.cursors.DictCursor,
    )
    try:
        yield conn
    finally:
        conn.close()


def execute(*statements: str | tuple[str, Sequence[Any]]) -> None:
    """Run statements, each committed on its own (a ``(sql, params)`` pair binds params)."""
    with connection() as conn, conn.cursor() as cur:
        for statement in statements:
            if isinstance(statement, tuple):
                cur.execute(statement[0], statement[1])
            else:
                cur.execute(statement)


def query(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def binlog_end() -> tuple[str, int]:
    """``SHOW MASTER STATUS``: the binlog file and offset writes go to now."""
    row = query("SHOW MASTER STATUS")[0]
    return str(row["File"]), int(row["Position"])


def trigger_yaml(
    tables: str, state_name: str, *, trigger_id: str = "source", extra: str = ""
) -> str:
    """A Debezium MySQL RealtimeTrigger capturing ``tables`` (``kflow.t1,kflow.t2``)."""
    host, port = mysql_address()
    text = f"""
      - id: {trigger_id}
        type: io.kestra.plugin.debezium.mysql.RealtimeTrigger
        hostname: {host}
        port: "{port}"
        username: {USER}
        password: {PASSWORD}
        includedTables: "{tables}"
        stateName: {state_name}
    """
    if extra:
        text = text.rstrip(" ")
        text += "".join(f"        {line}\n" for line in extra.strip("\n").splitlines())
    return text


class MysqlCdcKit(SourceKit):
    """Rows inserted into one MariaDB table, read back from the binlog (after a snapshot
    of what was there before the first run)."""

    kind, broker = "mariadb", "mariadb"
    unordered = (
        "kflow orders changes by row (table and primary key): every published message is a "
        "new row, so no two of them share a key"
    )
    undecodable = (
        "a binlog row always decodes: there is no bad payload to insert (an execution that "
        "fails on a change is covered by tests/integration/test_mysql_cdc.py)"
    )

    def field(self, name: str) -> str:
        return f"trigger.data.{name}"

    def prepare(self) -> None:
        execute(
            f"DROP TABLE IF EXISTS `{self.name}`",
            f"CREATE TABLE `{self.name}` (id VARCHAR(100) PRIMARY KEY, k VARCHAR(20), n INT)",
        )

    def publish(self, batch: list[Message]) -> None:
        rows = []
        for message in batch:
            body = json.loads(message.payload)
            rows.append((body["id"], body.get("k"), body.get("n")))
        with connection() as conn, conn.cursor() as cur:
            for start in range(0, len(rows), 200):
                cur.executemany(
                    f"INSERT INTO `{self.name}` (id, k, n) VALUES (%s, %s, %s)",
                    rows[start : start + 200],
                )

    def trigger(self) -> str:
        return trigger_yaml(f"{DATABASE}.{self.name}", self.name)
