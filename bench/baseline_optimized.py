"""The blog's job written by hand as fast as these clients allow (the optimized baseline).

- one prepared statement, run with ``execute_async`` (at most ``IN_FLIGHT`` at once);
- records are handled in the batches ``poll`` returns: lookups of a batch overlap,
  its documents go to MongoDB in one ``insert_many`` on a writer thread, so the
  next batch's lookups overlap the previous batch's insert;
- offsets are committed only once the batch's documents are stored.

With ``--tuned`` (the bench's ``tuned`` contender) it also applies the client settings kflow
uses, and nothing else: rows as dicts (``dict_factory``, as kflow's Cassandra ``Query``
task; the default ``named_tuple_factory`` builds a namedtuple class per result page), the
native protocol v4 (``kflow.connectors.cassandra.PROTOCOL_VERSION``: the driver's default v5
frames every message in checksummed segments built in pure Python) and ``check_crcs=False``
(as kflow's Kafka trigger: kafka-python checks each batch's CRC32C in pure Python; the
broker checked it when the batch was produced). Without it, the program is the one earlier
bench runs measured.

Run by bench/run; by hand::

    .venv/bin/python bench/baseline_optimized.py --topic T --group G --collection C \
        --count N --out result.json [--tuned]
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cassandra.cluster import Cluster
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from pymongo import MongoClient
from recorder import Recorder

IN_FLIGHT = 256
MAX_BATCHES_WAITING = 4
MAX_POLL_RECORDS = 1000
COMMIT_EVERY_S = 0.02
TUNED_PROTOCOL_VERSION = 4
"""``--tuned``: kflow's ``kflow.connectors.cassandra.PROTOCOL_VERSION`` (not imported: the
baseline uses the clients only)."""

LOOKUP = (
    "SELECT product_id, product_name, brand, product_category "
    "FROM kestra.products WHERE product_id = ?"
)


def build_document(order: dict[str, Any], row: Any) -> dict[str, Any]:
    return {
        "order_id": order["order_id"],
        "customer_name": order["customer_name"],
        "customer_email": order["customer_email"],
        "product_id": order["product_id"],
        "price": order["price"],
        "quantity": order["quantity"],
        "total": order["total"],
        "product": {
            "id": str(row.product_id),
            "name": row.product_name,
            "brand": row.brand,
            "category": row.product_category,
        },
    }


def build_document_from_dict(order: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """:func:`build_document` for a row of ``dict_factory`` (``--tuned``)."""
    return {
        "order_id": order["order_id"],
        "customer_name": order["customer_name"],
        "customer_email": order["customer_email"],
        "product_id": order["product_id"],
        "price": order["price"],
        "quantity": order["quantity"],
        "total": order["total"],
        "product": {
            "id": str(row["product_id"]),
            "name": row["product_name"],
            "brand": row["brand"],
            "category": row["product_category"],
        },
    }


def connect_cassandra(host: str, tuned: bool) -> Cluster:
    """The driver's defaults; ``tuned``: rows as dicts and protocol v4, as kflow."""
    if not tuned:
        return Cluster([host], port=9042)
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
    from cassandra.query import dict_factory

    return Cluster(
        [host],
        port=9042,
        protocol_version=TUNED_PROTOCOL_VERSION,
        execution_profiles={EXEC_PROFILE_DEFAULT: ExecutionProfile(row_factory=dict_factory)},
    )


def main() -> None:
    args = parse_args()
    recorder = Recorder(Path(args.out), args.count)
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)

    cluster = connect_cassandra(args.cassandra_host, args.tuned)
    session = cluster.connect()
    document = build_document_from_dict if args.tuned else build_document
    lookup = session.prepare(LOOKUP)
    mongo: MongoClient[dict[str, Any]] = MongoClient(args.mongo_uri)
    collection = mongo[args.database][args.collection]
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mongo-writer")
    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=MAX_POLL_RECORDS,
        **({"check_crcs": False} if args.tuned else {}),
    )
    # (insert future, next offset per partition) in the order the batches were read
    waiting: deque[tuple[Future[None], dict[TopicPartition, int]]] = deque()
    to_commit: dict[TopicPartition, OffsetAndMetadata] = {}
    last_commit = 0.0

    def store(documents: list[dict[str, Any]], items: list[tuple[int, int, int]]) -> None:
        collection.insert_many(documents)
        recorder.done(items)

    def settle(block: bool) -> None:
        """Move stored batches' offsets to ``to_commit`` (in read order)."""
        while waiting and (block or waiting[0][0].done()):
            future, positions = waiting.popleft()
            future.result()
            for tp, offset in positions.items():
                to_commit[tp] = OffsetAndMetadata(offset, "", -1)
            block = block and len(waiting) >= MAX_BATCHES_WAITING

    try:
        while not stop and not recorder.finished:
            polled = consumer.poll(timeout_ms=5 if waiting else 100)
            messages = [m for batch in polled.values() for m in batch]
            if messages:
                recorder.received()
                orders = [json.loads(m.value) for m in messages]
                rows: list[Any] = []
                for start in range(0, len(orders), IN_FLIGHT):
                    chunk = orders[start : start + IN_FLIGHT]
                    futures = [
                        session.execute_async(lookup, (int(o["product_id"]),)) for o in chunk
                    ]
                    rows.extend(f.result().one() for f in futures)
                documents = [document(o, r) for o, r in zip(orders, rows, strict=True)]
                items = [(m.partition, m.offset, m.timestamp) for m in messages]
                positions: dict[TopicPartition, int] = {}
                for m in messages:
                    positions[TopicPartition(m.topic, m.partition)] = m.offset + 1
                waiting.append((writer.submit(store, documents, items), positions))
            settle(block=len(waiting) >= MAX_BATCHES_WAITING)
            now = time.monotonic()
            if to_commit and now - last_commit >= COMMIT_EVERY_S:
                consumer.commit(dict(to_commit))
                to_commit.clear()
                last_commit = now
        settle(block=True)
        while waiting:
            settle(block=True)
        if to_commit:
            consumer.commit(dict(to_commit))
    finally:
        writer.shutdown(wait=True)
        recorder.write()
        consumer.close(autocommit=False)
        mongo.close()
        cluster.shutdown()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--database", default="kflow_bench")
    parser.add_argument("--count", type=int, required=True, help="stop after N records")
    parser.add_argument("--out", required=True, help="where the measurements go (JSON)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--cassandra-host", default="127.0.0.1")
    parser.add_argument("--mongo-uri", default="mongodb://127.0.0.1:27017")
    parser.add_argument(
        "--tuned",
        action="store_true",
        help="kflow's client settings: dict rows, protocol v4, check_crcs off",
    )
    return parser.parse_args()


if __name__ == "__main__":
    main()
