"""The blog's job fed from an MQTT topic, written by hand with paho-mqtt (the MQTT baseline).

The same work as ``kflow run samples/blog-flow-mqtt.yaml --concurrency 64``, done as well
as these clients allow:

- a persistent session (MQTT 5, clean start off, session expiry one day, the client id
  given), subscribed at QoS 1, with manual acknowledgements and a receive maximum of 64
  (kflow's ``--concurrency``); at most 64 messages are in work at once (a broker that sends
  more than the receive maximum, as mosquitto before 2.0.13 does, has the rest wait here;
  ``--in-work 1`` has them run one after another, which is what kflow does with the
  messages of one topic);
- one prepared statement, run with ``execute_async`` from paho's network thread as each
  message arrives (no hop through another thread);
- documents go to MongoDB through one writer thread that puts whatever is waiting (up to
  ``MAX_BATCH``) into one ``insert_many``, as kflow's ``InsertOne`` does with the
  documents of concurrent executions;
- a message is acknowledged (PUBACK) only once its document is stored, and in the order
  the messages arrived, as MQTT requires: a stored message waits for the ones before it.

Run by ``bench/sources.py``; by hand (the session must exist before the messages are
published, or the broker drops them)::

    .venv/bin/python bench/baseline_mqtt.py --topic T --client-id ID --collection C \
        --count N --out result.json
"""

from __future__ import annotations

import argparse
import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cassandra.cluster import Cluster
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pymongo import MongoClient
from recorder import Recorder

RECEIVE_MAXIMUM = 64
SESSION_EXPIRY_S = 86_400
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


class Pipeline:
    """Messages in arrival order -> lookups -> batched inserts -> PUBACKs in arrival order."""

    def __init__(self, args: argparse.Namespace, recorder: Recorder) -> None:
        self.recorder = recorder
        self.limit = args.in_work or args.receive_maximum
        self.cluster = Cluster([args.cassandra_host], port=9042)
        self.session = self.cluster.connect()
        self.lookup = self.session.prepare(LOOKUP)
        self.mongo: MongoClient[dict[str, Any]] = MongoClient(args.mongo_uri)
        self.collection = self.mongo[args.database][args.collection]
        self.client: Any = None
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()  # everything below
        self._seq = 0  # arrival number of the next message
        self._acked = 0  # messages before this number are acknowledged
        self._mids: deque[int] = deque()  # packet ids of messages _acked, _acked + 1, ...
        self._stored: set[int] = set()  # arrival numbers stored, not yet acknowledged
        self._in_work = 0
        self._held: deque[tuple[int, bytes]] = deque()  # beyond the limit: not started
        self._waiting: list[tuple[dict[str, Any], int]] = []  # documents for the writer
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._writer = threading.Thread(target=self._write, name="mongo-writer", daemon=True)
        self._writer.start()

    # paho's network thread -------------------------------------------------------------

    def on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.recorder.received()
        with self._lock:
            seq = self._seq
            self._seq += 1
            self._mids.append(message.mid)
            if self._in_work >= self.limit:
                self._held.append((seq, bytes(message.payload)))
                return
            self._in_work += 1
        self._start(seq, bytes(message.payload))

    def _start(self, seq: int, payload: bytes) -> None:
        order = json.loads(payload)
        future = self.session.execute_async(self.lookup, (int(order["product_id"]),))
        future.add_callbacks(self._looked_up, self._failed, callback_args=(order, seq))

    # the Cassandra driver's thread -------------------------------------------------------

    def _looked_up(self, rows: Any, order: dict[str, Any], seq: int) -> None:
        document = build_document(order, rows[0])
        with self._lock:
            self._waiting.append((document, seq))
            self._wake.notify()

    def _failed(self, exc: BaseException) -> None:
        self.error = exc
        self.finished.set()

    # the writer thread -----------------------------------------------------------------

    def _write(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._wake.wait()
                if not self._waiting:
                    return
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
            try:
                self.collection.insert_many([d for d, _ in batch], ordered=False)
            except BaseException as exc:
                self.error = exc
                self.finished.set()
                return
            self._stored_batch([s for _, s in batch])

    def _stored_batch(self, seqs: list[int]) -> None:
        start: list[tuple[int, bytes]] = []
        release: list[int] = []
        with self._lock:
            self._stored.update(seqs)
            self._in_work -= len(seqs)
            while self._held and self._in_work < self.limit:
                start.append(self._held.popleft())
                self._in_work += 1
            # PUBACKs in arrival order: release the run of stored messages at the front
            while self._acked in self._stored:
                self._stored.discard(self._acked)
                release.append(self._mids.popleft())
                self._acked += 1
        for mid in release:  # only this thread acks, so they go out in this order
            self.client.ack(mid, 1)
        self.recorder.done([(0, s, 0) for s in seqs])
        if self.recorder.finished:
            self.finished.set()
        for seq, payload in start:
            self._start(seq, payload)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._writer.join(30)
        self.mongo.close()
        self.cluster.shutdown()


def main() -> None:
    args = parse_args()
    recorder = Recorder(Path(args.out), args.count)
    pipeline = Pipeline(args, recorder)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=args.client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    pipeline.client = client
    connected = threading.Event()

    def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            pipeline.error = RuntimeError(f"CONNACK refused: {reason}")
            pipeline.finished.set()
            return
        c.subscribe(args.topic, qos=1)  # the session has it already; harmless again
        connected.set()

    client.on_connect = on_connect
    client.on_message = pipeline.on_message
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = SESSION_EXPIRY_S
    properties.ReceiveMaximum = args.receive_maximum
    try:
        client.connect(args.host, args.port, keepalive=30, clean_start=False, properties=properties)
        client.loop_start()
        pipeline.finished.wait()
        if pipeline.error is not None:
            raise pipeline.error
    finally:
        client.disconnect()  # after the PUBACKs queued before it
        client.loop_stop()
        pipeline.close()
        recorder.write()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--client-id", required=True, help="of the persistent session")
    parser.add_argument("--collection", required=True)
    parser.add_argument("--database", default="kflow_bench")
    parser.add_argument("--count", type=int, required=True, help="stop after N messages")
    parser.add_argument("--out", required=True, help="where the measurements go (JSON)")
    parser.add_argument("--receive-maximum", type=int, default=RECEIVE_MAXIMUM)
    parser.add_argument(
        "--in-work",
        type=int,
        default=0,
        help="messages in work at once (default: the receive maximum); 1 runs them one "
        "after another, as kflow runs the messages of one topic",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--cassandra-host", default="127.0.0.1")
    parser.add_argument("--mongo-uri", default="mongodb://127.0.0.1:27017")
    return parser.parse_args()


if __name__ == "__main__":
    main()
