"""Kafka ``RealtimeTrigger``: one execution per record, offsets committed only when finished.

kafka-python's consumer is not thread-safe, so one thread owns it: it polls,
deserializes, hands batches to the event loop, and applies the commits and
pause/resume requests the service makes. A record that cannot be
deserialized becomes a record with an ``error`` (a FAILED execution), and the
stream goes on.

Rebalances never skip a record. When a partition is taken away, the trigger
stops starting its records, lets the executions already running finish (up to
``REVOKE_DRAIN_S``), notes where its work resumes (the oldest unfinished
offset, or the first one read and not started), commits that, and drops
whatever it had read and not started. When a partition it once lost is
assigned to it again, it starts at the group's committed offset or that resume
point, whichever is further: kafka-python keeps the fetch position of a
partition that stays with the same consumer across a rebalance, which is past
records that were dropped. See ``kflow.connectors.kafka_group`` for what else
the client's group membership needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kflow.connectors.kafka import bootstrap_address, kafka_errors, make_consumer
from kflow.connectors.kafka_group import (
    MAX_POLL_INTERVAL_MS,
    commit_in_listener,
    member_is_stable,
    nudge_pending_join,
    pause_in_listener,
    warm_metadata,
)
from kflow.connectors.masking import one_line
from kflow.engine.events import StreamStatus, TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.source import Outcome, RecordSource, SourceOptions
from kflow.errors import KafkaError, KflowError
from kflow.expr import render_value
from kflow.flow.model import TriggerDef
from kflow.plugins.kafka_offsets import OffsetTracker, TopicPartition
from kflow.plugins.kafka_positions import PartitionLedger
from kflow.plugins.kafka_record import KafkaRecord
from kflow.plugins.kafka_serde import decoder

POLL_MS = 50
MAX_POLL_RECORDS = 500
STATUS_EVERY_S = 0.5
FINAL_COMMIT_TRIES = 10
SESSION_TIMEOUT_MS = 10_000
STALLED_AFTER_S = 25.0
REVOKE_DRAIN_S = 3.0
COMMIT_EVERY_S = 0.2


def membership_looks_stuck(
    *, assigned: bool, stable: bool | None, heartbeat_silence: float | None
) -> bool:
    """Whether a group member looks stuck now (it is replaced once it has for
    ``STALLED_AFTER_S``): without partitions and not a stable member (a join that does not
    end), or holding partitions without hearing from the coordinator. A stable member without
    partitions is simply one more than there are partitions: it is left alone."""
    if assigned:
        return heartbeat_silence is not None and heartbeat_silence > STALLED_AFTER_S
    return stable is not True


def _heartbeat_silence(consumer: Any, now: float) -> float | None:
    """Seconds since the group coordinator last answered a heartbeat (None if unknown).

    A healthy member hears back every few seconds; kafka-python 3 can get stuck and
    stop heartbeating while still holding an assignment.
    """
    heartbeat = getattr(getattr(consumer, "_coordinator", None), "heartbeat", None)
    if heartbeat is None:
        return None
    try:
        last = max(float(heartbeat.last_receive), float(heartbeat.last_reset))
    except (AttributeError, TypeError, ValueError):
        return None
    return now - last


def deserializer_names(props: Mapping[str, Any]) -> tuple[str, str]:
    """Key and value deserializer names (one misplaced under ``serdeProperties`` was moved up
    by the catalog's check, ``kflow.catalog.kafka.check_consumer``)."""
    key = props.get("keyDeserializer") or "STRING"
    value = props.get("valueDeserializer") or "STRING"
    return str(key).upper(), str(value).upper()


class RealtimeTrigger(RecordSource):
    """Reads ``topic``/``topicPattern`` (or fixed ``partitions``) for one flow trigger."""

    def __init__(
        self,
        trigger: TriggerDef,
        *,
        variables: Mapping[str, Any] | None = None,
        from_beginning: bool = False,
        group_id: str | None = None,
    ) -> None:
        props = render_value(trigger.props, dict(variables or {}))
        self.trigger_id = trigger.id
        self.properties: dict[str, Any] = dict(props.get("properties") or {})
        topic = props.get("topic")
        self.topics: list[str] = [topic] if isinstance(topic, str) else list(topic or [])
        self.pattern: str | None = props.get("topicPattern")
        self.group_id = group_id or props.get("groupId") or self.properties.get("group.id")
        self.partitions: list[int] | None = props.get("partitions")
        self.since: str | None = props.get("since")
        key_name, value_name = deserializer_names(props)
        self.key_name, self.value_name = key_name, value_name
        self._decode_key = decoder(key_name)
        self._decode_value = decoder(value_name)
        self.header_filters: dict[str, str] = {
            str(k): str(v) for k, v in (props.get("headerFilters") or {}).items()
        }
        self.from_beginning = from_beginning
        on_serde_error = props.get("onSerdeError") or {}
        self.serde_error_mode = str(on_serde_error.get("type") or "FAIL").upper()
        self.serde_error_topic: str | None = on_serde_error.get("topic")
        self.address = str(self.properties.get("bootstrap.servers", "?"))
        self._consumer: Any = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._batches: deque[list[KafkaRecord]] = deque()
        self._ready = asyncio.Event()
        self._requests_lock = threading.Lock()
        self._commit_request: dict[TopicPartition, int] = {}
        self._pause_request: bool | None = None
        self._paused = False
        self._closing = threading.Event()
        self._ledger = PartitionLedger()
        self._tracker = OffsetTracker()  # offsets admitted and not finished, per partition
        self._lock = threading.Lock()  # the tracker: the event loop and rebalance listener
        self._next_take = 0.0  # when the poll thread next asks the tracker what to commit
        self._committed: dict[TopicPartition, int] = {}
        self.rebalances = 0  # assignments received
        self.nudges = 0  # polls told to await a join in progress (see kafka_group)
        self.notify: Callable[[str], None] | None = None
        """Called with one line for what an operator should know (assignments, rejoins)."""
        self._status = TriggerStatus(self.describe(), "connecting")
        self._failure: BaseException | None = None
        self._commit_error: str | None = None
        self.replaced = 0  # consumers replaced after a stalled group join

    def describe(self) -> str:
        what = f"pattern {self.pattern}" if self.pattern else ", ".join(self.topics)
        return f"kafka {what} @ {self.address} (group {self.group_id})"

    kind = "kafka"

    @classmethod
    def from_trigger(
        cls, trigger: TriggerDef, variables: Mapping[str, Any], options: SourceOptions
    ) -> RealtimeTrigger:
        return cls(
            with_overrides(trigger, options.overrides),
            variables=variables,
            from_beginning=options.from_beginning,
        )

    @classmethod
    def event_record(cls, trigger: TriggerDef | None, event: str, key: str | None) -> KafkaRecord:
        value_name = deserializer_names(trigger.props)[1] if trigger is not None else "STRING"
        record = KafkaRecord(value=None, key=key, timestamp_ms=int(time.time() * 1000))
        try:
            record.value = decoder(value_name)(event.encode("utf-8"))
        except Exception as exc:
            record.error = f"cannot deserialize --event as {value_name}: {exc}"
        return record

    def dead_letter(self, target: str | None) -> Any:
        """``--dead-letter`` (a topic) for every failed execution, else ``onSerdeError: DLQ``."""
        from kflow.plugins.kafka_deadletter import DeadLetterWriter

        if target:
            return DeadLetterWriter(self.properties, target)
        if self.serde_error_mode == "DLQ":
            if not self.serde_error_topic:
                raise KafkaError(
                    f"trigger '{self.trigger_id}': onSerdeError: type DLQ needs a topic"
                )
            return DeadLetterWriter(self.properties, self.serde_error_topic, serde_only=True)
        return None

    # RecordSource ------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(None, self._connect)
        self._thread = threading.Thread(target=self._poll_loop, name="kflow-kafka", daemon=True)
        self._thread.start()

    async def next_batch(self, timeout: float) -> list[KafkaRecord]:  # type: ignore[override]
        # Waiting on an event, not on queue.get(): a get cancelled by a timeout can
        # lose the batch it was handed at that moment (Python 3.11's wait_for).
        if not self._batches:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        if self._failure is not None:
            raise self._failure
        if not self._batches:
            return []
        # One polled batch per call, so the service can hold back between batches.
        return self._batches.popleft()

    def admit(self, record: TriggerRecord) -> bool:
        """Track the record's offset, unless its partition was revoked since it was read or
        it was started here before (a redelivery after a rebalance): never run twice."""
        assert isinstance(record, KafkaRecord)
        tp = (str(record.topic), int(record.partition or 0))
        with self._lock:  # a revoke either sees this offset in flight or refuses it
            if not self._ledger.is_current(tp, record.epoch):
                return False
            record.lease = self._tracker.started(tp, int(record.offset or 0))
        return record.lease is not None

    def wanted(self, record: TriggerRecord) -> bool:
        assert isinstance(record, KafkaRecord)
        tp = (str(record.topic), int(record.partition or 0))
        with self._lock:
            return record.lease is not None and self._tracker.holds(tp, record.lease)

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        """Failed or not, a finished record's offset may be committed (a dead-letter copy,
        if any, was acknowledged first); see OffsetTracker for the watermark."""
        assert isinstance(record, KafkaRecord)
        if record.lease is not None:
            with self._lock:
                self._tracker.finished(record.lease, int(record.offset or 0))

    @property
    def assigned(self) -> set[TopicPartition]:
        """The partitions this trigger reads now."""
        return self._ledger.assigned

    def _deliver(self, batch: list[KafkaRecord]) -> None:
        self._batches.append(batch)
        self._ready.set()

    def commit(self, positions: dict[TopicPartition, int]) -> None:
        """Ask the poll thread to commit these positions (does not block)."""
        with self._requests_lock:
            self._commit_request.update(positions)

    def _take_committable(self) -> None:
        # Under the lock: a revoke either sees this request or comes before the positions
        # were taken, never between (which would commit a revoked partition).
        with self._lock:
            positions = self._tracker.committable()
            if positions:
                self.commit(positions)

    def pause(self, paused: bool) -> None:
        with self._requests_lock:
            self._pause_request = paused

    def status(self) -> TriggerStatus:
        return self._status

    async def stop(self) -> None:
        self._closing.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        if self._consumer is None:
            return
        self._take_committable()
        consumer = self._consumer
        self._consumer = None

        def close() -> None:
            try:
                for _ in range(FINAL_COMMIT_TRIES):
                    self._apply_commits(consumer)
                    if self._commit_error is None:
                        break
                    time.sleep(0.5)
            finally:
                consumer.close(autocommit=False)

        await asyncio.get_running_loop().run_in_executor(None, close)
        self._status = TriggerStatus(self.describe(), "stopped", self._status.streams)

    # the consumer thread ------------------------------------------------------------------

    def _connect(self) -> None:
        from kafka import AsyncConsumerRebalanceListener
        from kafka import TopicPartition as KTP

        if "bootstrap.servers" not in self.properties:
            raise KafkaError(f"trigger '{self.trigger_id}': properties need bootstrap.servers")
        overrides: dict[str, Any] = {
            "enable_auto_commit": False,
            "max_poll_records": MAX_POLL_RECORDS,
            "fetch_max_wait_ms": 100,
            # The broker checked each batch's CRC when it was produced; kafka-python
            # would check it again in pure Python (a few % of the CPU of a run).
            "check_crcs": False,
        }
        if self.group_id:
            overrides["group_id"] = self.group_id
        if "session.timeout.ms" not in self.properties:
            # kafka-python 3 defaults to 45 s: a member that died (or a client that stalls)
            # would hold its partitions that long before the group moves them.
            overrides["session_timeout_ms"] = SESSION_TIMEOUT_MS
            overrides["heartbeat_interval_ms"] = SESSION_TIMEOUT_MS // 5
        if "max.poll.interval.ms" not in self.properties:
            overrides["max_poll_interval_ms"] = MAX_POLL_INTERVAL_MS
        if self.from_beginning:
            overrides["auto_offset_reset"] = "earliest"
        consumer = make_consumer(self.properties, **overrides)
        self.address = bootstrap_address(consumer.config)
        self._status = TriggerStatus(self.describe(), "connecting")
        source = self

        class Listener(AsyncConsumerRebalanceListener):  # type: ignore[misc]
            # kafka-python 3 runs these on its network thread, where a blocking call
            # (consumer.commit) fails: the commit is awaited instead. An exception raised
            # here ends the consumer, so none escapes.
            async def on_partitions_revoked(self, revoked: Any) -> None:
                tps = [(tp.topic, tp.partition) for tp in revoked]
                try:
                    source.counted("rebalance", "revoked", len(tps))
                    source._stop_starting(tps)
                    await source._drain(consumer, tps)
                    resume = source._revoked(tps)
                    await source._commit_on_revoke(consumer, resume)
                except Exception as exc:
                    source._commit_error = f"during a rebalance: {exc}"

            async def on_partitions_lost(self, lost: Any) -> None:
                # The group has moved on without us: nothing may be committed.
                tps = [(tp.topic, tp.partition) for tp in lost]
                try:
                    source.counted("rebalance", "lost", len(tps))
                    source._stop_starting(tps)
                    source._revoked(tps)
                except Exception as exc:
                    source._commit_error = f"during a rebalance: {exc}"

            async def on_partitions_assigned(self, assigned: Any) -> None:
                try:
                    source._assigned_now(consumer, assigned)
                except Exception as exc:
                    source._commit_error = f"during a rebalance: {exc}"

        with kafka_errors(self.address):
            if self.partitions is not None:
                tps = [KTP(t, p) for t in self.topics for p in self.partitions]
                consumer.assign(tps)
                self._ledger.assign(self._pairs(tps), ())
                if self.since:
                    self._seek_since(consumer, tps)
            elif self.pattern:
                consumer.subscribe(pattern=self.pattern, listener=Listener())
            else:
                consumer.subscribe(topics=self.topics, listener=Listener())
                warm_metadata(consumer, self.topics)
        self._consumer = consumer

    def _seek_since(self, consumer: Any, tps: list[Any]) -> None:
        assert self.since is not None
        ms = int(datetime.fromisoformat(self.since.replace("Z", "+00:00")).timestamp() * 1000)
        found = consumer.offsets_for_times(dict.fromkeys(tps, ms))
        for tp, offset in found.items():
            if offset is None:
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, offset.offset)

    def _stop_starting(self, tps: list[TopicPartition]) -> None:
        """No record of ``tps`` read so far starts from now on (see RecordSource.is_current)."""
        self._ledger.stop_starting(tps)

    @staticmethod
    def _pairs(tps: Any) -> set[TopicPartition]:
        return {(tp.topic, tp.partition) for tp in tps}

    async def _drain(self, consumer: Any, tps: list[TopicPartition]) -> None:
        """Let the executions of ``tps`` finish (bounded), so they need not run again."""
        if self._closing.is_set():
            return
        deadline = time.monotonic() + REVOKE_DRAIN_S
        while self._in_flight(tps) and time.monotonic() < deadline:
            if not await pause_in_listener(consumer, 0.01):
                return

    def _revoked(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Bookkeeping of a revoke; returns where the work of each partition resumes."""
        with self._lock:  # whatever is still in flight there is never committed by us
            started = self._tracker.positions(tps)
            self._tracker.forget(tps)
        resume = self._ledger.revoked(tps, started)
        with self._requests_lock:  # superseded by the resume points
            for tp in tps:
                self._commit_request.pop(tp, None)
        return resume

    async def _commit_on_revoke(self, consumer: Any, resume: dict[TopicPartition, int]) -> None:
        """Commit the resume points while we still own the partitions (fewer redeliveries)."""
        from kafka import TopicPartition as KTP
        from kafka.structs import OffsetAndMetadata

        if not resume:
            return
        offsets = {KTP(t, p): OffsetAndMetadata(pos, "", -1) for (t, p), pos in resume.items()}
        try:
            if not await commit_in_listener(consumer, offsets, timeout_ms=5000):
                return  # the new owner starts at the last commit: redeliveries, no skips
        except Exception as exc:
            self._commit_error = f"commit on revoke: {one_line(str(exc))}"
            self.counted("commit", "failed")
            return
        for tp, pos in resume.items():
            self._committed[tp] = pos

    def _in_flight(self, tps: list[TopicPartition]) -> int:
        with self._lock:
            return self._tracker.in_flight(tps)

    def _assigned_now(self, consumer: Any, assigned: Any) -> None:
        # A partition we read before may resume at a kept (stale) fetch position.
        self._ledger.assign(self._pairs(consumer.assignment()), self._pairs(assigned))
        self.rebalances += 1
        self.counted("rebalance", "assigned", len(assigned))
        if self._paused and assigned:
            with contextlib.suppress(Exception):
                consumer.pause(*assigned)
        if self.notify is not None:
            self.notify(f"kflow run: trigger {self.trigger_id}: assigned {_names(self.assigned)}")

    def _position_reassigned(self, consumer: Any, polled: dict[Any, Any]) -> dict[Any, Any]:
        """Seek each partition given back to us to where its work resumes; until then its
        records are held back (dropped here, read again after the seek)."""
        from kafka import TopicPartition as KTP

        pending = set(self._ledger.to_position)
        polled = {tp: m for tp, m in polled.items() if (tp.topic, tp.partition) not in pending}
        assignment = consumer.assignment()
        for t, p in pending:
            ktp = KTP(t, p)
            if ktp not in assignment:
                self._ledger.to_position.discard((t, p))
                continue
            try:
                with kafka_errors(self.address):
                    committed = consumer.committed(ktp, timeout_ms=5000)
            except KafkaError as exc:  # held back until the coordinator answers
                self._commit_error = f"cannot read the committed offset of {t}[{p}]: {exc}"
                self.reconnects += 1
                break  # one wait per round of the loop, not one per partition
            target = self._ledger.position((t, p), committed)
            if target is not None:
                consumer.seek(ktp, target)
        return polled

    def _poll_loop(self) -> None:
        consumer = self._consumer
        assert self._loop is not None
        next_status = 0.0
        healthy_at = time.monotonic()  # last time the membership looked healthy
        try:
            while not self._closing.is_set():
                self._apply_requests(consumer)
                if nudge_pending_join(consumer):
                    self.nudges += 1
                    if self.notify is not None:
                        self.notify(
                            f"kflow run: trigger {self.trigger_id}: the Kafka client left a "
                            "group join unanswered; driving it again"
                        )
                with kafka_errors(self.address):
                    polled = consumer.poll(timeout_ms=POLL_MS)
                if self._ledger.to_position:
                    polled = self._position_reassigned(consumer, polled)
                if polled:
                    for ktp, msgs in polled.items():
                        self._ledger.read((ktp.topic, ktp.partition), msgs[0].offset)
                    batch = [self._record(m) for msgs in polled.values() for m in msgs]
                    self._loop.call_soon_threadsafe(self._deliver, batch)
                now = time.monotonic()
                if self.partitions is not None or not membership_looks_stuck(
                    assigned=bool(self.assigned),
                    stable=member_is_stable(consumer),
                    heartbeat_silence=_heartbeat_silence(consumer, now),
                ):
                    healthy_at = now
                elif now - healthy_at > STALLED_AFTER_S:
                    # The last resort, should the client get stuck in a way the nudge does
                    # not cover: a new consumer joins, then the old one leaves.
                    consumer = self._replace_consumer(consumer, now - healthy_at)
                    healthy_at = now
                if now >= next_status:
                    self._status = self._snapshot(consumer, "running")
                    next_status = now + STATUS_EVERY_S
        except BaseException as exc:  # surfaced to the service by next_batch
            self._failure = (
                exc
                if isinstance(exc, KflowError)
                else KafkaError(f"Kafka consumer at {self.address} stopped: {exc}")
            )
            self._loop.call_soon_threadsafe(self._deliver, [])

    def _replace_consumer(self, consumer: Any, stuck_s: float) -> Any:
        """Join again with a new consumer; keep the old one if the broker cannot be reached."""
        self._status = TriggerStatus(self.describe(), "rejoining", self._status.streams)
        if self.notify is not None:
            self.notify(
                f"kflow run: trigger {self.trigger_id}: group membership stuck for "
                f"{stuck_s:.0f} s, joining again with a new consumer"
            )
        try:
            self._connect()  # the new consumer joins before the old one leaves
        except KafkaError as exc:  # the broker is away: try again at the next stall check
            self._commit_error = f"could not rejoin: {exc}"
            self.reconnects += 1
            return consumer
        with contextlib.suppress(Exception):
            consumer.close(autocommit=False, timeout_ms=2000)
        self.replaced += 1
        return self._consumer

    def _apply_requests(self, consumer: Any) -> None:
        now = time.monotonic()
        if now >= self._next_take:
            self._take_committable()
            self._next_take = now + COMMIT_EVERY_S
        with self._requests_lock:
            pause, self._pause_request = self._pause_request, None
        if pause is not None and pause != self._paused:
            self._paused = pause
            if pause:
                consumer.pause(*consumer.assignment())
            else:
                consumer.resume(*consumer.paused())
        self._apply_commits(consumer)

    def _apply_commits(self, consumer: Any) -> None:
        from kafka import TopicPartition as KTP
        from kafka.structs import OffsetAndMetadata

        with self._requests_lock:
            request, self._commit_request = self._commit_request, {}
        assignment = {(tp.topic, tp.partition) for tp in consumer.assignment()}
        offsets = {
            KTP(t, p): OffsetAndMetadata(pos, "", -1)
            for (t, p), pos in request.items()
            if (t, p) in assignment
        }
        if len(offsets) < len(request) and self.notify is not None:
            # A revoke removes its partitions' requests first, so this should not happen.
            gone = sorted(set(request) - assignment)
            self.notify(
                f"kflow run: trigger {self.trigger_id}: not committing {_names(gone)}: "
                "no longer assigned"
            )
        if not offsets:
            return
        try:
            with kafka_errors(self.address):
                consumer.commit(offsets=offsets)
        except KafkaError as exc:
            # The broker may be restarting or the group rebalancing: keep the positions
            # (unless newer ones arrived) and try again on the next round.
            with self._requests_lock:
                for tp, meta in offsets.items():
                    self._commit_request.setdefault((tp.topic, tp.partition), meta.offset)
            self._commit_error = str(exc)
            self.reconnects += 1
            self.counted("commit", "failed")
            return
        self._commit_error = None
        self.counted("commit", "ok")
        for tp, meta in offsets.items():
            self._committed[(tp.topic, tp.partition)] = meta.offset

    def _record(self, message: Any) -> KafkaRecord:
        headers = {
            k: (v.decode("utf-8", "replace") if v is not None else None)
            for k, v in (message.headers or [])
        }
        record = KafkaRecord(
            value=None,
            epoch=self._ledger.epoch((message.topic, message.partition)),
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp_ms=message.timestamp,
            headers=headers,
            raw_value=message.value,
            raw_key=message.key,
            raw_headers=list(message.headers or []),
        )
        if self.header_filters and any(headers.get(k) != v for k, v in self.header_filters.items()):
            record.skip = True
            return record
        where = f"{message.topic}[{message.partition}]@{message.offset}"
        try:
            record.key = None if message.key is None else self._decode_key(message.key)
        except Exception as exc:  # a bad record fails its own execution, never the trigger
            record.error = f"cannot deserialize the key of record {where} as {self.key_name}: {exc}"
        else:
            try:
                if message.value is not None:
                    record.value = self._decode_value(message.value)
            except Exception as exc:
                record.error = (
                    f"cannot deserialize the value of record {where} as {self.value_name}: {exc}"
                )
        if record.error is not None and self.serde_error_mode == "SKIPPED":
            record.skip = True  # onSerdeError: SKIPPED asks for bad records to be passed over
        return record

    def _snapshot(self, consumer: Any, state: str) -> TriggerStatus:
        parts = []
        for tp in sorted(consumer.assignment(), key=lambda t: (t.topic, t.partition)):
            try:
                position = consumer.position(tp, timeout_ms=0)
            except Exception:
                position = None
            end = consumer.highwater(tp)
            parts.append(
                StreamStatus(
                    f"{tp.topic}[{tp.partition}]",
                    None if end is None or position is None else max(0, end - position),
                    position,
                    self._committed.get((tp.topic, tp.partition)),
                )
            )
        detail = "paused (back-pressure)" if self._paused else None
        if self._commit_error:
            detail = f"commit failed, retrying: {self._commit_error}"
        return TriggerStatus(self.describe(), state, tuple(parts), detail=detail)


def with_overrides(trigger: TriggerDef, overrides: Mapping[str, Any]) -> TriggerDef:
    """The trigger with command-line properties set (``--set``; a ``topic`` replaces a
    ``topicPattern``)."""
    if not overrides:
        return trigger
    from kflow.engine.overrides import apply_overrides

    props = apply_overrides(trigger.props, overrides)
    if "topic" in overrides:
        props.pop("topicPattern", None)
    return TriggerDef(trigger.id, trigger.type, trigger.spec, props, trigger.description)


def _names(tps: Any) -> str:
    """``orders[0,3,5]`` for a set of (topic, partition)."""
    by_topic: dict[str, list[int]] = {}
    for t, p in sorted(tps):
        by_topic.setdefault(t, []).append(p)
    return ", ".join(f"{t}[{','.join(map(str, ps))}]" for t, ps in by_topic.items()) or "nothing"
