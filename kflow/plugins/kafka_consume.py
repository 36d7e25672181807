"""Kafka ``Consume`` task: reads records into an ION file of the internal storage.

Every record becomes one line ``{key, value, topic, headers, partition, timestamp,
offset}`` (Kestra's ``Message``; ``headers`` a list of one-entry maps). Reading
ends on the first poll that brings nothing (once partitions are assigned), after
``maxRecords`` records (exactly that many: the rest stay for the next read) or
after ``maxDuration``. With a ``groupId``, the offsets are committed after the
file is complete, so a crash re-reads instead of losing records.

The loop is :func:`consume_batch` on a consumer from :func:`open_consumer`; a
polling trigger can keep one consumer and call it once per interval, then
:func:`commit_positions` once its execution is safely created.

Where is it read from:

- ``topic`` without ``groupId``: every partition of the topics, from the beginning
  (or ``since``), nothing committed, as Kestra;
- ``partitions``: those partitions of each topic; with a ``groupId`` a partition
  resumes at the group's committed offset (Kestra starts from the beginning again);
- ``topic`` or ``topicPattern`` with a ``groupId``: the consumer group, starting as
  ``auto.offset.reset`` says when the group has no offset (Kafka's default: latest).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kflow.connectors.kafka import bootstrap_address, kafka_errors, make_consumer
from kflow.connectors.kafka_group import nudge_pending_join, warm_metadata
from kflow.engine.task import TaskContext, TaskRunner
from kflow.errors import DataError, KafkaError, TaskError
from kflow.expr import compile_value
from kflow.flow.model import TaskDef
from kflow.plugins.kafka_serde import Decoder, file_decoder
from kflow.storage import LocalStorage, default_storage, task_run_prefix

__all__ = [
    "Consume",
    "ConsumeSettings",
    "ConsumedBatch",
    "commit_positions",
    "consume_batch",
    "consume_to_storage",
    "open_consumer",
]

JOIN_WAIT_S = 15.0
"""How long empty polls are not taken as the end while the group assigns no partition."""

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class ConsumeSettings:
    """The rendered properties of ``Consume`` (and of the polling ``Trigger``)."""

    properties: dict[str, Any]
    topics: list[str] = field(default_factory=list)
    pattern: str | None = None
    partitions: list[int] | None = None
    group_id: str | None = None
    since: str | None = None
    key_deserializer: str = "STRING"
    value_deserializer: str = "STRING"
    header_filters: dict[str, str] = field(default_factory=dict)
    on_serde_error: str = "FAIL"  # no onSerdeError: a bad record fails the task
    dead_letter_topic: str | None = None
    poll_s: float = 5.0
    max_records: int | None = None
    max_duration_s: float | None = None

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> ConsumeSettings:
        properties = {str(k): v for k, v in (props.get("properties") or {}).items()}
        topic = props.get("topic")
        on_error = props.get("onSerdeError") or {}
        max_records = props.get("maxRecords")
        return cls(
            properties=properties,
            topics=[topic] if isinstance(topic, str) else [str(t) for t in topic or []],
            pattern=props.get("topicPattern") or None,
            partitions=[int(p) for p in props["partitions"]] if props.get("partitions") else None,
            group_id=props.get("groupId") or properties.get("group.id") or None,
            since=props.get("since") or None,
            key_deserializer=str(props.get("keyDeserializer") or "STRING").upper(),
            value_deserializer=str(props.get("valueDeserializer") or "STRING").upper(),
            header_filters={str(k): str(v) for k, v in (props.get("headerFilters") or {}).items()},
            on_serde_error=str(on_error.get("type") or "FAIL").upper(),
            dead_letter_topic=on_error.get("topic"),
            poll_s=float(props.get("pollDuration") or 5.0),
            max_records=int(max_records) if max_records else None,
            max_duration_s=props.get("maxDuration"),
        )

    @property
    def manual(self) -> bool:
        """Partitions assigned by us (no group membership): topics without a group, or
        explicit ``partitions``."""
        return self.partitions is not None or (self.group_id is None and not self.pattern)


@dataclass(frozen=True)
class ConsumedBatch:
    """What one :func:`consume_batch` wrote: the file, its record count, and the position
    (next offset) of every partition read, to commit once the file is safe."""

    uri: str
    count: int
    positions: dict[TopicPartition, int]


def _since_ms(since: str) -> int:
    try:
        moment = datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise TaskError(f"since {since!r} is not an ISO-8601 date and time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def open_consumer(settings: ConsumeSettings) -> Any:
    """A consumer assigned or subscribed as ``settings`` says (auto-commit off,
    ``read_committed`` unless the properties say otherwise). Close it with
    ``consumer.close(autocommit=False)``."""
    if "bootstrap.servers" not in settings.properties:
        raise KafkaError("properties need bootstrap.servers")
    overrides: dict[str, Any] = {"enable_auto_commit": False}
    if "isolation.level" not in settings.properties:
        overrides["isolation_level"] = "read_committed"
    if settings.group_id:
        overrides["group_id"] = settings.group_id
    consumer = make_consumer(settings.properties, **overrides)
    try:
        with kafka_errors(bootstrap_address(consumer.config)):
            _subscribe(consumer, settings)
    except BaseException:
        consumer.close(autocommit=False)
        raise
    return consumer


def _subscribe(consumer: Any, settings: ConsumeSettings) -> None:
    from kafka import TopicPartition as KTP

    if not settings.manual:
        if settings.pattern:
            consumer.subscribe(pattern=settings.pattern)
        else:
            consumer.subscribe(topics=settings.topics)
            warm_metadata(consumer, settings.topics)
        return
    tps: list[Any] = []
    for topic in settings.topics:
        found = consumer.partitions_for_topic(topic)
        if not found:
            address = bootstrap_address(consumer.config)
            raise KafkaError(f"topic {topic!r} does not exist at {address}", address=address)
        wanted = settings.partitions if settings.partitions is not None else sorted(found)
        tps.extend(KTP(topic, p) for p in wanted)
    consumer.assign(tps)
    committed = {tp: consumer.committed(tp) for tp in tps} if settings.group_id else {}
    fresh = []  # partitions the group has no offset of: from the beginning, or since
    for tp in tps:
        offset = committed.get(tp)
        if offset is None:
            fresh.append(tp)
        else:
            consumer.seek(tp, offset)
    if not fresh:
        return
    if settings.since is None:
        consumer.seek_to_beginning(*fresh)
        return
    found_times = consumer.offsets_for_times(dict.fromkeys(fresh, _since_ms(settings.since)))
    for tp in fresh:
        hit = found_times.get(tp)
        if hit is None:  # nothing at or after since
            consumer.seek_to_end(tp)
        else:
            consumer.seek(tp, hit.offset)


class _Messages:
    """Turns consumer records into Kestra's ``Message`` maps (None: leave the record out)."""

    def __init__(self, settings: ConsumeSettings) -> None:
        self.settings = settings
        self.decode_key: Decoder = file_decoder(settings.key_deserializer)
        self.decode_value: Decoder = file_decoder(settings.value_deserializer)

    def message(self, record: Any) -> dict[str, Any] | None:
        headers = [(str(k), v) for k, v in (record.headers or [])]
        if self.settings.header_filters and not self._headers_match(headers):
            return None
        decoded = []
        for part, raw, decode in (
            ("key", record.key, self.decode_key),
            ("value", record.value, self.decode_value),
        ):
            try:
                decoded.append(None if raw is None else decode(raw))
            except Exception as exc:
                if not self._keep_undecodable(record, part, exc):
                    return None
                decoded.append(_text(raw))  # onSerdeError STORE: kept as text
        return {
            "key": decoded[0],
            "value": decoded[1],
            "topic": record.topic,
            "headers": [{k: _text(v)} for k, v in headers],
            "partition": record.partition,
            "timestamp": datetime.fromtimestamp(record.timestamp / 1000, UTC),
            "offset": record.offset,
        }

    def _headers_match(self, headers: list[tuple[str, bytes | None]]) -> bool:
        last = dict(headers)  # the last header of a name wins, as in Kestra
        return all(_text(last.get(k)) == v for k, v in self.settings.header_filters.items())

    def _keep_undecodable(self, record: Any, part: str, exc: Exception) -> bool:
        """onSerdeError: STORE keeps the record (True), SKIPPED drops it, DLQ sends it to the
        dead-letter topic first; without onSerdeError the task fails."""
        settings = self.settings
        mode = settings.on_serde_error
        if mode == "STORE":
            return True
        if mode == "DLQ" and settings.dead_letter_topic:
            _dead_letter(settings, record)
            return False
        if mode == "SKIPPED":
            return False
        name = settings.key_deserializer if part == "key" else settings.value_deserializer
        at = f"{record.topic}[{record.partition}]@{record.offset}"
        why = " (onSerdeError DLQ names no topic)" if mode == "DLQ" else ""
        raise DataError(f"cannot deserialize the {part} of record {at} as {name}: {exc}{why}")


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")


def _dead_letter(settings: ConsumeSettings, record: Any) -> None:
    """Send the record unchanged to the dead-letter topic and wait for the broker."""
    from kflow.plugins.kafka import shared_producer
    from kflow.plugins.kafka_deadletter import connection_properties

    producer = shared_producer(connection_properties(settings.properties))
    with kafka_errors(bootstrap_address(producer.config)):
        sent = producer.send(
            str(settings.dead_letter_topic),
            key=record.key,
            value=record.value,
            headers=list(record.headers or []) or None,
        )
        sent.get(timeout=30)


def consume_batch(
    consumer: Any,
    settings: ConsumeSettings,
    prefix: str,
    storage: LocalStorage | None = None,
) -> ConsumedBatch:
    """Poll ``consumer`` into a new ION file under the ``prefix`` URI until the read ends
    (see the module docstring). Blocking: call it on a worker thread. Nothing is committed:
    commit ``positions`` (with :func:`commit_positions`) once the file is safe."""
    messages = _Messages(settings)
    address = bootstrap_address(consumer.config)
    started = time.monotonic()
    deadline = None if settings.max_duration_s is None else started + settings.max_duration_s
    join_deadline = started + max(settings.poll_s, JOIN_WAIT_S)
    positions: dict[TopicPartition, int] = {}
    with (storage or default_storage()).new_file(prefix) as out:
        while True:
            left = None if settings.max_records is None else settings.max_records - out.count
            wait = settings.poll_s
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            if (left is not None and left <= 0) or wait <= 0:
                break
            nudge_pending_join(consumer)
            with kafka_errors(address):
                polled = consumer.poll(timeout_ms=max(1, int(wait * 1000)), max_records=left)
            if not polled:
                joined = settings.manual or bool(consumer.assignment())
                if joined or time.monotonic() >= join_deadline:
                    break
                continue
            for records in polled.values():
                for record in records:
                    message = messages.message(record)
                    if message is not None:
                        out.write(message)
                    positions[(record.topic, record.partition)] = record.offset + 1
    return ConsumedBatch(out.uri, out.count, positions)


def commit_positions(consumer: Any, positions: Mapping[TopicPartition, int]) -> None:
    """Commit the group's offsets of ``positions`` (synchronously)."""
    from kafka import TopicPartition as KTP
    from kafka.structs import OffsetAndMetadata

    if not positions:
        return
    offsets = {KTP(t, p): OffsetAndMetadata(pos, "", -1) for (t, p), pos in positions.items()}
    with kafka_errors(bootstrap_address(consumer.config)):
        consumer.commit(offsets=offsets)


def consume_to_storage(settings: ConsumeSettings, prefix: str) -> ConsumedBatch:
    """One whole ``Consume``: open, read into a file, commit (with a group), close."""
    consumer = open_consumer(settings)
    try:
        batch = consume_batch(consumer, settings, prefix)
        if settings.group_id:
            commit_positions(consumer, batch.positions)
        return batch
    finally:
        consumer.close(autocommit=False)


class Consume(TaskRunner):
    """Outputs ``messagesCount`` and ``uri`` (the ION file of the records)."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.props = compile_value(task.props)

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        settings = ConsumeSettings.from_props(self.props.render(ctx.variables))
        batch = await ctx.in_thread(consume_to_storage, settings, task_run_prefix(ctx))
        return {"messagesCount": batch.count, "uri": batch.uri}
