"""Kafka ``Trigger``: poll on an interval, one execution per non-empty batch.

Every ``interval`` the trigger reads what arrived (as ``Consume`` does: until an
empty poll, ``maxRecords`` or ``maxDuration``) into one Ion file of the internal
storage and starts one execution with ``trigger.uri`` and
``trigger.messagesCount``. Kestra commits the offsets as soon as the file is
written; kflow commits them when the execution has finished, so a crash in
between reads the batch again instead of losing it. One batch is in flight at a
time: the next poll waits for its execution.

All consumer calls run on one thread of their own (kafka-python's consumer is
not thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kflow.engine.events import TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.ids import new_id
from kflow.engine.source import Outcome, RecordSource, SourceOptions
from kflow.expr import render_value
from kflow.flow.model import TriggerDef
from kflow.plugins.kafka_consume import (
    ConsumeSettings,
    commit_positions,
    consume_batch,
    open_consumer,
)
from kflow.plugins.kafka_offsets import TopicPartition
from kflow.plugins.kafka_trigger import with_overrides
from kflow.storage.local import default_storage
from kflow.storage.uris import trigger_prefix

DEFAULT_INTERVAL_S = 60.0


@dataclass(eq=False)
class PolledBatch(TriggerRecord):
    """One poll's records, in a storage file."""

    uri: str = ""
    count: int = 0
    positions: dict[TopicPartition, int] = field(default_factory=dict)

    def variables(self) -> dict[str, Any]:
        return {"uri": self.uri, "messagesCount": self.count}

    def coordinates(self) -> dict[str, Any]:
        return {"uri": self.uri, "messagesCount": self.count}

    def label(self) -> str:
        return f"batch of {self.count}"

    def order_key(self) -> Hashable | None:
        return None


class PollingTrigger(RecordSource):
    kind = "kafka"

    def __init__(
        self,
        trigger: TriggerDef,
        variables: Mapping[str, Any],
        options: SourceOptions | None = None,
    ) -> None:
        options = options or SourceOptions()
        trigger = with_overrides(trigger, options.overrides)
        props = render_value(trigger.props, dict(variables))
        if options.from_beginning:
            props["properties"] = {
                "auto.offset.reset": "earliest",
                **(props.get("properties") or {}),
            }
        self.trigger_id = trigger.id
        self.settings = ConsumeSettings.from_props(props)
        self.interval_s = float(props.get("interval") or DEFAULT_INTERVAL_S)
        flow = variables.get("flow") or {}
        self.namespace = str(flow.get("namespace") or "default")
        self.flow_id = str(flow.get("id") or "flow")
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kflow-kafka-poll")
        self._consumer: Any = None
        self._next_poll = 0.0
        self._outstanding: PolledBatch | None = None
        self._acked = asyncio.Event()
        self._commits: list[asyncio.Future[None]] = []
        self._state = "connecting"
        self._detail: str | None = None
        self.polls = 0

    @classmethod
    def from_trigger(
        cls, trigger: TriggerDef, variables: Mapping[str, Any], options: SourceOptions
    ) -> PollingTrigger:
        return cls(trigger, variables, options)

    def describe(self) -> str:
        what = (
            f"pattern {self.settings.pattern}"
            if self.settings.pattern
            else ", ".join(self.settings.topics)
        )
        address = self.settings.properties.get("bootstrap.servers", "?")
        return f"kafka poll {what} every {self.interval_s:g} s @ {address}"

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def start(self) -> None:
        self._consumer = await self._call(open_consumer, self.settings)
        self._state = "running"

    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        wait = self._next_poll - time.monotonic()
        if self._outstanding is not None or wait > 0:
            self._acked.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._acked.wait(), max(0.0, min(timeout, wait)))
            return []
        execution_id = new_id()
        prefix = trigger_prefix(self.namespace, self.flow_id, execution_id, self.trigger_id)
        batch = await self._call(consume_batch, self._consumer, self.settings, prefix)
        self.polls += 1
        self._next_poll = time.monotonic() + self.interval_s
        if batch.count == 0:
            with contextlib.suppress(OSError):
                default_storage().path_of(batch.uri).unlink()
            if batch.positions:  # only filtered records: nothing to run, move past them
                self._commit(batch.positions)
            return []
        record = PolledBatch(
            value={"uri": batch.uri, "messagesCount": batch.count},
            execution_id=execution_id,
            uri=batch.uri,
            count=batch.count,
            positions=batch.positions,
            timestamp_ms=int(time.time() * 1000),
        )
        self._outstanding = record
        return [record]

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        assert isinstance(record, PolledBatch)
        if self.settings.group_id:
            self._commit(record.positions)
        if record is self._outstanding:
            self._outstanding = None
        self._acked.set()

    def _commit(self, positions: dict[TopicPartition, int]) -> None:
        if not self.settings.group_id:
            return
        future = asyncio.ensure_future(self._call(commit_positions, self._consumer, positions))
        self._commits.append(future)

    def pause(self, paused: bool) -> None:
        return None  # one batch at a time already

    def status(self) -> TriggerStatus:
        return TriggerStatus(self.describe(), self._state, detail=self._detail)

    async def stop(self) -> None:
        self._state = "stopping"
        try:
            for future in self._commits:
                try:
                    await future
                except Exception as exc:  # reported, the batch is read again next time
                    self._detail = f"commit failed: {exc}"
                    if self.notify is not None:
                        self.notify(f"kflow run: trigger {self.trigger_id}: commit failed: {exc}")
        finally:
            if self._consumer is not None:
                consumer, self._consumer = self._consumer, None
                await self._call(lambda: consumer.close(autocommit=False))
            self._thread.shutdown(wait=True)
            self._state = "stopped"
