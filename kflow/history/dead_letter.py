"""``kflow replay --from-dead-letter TOPIC|QUEUE FLOW``: run a dead letter through a flow again.

The records are read by the flow's own trigger, with its topic (Kafka) or queue (AMQP)
replaced by the dead letter, so they decode exactly as the original trigger decoded them
(the dead letter keeps the original key, value and headers; the ``kflow.*`` headers that
say why it failed are taken off before the execution sees them).

Only what the dead letter held when the replay started is replayed: Kafka, the records
before the end offset each partition had; AMQP, as many messages as the queue held ready
(a queue delivers in order). Then the replay stops.

A record whose execution succeeds is acknowledged (Kafka: its offset committed in the
replay group; AMQP: ``basic.ack``). A record whose execution fails again is appended to
the dead letter again (with fresh ``kflow.*`` headers), and only once the broker has
acknowledged that copy is the original acknowledged: the failure stays in the dead letter,
and a second replay sees exactly the records that failed again. Kafka commits offsets, not
single records, so a failure left uncommitted would hold back every success after it,
and the next replay would run those again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from kflow.engine.events import EventBus, TriggerStatus
from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.service import FlowService, RunSummary
from kflow.engine.source import DeadLetter, Outcome, RecordSource
from kflow.errors import UsageError
from kflow.flow.model import Flow
from kflow.plugins.amqp_record import AmqpMessage
from kflow.plugins.kafka_record import KafkaRecord

KFLOW_HEADER_PREFIX = "kflow."


@dataclass
class ReplayResult:
    target: str  # the dead-letter topic or queue
    group: str | None  # Kafka: the replay group
    held: int  # records the dead letter held for the replay when it started
    summary: RunSummary = field(default_factory=RunSummary)

    def line(self) -> str:
        s = self.summary
        failed = s.by_state.get("FAILED", 0) + s.by_state.get("KILLED", 0)
        ok = s.finished - failed
        caught_up = "caught up" if s.stopped_by == "end" else f"stopped ({s.stopped_by})"
        group = f", group {self.group}" if self.group else ""
        return (
            f"kflow replay: {self.target}: {s.finished} of {self.held} dead-lettered records "
            f"replayed in {s.seconds:.1f} s: {ok} succeeded (acknowledged), {failed} failed "
            f"({s.dead_lettered} appended to {self.target} again); {caught_up}{group}"
        )


class CatchUpSource(RecordSource):
    """A trigger's source limited to what the dead letter held at the start
    (:meth:`in_scope`); the ``kflow.*`` headers a dead letter adds are taken off, and the
    failed execution each record comes from is remembered (:meth:`replay_of`)."""

    def __init__(self, inner: RecordSource) -> None:
        self.inner = inner
        self._scoped: set[Hashable] = set()
        self._origins: dict[Hashable, str] = {}

    @property
    def held(self) -> int:
        raise NotImplementedError

    def identity(self, record: TriggerRecord) -> Hashable:
        raise NotImplementedError

    def in_scope(self, record: TriggerRecord) -> bool:
        """Asked once per record handed over: is it one the dead letter held at the start?"""
        raise NotImplementedError

    def strip_headers(self, record: TriggerRecord) -> None:
        record.headers = {
            k: v for k, v in record.headers.items() if not k.startswith(KFLOW_HEADER_PREFIX)
        }

    def replay_of(self, execution: Execution) -> str | None:
        return self._origins.pop(self.identity(execution.trigger), None)

    async def start(self) -> None:
        await self.inner.start()

    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        batch = await self.inner.next_batch(timeout)
        for record in batch:
            if not self.in_scope(record):
                continue
            identity = self.identity(record)
            self._scoped.add(identity)
            origin = record.headers.get("kflow.execution.id")
            if origin:
                self._origins[identity] = str(origin)
            self.strip_headers(record)
        return batch

    def admit(self, record: TriggerRecord) -> bool:
        # A record that came after the start (a failure of this replay, sent back) is left
        # for the next replay: never admitted, so never acknowledged here.
        return self.identity(record) in self._scoped and self.inner.admit(record)

    def wanted(self, record: TriggerRecord) -> bool:
        return self.inner.wanted(record)

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        self._scoped.discard(self.identity(record))
        self.inner.ack(record, outcome)

    def pause(self, paused: bool) -> None:
        self.inner.pause(paused)

    def status(self) -> TriggerStatus:
        return self.inner.status()

    async def stop(self) -> None:
        await self.inner.stop()

    def dead_letter(self, target: str | None) -> DeadLetter | None:
        return self.inner.dead_letter(target)


class KafkaCatchUp(CatchUpSource):
    """Kafka: the records before the end offsets read at the start."""

    kind = "kafka"

    def __init__(
        self, inner: RecordSource, topic: str, ends: dict[int, int], starts: dict[int, int]
    ) -> None:
        super().__init__(inner)
        self.topic = topic
        self.ends = ends
        self.starts = starts
        self._handed: dict[int, int] = {}  # partition -> highest offset handed over

    @property
    def held(self) -> int:
        return sum(self.ends[p] - self.starts.get(p, 0) for p in self.ends)

    def identity(self, record: TriggerRecord) -> Hashable:
        assert isinstance(record, KafkaRecord)
        return (record.partition, record.offset)

    def in_scope(self, record: TriggerRecord) -> bool:
        assert isinstance(record, KafkaRecord)
        partition, offset = int(record.partition or 0), int(record.offset or 0)
        end = self.ends.get(partition)
        if end is None or offset >= end:
            return False
        self._handed[partition] = max(self._handed.get(partition, -1), offset)
        return True

    def strip_headers(self, record: TriggerRecord) -> None:
        super().strip_headers(record)
        assert isinstance(record, KafkaRecord)
        record.raw_headers = [
            (k, v) for k, v in record.raw_headers if not k.startswith(KFLOW_HEADER_PREFIX)
        ]

    @property
    def exhausted(self) -> bool:
        positions: dict[int, int] = {}
        prefix = f"{self.topic}["
        for stream in self.inner.status().streams:
            if stream.name.startswith(prefix) and stream.position is not None:
                positions[int(stream.name[len(prefix) : -1])] = stream.position
        return all(
            self._handed.get(p, -1) >= end - 1 or positions.get(p, -1) >= end
            for p, end in self.ends.items()
        )


class QueueCatchUp(CatchUpSource):
    """AMQP: the first N messages delivered, N the messages ready when the replay started
    (a queue delivers in order, and copies of this replay's failures go to its tail)."""

    kind = "amqp"

    def __init__(self, inner: RecordSource) -> None:
        super().__init__(inner)
        self.count = 0
        self._handed = 0

    async def start(self) -> None:
        await self.inner.start()
        # Read before the first delivery: the passive declare made on connecting.
        self.count = self.inner.status().backlog

    @property
    def held(self) -> int:
        return self.count

    def identity(self, record: TriggerRecord) -> Hashable:
        assert isinstance(record, AmqpMessage)
        return record.seq

    def in_scope(self, record: TriggerRecord) -> bool:
        if self._handed >= self.count:
            return False
        self._handed += 1
        return True

    @property
    def exhausted(self) -> bool:
        return self._handed >= self.count


def dead_letter_extent(
    properties: dict[str, Any], topic: str, group: str
) -> tuple[dict[int, int], dict[int, int]]:
    """(end offsets, where ``group`` resumes) of every partition of ``topic`` that holds
    records the group has not committed."""
    from kafka import TopicPartition

    from kflow.connectors.kafka import bootstrap_address, kafka_errors, make_consumer

    consumer = make_consumer(properties, group_id=group, enable_auto_commit=False)
    try:
        with kafka_errors(bootstrap_address(consumer.config)):
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                raise UsageError(f"--from-dead-letter: Kafka topic {topic!r} does not exist")
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            ends = consumer.end_offsets(tps)
            beginnings = consumer.beginning_offsets(tps)
            starts: dict[int, int] = {}
            for tp in tps:
                committed = consumer.committed(tp)
                starts[tp.partition] = max(
                    committed if committed is not None else 0, beginnings[tp]
                )
    finally:
        consumer.close()
    todo = {tp.partition: ends[tp] for tp in tps if ends[tp] > starts[tp.partition]}
    return todo, {p: starts[p] for p in todo}


def replay_dead_letter(
    flow: Flow,
    target: str,
    *,
    group: str | None,
    options: Any,  # kflow.run.session.RunOptions
    notify: Callable[[str], None],
) -> ReplayResult:
    """Replay what ``target`` (a Kafka topic or an AMQP queue) holds now through ``flow``;
    see the module docstring."""
    import sys
    from dataclasses import replace

    from kflow.console.writers import JsonWriter, PlainWriter
    from kflow.engine.runner import FlowRunner
    from kflow.history.writer import start_history
    from kflow.run.connections import close_connections
    from kflow.run.session import (
        TASK_THREADS,
        build_source,
        realtime_trigger,
        source_class,
        stop_on_signals,
    )

    trigger = realtime_trigger(flow)
    kind = source_class(trigger).kind
    if kind not in ("kafka", "amqp"):
        raise UsageError(
            f"--from-dead-letter: flow {flow.ref} reads {trigger.type}; only Kafka topics "
            "and AMQP queues can be replayed"
        )
    if kind == "kafka":
        group = group or f"kflow-replay-{target}"
        options = replace(options, topic=target, group_id=group, from_beginning=True)
    else:
        if group is not None:
            raise UsageError("--group-id applies to Kafka dead letters")
        overrides = {**options.overrides, "queue": target, "autoAck": False}
        options = replace(options, overrides=overrides)
    bus = EventBus()
    runner = FlowRunner(flow, bus, threads=TASK_THREADS, inputs=options.inputs)
    inner = build_source(trigger, runner, options)
    inner.notify = notify
    source: CatchUpSource
    if kind == "kafka":
        properties = dict(getattr(inner, "properties", {}))
        ends, starts = dead_letter_extent(properties, target, str(group))
        if not ends:
            return ReplayResult(target, group, 0)
        source = KafkaCatchUp(inner, target, ends, starts)
    else:
        source = QueueCatchUp(inner)
    result = ReplayResult(target, group, 0)
    writer = JsonWriter(sys.stdout) if options.json_output else PlainWriter(sys.stdout)
    bus.subscribe(writer)
    history = start_history(flow, options, notify, replay_of=source.replay_of)
    if history is not None:
        bus.subscribe(history)

    async def main() -> RunSummary:
        service = FlowService(
            runner,
            source,
            concurrency=options.concurrency,
            dead_letter=source.dead_letter(target),
        )
        stop_on_signals(service)
        try:
            return await service.run(options.timeout)
        finally:
            result.held = source.held
            await runner.close()

    try:
        result.summary = asyncio.run(main())
    finally:
        close_connections()
        writer.close()
        if history is not None:
            history.close()
    return result
