"""What every realtime source is to the engine: records in, one acknowledgement out per record.

A :class:`RecordSource` delivers batches of :class:`TriggerRecord`; the
service calls :meth:`RecordSource.ack` exactly once for every record it
admitted, when its execution has finished, with the :class:`Outcome`. What an
acknowledgement means is the source's business: Kafka turns them into
committed watermarks, AMQP into ``basic.ack``/``basic.nack``, MQTT into the
PUBACK. A record that was admitted and never acknowledged (a kill, a lost
connection, a revoked partition) is delivered again by the broker: sources are
at-least-once, never at-most-once.

The service keeps what is source-independent (``kflow.engine.service``).
Everything a source needs from a flow comes from its trigger's spec:
:meth:`RecordSource.from_trigger` builds one.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from kflow.engine.events import TriggerStatus
from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.states import State
from kflow.errors import FlowError

if TYPE_CHECKING:
    from kflow.flow.model import TriggerDef


class Outcome(StrEnum):
    """How the work of one record ended, as its acknowledgement reports it."""

    SUCCESS = "success"  # the execution ended SUCCESS, WARNING, SKIPPED or CANCELLED
    FAILED = "failed"  # the execution finally FAILED (after its retries)
    DEAD_LETTERED = "dead-lettered"  # it FAILED and a copy went to the dead-letter target
    SKIPPED = "skipped"  # no execution: the trigger's filters dropped the record


def outcome_of(execution: Execution) -> Outcome:
    return Outcome.FAILED if execution.state in (State.FAILED, State.KILLED) else Outcome.SUCCESS


class DeadLetter(Protocol):
    """Where records of failed executions go before they are acknowledged."""

    def wants(self, execution: Execution) -> bool: ...

    async def send(self, execution: Execution, stopping: asyncio.Event | None = None) -> None: ...


@dataclass(frozen=True)
class SourceOptions:
    """What ``kflow run`` asks of any source."""

    from_beginning: bool = False
    """Start at the oldest retained message where the broker keeps history (Kafka)."""
    prefetch: int = 64
    """Messages the broker may hand over unacknowledged (AMQP, MQTT receive maximum)."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Trigger properties set on the command line (``--set``), already parsed."""
    state_dir: str | None = None
    """``--state-dir``: where sources that keep their own position store it
    (``kflow.state.positions``); None: ``$KFLOW_STATE_DIR`` or ``.kflow/state``."""


class RecordSource(ABC):
    """A stream of trigger records with acknowledgements, back-pressure and status."""

    kind: ClassVar[str] = "source"
    """Short name of the system (``kafka``, ``amqp``, ``mqtt``): messages and views use it."""

    notify: Callable[[str], None] | None = None
    """Set by ``kflow run``: called with one line an operator should know (an assignment,
    a reconnect), from any thread."""

    counter: Callable[[str, str, int], None] | None = None
    """Set by ``kflow run --metrics-port``: told ``(what, kind, n)`` of countable things no
    engine event shows: ``("ack", outcome, 1)`` (by the service), ``("rebalance",
    "assigned"|"revoked"|"lost", partitions)``, ``("commit", "ok"|"failed", 1)``. Called from
    any thread; it is cheap and never raises."""

    reconnects: int = 0
    """Connections lost (or broker requests failed) that the source carried on after; read
    when metrics are scraped."""

    def counted(self, what: str, kind: str, n: int = 1) -> None:
        """Tell :attr:`counter`, if set, that ``what`` of ``kind`` happened ``n`` times."""
        if self.counter is not None:
            self.counter(what, kind, n)

    @classmethod
    def from_trigger(
        cls,
        trigger: TriggerDef,
        variables: Mapping[str, Any],
        options: SourceOptions,
    ) -> RecordSource:
        """The source of a flow trigger (its properties rendered against ``variables``)."""
        raise FlowError(f"trigger type {trigger.type} cannot be run as a realtime source")

    @classmethod
    def event_record(cls, trigger: TriggerDef | None, event: str, key: str | None) -> TriggerRecord:
        """The record ``kflow run --event`` makes of a value, decoded as this source would."""
        return TriggerRecord(value=event, key=key)

    def admit(self, record: TriggerRecord) -> bool:
        """Called once, on the event loop, when the service takes ``record`` on. False: the
        source no longer wants it run (it will be delivered again elsewhere); it is then
        never acknowledged."""
        return True

    def wanted(self, record: TriggerRecord) -> bool:
        """Asked again just before an admitted record runs (it may have waited behind its
        key). False: it is dropped unacknowledged, as for :meth:`admit`."""
        return True

    @abstractmethod
    async def start(self) -> None:
        """Connect; raise a ``ConnectorError`` naming the service and address on failure."""

    @abstractmethod
    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        """Records received since the last call (empty after ``timeout`` seconds)."""

    @abstractmethod
    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        """The work of an admitted record is over (does not block)."""

    @abstractmethod
    def pause(self, paused: bool) -> None:
        """Stop or resume delivery (the source keeps its subscription)."""

    @abstractmethod
    def status(self) -> TriggerStatus: ...

    @abstractmethod
    async def stop(self) -> None:
        """Settle every acknowledgement made so far with the broker, then close."""

    @property
    def exhausted(self) -> bool:
        """True when a finite source has handed over its last record."""
        return False

    def dead_letter(self, target: str | None) -> DeadLetter | None:
        """The dead-letter writer for ``target`` (``--dead-letter``) or the trigger's own
        settings; None when failed records are acknowledged as failed."""
        if target is not None:
            raise FlowError(f"the {self.kind} trigger has no dead-letter target of that kind")
        return None
