"""Line writers for ``kflow run``: one plain line, or one JSON object, per finished execution."""

from __future__ import annotations

from typing import TextIO

from kflow.connectors.masking import mask
from kflow.console.records import execution_json
from kflow.engine.events import Event, ExecutionFinished, LogEmitted
from kflow.engine.execution import Execution


def trigger_label(execution: Execution) -> str:
    t = execution.trigger
    if t.topic is None:
        return "event"
    return f"{t.topic}[{t.partition}]@{t.offset}"


def plain_line(execution: Execution) -> str:
    runs = " ".join(
        f"{r.task_id}:{r.state.value}({r.duration_ms:.1f}ms)"
        + (f"x{r.attempts}" if r.attempts > 1 else "")
        for r in execution.task_runs
    )
    line = (
        f"{execution.state.value:<7} {execution.id} {trigger_label(execution)} "
        f"{execution.duration_ms:.1f}ms {runs}"
    ).rstrip()
    if execution.error:
        line += f" error: {execution.error}"
    return mask(line)


class PlainWriter:
    """One line per finished execution, and log lines of tasks, for pipes and files."""

    def __init__(self, out: TextIO, *, logs: bool = True) -> None:
        self.out = out
        self.logs = logs

    def __call__(self, event: Event) -> None:
        if isinstance(event, ExecutionFinished):
            self.out.write(plain_line(event.execution) + "\n")
            self.out.flush()
        elif isinstance(event, LogEmitted) and self.logs:
            e = event.entry
            self.out.write(mask(f"  {e.level:<5} {event.execution.id} {e.task_id}: {e.message}\n"))


class JsonWriter:
    """One JSON object per finished execution (``kflow run --json``)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, event: Event) -> None:
        if isinstance(event, ExecutionFinished):
            self.out.write(execution_json(event.execution) + "\n")
            self.out.flush()
