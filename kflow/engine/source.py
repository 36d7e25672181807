"""Where trigger records come from, as the service sees it.

A :class:`RecordSource` delivers batches of :class:`TriggerRecord` in offset
order per partition, accepts commit positions (Kafka's "next offset to
read"), can be paused for back-pressure, and reports its status. The Kafka
RealtimeTrigger is one; tests use an in-process fake.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from kflow.engine.events import TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.offsets import TopicPartition

RevokeHandler = Callable[[list[TopicPartition]], dict[TopicPartition, int]]


class RecordSource(ABC):
    """A stream of trigger records with commit, pause and status."""

    on_revoked: RevokeHandler | None = None
    """Set by the service: called (from any thread) when partitions are taken
    away; returns, for each of them it tracks, the position where its work
    would resume (everything below it has finished). The service forgets them."""

    in_flight_of: Callable[[list[TopicPartition]], int] | None = None
    """Set by the service: how many executions of these partitions are still running (a
    source may wait, bounded, for them before giving partitions up, so they need not be
    redelivered)."""

    def is_current(self, record: TriggerRecord) -> bool:
        """False for a record of a partition revoked since it was read: it must not run.

        The service asks under the same lock as ``on_revoked`` takes, so a record is
        either tracked before its partition is forgotten or refused after it.
        """
        return True

    @abstractmethod
    async def start(self) -> None:
        """Connect; raise a ``ConnectorError`` naming the service and address on failure."""

    @abstractmethod
    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        """Records received since the last call (empty after ``timeout`` seconds)."""

    @abstractmethod
    def commit(self, positions: dict[TopicPartition, int]) -> None:
        """Ask for these positions to be committed (does not block)."""

    @abstractmethod
    def pause(self, paused: bool) -> None:
        """Stop or resume fetching (the source keeps its group membership)."""

    @abstractmethod
    def status(self) -> TriggerStatus: ...

    @abstractmethod
    async def stop(self, final: dict[TopicPartition, int]) -> None:
        """Commit ``final`` synchronously, then close."""
