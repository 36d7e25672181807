"""The rich live view of ``kflow run`` on a terminal."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Self

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kflow.connectors.masking import mask
from kflow.console.stats import RunStats
from kflow.console.writers import trigger_label
from kflow.engine.events import TriggerStatus
from kflow.engine.execution import Execution

STATE_STYLE = {
    "SUCCESS": "green",
    "WARNING": "yellow",
    "FAILED": "bold red",
    "KILLED": "red",
    "RUNNING": "cyan",
    "SKIPPED": "dim",
    "RETRYING": "magenta",
}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


class _Redrawn:
    """A view rich redraws a few times a second while the ``with`` block runs."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.title = title
        self.live = Live(console=console, refresh_per_second=4, get_renderable=self.render)

    def __enter__(self) -> Self:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def render(self) -> Group:
        raise NotImplementedError


class LiveView(_Redrawn):
    """Draws trigger status, counts, rate, latency and recent executions, a few times a second."""

    def __init__(
        self,
        console: Console,
        stats: RunStats,
        status: Callable[[], TriggerStatus | None],
        title: str,
    ) -> None:
        self.stats = stats
        self.status = status
        super().__init__(console, title)

    def render(self) -> Group:
        return Group(self._header(), self._recent())

    def _header(self) -> Panel:
        stats = self.stats
        status = self.status()
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        if status is not None:
            state = status.state + (f" · {status.detail}" if status.detail else "")
            grid.add_row("trigger", f"{status.description} · {state}")
            parts = ", ".join(
                f"{s.name} {'lag' if status.label == 'partitions' else 'backlog'} "
                f"{s.backlog if s.backlog is not None else '?'}"
                for s in status.streams
            )
            grid.add_row(status.label, f"{parts or 'none assigned yet'}  (total {status.backlog})")
        grid.add_row("executions", _counts(stats))
        p50, p99 = stats.latency()
        grid.add_row("rate", f"{stats.rate():,.1f} /s   latency p50 {_ms(p50)}   p99 {_ms(p99)}")
        return Panel(grid, title=self.title, title_align="left")

    def _recent(self) -> Table:
        return recent_table(self.stats.recent)


def _counts(stats: RunStats, *, compact: bool = False) -> Text:
    """Executions by state and running; ``compact``: the states that have some only."""
    counts = Text()
    for state in ("SUCCESS", "WARNING", "FAILED", "KILLED"):
        n = stats.by_state.get(state, 0)
        if n or not compact:
            counts.append(f"{state} {n}   ", style=STATE_STYLE[state] if n else "dim")
    counts.append(f"running {stats.running}", style="cyan")
    return counts


def recent_table(recent: Sequence[Execution], *, with_flow: bool = False) -> Table:
    """The latest executions, newest first (``with_flow``: a column naming each one's flow)."""
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("state", width=8)
    if with_flow:
        table.add_column("flow", no_wrap=True)
    table.add_column("execution", no_wrap=True)
    table.add_column("record", no_wrap=True)
    table.add_column("duration", justify="right")
    table.add_column("task runs / error", ratio=1)
    for execution in reversed(recent):
        state = execution.state.value
        runs = Text()
        for run in execution.task_runs:
            style = STATE_STYLE.get(run.state.value, "")
            runs.append(f"{run.task_id} ", style=style)
            runs.append(f"{run.duration_ms:.1f}ms", style="dim")
            if run.attempts > 1:
                runs.append(f" ×{run.attempts}", style="magenta")
            runs.append("  ")
        if execution.error:
            runs.append("\n" + mask(execution.error), style="red")
        flow = [f"{execution.namespace}.{execution.flow_id}"] if with_flow else []
        table.add_row(
            Text(state, style=STATE_STYLE.get(state, "")),
            *flow,
            execution.id,
            trigger_label(execution),
            f"{execution.duration_ms:.1f} ms",
            runs,
        )
    return table


@dataclass(frozen=True)
class FlowRow:
    """One flow of a many-flow run, as the live view shows it."""

    ref: str
    status: TriggerStatus | None
    stats: RunStats
    note: str | None = None  # "version 2", "stopped: file removed", "edit refused: ..."


class FleetView(_Redrawn):
    """The live view of ``kflow run`` with many flows: a row per flow (trigger, backlog,
    counts, rate, latency) and the recent executions of them all."""

    def __init__(
        self,
        console: Console,
        rows: Callable[[], Sequence[FlowRow]],
        recent: RunStats,
        title: str,
    ) -> None:
        self.rows = rows
        self.recent = recent
        super().__init__(console, title)

    def render(self) -> Group:
        return Group(self._flows(), recent_table(self.recent.recent, with_flow=True))

    def _flows(self) -> Panel:
        table = Table(expand=True, show_edge=False, pad_edge=False)
        table.add_column("flow", style="bold")
        table.add_column("trigger", ratio=2)
        table.add_column("backlog", justify="right")
        table.add_column("executions", no_wrap=True)
        table.add_column("rate", justify="right")
        table.add_column("p50 / p99", justify="right", no_wrap=True)
        for row in self.rows():
            status = row.status
            if status is None:
                trigger, backlog = Text(row.note or "not running", style="dim"), "-"
            else:
                state = status.state + (f" · {status.detail}" if status.detail else "")
                trigger = Text(f"{status.description} · {state}")
                if row.note:
                    trigger.append(f"\n{row.note}", style="yellow")
                backlog = str(status.backlog)
            p50, p99 = row.stats.latency()
            table.add_row(
                row.ref,
                trigger,
                backlog,
                _counts(row.stats, compact=True),
                f"{row.stats.rate():,.1f} /s",
                f"{_ms(p50)} / {_ms(p99)}",
            )
        return Panel(table, title=self.title, title_align="left")
