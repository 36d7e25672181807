"""Loop outputs keyed by every enclosing iteration value, currentEachOutput(), and the
``finally`` tasks of flowables.

Each case names the Kestra test, flow or source file (kestra-io/kestra) it follows; the
flows are written anew after Kestra's test flows.
"""

from __future__ import annotations

import pytest
from flow_runs import run, runs, state


# kestra: core/src/test/resources/flows/valids/each-sequential-nested.yaml,
#         EachSequentialTest.sequentialNested; Execution.outputs (one level per loop value)
def test_nested_each_outputs_are_keyed_by_both_values() -> None:
    ex, _ = run("""
        id: each-sequential-nested
        namespace: conformance
        tasks:
          - id: 1_each
            type: io.kestra.plugin.core.flow.EachSequential
            value: ["s1", "s2", "s3"]
            tasks:
              - id: 1-1_return
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }} > {{ taskrun.value }}"
              - id: 1-2_each
                type: io.kestra.plugin.core.flow.EachSequential
                value: '["a a", "b b"]'
                tasks:
                  - id: 1-2-1_return
                    type: io.kestra.plugin.core.debug.Return
                    format: "{{ task.id }} > {{ taskrun.value }}"
                  - id: 1-2-2_return
                    type: io.kestra.plugin.core.debug.Return
                    format: "get {{ outputs['1-2-1_return'].s1[taskrun.value].value }}"
              - id: 1-3_return
                type: io.kestra.plugin.core.debug.Return
                format: "{{ outputs['1-1_return'][taskrun.value].value }}"
          - id: 2_return
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }} > {{ outputs['1-2-1_return'].s1['a a'].value }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 23
    inner = ex.outputs["1-2-1_return"]
    assert set(inner) == {"s1", "s2", "s3"}
    assert inner["s2"]["b b"] == {"value": "1-2-1_return > b b"}
    assert ex.outputs["1-2-2_return"]["s3"]["a a"] == {"value": "get 1-2-1_return > a a"}
    assert ex.outputs["1-3_return"]["s1"] == {"value": "1-1_return > s1"}
    assert ex.outputs["2_return"] == {"value": "2_return > 1-2-1_return > a a"}


_CURRENT_OUTPUT = """
    id: test-current-output
    namespace: conformance
    tasks:
      - id: 1_each
        type: io.kestra.plugin.core.flow.ForEach
        values: '["v11", "v12"]'
        tasks:
          - id: 1-1_each
            type: io.kestra.plugin.core.flow.ForEach
            values: '["v21", "v22"]'
            tasks:
              - id: 1-1-1_each
                type: io.kestra.plugin.core.flow.ForEach
                values: '["v31", "v32"]'
                tasks:
                  - id: 1-1-1_output
                    type: io.kestra.plugin.core.debug.Return
                    format: "CHAIN"
                  - id: 1-1-1_return
                    type: io.kestra.plugin.core.debug.Return
                    format: "return-{{ currentEachOutput(outputs['1-1-1_output']).value }}"
      - id: 2_each
        type: io.kestra.plugin.core.flow.ForEach
        values: '["v41", "v42"]'
        tasks:
          - id: 2-1_output
            type: io.kestra.plugin.core.debug.Return
            format: "{{ taskrun.value }}"
          - id: 2-1_return
            type: io.kestra.plugin.core.debug.Return
            format: "return-{{ currentEachOutput(outputs['2-1_output']).value }}"
      - id: 2_sequential
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: 2-1_sequential
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: 2-1-1_output
                type: io.kestra.plugin.core.debug.Return
                format: "{{ taskrun.id }}"
              - id: 2-1-1_return
                type: io.kestra.plugin.core.debug.Return
                format: "return-{{ outputs['2-1-1_output'].value }}"
""".replace(
    "CHAIN", "{{ parents[1].taskrun.value }}-{{ parents[0].taskrun.value }}-{{ taskrun.value }}"
)


# kestra: core/src/test/resources/flows/valids/current-output.yaml,
#         CurrentEachOutputFunctionTest.parallel (three nested loops)
@pytest.mark.parametrize("v1", ["v11", "v12"])
@pytest.mark.parametrize("v2", ["v21", "v22"])
@pytest.mark.parametrize("v3", ["v31", "v32"])
def test_current_each_output_reads_the_current_iteration_of_three_loops(
    v1: str, v2: str, v3: str
) -> None:
    ex, _ = run(_CURRENT_OUTPUT)
    assert ex.state.value == "SUCCESS"
    assert ex.outputs["1-1-1_output"][v1][v2][v3] == {"value": f"{v1}-{v2}-{v3}"}
    assert ex.outputs["1-1-1_return"][v1][v2][v3] == {"value": f"return-{v1}-{v2}-{v3}"}


# kestra: core/src/test/resources/flows/valids/current-output.yaml,
#         CurrentEachOutputFunctionTest.parallel (one loop; no loop at all)
def test_current_each_output_in_one_loop_and_flat_outputs_outside_loops() -> None:
    ex, _ = run(_CURRENT_OUTPUT)
    assert ex.outputs["2-1_return"] == {
        "v41": {"value": "return-v41"},
        "v42": {"value": "return-v42"},
    }
    (output_run,) = runs(ex, "2-1-1_output")
    assert ex.outputs["2-1-1_output"] == {"value": output_run.id}
    assert ex.outputs["2-1-1_return"] == {"value": f"return-{output_run.id}"}


# kestra: core/src/main/java/io/kestra/core/models/executions/Execution.java (outputs: a task
#         without a value of its own, inside a loop, is keyed by the loop's value)
def test_a_task_in_an_if_inside_a_loop_is_keyed_by_the_loop_value() -> None:
    ex, _ = run("""
        id: for_loop_example
        namespace: conformance
        tasks:
          - id: for_each
            type: io.kestra.plugin.core.flow.ForEach
            values: ["value 1", "value 2", "value 3"]
            tasks:
              - id: before_if
                type: io.kestra.plugin.core.debug.Return
                format: "Before if {{ taskrun.value }}"
              - id: if
                type: io.kestra.plugin.core.flow.If
                condition: '{{ taskrun.value == "value 2" }}'
                then:
                  - id: after_if
                    type: io.kestra.plugin.core.debug.Return
                    format: "After if {{ parent.taskrun.value }}"
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.after_if['value 2'].value }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert ex.outputs["before_if"]["value 3"] == {"value": "Before if value 3"}
    assert ex.outputs["after_if"] == {"value 2": {"value": "After if value 2"}}
    assert ex.outputs["last"] == {"value": "After if value 2"}


# kestra: core/src/test/resources/flows/valids/each-parallel-nested.yaml (a Sequential inside
#         EachParallel: its tasks read parents[0].taskrun.value; outputs keyed by the value)
def test_sequential_inside_each_parallel_reads_the_value_of_its_parent() -> None:
    ex, logs = run("""
        id: each-parallel-nested
        namespace: conformance
        tasks:
          - id: 1_each
            type: io.kestra.plugin.core.flow.EachParallel
            value:
              - value 1
              - value 2
              - value 3
            tasks:
              - id: 2-1_seq
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - id: 2-1-1_t1
                    type: io.kestra.plugin.core.log.Log
                    message: "{{ task.id }} > {{ parents[0].taskrun.value }}"
                  - id: 2-1-2_t2
                    type: io.kestra.plugin.core.debug.Return
                    format: "{{ parents[0].taskrun.value }}"
          - id: 2_end
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 11
    assert sorted(logs) == [f"2-1-1_t1 > value {i}" for i in (1, 2, 3)]
    assert ex.outputs["2-1-2_t2"] == {f"value {i}": {"value": f"value {i}"} for i in (1, 2, 3)}


# kestra: core/src/main/java/io/kestra/core/runners/FlowableUtils.java (resolveEachTasks:
#         values that are not strings become JSON) with Execution.outputs
def test_nested_loop_keys_of_object_values_are_compact_json() -> None:
    ex, _ = run("""
        id: each-object-nested
        namespace: conformance
        tasks:
          - id: outer
            type: io.kestra.plugin.core.flow.ForEach
            values: '[{"k": 1}]'
            tasks:
              - id: inner
                type: io.kestra.plugin.core.flow.ForEach
                values: [1, 2]
                tasks:
                  - id: ret
                    type: io.kestra.plugin.core.debug.Return
                    format: "{{ taskrun.value }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert ex.outputs["ret"] == {'{"k":1}': {"1": {"value": "1"}, "2": {"value": "2"}}}


# kestra: core/src/main/java/io/kestra/core/runners/pebble/functions/CurrentEachOutputFunction.java
#         (the argument must be a map)
def test_current_each_output_of_something_that_is_not_a_map_fails_the_task() -> None:
    ex, _ = run("""
        id: current-output-not-a-map
        namespace: conformance
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: ["a"]
            tasks:
              - id: ret
                type: io.kestra.plugin.core.debug.Return
                format: "{{ currentEachOutput('text') }}"
    """)
    assert ex.state.value == "FAILED"
    assert "expects an argument 'outputs' with type map" in (runs(ex, "ret")[0].error or "")


def _finally_flow(flowable: str, failed: bool, extra: str = "") -> str:
    return f"""
        id: finally-flowable
        namespace: conformance
        inputs:
          - id: failed
            type: BOOLEAN
            defaults: {str(failed).lower()}
        tasks:
          - id: seq
            {flowable}
            tasks:
              - id: if
                type: io.kestra.plugin.core.flow.If
                condition: "{{{{ inputs.failed == false }}}}"
                then:
                  - id: ok
                    type: io.kestra.plugin.core.debug.Return
                    format: "{{{{ task.id }}}}"
                else:
                  - id: ko
                    type: io.kestra.plugin.core.execution.Fail
{extra}
            finally:
              - id: a1
                type: io.kestra.plugin.core.debug.Return
                format: "{{{{ task.id }}}}"
              - id: a2
                type: io.kestra.plugin.core.debug.Return
                format: "{{{{ task.id }}}}"
    """


_ERRORS = """
            errors:
              - id: e1
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
              - id: e2
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
"""

_SEQUENTIAL = "type: io.kestra.plugin.core.flow.Sequential"


# kestra: core/src/test/resources/flows/valids/finally-sequential.yaml,
#         FinallyTest.sequentialWithoutErrors
def test_finally_of_a_sequential_runs_after_a_success() -> None:
    ex, _ = run(_finally_flow(_SEQUENTIAL, failed=False))
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 5
    assert [state(ex, t) for t in ("ok", "a1", "a2")] == ["SUCCESS"] * 3
    seq = runs(ex, "seq")[0]
    assert runs(ex, "a1")[0].parent_id == seq.id


# kestra: core/src/test/resources/flows/valids/finally-sequential.yaml,
#         FinallyTest.sequentialWithErrors
def test_finally_of_a_sequential_runs_after_a_failure_too() -> None:
    ex, _ = run(_finally_flow(_SEQUENTIAL, failed=True))
    assert ex.state.value == "FAILED"
    assert len(ex.task_runs) == 5
    assert state(ex, "ko") == "FAILED"
    assert state(ex, "seq") == "FAILED"
    assert [state(ex, t) for t in ("a1", "a2")] == ["SUCCESS"] * 2


# kestra: core/src/test/resources/flows/valids/finally-sequential-error.yaml,
#         FinallyTest.sequentialErrorBlockWithErrors (errors first, then finally)
def test_finally_runs_after_the_local_errors() -> None:
    ex, _ = run(_finally_flow(_SEQUENTIAL, failed=True, extra=_ERRORS))
    assert ex.state.value == "FAILED"
    assert len(ex.task_runs) == 7
    order = [r.task_id for r in ex.task_runs]
    assert order.index("e2") < order.index("a1")
    assert [state(ex, t) for t in ("e1", "e2", "a1", "a2")] == ["SUCCESS"] * 4


# kestra: core/src/test/resources/flows/valids/finally-allowfailure.yaml,
#         FinallyTest.allowFailureWithErrors / allowFailureWithoutErrors
@pytest.mark.parametrize(
    ("failed", "count", "final"), [(False, 5, "SUCCESS"), (True, 7, "WARNING")]
)
def test_finally_of_an_allow_failure(failed: bool, count: int, final: str) -> None:
    ex, _ = run(
        _finally_flow("type: io.kestra.plugin.core.flow.AllowFailure", failed, extra=_ERRORS)
    )
    assert ex.state.value == final
    assert len(ex.task_runs) == count
    assert [state(ex, t) for t in ("a1", "a2")] == ["SUCCESS"] * 2


# kestra: core/src/test/resources/flows/valids/finally-foreach.yaml, FinallyTest.forEachWithErrors
#         (errors and finally run once, after every iteration)
@pytest.mark.parametrize(
    ("failed", "count", "final"), [(False, 9, "SUCCESS"), (True, 11, "FAILED")]
)
def test_finally_of_a_foreach_runs_once(failed: bool, count: int, final: str) -> None:
    flowable = (
        "type: io.kestra.plugin.core.flow.ForEach\n"
        '            values: \'["1", "2", "3"]\'\n'
        "            concurrencyLimit: 0"
    )
    ex, _ = run(_finally_flow(flowable, failed, extra=_ERRORS))
    assert ex.state.value == final
    assert len(ex.task_runs) == count
    assert len(runs(ex, "a1")) == len(runs(ex, "a2")) == 1
    assert len(runs(ex, "e1")) == (1 if failed else 0)


# kestra: core/src/test/resources/flows/valids/finally-parallel.yaml, FinallyTest.parallelWithErrors
def test_finally_of_a_parallel() -> None:
    ex, _ = run(_finally_flow("type: io.kestra.plugin.core.flow.Parallel", True, extra=_ERRORS))
    assert ex.state.value == "FAILED"
    assert [state(ex, t) for t in ("e1", "e2", "a1", "a2")] == ["SUCCESS"] * 4
