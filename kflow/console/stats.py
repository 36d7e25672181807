"""Running figures of a ``kflow run``: counts by state, rate, latency percentiles."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from kflow.engine.events import Event, ExecutionFinished, ExecutionStarted
from kflow.engine.execution import Execution


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by nearest rank; None for no values."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1))))
    return sorted_values[rank]


@dataclass
class RunStats:
    """Listens to engine events and keeps what the views show."""

    window: float = 5.0
    keep_latencies: int = 4096
    keep_recent: int = 12
    started: int = 0
    finished: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    latencies: deque[float] = field(default_factory=deque)
    recent: deque[Execution] = field(default_factory=deque)
    _ends: deque[float] = field(default_factory=deque)
    began: float = field(default_factory=time.monotonic)

    def __call__(self, event: Event) -> None:
        if isinstance(event, ExecutionStarted):
            self.started += 1
        elif isinstance(event, ExecutionFinished):
            self.record(event.execution)

    def record(self, execution: Execution) -> None:
        self.finished += 1
        state = execution.state.value
        self.by_state[state] = self.by_state.get(state, 0) + 1
        latency = execution.latency_ms()
        if latency is not None:
            self.latencies.append(latency)
            if len(self.latencies) > self.keep_latencies:
                self.latencies.popleft()
        self.recent.append(execution)
        if len(self.recent) > self.keep_recent:
            self.recent.popleft()
        now = time.monotonic()
        self._ends.append(now)
        self._trim(now)

    def rate(self, now: float | None = None) -> float:
        """Executions finished per second over the last ``window`` seconds."""
        now = time.monotonic() if now is None else now
        self._trim(now)
        span = min(self.window, max(now - self.began, 1e-9))
        return len(self._ends) / span

    def _trim(self, now: float) -> None:
        while self._ends and self._ends[0] < now - self.window:
            self._ends.popleft()

    def latency(self) -> tuple[float | None, float | None]:
        """p50 and p99 in ms, from record timestamp to finished execution."""
        values = sorted(self.latencies)
        return percentile(values, 0.5), percentile(values, 0.99)

    @property
    def running(self) -> int:
        return self.started - self.finished


class StatsByFlow:
    """Listens to the engine events of many flows: one :class:`RunStats` per flow
    (``namespace``, ``flowId``) and one of them all (``all``, for the recent executions)."""

    def __init__(self) -> None:
        self.all = RunStats()
        self.flows: dict[tuple[str, str], RunStats] = {}

    def of(self, namespace: str, flow_id: str) -> RunStats:
        stats = self.flows.get((namespace, flow_id))
        if stats is None:
            stats = self.flows[(namespace, flow_id)] = RunStats()
        return stats

    def __call__(self, event: Event) -> None:
        if isinstance(event, ExecutionStarted | ExecutionFinished):
            self.all(event)
            execution = event.execution
            self.of(execution.namespace, execution.flow_id)(event)
