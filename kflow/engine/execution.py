"""Executions and task runs are values: the engine records what happened on them.

Exit codes, the live view and ``--json`` output are all computed from these
values, never from exceptions.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kflow.engine.states import State


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class TriggerRecord:
    """What started an execution: one message of a source, or a value given on the command line.

    Each source subclasses it with its own coordinates (``KafkaRecord``,
    ``AmqpMessage``, ...). ``value`` is the decoded value (``None`` when decoding
    failed, then ``error`` says why: the execution fails, the stream goes on).
    """

    value: Any
    key: Any = None
    timestamp_ms: int | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    raw_value: bytes | None = None
    error: str | None = None
    skip: bool = False  # dropped by the trigger's filters: no execution, acknowledged
    execution_id: str | None = None  # set by a source that names the execution's files

    def variables(self) -> dict[str, Any]:
        """The ``trigger.*`` variables of expressions."""
        return {
            "key": self.key,
            "value": self.value,
            "timestamp": self.timestamp(),
            "headers": self.headers,
        }

    def timestamp(self) -> datetime | None:
        if self.timestamp_ms is None:
            return None
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def coordinates(self) -> dict[str, Any]:
        """Where the record came from, as ``--json`` prints it."""
        return {"key": json_key(self.key), "timestamp": self.timestamp_ms}

    def label(self) -> str:
        """Where the record came from, in a few characters (``orders[2]@41``)."""
        return "event"

    def order_key(self) -> Hashable | None:
        """Records with equal keys run one after another; ``None`` runs freely."""
        return plain_key(self.key)


def json_key(key: Any) -> Any:
    return key if isinstance(key, str | int | float | None) else str(key)


def plain_key(key: Any) -> Hashable | None:
    if key is None:
        return None
    return key if isinstance(key, bytes | str | int) else repr(key)


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
