"""Replaying order events into Kafka (``kflow produce orders``).

Each event is a JSON object whose values are strings, as in the blog post;
the Kafka key is one field of it (``order_id`` by default). Events are paced
by a :class:`~kflow.data.pacing.RateSchedule`, every send is tracked until the
broker acknowledges or rejects it, and the run ends with a
:class:`ProduceResult` (sent, acknowledged, failed).

Sending stops at the first failure: when the broker rejects one event the
following ones would most likely fail the same way.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kflow.connectors.kafka import ensure_topic, kafka_errors, make_admin, make_producer
from kflow.connectors.masking import one_line
from kflow.data.pacing import RateSchedule
from kflow.errors import DataError, KafkaError

__all__ = [
    "ProduceResult",
    "ProduceStats",
    "ProduceTarget",
    "encode_event",
    "prepare_topic",
    "produce_events",
    "replay",
]

FLUSH_TIMEOUT_S = 60.0
"""Longest wait, after the last send, for outstanding acknowledgements."""

PROGRESS_INTERVAL_S = 0.1


@dataclass(frozen=True)
class ProduceTarget:
    """Where events go and how they are keyed."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "orders"
    key_field: str | None = "order_id"
    properties: Mapping[str, Any] = field(default_factory=dict)
    """Extra Java-style producer properties (``linger.ms``, ``security.protocol``...)."""


@dataclass
class ProduceStats:
    """Live counters of a run (updated from the producer's I/O thread too)."""

    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    acknowledged: int = 0
    failed: int = 0
    first_error: str | None = None
    frozen: bool = False
    """Set once the run is over: late callbacks no longer change the counts."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def ack(self, _metadata: object = None) -> None:
        with self._lock:
            if not self.frozen:
                self.acknowledged += 1

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.frozen:
                return
            self.failed += 1
            if self.first_error is None:
                self.first_error = one_line(str(exc) or type(exc).__name__)


@dataclass(frozen=True)
class ProduceResult:
    """Outcome of a run: every sent event is either acknowledged or failed."""

    sent: int
    acknowledged: int
    failed: int
    seconds: float
    first_error: str | None = None
    interrupted: bool = False

    @property
    def rate(self) -> float:
        """Acknowledged events per second over the whole run."""
        return self.acknowledged / self.seconds if self.seconds > 0 else 0.0


def replay(
    rows: Sequence[Mapping[str, str]], *, loop: bool = False, count: int | None = None
) -> Iterator[Mapping[str, str]]:
    """The rows once (or forever with ``loop``), cut after ``count`` events."""
    events: Iterable[Mapping[str, str]] = itertools.cycle(rows) if loop and rows else rows
    return itertools.islice(events, count) if count is not None else iter(events)


def encode_event(event: Mapping[str, Any], key_field: str | None) -> tuple[bytes | None, bytes]:
    """Kafka key and value of ``event``: its ``key_field`` text and its JSON (UTF-8)."""
    key = None
    if key_field is not None:
        if key_field not in event:
            raise DataError(f"event has no field {key_field!r} to use as the Kafka key")
        key = str(event[key_field]).encode("utf-8")
    value = json.dumps(event, ensure_ascii=False).encode("utf-8")
    return key, value


def prepare_topic(target: ProduceTarget, partitions: int) -> int:
    """Create ``target.topic`` with ``partitions`` partitions unless it exists.

    Returns the topic's partition count.
    """
    admin = make_admin({"bootstrap.servers": target.bootstrap_servers, **target.properties})
    try:
        return ensure_topic(admin, target.topic, partitions)
    finally:
        admin.close()


def _producer_properties(target: ProduceTarget, rate: float) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "bootstrap.servers": target.bootstrap_servers,
        "client.id": "kflow-produce",
        # Paced events go out at once; unpaced ones are batched a little.
        "linger.ms": 0 if rate > 0 else 5,
        "max.block.ms": 10_000,
        "request.timeout.ms": 15_000,
        "delivery.timeout.ms": 45_000,
    }
    properties.update(target.properties)
    return properties


def produce_events(
    events: Iterable[Mapping[str, Any]],
    target: ProduceTarget,
    rate: float = 1.0,
    on_progress: Callable[[ProduceStats], None] | None = None,
) -> ProduceResult:
    """Send ``events`` to ``target`` at ``rate`` per second (0: as fast as possible).

    ``on_progress(stats)`` is called from the calling thread about every 0.1 s
    and once at the end. Ctrl-C stops sending; outstanding events are still
    awaited and the result says ``interrupted``. Raises :class:`KafkaError` when
    the brokers cannot be reached, :class:`DataError` for an event without the
    key field (before sending it).
    """
    producer = make_producer(_producer_properties(target, rate))
    stats = ProduceStats()
    last_report = 0.0

    def report(force: bool = False) -> None:
        nonlocal last_report
        now = time.monotonic()
        if on_progress is not None and (force or now - last_report >= PROGRESS_INTERVAL_S):
            last_report = now
            on_progress(stats)

    def sleep_reporting(seconds: float) -> None:
        time.sleep(min(seconds, PROGRESS_INTERVAL_S))
        report()

    schedule = RateSchedule(rate, sleep=sleep_reporting)
    interrupted = False
    try:
        with kafka_errors(target.bootstrap_servers):
            _await_topic(producer, target)
            try:
                for index, event in enumerate(events):
                    if stats.first_error is not None:
                        break
                    key, value = encode_event(event, target.key_field)
                    schedule.wait(index)
                    try:
                        future = producer.send(target.topic, key=key, value=value)
                    except Exception as exc:  # a send that cannot even be queued
                        stats.sent += 1
                        stats.fail(exc)
                        break
                    stats.sent += 1
                    future.add_callback(stats.ack)
                    future.add_errback(stats.fail)
                    report()
            except KeyboardInterrupt:
                interrupted = True
            _await_outstanding(producer, stats)
            result = ProduceResult(
                sent=stats.sent,
                acknowledged=stats.acknowledged,
                failed=stats.failed,
                seconds=stats.seconds,
                first_error=stats.first_error,
                interrupted=interrupted,
            )
    finally:
        # A broker that went away mid-send makes close() time out: the counts above already
        # say what was acknowledged, so that is not an error of its own.
        with contextlib.suppress(Exception):
            producer.close(timeout=5)
    report(force=True)
    return result


def _await_topic(producer: Any, target: ProduceTarget) -> None:
    """Fetch the topic's metadata (the broker may create it) before the first event is due.

    Otherwise the first send blocks on it and the events after it go out in a burst.
    """
    import kafka.errors

    try:
        producer.partitions_for(target.topic)
    except kafka.errors.KafkaTimeoutError as exc:
        raise KafkaError(
            f"topic {target.topic!r} is not available on Kafka at {target.bootstrap_servers} "
            "(does it exist? --partitions N creates it)",
            address=target.bootstrap_servers,
        ) from exc


def _await_outstanding(producer: Any, stats: ProduceStats) -> None:
    """Flush, then count whatever the broker never answered as failed and freeze the counts."""
    flush_error = None
    try:
        producer.flush(timeout=FLUSH_TIMEOUT_S)
    except Exception as exc:
        flush_error = one_line(str(exc) or type(exc).__name__)
    with stats._lock:
        stats.frozen = True
        unanswered = stats.sent - stats.acknowledged - stats.failed
        if unanswered > 0:
            stats.failed += unanswered
            if stats.first_error is None:
                stats.first_error = flush_error or f"{unanswered} event(s) never acknowledged"
