"""Line writers for ``kflow run``: one plain line, or one JSON object, per finished execution."""

from __future__ import annotations

import time
from typing import TextIO

from kflow.connectors.masking import mask
from kflow.console.records import execution_json
from kflow.engine.events import Event, ExecutionFinished, LogEmitted
from kflow.engine.execution import Execution


def trigger_label(execution: Execution) -> str:
    return execution.trigger.label()


def plain_line(execution: Execution, *, with_flow: bool = False) -> str:
    runs = " ".join(
        f"{r.task_id}:{r.state.value}({r.duration_ms:.1f}ms)"
        + (f"x{r.attempts}" if r.attempts > 1 else "")
        for r in execution.task_runs
    )
    flow = f"{execution.namespace}.{execution.flow_id} " if with_flow else ""
    line = (
        f"{execution.state.value:<7} {flow}{execution.id} {trigger_label(execution)} "
        f"{execution.duration_ms:.1f}ms {runs}"
    ).rstrip()
    if execution.error:
        line += f" error: {execution.error}"
    return mask(line)


class _ThrottledLines:
    """Writes lines, flushing at most every ``FLUSH_EVERY_S`` (a flush per line is a
    system call per execution); ``close`` flushes what is left."""

    FLUSH_EVERY_S = 0.1

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._flushed = 0.0

    def write_line(self, line: str) -> None:
        self.out.write(line + "\n")
        now = time.monotonic()
        if now - self._flushed >= self.FLUSH_EVERY_S:
            self.out.flush()
            self._flushed = now

    def close(self) -> None:
        self.out.flush()


class PlainWriter(_ThrottledLines):
    """One line per finished execution, and log lines of tasks, for pipes and files."""

    def __init__(self, out: TextIO, *, logs: bool = True, with_flow: bool = False) -> None:
        super().__init__(out)
        self.logs = logs
        self.with_flow = with_flow  # many flows: each line names its flow after the state

    def __call__(self, event: Event) -> None:
        if isinstance(event, ExecutionFinished):
            self.write_line(plain_line(event.execution, with_flow=self.with_flow))
        elif isinstance(event, LogEmitted) and self.logs:
            e = event.entry
            self.write_line(mask(f"  {e.level:<5} {event.execution.id} {e.task_id}: {e.message}"))


class JsonWriter(_ThrottledLines):
    """One JSON object per finished execution (``kflow run --json``)."""

    def __call__(self, event: Event) -> None:
        if isinstance(event, ExecutionFinished):
            self.write_line(execution_json(event.execution))
