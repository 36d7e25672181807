"""Executions and task runs are values: the engine records what happened on them.

Exit codes, the live view and ``--json`` output are all computed from these
values, never from exceptions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kflow.engine.states import State


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class TriggerRecord:
    """What started an execution: one Kafka record, or a value given on the command line.

    ``value`` is the deserialized value (``None`` when deserializing failed,
    then ``error`` says why).
    """

    value: Any
    key: Any = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    timestamp_ms: int | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    raw_value: bytes | None = None
    raw_key: bytes | None = None
    raw_headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    error: str | None = None
    skip: bool = False  # dropped by the trigger's header filters: no execution, offset advances
    epoch: int = 0  # the source's assignment epoch of the partition when it was fetched

    def variables(self) -> dict[str, Any]:
        """The ``trigger.*`` variables of expressions."""
        ts = (
            datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)
            if self.timestamp_ms is not None
            else None
        )
        return {
            "key": self.key,
            "value": self.value,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": ts,
            "headers": self.headers,
        }

    def coordinates(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key if isinstance(self.key, str | int | float | None) else str(self.key),
            "timestamp": self.timestamp_ms,
        }


@dataclass
class LogEntry:
    timestamp: datetime
    level: str
    message: str
    task_id: str | None


@dataclass
class TaskRun:
    id: str
    task_id: str
    type: str
    parent_id: str | None = None
    value: Any = None  # ForEach iteration value
    state: State = State.CREATED
    attempts: int = 0
    start: float = 0.0  # monotonic
    end: float = 0.0
    start_date: datetime | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000 if self.end else 0.0


@dataclass
class Execution:
    id: str
    namespace: str
    flow_id: str
    trigger: TriggerRecord
    state: State = State.CREATED
    task_runs: list[TaskRun] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)
    start_date: datetime = field(default_factory=utc_now)
    end_date: datetime | None = None
    start: float = field(default_factory=time.monotonic)
    end: float = 0.0
    error: str | None = None
    failed_task: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # the flow's labels (``labels.*``)
    # The flow's ``outputs``, rendered and typed after its tasks (Kestra's ``Execution.outputs``;
    # ``outputs`` above holds the task outputs). None: the flow declares none, or they failed.
    flow_outputs: dict[str, Any] | None = None

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000 if self.end else 0.0

    def latency_ms(self) -> float | None:
        """From the record's timestamp to the end of the execution (wall clock)."""
        if self.trigger.timestamp_ms is None or self.end_date is None:
            return None
        return self.end_date.timestamp() * 1000 - self.trigger.timestamp_ms
