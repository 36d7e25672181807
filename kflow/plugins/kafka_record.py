"""A Kafka record as a trigger record: its topic, partition and offset, and its raw bytes."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from kflow.engine.execution import TriggerRecord, json_key, plain_key
from kflow.plugins.kafka_offsets import PartitionOffsets


@dataclass(eq=False)
class KafkaRecord(TriggerRecord):
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    raw_key: bytes | None = None
    raw_headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    epoch: int = 0  # the trigger's assignment epoch of the partition when it was fetched
    lease: PartitionOffsets | None = None  # its partition's bookkeeping, once admitted

    def variables(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp(),
            "headers": self.headers,
        }

    def coordinates(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": json_key(self.key),
            "timestamp": self.timestamp_ms,
        }

    def label(self) -> str:
        if self.topic is None:
            return "event"
        return f"{self.topic}[{self.partition}]@{self.offset}"

    def order_key(self) -> Hashable | None:
        """Records of one Kafka key, compared by their bytes, run in offset order."""
        if self.key is None:
            return None
        return (self.topic, self.raw_key if self.raw_key is not None else plain_key(self.key))
