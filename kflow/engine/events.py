"""What the engine tells the world. The engine never prints: the live view,
the plain log and the JSON writer all subscribe to these events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kflow.engine.execution import Execution, LogEntry, TaskRun


@dataclass(frozen=True)
class ExecutionStarted:
    execution: Execution


@dataclass(frozen=True)
class TaskRunFinished:
    execution: Execution
    task_run: TaskRun


@dataclass(frozen=True)
class ExecutionFinished:
    execution: Execution


@dataclass(frozen=True)
class LogEmitted:
    execution: Execution
    entry: LogEntry


@dataclass(frozen=True)
class PartitionStatus:
    topic: str
    partition: int
    position: int | None  # next offset to read
    end_offset: int | None
    committed: int | None

    @property
    def lag(self) -> int | None:
        if self.end_offset is None or self.position is None:
            return None
        return max(0, self.end_offset - self.position)


@dataclass(frozen=True)
class TriggerStatus:
    """A snapshot of the trigger: what it reads and how far behind it is."""

    description: str
    state: str  # "connecting", "running", "stopping", "stopped"
    partitions: tuple[PartitionStatus, ...] = ()
    in_flight: int = 0
    detail: str | None = None


Event = ExecutionStarted | TaskRunFinished | ExecutionFinished | LogEmitted | TriggerStatus
Listener = Callable[[Event], None]


@dataclass
class EventBus:
    """Hands every event to every listener, in subscription order."""

    listeners: list[Listener] = field(default_factory=list)

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)
