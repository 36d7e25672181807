"""The views of ``kflow run``: plain lines, JSON records, stats and the live view."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from rich.console import Console

from kflow.connectors.masking import register_secret
from kflow.console.live import LiveView
from kflow.console.records import execution_json
from kflow.console.stats import RunStats, percentile
from kflow.console.writers import JsonWriter, plain_line
from kflow.engine.events import ExecutionFinished, StreamStatus, TriggerStatus
from kflow.engine.execution import Execution, TaskRun
from kflow.engine.states import State
from kflow.plugins.kafka_record import KafkaRecord


def execution(state: State = State.SUCCESS, error: str | None = None) -> Execution:
    record = KafkaRecord(
        value={"a": 1},
        key="k1",
        topic="orders",
        partition=2,
        offset=41,
        timestamp_ms=1_700_000_000_000,
    )
    ex = Execution("EXEC1", "dev", "flow", record, state=state, error=error)
    run = TaskRun(
        "RUN1",
        "lookup",
        "io.kestra.plugin.cassandra.standard.Query",
        state=State.SUCCESS,
        attempts=2,
        start=1.0,
        end=1.0125,
    )
    ex.task_runs.append(run)
    ex.start, ex.end = 1.0, 1.02
    ex.start_date = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    ex.end_date = ex.start_date + timedelta(milliseconds=20)
    ex.outputs["lookup"] = {"row": {"price": 1.5, "when": ex.start_date}}
    return ex


def test_plain_line_has_state_id_record_duration_and_task_runs() -> None:
    line = plain_line(execution())
    assert line == "SUCCESS EXEC1 orders[2]@41 20.0ms lookup:SUCCESS(12.5ms)x2"


def test_plain_line_shows_and_masks_the_error() -> None:
    register_secret("hunter2")
    line = plain_line(execution(State.FAILED, "task lookup: login hunter2 refused"))
    assert line.endswith("error: task lookup: login *** refused")


def test_json_record_fields() -> None:
    record = json.loads(execution_json(execution()))
    assert record["trigger"] == {
        "topic": "orders",
        "partition": 2,
        "offset": 41,
        "key": "k1",
        "timestamp": 1_700_000_000_000,
    }
    assert record["startDate"] == "2023-11-14T22:13:20Z"
    assert record["durationMs"] == 20.0
    assert record["latencyMs"] == 20.0
    assert record["taskRuns"][0]["attempts"] == 2
    assert record["outputs"]["lookup"]["row"]["when"] == "2023-11-14T22:13:20Z"


def test_json_writer_writes_one_line_per_finished_execution() -> None:
    out = io.StringIO()
    JsonWriter(out)(ExecutionFinished(execution()))
    JsonWriter(out)(ExecutionFinished(execution(State.FAILED, "x")))
    lines = out.getvalue().splitlines()
    assert [json.loads(x)["state"] for x in lines] == ["SUCCESS", "FAILED"]


def test_percentiles_and_counts() -> None:
    assert percentile([], 0.5) is None
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0 or percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 99.0
    stats = RunStats()
    for state in (State.SUCCESS, State.SUCCESS, State.FAILED):
        stats(ExecutionFinished(execution(state)))
    assert stats.by_state == {"SUCCESS": 2, "FAILED": 1}
    assert stats.latency() == (20.0, 20.0)
    assert stats.rate() > 0


def test_live_view_shows_trigger_counts_and_failures() -> None:
    stats = RunStats()
    stats(ExecutionFinished(execution()))
    stats(ExecutionFinished(execution(State.FAILED, "task lookup: no route to host")))
    status = TriggerStatus(
        "kafka orders @ 127.0.0.1:9092 (group g)",
        "running",
        (StreamStatus("orders[0]", 5, 10, 10),),
    )
    console = Console(width=120, record=True, color_system=None, file=io.StringIO())
    view = LiveView(console, stats, lambda: status, "kflow run dev.flow")
    console.print(view.render())
    text = console.export_text()
    assert "kafka orders @ 127.0.0.1:9092 (group g) · running" in text
    assert "orders[0] lag 5" in text
    assert "SUCCESS 1" in text and "FAILED 1" in text
    assert "no route to host" in text
    assert "orders[2]@41" in text


def test_fleet_view_has_a_row_per_flow_and_the_recent_executions_of_all() -> None:
    from kflow.console.live import FleetView, FlowRow
    from kflow.console.stats import StatsByFlow

    stats = StatsByFlow()
    stats(ExecutionFinished(execution()))
    other = execution(State.FAILED, "task lookup: no route to host")
    other.flow_id = "other"
    stats(ExecutionFinished(other))
    status = TriggerStatus("kafka orders", "running", (StreamStatus("orders[0]", 7, 10, 10),))
    rows = [
        FlowRow("dev.flow", status, stats.of("dev", "flow"), "version 2"),
        FlowRow("dev.other", None, stats.of("dev", "other"), "edit refused: not valid"),
    ]
    console = Console(width=160, record=True, color_system=None, file=io.StringIO())
    console.print(FleetView(console, lambda: rows, stats.all, "kflow run: 2 flows").render())
    text = console.export_text()
    flow_line = next(line for line in text.splitlines() if line.startswith("│ dev.flow "))
    assert "kafka orders · running" in flow_line and " 7 " in flow_line
    assert "SUCCESS 1" in flow_line and "FAILED" not in flow_line
    other_line = next(line for line in text.splitlines() if line.startswith("│ dev.other "))
    assert "edit refused: not valid" in other_line and "FAILED 1" in other_line
    assert "version 2" in text
    recent = [line for line in text.splitlines() if "EXEC1" in line]
    assert [("dev.other" in r, "dev.flow" in r) for r in recent] == [(True, False), (False, True)]
