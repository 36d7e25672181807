"""Dead-letter topics: a record whose execution finally failed is kept, not dropped.

The record is sent unchanged (same key, value and headers) to the dead-letter
topic, with ``kflow.*`` headers saying which flow and execution failed, which
task, why, and where the record came from. The service commits the record's
offset only after the broker acknowledged the dead-letter write; until then
the write is retried, so a dead-letter outage stalls the partition instead of
losing records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kflow.connectors.kafka import bootstrap_address, kafka_errors
from kflow.connectors.masking import mask
from kflow.engine.delivery import until_acknowledged
from kflow.engine.execution import Execution
from kflow.plugins.driver_futures import settle_from_thread
from kflow.plugins.kafka import shared_producer
from kflow.plugins.kafka_record import KafkaRecord


def dead_letter_headers(execution: Execution) -> list[tuple[str, bytes | None]]:
    t = execution.trigger
    assert isinstance(t, KafkaRecord)
    extra = {
        "kflow.flow": f"{execution.namespace}.{execution.flow_id}",
        "kflow.execution.id": execution.id,
        "kflow.failed.task": execution.failed_task or "",
        "kflow.error": mask(execution.error or "failed"),
        "kflow.source.topic": t.topic or "",
        "kflow.source.partition": "" if t.partition is None else str(t.partition),
        "kflow.source.offset": "" if t.offset is None else str(t.offset),
    }
    kflow_headers: list[tuple[str, bytes | None]] = [
        (k, v.encode("utf-8")) for k, v in extra.items()
    ]
    return [*t.raw_headers, *kflow_headers]


_CONNECTION_PREFIXES = ("bootstrap.servers", "security.", "sasl.", "ssl.", "client.id")


def connection_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a consumer's properties that a producer to the same cluster needs."""
    return {k: v for k, v in properties.items() if k.startswith(_CONNECTION_PREFIXES)}


class DeadLetterWriter:
    """Sends failed executions' records to a topic; ``serde_only`` limits it to
    records that could not be deserialized (Kestra's ``onSerdeError: DLQ``)."""

    def __init__(
        self, properties: Mapping[str, Any], topic: str, *, serde_only: bool = False
    ) -> None:
        self.properties = connection_properties(properties)
        self.topic = topic
        self.serde_only = serde_only
        self.sent = 0

    def wants(self, execution: Execution) -> bool:
        if execution.state.value != "FAILED":
            return False
        return execution.trigger.error is not None or not self.serde_only

    async def send(self, execution: Execution, stopping: asyncio.Event | None = None) -> None:
        """Write the record and wait for the acknowledgement, retrying until it is acked."""
        await until_acknowledged(lambda: self._send_once(execution), stopping)
        self.sent += 1

    async def _send_once(self, execution: Execution) -> None:
        loop = asyncio.get_running_loop()
        producer = await loop.run_in_executor(None, shared_producer, self.properties)
        t = execution.trigger
        assert isinstance(t, KafkaRecord)
        future, ok, err = settle_from_thread(loop)
        with kafka_errors(bootstrap_address(producer.config)):
            sent = producer.send(
                self.topic,
                key=t.raw_key,
                value=t.raw_value,
                headers=dead_letter_headers(execution),
                timestamp_ms=t.timestamp_ms,
            )
            sent.add_callback(ok)
            sent.add_errback(err)
            await future
