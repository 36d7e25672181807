"""A task whose template does not compile: built as an UncompiledTask, failing when it runs."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.runner import FlowRunner, UncompiledTask
from kflow.engine.states import State
from kflow.errors import ExpressionError
from kflow.expr.templates import BrokenTemplate, Template, compile_or_broken
from kflow.flow import load_flow_text
from kflow.flow.model import Flow

FLOW = """
id: f
namespace: dev
tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{ 1 + }}"
    then:
      - id: inner
        type: io.kestra.plugin.core.log.Log
        message: "{{ x | nosuch }}"
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: ["fine", "{{ outputs.nope.value }}"]
"""


def load(text: str) -> Flow:
    result = load_flow_text(textwrap.dedent(text), "flow.yaml", for_run=True)
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    return result.flow


def execute(flow: Flow, value: object = "v") -> Execution:
    async def main() -> Execution:
        runner = FlowRunner(flow, environ={})
        try:
            return await runner.execute(TriggerRecord(value=value))
        finally:
            await runner.close()

    return asyncio.run(main())


def test_building_the_runner_keeps_tasks_that_do_not_compile() -> None:
    runner = FlowRunner(load(FLOW), environ={})
    by_id = {r.task.id: r for r in runner._runners.values()}
    assert isinstance(by_id["if"], UncompiledTask)
    assert by_id["if"].flowable is True  # the If's class flags are kept: no retry of a flowable
    assert by_id["if"].message == (
        "condition: expression is incomplete at line 1, column 8 of `{{ 1 + }}`"
    )
    assert isinstance(by_id["inner"], UncompiledTask)
    assert by_id["inner"].message.startswith("message: unknown filter 'nosuch'")
    assert not isinstance(by_id["log"], UncompiledTask)  # a missing output fails only at render
    asyncio.run(runner.close())


def test_the_uncompiled_task_fails_with_its_compile_error_and_the_next_ones_do_not_run() -> None:
    ex = execute(load(FLOW))
    assert ex.state is State.FAILED
    assert [(r.task_id, r.state.value) for r in ex.task_runs] == [("if", "FAILED")]
    assert ex.error == (
        "task if: condition: expression is incomplete at line 1, column 8 of `{{ 1 + }}`"
    )
    assert ex.failed_task == "if"


def test_a_nested_property_is_named_by_its_key_path() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: values
            type: io.kestra.plugin.core.output.OutputValues
            values:
              good: "{{ trigger.value }}"
              bad: ["a", "{{ trigger.value | }}"]
        """
    )
    ex = execute(flow)
    (run,) = ex.task_runs
    assert run.state is State.FAILED
    assert run.error is not None and run.error.startswith("values.bad[1]: ")


def test_a_missing_output_fails_the_task_when_it_renders_and_earlier_messages_are_logged() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: ["fine", "{{ outputs.nope.value }}"]
        """
    )
    ex = execute(flow)
    assert ex.state is State.FAILED
    assert [e.message for e in ex.logs] == ["fine"]
    assert ex.error == (
        "task log: Unable to find `nope` used in the expression `{{ outputs.nope.value }}`"
    )


def test_a_run_if_that_does_not_compile_fails_before_any_attempt() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            runIf: "{{ trigger.value == }}"
            message: never
        """
    )
    ex = execute(flow)
    (run,) = ex.task_runs
    assert run.state is State.FAILED and run.attempts == 0
    assert run.error is not None and run.error.startswith("runIf: expression is incomplete")
    assert ex.logs == []


def test_compile_or_broken_keeps_the_one_line_compile_error() -> None:
    assert isinstance(compile_or_broken("{{ a }}"), Template)
    broken = compile_or_broken("{{ a | jq('.') | }}")
    assert isinstance(broken, BrokenTemplate)
    assert "\n" not in broken.message
    for call in (broken.render, broken.evaluate):
        with pytest.raises(ExpressionError) as caught:
            call({})
        assert str(caught.value) == broken.message


def test_a_run_wide_value_that_does_not_render_still_stops_the_run_before_it_starts() -> None:
    # Only templates that do not compile are deferred; connection settings rendered once,
    # when the flow starts, keep failing there (before anything connects).
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: insert
            type: io.kestra.plugin.mongodb.InsertOne
            connection: {uri: "{{ vars.missing }}"}
            database: d
            collection: c
            document: '{"a": 1}'
        """
    )
    with pytest.raises(ExpressionError, match="Unable to find `missing`"):
        FlowRunner(flow, environ={})
