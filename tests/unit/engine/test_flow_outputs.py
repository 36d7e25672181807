"""Flow outputs and labels on executions: typed values, failures, and the ``--json`` record."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from engine_fakes import flow, task

from kflow.connectors.masking import mask
from kflow.console.records import execution_json, execution_record
from kflow.engine.events import EventBus, LogEmitted
from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.flow_outputs import FlowOutputs, OutputError, typed_output
from kflow.engine.runner import FlowRunner
from kflow.flow.model import FlowOutput


def out(kind: str, value: Any = None, output_id: str = "o") -> FlowOutput:
    return FlowOutput(output_id, kind, value)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("STRING", '{"a":1}', '{"a":1}'),
        ("STRING", 5, 5),  # a value that is not a template stays what YAML made it
        ("ENUM", "x", "x"),
        ("INT", "42", 42),
        ("INT", 7, 7),
        ("FLOAT", "1.5", 1.5),
        ("BOOLEAN", "TRUE", True),
        ("BOOLEAN", "yes", False),  # Java's Boolean.valueOf
        ("JSON", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("YAML", "a: 1", {"a": 1}),
        ("ARRAY", ["1", "2"], ["1", "2"]),
        ("ARRAY", '["x", 2]', ["x", 2]),
        ("DATE", "2024-01-02", dt.date(2024, 1, 2)),
        ("DATETIME", "2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("DURATION", "PT1M", dt.timedelta(minutes=1)),
        ("URI", "https://kestra.io/x", "https://kestra.io/x"),
        ("FILE", "kestra:///ns/f/executions/e/out.ion", "kestra:///ns/f/executions/e/out.ion"),
    ],
)
def test_each_type_reads_the_rendered_value(kind: str, value: Any, expected: Any) -> None:
    assert typed_output(out(kind), value) == expected


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("INT", "x", "output 'o': expected INT, got 'x'"),
        ("FLOAT", "1,5", "output 'o': expected FLOAT, got '1,5'"),
        ("JSON", "{nope", "output 'o': expected JSON, got '{nope'"),
        ("ARRAY", '{"a": 1}', "output 'o': expected ARRAY, got '{\"a\": 1}' (a JSON list)"),
        ("FILE", "/tmp/x", "output 'o': a FILE output must be a kestra:// URI, got '/tmp/x'"),
    ],
)
def test_a_value_that_does_not_fit_its_type_is_an_output_error(
    kind: str, value: Any, message: str
) -> None:
    with pytest.raises(OutputError) as info:
        typed_output(out(kind), value)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_render_types_each_output_and_leaves_dates_as_iso_text() -> None:
    outputs = FlowOutputs(
        [
            out("INT", "{{ n }}", "count"),
            out("DATETIME", "{{ when }}", "at"),
            out("ARRAY", ["{{ n }}", "{{ n + 1 }}"], "pair"),
            out("STRING", "{{ m }}", "as.text"),
        ]
    )
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=dt.UTC)
    rendered = outputs.render({"n": 3, "when": when, "m": {"k": [1]}})
    assert rendered == {
        "count": 3,
        "at": "2024-05-06T07:08:09.123Z",
        "pair": ["3", "4"],
        "as.text": '{"k":[1]}',
    }


def test_secret_outputs_are_masked_where_kflow_prints() -> None:
    rendered = FlowOutputs([out("SECRET", "{{ s }}")]).render({"s": "p4ss-flow-output"})
    assert rendered == {"o": "p4ss-flow-output"}
    assert mask("token p4ss-flow-output") == "token ***"


def run_flow(f: Any, value: Any = None) -> tuple[Execution, list[LogEmitted]]:
    bus = EventBus()
    logs: list[LogEmitted] = []
    bus.subscribe(lambda e: logs.append(e) if isinstance(e, LogEmitted) else None)

    async def main() -> Execution:
        runner = FlowRunner(f, bus, environ={})
        try:
            return await runner.execute(TriggerRecord(value=value))
        finally:
            await runner.close()

    return asyncio.run(main()), logs


def test_outputs_render_after_the_tasks_and_show_in_the_json_record() -> None:
    f = flow(
        [task("rec", "engine_fakes:Record", tag="x")],
        outputs=[
            {"id": "seen", "type": "JSON", "value": "{{ outputs.rec.seen | toJson }}"},
            {"id": "team", "type": "STRING", "value": "{{ labels.team }}"},
        ],
        labels={"team": "data"},
    )
    execution, _ = run_flow(f, {"a": 1})
    assert execution.state.value == "SUCCESS"
    assert execution.flow_outputs == {"seen": {"a": 1}, "team": "data"}
    assert execution.labels == {"team": "data"}
    record = execution_record(execution)
    assert record["flowOutputs"] == {"seen": {"a": 1}, "team": "data"}
    assert record["labels"] == {"team": "data"}
    assert record["outputs"]["rec"]["tag"] == "x"  # task outputs, as before
    assert json.loads(execution_json(execution))["flowOutputs"] == record["flowOutputs"]


def test_a_flow_without_outputs_has_none() -> None:
    execution, _ = run_flow(flow([task("rec", "engine_fakes:Record")]))
    assert execution.flow_outputs is None
    assert execution_record(execution)["flowOutputs"] is None
    assert execution_record(execution)["labels"] == {}


def test_an_output_that_fails_to_render_fails_the_execution() -> None:
    f = flow(
        [task("rec", "engine_fakes:Record")],
        outputs=[{"id": "key", "type": "STRING", "value": "{{ invalid }}"}],
    )
    execution, logs = run_flow(f)
    assert execution.state.value == "FAILED"
    assert execution.flow_outputs is None
    assert execution.error is not None
    assert execution.error.startswith("Failed to render output values: output 'key': ")
    assert "invalid" in execution.error
    assert [(e.entry.level, e.entry.message) for e in logs] == [("ERROR", execution.error)]
    assert [r.state.value for r in execution.task_runs] == ["SUCCESS"]


def test_a_failed_task_keeps_its_error_when_the_outputs_fail_too() -> None:
    f = flow(
        [task("bad", "engine_fakes:FailTimes", times=9)],
        outputs=[{"id": "v", "type": "INT", "value": "{{ outputs.bad.attempts }}"}],
    )
    execution, logs = run_flow(f)
    assert execution.state.value == "FAILED"
    assert execution.error == "task bad: boom 1"
    assert logs[-1].entry.message.startswith("Failed to render output values: output 'v'")


def test_a_template_that_does_not_compile_fails_each_execution_not_the_runner() -> None:
    f = flow(
        [task("rec", "engine_fakes:Record")],
        outputs=[{"id": "v", "type": "STRING", "value": "{{ 1 + }}"}],
    )
    execution, _ = run_flow(f)
    assert execution.state.value == "FAILED"
    assert (execution.error or "").startswith("Failed to render output values: output 'v': ")


def test_outputs_see_the_errors_and_finally_tasks() -> None:
    f = flow(
        [task("bad", "engine_fakes:FailTimes", times=9)],
        errors=[task("handler", "engine_fakes:Record", note="handled")],
        finally_=[task("last", "engine_fakes:Record", note="done")],
        outputs=[
            {"id": "h", "type": "STRING", "value": "{{ outputs.handler.note }}"},
            {"id": "f", "type": "STRING", "value": "{{ outputs.last.note }}"},
        ],
    )
    execution, _ = run_flow(f)
    assert execution.state.value == "FAILED"
    assert execution.flow_outputs == {"h": "handled", "f": "done"}
