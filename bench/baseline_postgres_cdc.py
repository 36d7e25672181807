"""The blog's job fed by PostgreSQL change data capture, written by hand with psycopg2's
logical replication (the PostgreSQL CDC baseline).

The same work as ``kflow run samples/blog-flow-postgres-cdc.yaml --concurrency 64`` on a
slot made beforehand (``snapshotMode: NEVER``), done as well as these clients allow:

- the slot's changes streamed with the built-in ``pgoutput`` plug-in (protocol version 1,
  the publication given) through a ``LogicalReplicationConnection``, read with a
  non-blocking ``read_message`` loop; the few messages the job needs (Begin, Relation,
  Insert, Update, Commit) decoded here, the values kept as the text PostgreSQL sends;
- at most ``--in-work`` changes (64: kflow's ``--concurrency``) between their arrival and
  their document stored: past that the stream is not read;
- one prepared statement, run with ``execute_async`` as each change arrives (the driver's
  callback hands the document to the writer), so every change in work has its lookup in
  flight at once;
- documents go to MongoDB through one writer thread that puts whatever is waiting (up to
  ``MAX_BATCH``) into one ``insert_many``, as kflow's ``InsertOne`` does with the
  documents of concurrent executions;
- the slot is confirmed (``send_feedback(flush_lsn=...)``) only up to the end LSN of the
  last transaction that, with every transaction before it, has all its documents stored:
  kflow's guarantee (after a crash PostgreSQL sends again exactly what was not stored).
  Before exiting it waits until the slot shows that position.

The document is the sample's: the order's columns as text, ``operation`` (``CREATE`` for an
insert, ``UPDATE`` for an update; deletes start nothing, as ``deleted: DROP``) and the
product.

Run by ``bench/sources.py``; by hand (the slot and the publication must exist before the
rows are written, or the changes are not in the slot)::

    .venv/bin/python bench/baseline_postgres_cdc.py --slot S --publication P \
        --collection C --count N --out result.json
"""

from __future__ import annotations

import argparse
import select
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
from cassandra.cluster import Cluster
from psycopg2.extras import LogicalReplicationConnection
from pymongo import MongoClient
from recorder import Recorder

IN_WORK = 64
MAX_BATCH = 500
IDLE_WAIT_S = 0.05
FINAL_CONFIRM_WAIT_S = 10.0
LOOKUP = (
    "SELECT product_id, product_name, brand, product_category "
    "FROM kestra.products WHERE product_id = ?"
)
OPERATIONS = {b"I": "CREATE", b"U": "UPDATE"}


# pgoutput, protocol version 1 ----------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    oid: int
    columns: tuple[str, ...]


def _cstring(data: bytes, at: int) -> tuple[str, int]:
    end = data.index(b"\0", at)
    return data[at:end].decode(), end + 1


def decode_relation(data: bytes) -> Relation:
    """``R``: oid, namespace, name, replica identity, then (flags, name, type, typmod) per
    column."""
    (oid,) = struct.unpack_from(">I", data, 1)
    _namespace, at = _cstring(data, 5)
    _name, at = _cstring(data, at)
    (ncols,) = struct.unpack_from(">H", data, at + 1)  # after the replica identity byte
    at += 3
    columns = []
    for _ in range(ncols):
        name, at = _cstring(data, at + 1)  # after the flags byte
        at += 8  # type oid, type modifier
        columns.append(name)
    return Relation(oid, tuple(columns))


def decode_tuple(data: bytes, at: int, columns: tuple[str, ...]) -> dict[str, str | None]:
    """TupleData: the column count, then per column ``n`` (null), ``u`` (unchanged TOAST:
    left out) or ``t`` and its text."""
    (ncols,) = struct.unpack_from(">H", data, at)
    at += 2
    row: dict[str, str | None] = {}
    for i in range(ncols):
        kind = data[at]
        at += 1
        if kind == 0x74:  # 't'
            (size,) = struct.unpack_from(">I", data, at)
            at += 4
            row[columns[i]] = data[at : at + size].decode()
            at += size
        elif kind == 0x6E:  # 'n'
            row[columns[i]] = None
    return row


def decode_new_row(data: bytes, relations: dict[int, Relation]) -> dict[str, str | None]:
    """The new row of an ``I`` (oid, ``N``, tuple) or ``U`` (oid, [``K``|``O`` tuple], ``N``,
    tuple) message."""
    (oid,) = struct.unpack_from(">I", data, 1)
    columns = relations[oid].columns
    at = 5
    if data[at] in (0x4B, 0x4F):  # 'K' / 'O': the old key or row, skipped
        at += 1
        (ncols,) = struct.unpack_from(">H", data, at)
        at += 2
        for _ in range(ncols):
            kind = data[at]
            at += 1
            if kind == 0x74:
                (size,) = struct.unpack_from(">I", data, at)
                at += 4 + size
    return decode_tuple(data, at + 1, columns)  # after 'N'


def commit_end_lsn(data: bytes) -> int:
    """``C``: flags, commit LSN, end LSN, timestamp; the end LSN (what a slot confirms)."""
    return int(struct.unpack_from(">Q", data, 10)[0])


# the confirmed position ----------------------------------------------------------------------


@dataclass(eq=False)
class Txn:
    running: int = 0  # changes whose documents are not stored yet
    end_lsn: int | None = None  # known at its commit


@dataclass(eq=False)
class Ledger:
    """Transactions in stream order; ``confirmed`` is the end LSN of the last one that, with
    all before it, is committed and has every document stored. Thread-safe."""

    in_work_limit: int
    confirmed: int = 0
    in_work: int = 0
    _txns: deque[Txn] = field(default_factory=deque)
    _open: Txn | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def begin(self) -> None:
        with self._cond:
            self._open = Txn()
            self._txns.append(self._open)

    def change(self) -> Txn:
        with self._cond:
            assert self._open is not None, "a change outside a transaction"
            self._open.running += 1
            self.in_work += 1
            return self._open

    def commit(self, end_lsn: int) -> None:
        with self._cond:
            if self._open is not None:
                self._open.end_lsn = end_lsn
                self._open = None
            self._advance()

    def stored(self, txns: list[Txn]) -> None:
        with self._cond:
            for txn in txns:
                txn.running -= 1
            self.in_work -= len(txns)
            self._advance()
            self._cond.notify_all()

    def wait_for_room(self, timeout: float) -> bool:
        """True when fewer than ``in_work_limit`` changes are in work (waits up to
        ``timeout``)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.in_work < self.in_work_limit, timeout)

    @property
    def settled(self) -> bool:
        """Every transaction read is committed and stored (and so confirmable)."""
        with self._cond:
            return not self._txns and self._open is None

    def _advance(self) -> None:
        while self._txns and self._txns[0].end_lsn is not None and not self._txns[0].running:
            self.confirmed = self._txns.popleft().end_lsn or self.confirmed


# the job -------------------------------------------------------------------------------------


def build_document(row: dict[str, str | None], operation: str, product: Any) -> dict[str, Any]:
    """The sample's document: the order's columns as text, the operation, its product."""
    return {
        "order_id": str(row["order_id"]),
        "customer_name": str(row["customer_name"]),
        "customer_email": str(row["customer_email"]),
        "product_id": str(row["product_id"]),
        "price": str(row["price"]),
        "quantity": str(row["quantity"]),
        "total": str(row["total"]),
        "operation": operation,
        "product": {
            "id": str(product.product_id),
            "name": product.product_name,
            "brand": product.brand,
            "category": product.product_category,
        },
    }


class Writer:
    """One thread inserting the documents waiting, many at a time; ``on_stored`` gets the
    transactions of each stored batch's changes (on the writer thread)."""

    def __init__(self, collection: Any, on_stored: Callable[[list[Txn]], None]) -> None:
        self.collection = collection
        self.on_stored = on_stored
        self.error: BaseException | None = None
        self._waiting: list[tuple[dict[str, Any], Txn]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mongo-writer", daemon=True)
        self._thread.start()

    def put(self, document: dict[str, Any], txn: Txn) -> None:
        with self._cond:
            self._waiting.append((document, txn))
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(30)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if not self._waiting:
                    return
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
            try:
                self.collection.insert_many([d for d, _ in batch], ordered=False)
            except BaseException as exc:
                self.error = exc
                return
            self.on_stored([t for _, t in batch])


def slot_confirmed(dsn: str, slot: str) -> int:
    """The slot's ``confirmed_flush_lsn`` (0 when unknown)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
                [slot],
            )
            row = cur.fetchone()
    finally:
        conn.close()
    if not row or not row[0]:
        return 0
    high, _, low = row[0].partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def consume(args: argparse.Namespace, recorder: Recorder) -> None:
    cluster = Cluster([args.cassandra_host], port=9042)
    session = cluster.connect()
    lookup = session.prepare(LOOKUP)
    mongo: MongoClient[dict[str, Any]] = MongoClient(args.mongo_uri)
    collection = mongo[args.database][args.collection]
    ledger = Ledger(args.in_work)
    problem: list[BaseException] = []

    def stored(txns: list[Txn]) -> None:  # writer thread
        recorder.done([(0, 0, 0)] * len(txns))
        ledger.stored(txns)

    writer = Writer(collection, stored)

    def looked_up(rows: Any, row: dict[str, str | None], operation: str, txn: Txn) -> None:
        if not rows:  # driver thread
            problem.append(LookupError(f"order {row['order_id']}: no product {row['product_id']}"))
            return
        writer.put(build_document(row, operation, rows[0]), txn)

    def failed(exc: BaseException) -> None:  # driver thread
        problem.append(exc)

    repl = psycopg2.connect(args.dsn, connection_factory=LogicalReplicationConnection)
    try:
        cur = repl.cursor()
        cur.start_replication(
            slot_name=args.slot,
            decode=False,
            options={"proto_version": "1", "publication_names": args.publication},
        )
        relations: dict[int, Relation] = {}
        sent = 0
        while True:
            if writer.error is not None:
                problem.append(writer.error)
            if problem:
                raise problem[0]
            confirmed = ledger.confirmed
            if confirmed > sent:
                cur.send_feedback(write_lsn=confirmed, flush_lsn=confirmed, force=True)
                sent = confirmed
            if recorder.finished and ledger.settled:
                break
            if not ledger.wait_for_room(IDLE_WAIT_S):
                continue
            message = cur.read_message()
            if message is None:
                select.select([cur], [], [], IDLE_WAIT_S)
                continue
            data: bytes = message.payload
            kind = data[:1]
            if kind in OPERATIONS:
                recorder.received()
                row = decode_new_row(data, relations)
                future = session.execute_async(lookup, (int(row["product_id"] or 0),))
                future.add_callbacks(
                    looked_up, failed, callback_args=(row, OPERATIONS[kind], ledger.change())
                )
            elif kind == b"B":
                ledger.begin()
            elif kind == b"C":
                ledger.commit(commit_end_lsn(data))
            elif kind == b"R":
                relation = decode_relation(data)
                relations[relation.oid] = relation
        deadline = time.monotonic() + FINAL_CONFIRM_WAIT_S
        while sent and slot_confirmed(args.dsn, args.slot) < sent:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the slot {args.slot} was not confirmed up to the end")
            cur.send_feedback(write_lsn=sent, flush_lsn=sent, force=True)
            time.sleep(0.02)
    finally:
        repl.close()
        writer.close()
        mongo.close()
        cluster.shutdown()


def main() -> None:
    args = parse_args()
    recorder = Recorder(Path(args.out), args.count)
    try:
        consume(args, recorder)
    finally:
        recorder.write()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slot", required=True, help="the logical slot (pgoutput) to stream")
    parser.add_argument("--publication", required=True, help="the publication of the table")
    parser.add_argument("--collection", required=True, help="MongoDB collection to fill")
    parser.add_argument("--database", default="kflow_bench", help="MongoDB database")
    parser.add_argument("--count", type=int, required=True, help="stop after N changes stored")
    parser.add_argument("--out", required=True, help="where the measurements go (JSON)")
    parser.add_argument(
        "--in-work", type=int, default=IN_WORK, help="changes in work at once at most (64)"
    )
    parser.add_argument(
        "--dsn", default="postgresql://kflow:kflow@127.0.0.1:5432/kflow", help="PostgreSQL"
    )
    parser.add_argument("--cassandra-host", default="127.0.0.1", help="Cassandra host")
    parser.add_argument("--mongo-uri", default="mongodb://127.0.0.1:27017", help="MongoDB")
    return parser.parse_args()


if __name__ == "__main__":
    main()
