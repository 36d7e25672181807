"""Kafka for tests and benchmarks: topics, acknowledged producers, reading back, group offsets.

Every producer here waits for the broker's acknowledgement (``acks=all``) of every record, so
a test that finds an order missing downstream knows Kafka had it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from testkit.orders import encoded, order
from testkit.waiting import wait_until

Offsets = dict[tuple[str, int], int]


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    """Create ``topic`` and wait until the broker serves metadata for all its partitions.

    A consumer that subscribes while the topic is still being created rejoins its group once
    the partitions appear; starting on a settled topic keeps that rejoin out of the scenario.
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
    probe = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + 30
        while len(probe.partitions_for_topic(topic) or ()) < partitions:
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {topic} has no metadata after 30 s")
            time.sleep(0.1)
            probe.topics()  # refreshes the metadata
    finally:
        probe.close()


def delete_topics(bootstrap: str, topics: list[str]) -> None:
    """Best effort: the topics are uniquely named and small."""
    if not topics:
        return
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics(topics)
    except Exception:
        pass
    finally:
        admin.close()


def send_all(bootstrap: str, topic: str, records: list[tuple[bytes | str | None, bytes]]) -> None:
    """Send ``(key, value)`` records to an existing topic, waiting for every acknowledgement."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [
            producer.send(topic, key=k.encode() if isinstance(k, str) else k, value=v)
            for k, v in records
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def produce(
    bootstrap: str, topic: str, records: list[tuple[str | None, bytes]], partitions: int = 1
) -> None:
    """Create ``topic`` and send ``(key, value)`` records, waiting for every acknowledgement."""
    create_topic(bootstrap, topic, partitions)
    send_all(bootstrap, topic, list(records))


@dataclass
class PacedProducer:
    """Sends ``count`` orders ``order(prefix, 0..count-1)`` at ``rate``/s from a thread.

    Keys are the order ids. ``acked`` counts broker acknowledgements; ``errors`` keeps the
    first failures (a test asserts it is empty). ``retries`` lets sends ride out a broker
    restart.
    """

    bootstrap: str
    topic: str
    count: int
    rate: float
    prefix: str
    retries: int = 0
    padding: int = 0
    acked: int = 0
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _abort: threading.Event = field(default_factory=threading.Event)

    def start(self) -> PacedProducer:
        self._thread = threading.Thread(target=self._run, name="paced-producer", daemon=True)
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def _ok(self, _meta: object) -> None:
        with self._lock:
            self.acked += 1

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if len(self.errors) < 5:
                self.errors.append(repr(exc))

    def _run(self) -> None:
        options: dict[str, Any] = {"acks": "all", "linger_ms": 5}
        if self.retries:
            options.update(
                retries=self.retries,
                retry_backoff_ms=500,
                request_timeout_ms=60_000,
                max_block_ms=120_000,
                max_in_flight_requests_per_connection=1,
            )
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, **options)
        try:
            start = time.monotonic()
            for i in range(self.count):
                if self._abort.is_set():
                    break
                due = start + i / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing, not synchronisation
                row = order(self.prefix, i, self.padding)
                future = producer.send(self.topic, key=row["order_id"].encode(), value=encoded(row))
                future.add_callback(self._ok)
                future.add_errback(self._fail)
                self.sent += 1
            producer.flush(timeout=180)
        finally:
            producer.close()

    def abort(self) -> None:
        """Stop sending and wait for the thread (used in ``finally``)."""
        self._abort.set()
        if self._thread is not None:
            self._thread.join(60)

    def join(self, timeout: float = 300) -> None:
        """Wait for the last send; fail unless the broker acknowledged every record."""
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"producer still sending after {timeout} s"
        assert not self.errors, self.errors
        assert self.acked == self.count, f"broker acknowledged {self.acked} of {self.count}"


def consume_all(bootstrap: str, topic: str, count: int, deadline_s: float = 60) -> list[Any]:
    """At least ``count`` records of ``topic`` from its beginning (fewer at the deadline)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    out: list[Any] = []
    deadline = time.monotonic() + deadline_s
    try:
        while len(out) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
        # anything beyond ``count`` already fetched
        for records in consumer.poll(timeout_ms=500).values():
            out.extend(records)
    finally:
        consumer.close()
    return out


def read_topic(bootstrap: str, topic: str, decode: Callable[[bytes], Any]) -> list[dict[str, Any]]:
    """Every record of ``topic`` as ``{partition, offset, timestamp, value}`` (value decoded)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read {topic} back within 60 s")
            for batch in consumer.poll(timeout_ms=200, max_records=5000).values():
                out.extend(
                    {
                        "partition": m.partition,
                        "offset": m.offset,
                        "timestamp": m.timestamp,
                        "value": decode(m.value),
                    }
                    for m in batch
                )
        return out
    finally:
        consumer.close()


def _group_offsets(admin: KafkaAdminClient, group: str) -> Offsets:
    from kafka.errors import KafkaError

    try:
        found = admin.list_group_offsets(group).get(group, {})
    except KafkaError:
        return {}
    return {(tp.topic, tp.partition): meta.offset for tp, meta in found.items()}


def committed_offsets(bootstrap: str, group: str) -> Offsets:
    """The group's committed offsets; empty while its coordinator is not available."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return _group_offsets(admin, group)
    finally:
        admin.close()


def end_offsets(bootstrap: str, topic: str) -> Offsets:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        return {(tp.topic, tp.partition): o for tp, o in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def committed_lag(bootstrap: str, topic: str, group: str) -> int:
    """Records of ``topic`` past the group's committed offsets (0: everything committed)."""
    ends = end_offsets(bootstrap, topic)
    committed = committed_offsets(bootstrap, group)
    return sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())


def wait_all_committed(
    bootstrap: str, topic: str, group: str, *, timeout: float, what: str
) -> Offsets:
    """Wait until ``group`` has committed every record ``topic`` holds now.

    One admin client polls the group (a client per probe leaves sockets behind when the
    coordinator is busy rebalancing).
    """
    ends = end_offsets(bootstrap, topic)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return wait_until(
            lambda: _group_offsets(admin, group),
            lambda c: all(c.get(tp, -1) >= end for tp, end in ends.items()),
            timeout=timeout,
            what=what,
            every=0.5,
        )
    finally:
        admin.close()
