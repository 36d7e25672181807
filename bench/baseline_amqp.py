"""The blog's job fed from a RabbitMQ queue, written by hand with aiormq (the AMQP baseline).

The same work as ``kflow run samples/blog-flow-amqp.yaml --concurrency 64``, done as well
as these clients allow:

- manual acknowledgements with ``basic.qos`` prefetch 64 (kflow's ``--concurrency``): the
  broker never has more than 64 messages out unacknowledged, so at most 64 are in work;
- one prepared statement, run with ``execute_async`` as each message arrives (the
  driver's callback resolves it on the event loop), so every delivered message's lookup
  is in flight at once;
- documents go to MongoDB through one writer thread that puts whatever is waiting (up to
  ``MAX_BATCH``) into one ``insert_many``, as kflow's ``InsertOne`` does with the
  documents of concurrent executions;
- a message is acknowledged only once its document is stored: one ``basic.ack`` with
  ``multiple`` for each run of consecutive delivery tags that is stored.

Run by ``bench/sources.py``; by hand::

    .venv/bin/python bench/baseline_amqp.py --queue Q --collection C --count N --out r.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiormq
from cassandra.cluster import Cluster
from pymongo import MongoClient
from recorder import Recorder

PREFETCH = 64
MAX_BATCH = 500
LOOKUP = (
    "SELECT product_id, product_name, brand, product_category "
    "FROM kestra.products WHERE product_id = ?"
)


def build_document(order: dict[str, Any], row: Any) -> dict[str, Any]:
    """The blog flow's document: the order's fields as text, and its product."""
    return {
        "order_id": str(order["order_id"]),
        "customer_name": str(order["customer_name"]),
        "customer_email": str(order["customer_email"]),
        "product_id": str(order["product_id"]),
        "price": str(order["price"]),
        "quantity": str(order["quantity"]),
        "total": str(order["total"]),
        "product": {
            "id": str(row.product_id),
            "name": row.product_name,
            "brand": row.brand,
            "category": row.product_category,
        },
    }


class Writer:
    """One thread inserting the documents waiting, many at a time; ``on_stored`` gets the
    delivery tags of each stored batch (on the writer thread)."""

    def __init__(self, collection: Any, on_stored: Callable[[list[int]], None]) -> None:
        self.collection = collection
        self.on_stored = on_stored
        self.error: BaseException | None = None
        self._waiting: list[tuple[dict[str, Any], int]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mongo-writer", daemon=True)
        self._thread.start()

    def put(self, document: dict[str, Any], tag: int) -> None:
        with self._cond:
            self._waiting.append((document, tag))
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
                self.on_stored([])
                return
            self.on_stored([t for _, t in batch])


class Acks:
    """Delivery tags stored, turned into ``multiple`` acks of the consecutive ones."""

    def __init__(self) -> None:
        self.acked = 0  # every tag up to this one is acknowledged
        self._stored: set[int] = set()

    def stored(self, tags: list[int]) -> int | None:
        """The highest tag to ack with ``multiple`` now, or None."""
        self._stored.update(tags)
        top = self.acked
        while top + 1 in self._stored:
            top += 1
            self._stored.discard(top)
        if top == self.acked:
            return None
        self.acked = top
        return top


async def consume(args: argparse.Namespace, recorder: Recorder) -> None:
    loop = asyncio.get_running_loop()
    cluster = Cluster([args.cassandra_host], port=9042)
    session = cluster.connect()
    lookup = session.prepare(LOOKUP)
    mongo: MongoClient[dict[str, Any]] = MongoClient(args.mongo_uri)
    collection = mongo[args.database][args.collection]
    connection = await aiormq.connect(args.url)
    channel = await connection.channel()
    await channel.basic_qos(prefetch_count=args.prefetch)
    acks = Acks()
    done = asyncio.Event()
    problem: list[BaseException] = []
    sending: set[asyncio.Task[None]] = set()

    async def send_ack(top: int) -> None:
        await channel.basic_ack(top, multiple=True, wait=False)

    def stored(tags: list[int]) -> None:  # on the event loop
        if writer.error is not None:
            problem.append(writer.error)
            done.set()
            return
        recorder.done([(0, t, 0) for t in tags])
        top = acks.stored(tags)
        if top is not None:
            task = loop.create_task(send_ack(top))
            sending.add(task)
            task.add_done_callback(sending.discard)
        if recorder.finished:
            done.set()

    def stored_soon(tags: list[int]) -> None:  # on the writer thread
        loop.call_soon_threadsafe(stored, tags)

    writer = Writer(collection, stored_soon)

    def looked_up(rows: Any, order: dict[str, Any], tag: int) -> None:  # driver thread
        writer.put(build_document(order, rows[0]), tag)

    def failed(exc: BaseException) -> None:  # driver thread
        def fail() -> None:
            problem.append(exc)
            done.set()

        loop.call_soon_threadsafe(fail)

    async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
        recorder.received()
        tag = message.delivery_tag
        assert tag is not None
        order = json.loads(message.body)
        future = session.execute_async(lookup, (int(order["product_id"]),))
        future.add_callbacks(looked_up, failed, callback_args=(order, tag))

    try:
        await channel.basic_consume(args.queue, on_message, no_ack=False)
        await done.wait()
        if problem:
            raise problem[0]
        await asyncio.gather(*sending)
        await channel.close()  # the broker answers after the acks before it
    finally:
        await connection.close()
        writer.close()
        mongo.close()
        cluster.shutdown()


def main() -> None:
    args = parse_args()
    recorder = Recorder(Path(args.out), args.count)
    try:
        asyncio.run(consume(args, recorder))
    finally:
        recorder.write()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--database", default="kflow_bench")
    parser.add_argument("--count", type=int, required=True, help="stop after N messages")
    parser.add_argument("--out", required=True, help="where the measurements go (JSON)")
    parser.add_argument("--prefetch", type=int, default=PREFETCH)
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--cassandra-host", default="127.0.0.1")
    parser.add_argument("--mongo-uri", default="mongodb://127.0.0.1:27017")
    return parser.parse_args()


if __name__ == "__main__":
    main()
