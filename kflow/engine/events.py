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
class StreamStatus:
    """One thing a source reads (a partition, a queue, a topic filter) and its backlog."""

    name: str  # "orders[2]", "queue orders", "sensors/#"
    backlog: int | None  # messages waiting for this reader; None when the broker does not say
    position: int | None = None  # where reading goes on (Kafka: the next offset)
    committed: int | None = None  # the last acknowledged position the broker holds


@dataclass(frozen=True)
class TriggerStatus:
    """A snapshot of the trigger: what it reads and how far behind it is."""

    description: str
    state: str  # "connecting", "running", "reconnecting", "stopping", "stopped"
    streams: tuple[StreamStatus, ...] = ()
    in_flight: int = 0
    detail: str | None = None
    label: str = "partitions"  # what the streams are, for the views

    @property
    def backlog(self) -> int:
        return sum(s.backlog or 0 for s in self.streams)


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
