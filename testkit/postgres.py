"""PostgreSQL for the CDC tests: SQL on the stack's server, slots and publications made and
dropped, and :class:`PostgresCdcKit`, the conformance kit of the Debezium trigger.

The kit's "messages" are rows: :meth:`PostgresCdcKit.publish` writes each message's
``{id, k, n}`` into the kit's table (one transaction per message). The row key is ``k`` when
the message has one (so messages of one key are an insert then updates of one row, which the
trigger runs in order) and ``id`` otherwise. The slot and publication are made by
:meth:`PostgresCdcKit.prepare`, so what is published before kflow starts waits in the slot
(the trigger finds the slot and streams from it, no snapshot); :meth:`cleanup` drops them
(after kflow has stopped: an active slot cannot be dropped).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from testkit.sources import Message, SourceKit
from testkit.stack import postgres_address, postgres_dsn


def connection(database: str = "kflow") -> Any:
    """An autocommit psycopg2 connection as the superuser ``kflow``."""
    import psycopg2

    conn = psycopg2.connect(postgres_dsn(database))
    conn.autocommit = True
    return conn


def execute(sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement (its own transaction); the rows it returns, if any."""
    conn = connection()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def execute_many(statements: Iterable[tuple[str, Sequence[Any] | None]]) -> None:
    """Each statement in a transaction of its own, on one connection."""
    conn = connection()
    try:
        with conn.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
    finally:
        conn.close()


def create_slot(slot: str) -> int:
    """A pgoutput slot made now (changes from here on wait in it); its LSN."""
    rows = execute(
        "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, 'pgoutput')", [slot]
    )
    return parse_lsn(rows[0][0])


def parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def slot_info(slot: str) -> dict[str, Any] | None:
    """``{"confirmed": int, "active": bool}`` of a slot, None when there is none."""
    rows = execute(
        "SELECT confirmed_flush_lsn::text, active FROM pg_replication_slots WHERE slot_name = %s",
        [slot],
    )
    if not rows:
        return None
    confirmed, active = rows[0]
    return {"confirmed": parse_lsn(confirmed) if confirmed else 0, "active": bool(active)}


def drop_slot(slot: str, timeout: float = 30.0) -> None:
    """Drop ``slot`` once no connection uses it (a walsender may take a moment to go)."""
    deadline = time.monotonic() + timeout
    while True:
        info = slot_info(slot)
        if info is None:
            return
        if not info["active"]:
            try:
                execute("SELECT pg_drop_replication_slot(%s)", [slot])
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
        elif time.monotonic() > deadline:
            execute(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                "WHERE slot_name = %s",
                [slot],
            )
        time.sleep(0.1)


def drop_publication(name: str) -> None:
    execute(f'DROP PUBLICATION IF EXISTS "{name}"')


def drop_table(name: str) -> None:
    execute(f'DROP TABLE IF EXISTS "{name}"')


def trigger_yaml(
    slot: str, publication: str, *, extra: dict[str, str] | None = None, indent: str = ""
) -> str:
    """A Debezium PostgreSQL RealtimeTrigger on the stack's server (``extra`` properties
    added as given)."""
    host, port = postgres_address()
    lines = [
        "- id: source",
        "  type: io.kestra.plugin.debezium.postgres.RealtimeTrigger",
        f"  hostname: {host}",
        f'  port: "{port}"',
        "  username: kflow",
        "  password: kflow",
        "  database: kflow",
        f"  slotName: {slot}",
        f"  publicationName: {publication}",
    ]
    lines += [f"  {k}: {v}" for k, v in (extra or {}).items()]
    return "\n".join(indent + line for line in lines) + "\n"


class PostgresCdcKit(SourceKit):
    kind, broker, unordered = "postgres", "postgres", None
    undecodable = (
        "a database change is a typed row: there is no undecodable payload to send "
        "(bad values are refused by PostgreSQL itself)"
    )

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.table = name
        self.slot = f"{name}_slot"[:63]
        self.publication = f"{name}_pub"

    def field(self, name: str) -> str:
        return f"trigger.data.{name}"

    def prepare(self) -> None:
        execute(f'CREATE TABLE "{self.table}" (pk text PRIMARY KEY, id text, k text, n int)')
        execute(f'CREATE PUBLICATION "{self.publication}" FOR TABLE "{self.table}"')
        create_slot(self.slot)

    def publish(self, batch: list[Message]) -> None:
        statements = []
        for m in batch:
            body = json.loads(m.payload)
            statements.append(
                (
                    f'INSERT INTO "{self.table}" (pk, id, k, n) VALUES (%s, %s, %s, %s) '
                    "ON CONFLICT (pk) DO UPDATE SET id = excluded.id, n = excluded.n",
                    [body["k"] or body["id"], body["id"], body["k"], body["n"]],
                )
            )
        execute_many(statements)

    def trigger(self) -> str:
        return trigger_yaml(self.slot, self.publication, extra={"snapshotMode": "NEVER"})

    def cleanup(self) -> None:
        drop_slot(self.slot)
        drop_publication(self.publication)
        drop_table(self.table)
