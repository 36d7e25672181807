"""The blog's job written by hand, the straightforward way (the naive baseline).

Per record: parse the JSON, format the CQL string, run it synchronously, build
the document, ``insert_one`` it, commit the record's offset. This is what a
user writes from the blog post without kflow.

Run by bench/run; by hand::

    .venv/bin/python bench/baseline_naive.py --topic T --group G --collection C \
        --count N --out result.json
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path
from typing import Any

from cassandra.cluster import Cluster
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from pymongo import MongoClient
from recorder import Recorder


def main() -> None:
    args = parse_args()
    recorder = Recorder(Path(args.out), args.count)
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)

    cluster = Cluster([args.cassandra_host], port=9042)
    session = cluster.connect()
    mongo: MongoClient[dict[str, Any]] = MongoClient(args.mongo_uri)
    collection = mongo[args.database][args.collection]
    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        while not stop and not recorder.finished:
            polled = consumer.poll(timeout_ms=100)
            if polled:
                recorder.received()
            for message in (m for batch in polled.values() for m in batch):
                if recorder.finished:
                    break
                order = json.loads(message.value)
                cql = f"SELECT * FROM kestra.products WHERE product_id = {order['product_id']}"
                row = session.execute(cql).one()
                document = {
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
                collection.insert_one(document)
                tp = TopicPartition(message.topic, message.partition)
                consumer.commit({tp: OffsetAndMetadata(message.offset + 1, "", -1)})
                recorder.done([(message.partition, message.offset, message.timestamp)])
    finally:
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
    return parser.parse_args()


if __name__ == "__main__":
    main()
