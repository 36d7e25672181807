"""How ``kflow executions`` shows stored executions: plain lines, a rich table, a rich tree
with a bar per task run (when it started and how long it took, like Kestra's Gantt view)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kflow.history.store import HistoryRow

if TYPE_CHECKING:
    from rich.console import RenderableType

BAR_WIDTH = 24
VALUE_WIDTH = 200  # characters of a value or outputs shown in the tree

STATE_STYLE = {
    "SUCCESS": "green",
    "WARNING": "yellow",
    "FAILED": "bold red",
    "KILLED": "red",
    "SKIPPED": "dim",
    "CANCELLED": "dim",
}


def trigger_label(record: dict[str, Any]) -> str:
    """``orders[2]@41`` for a Kafka record, else ``event``."""
    t = record.get("trigger") or {}
    if t.get("topic"):
        return f"{t['topic']}[{t.get('partition')}]@{t.get('offset')}"
    return "event"


def _when(ms: int, layout: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime(layout)


def _short(text: str | None, width: int) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def plain_line(row: HistoryRow) -> str:
    record = json.loads(row.record)
    line = (
        f"{_when(row.start_ms)} {row.state:<7} {row.id} {row.namespace}.{row.flow_id} "
        f"{row.duration_ms:.1f}ms {trigger_label(record)}"
    )
    if row.replay_of:
        line += f" replayOf={row.replay_of}"
    if record.get("error"):
        line += f" error: {_short(record['error'], 200)}"
    return line


def table(rows: list[HistoryRow]) -> RenderableType:
    from rich.table import Table

    t = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
    t.add_column("Started (UTC)", no_wrap=True, min_width=14)
    t.add_column("State", no_wrap=True, min_width=7)
    t.add_column("Id", no_wrap=True, min_width=22)  # whole: it is what show takes
    t.add_column("Flow", no_wrap=True, overflow="ellipsis", min_width=10)
    t.add_column("Duration", justify="right", no_wrap=True, min_width=9)
    t.add_column("Trigger", no_wrap=True, overflow="ellipsis", min_width=10)
    t.add_column("Error", no_wrap=True, overflow="ellipsis", max_width=80)
    for row in rows:
        record = json.loads(row.record)
        t.add_row(
            _when(row.start_ms, "%m-%d %H:%M:%S"),
            f"[{STATE_STYLE.get(row.state, '')}]{row.state}[/]",
            row.id,
            f"{row.namespace}.{row.flow_id}",
            f"{row.duration_ms:,.1f} ms",
            trigger_label(record),
            _short(record.get("error"), 60),
        )
    return t


def bar(start_ms: float | None, duration_ms: float, total_ms: float) -> str:
    """Where a task run sits in its execution: blanks until it started, then a bar as long
    as it ran (at least one block)."""
    if total_ms <= 0:
        return "█"
    offset = round((start_ms or 0.0) / total_ms * BAR_WIDTH)
    offset = min(max(offset, 0), BAR_WIDTH - 1)
    length = max(1, round(duration_ms / total_ms * BAR_WIDTH))
    length = min(length, BAR_WIDTH - offset)
    return " " * offset + "█" * length + " " * (BAR_WIDTH - offset - length)


def _json_text(value: Any) -> str:
    return _short(json.dumps(value, ensure_ascii=False, default=str), VALUE_WIDTH)


def tree(record: dict[str, Any]) -> RenderableType:
    """The execution, its trigger, each task run (state, attempts, duration bar, outputs or
    error) and the execution's error."""
    from rich.markup import escape
    from rich.text import Text
    from rich.tree import Tree

    state = record["state"]
    style = STATE_STYLE.get(state, "")
    head = Text.assemble(
        ("Execution ", "bold"),
        (record["id"], "bold"),
        "  ",
        (state, style),
        f"  {record['namespace']}.{record['flowId']}  {record['durationMs']:,.1f} ms",
    )
    root = Tree(head)
    root.add(Text(f"started {record.get('startDate')}, ended {record.get('endDate')}"))
    if record.get("replayOf"):
        root.add(Text(f"replay of {record['replayOf']}"))
    if record.get("flowPath"):
        root.add(Text(f"flow file {record['flowPath']}"))
    t = record.get("trigger") or {}
    trig = root.add(Text(f"trigger {trigger_label(record)}  key={t.get('key')}"))
    if t.get("value") is not None:
        trig.add(Text("value: " + _json_text(t["value"])))
    if t.get("headers"):
        trig.add(Text("headers: " + _json_text(t["headers"])))
    if t.get("error"):
        trig.add(Text("error: " + str(t["error"]), "red"))
    total = float(record.get("durationMs") or 0.0)
    runs = record.get("taskRuns") or []
    tasks = root.add(Text(f"task runs ({len(runs)})", "bold"))
    outputs = record.get("outputs") or {}
    width = max((len(r["taskId"]) for r in runs), default=0)
    for run in runs:
        attempts = run.get("attempts") or 0
        label = Text.assemble(
            run["taskId"].ljust(width),
            "  ",
            (f"{run['state']:<7}", STATE_STYLE.get(run["state"], "")),
            f"  {attempts} attempt{'s' if attempts != 1 else ''}",
            f"  {run['durationMs']:>10,.1f} ms  ",
            ("|", "dim"),
            (bar(run.get("startMs"), run["durationMs"], total), "cyan"),
            ("|", "dim"),
        )
        node = tasks.add(label)
        if run.get("value") is not None:
            node.add(Text("value: " + _json_text(run["value"])))
        if run.get("error"):
            node.add(Text("error: " + str(run["error"]), "red"))
        elif run["taskId"] in outputs and run.get("parentId") is None:
            node.add(Text("outputs: " + _json_text(outputs[run["taskId"]]), "dim"))
    if record.get("flowOutputs"):
        root.add(Text("flow outputs: " + _json_text(record["flowOutputs"])))
    if record.get("error"):
        root.add(Text.from_markup("[bold red]error:[/] " + escape(str(record["error"]))))
    return root
