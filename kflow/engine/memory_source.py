"""An in-memory source: records handed over from Python, acknowledgements kept for reading.

``kflow run --event`` runs through it, so one execution goes through the same
service as a broker's records; tests use it to drive the service without a
broker. Records can be added while it runs (:meth:`MemorySource.put`); it is
exhausted once :meth:`MemorySource.close` was called and every record was
handed over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from kflow.engine.events import StreamStatus, TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.source import Outcome, RecordSource


class MemorySource(RecordSource):
    kind = "memory"

    def __init__(
        self, records: Iterable[TriggerRecord] = (), *, batch: int = 10, closed: bool = True
    ) -> None:
        self.records: list[TriggerRecord] = list(records)
        self.batch = batch
        self.acks: list[tuple[TriggerRecord, Outcome]] = []
        self.paused_calls: list[bool] = []
        self.started = False
        self.stopped = False
        self._closed = closed
        self._arrived = asyncio.Event()

    def put(self, *records: TriggerRecord) -> None:
        self.records.extend(records)
        self._arrived.set()

    def close(self) -> None:
        """No more records will be put."""
        self._closed = True
        self._arrived.set()

    @property
    def exhausted(self) -> bool:
        return self._closed and not self.records

    async def start(self) -> None:
        self.started = True

    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        if not self.records and not self._closed:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
        else:
            await asyncio.sleep(0)  # a caller looping on an empty source lets others run
        out, self.records = self.records[: self.batch], self.records[self.batch :]
        return out

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        self.acks.append((record, outcome))

    def pause(self, paused: bool) -> None:
        self.paused_calls.append(paused)

    def status(self) -> TriggerStatus:
        return TriggerStatus(
            "memory", "running", (StreamStatus("records", len(self.records)),), label="queue"
        )

    async def stop(self) -> None:
        self.stopped = True

    def outcomes(self) -> list[Outcome]:
        return [outcome for _, outcome in self.acks]
