"""The rich live view of ``kflow run`` on a terminal."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kflow.connectors.masking import mask
from kflow.console.stats import RunStats
from kflow.console.writers import trigger_label
from kflow.engine.events import TriggerStatus

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


class LiveView:
    """Draws trigger status, counts, rate, latency and recent executions, a few times a second."""

    def __init__(
        self,
        console: Console,
        stats: RunStats,
        status: Callable[[], TriggerStatus | None],
        title: str,
    ) -> None:
        self.console = console
        self.stats = stats
        self.status = status
        self.title = title
        self.live = Live(console=console, refresh_per_second=4, get_renderable=self.render)

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

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
        counts = Text()
        for state in ("SUCCESS", "WARNING", "FAILED", "KILLED"):
            n = stats.by_state.get(state, 0)
            counts.append(f"{state} {n}   ", style=STATE_STYLE[state] if n else "dim")
        counts.append(f"running {stats.running}", style="cyan")
        grid.add_row("executions", counts)
        p50, p99 = stats.latency()
        grid.add_row("rate", f"{stats.rate():,.1f} /s   latency p50 {_ms(p50)}   p99 {_ms(p99)}")
        return Panel(grid, title=self.title, title_align="left")

    def _recent(self) -> Table:
        table = Table(expand=True, show_edge=False, pad_edge=False)
        table.add_column("state", width=8)
        table.add_column("execution", no_wrap=True)
        table.add_column("record", no_wrap=True)
        table.add_column("duration", justify="right")
        table.add_column("task runs / error", ratio=1)
        for execution in reversed(self.stats.recent):
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
            table.add_row(
                Text(state, style=STATE_STYLE.get(state, "")),
                execution.id,
                trigger_label(execution),
                f"{execution.duration_ms:.1f} ms",
                runs,
            )
        return table
