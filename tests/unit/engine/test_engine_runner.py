"""FlowRunner: task order, outputs, retries, timeouts, allowFailure, errors and finally."""

from __future__ import annotations

import asyncio

import pytest
from engine_fakes import CALLS, constant, flow, task

from kflow.engine.events import EventBus, ExecutionFinished, TaskRunFinished
from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.engine.states import State
from kflow.errors import NotSupportedError
from kflow.flow.model import Flow, TaskDef
from kflow.flow.registry import TypeSpec


def run(f: Flow, value: object = "v", **record: object) -> Execution:
    async def main() -> Execution:
        runner = FlowRunner(f, environ={})
        try:
            return await runner.execute(TriggerRecord(value=value, **record))  # type: ignore[arg-type]
        finally:
            await runner.close()

    CALLS.clear()
    return asyncio.run(main())


def states(execution: Execution) -> dict[str, str]:
    return {r.task_id: r.state.value for r in execution.task_runs}


def test_tasks_run_in_order_and_later_tasks_see_earlier_outputs() -> None:
    ex = run(
        flow(
            [
                task("a", "engine_fakes:Record", x=1),
                task("b", "engine_fakes:ReadOutput", **{"from": "a"}),
            ]
        )
    )
    assert ex.state is State.SUCCESS
    assert [c[0] for c in CALLS] == ["a"]
    assert ex.outputs["b"] == {"copied": {"seen": "v", "x": 1}}
    assert ex.end_date is not None and ex.duration_ms >= 0


def test_a_failed_task_stops_the_rest_and_runs_errors_then_finally() -> None:
    f = flow(
        [task("a", "engine_fakes:FailTimes", times=9), task("b", "engine_fakes:Record")],
        errors=[task("on_error", "engine_fakes:Record")],
        finally_=[task("cleanup", "engine_fakes:Record")],
    )
    ex = run(f)
    assert ex.state is State.FAILED
    assert states(ex) == {"a": "FAILED", "on_error": "SUCCESS", "cleanup": "SUCCESS"}
    assert ex.error == "task a: boom 1"
    assert ex.failed_task == "a"


def test_retry_until_success_counts_attempts() -> None:
    ex = run(flow([task("a", "engine_fakes:FailTimes", times=2, retry=constant(3))]))
    assert ex.state is State.SUCCESS
    assert ex.task_runs[0].attempts == 3
    assert ex.outputs["a"] == {"attempts": 3}


def test_retry_gives_up_after_max_attempts() -> None:
    ex = run(flow([task("a", "engine_fakes:FailTimes", times=5, retry=constant(2))]))
    assert ex.state is State.FAILED
    assert ex.task_runs[0].attempts == 2
    assert ex.task_runs[0].error == "boom 2"


def test_warning_on_retry_marks_a_late_success() -> None:
    policy = constant(3, warning_on_retry=True)
    ex = run(flow([task("a", "engine_fakes:FailTimes", times=1, retry=policy)]))
    assert ex.state is State.WARNING


def test_flow_level_retry_applies_to_tasks_without_their_own() -> None:
    ex = run(flow([task("a", "engine_fakes:FailTimes", times=1)], retry=constant(2)))
    assert ex.state is State.SUCCESS


def test_timeout_fails_the_attempt() -> None:
    ex = run(flow([task("a", "engine_fakes:Sleep", s=5, timeout=0.05)]))
    assert ex.state is State.FAILED
    assert "timed out after 0.05 s" in (ex.task_runs[0].error or "")


def test_allow_failure_continues_and_ends_in_warning() -> None:
    f = flow(
        [
            task("a", "engine_fakes:FailTimes", times=9, allow_failure=True),
            task("b", "engine_fakes:Record"),
        ]
    )
    ex = run(f)
    assert ex.state is State.WARNING
    assert states(ex) == {"a": "WARNING", "b": "SUCCESS"}  # Kestra: allowed failure -> WARNING
    assert ex.error is None


def test_disabled_tasks_do_not_run() -> None:
    ex = run(
        flow([task("a", "engine_fakes:Record", disabled=True), task("b", "engine_fakes:Record")])
    )
    assert [c[0] for c in CALLS] == ["b"]
    assert list(states(ex)) == ["b"]


def test_run_if_false_skips_the_task() -> None:
    f = flow(
        [
            task("a", "engine_fakes:Record", run_if="{{ trigger.value == 'no' }}"),
            task("b", "engine_fakes:Record"),
        ]
    )
    ex = run(f, value="yes")
    assert states(ex) == {"a": "SKIPPED", "b": "SUCCESS"}
    assert ex.state is State.SUCCESS


def test_a_record_that_could_not_be_read_fails_without_running_tasks() -> None:
    ex = run(flow([task("a", "engine_fakes:Record")]), value=None, error="not JSON")
    assert ex.state is State.FAILED
    assert ex.error == "not JSON"
    assert CALLS == []


def test_events_are_emitted_for_task_runs_and_the_end() -> None:
    seen: list[str] = []
    bus = EventBus()
    bus.subscribe(lambda e: seen.append(type(e).__name__))

    async def main() -> None:
        runner = FlowRunner(flow([task("a", "engine_fakes:Record")]), bus, environ={})
        await runner.execute(TriggerRecord(value=1))
        await runner.close()

    asyncio.run(main())
    assert seen == ["ExecutionStarted", TaskRunFinished.__name__, ExecutionFinished.__name__]


def test_a_type_without_runtime_is_refused_before_anything_runs() -> None:
    spec = TypeSpec(name="io.kestra.plugin.x.Y", kind="task", properties={}, runner=None)
    f = flow([TaskDef(id="y", type=spec.name, spec=spec, props={})])
    with pytest.raises(NotSupportedError, match=r"io\.kestra\.plugin\.x\.Y is not supported yet"):
        FlowRunner(f, environ={})
