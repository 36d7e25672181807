"""Flowable tasks: ForEach, EachSequential, EachParallel, Sequential, If, and parents.

Each case names the Kestra test, flow or source file (kestra-io/kestra) it follows; the
flows are written anew after Kestra's test flows.
"""

from __future__ import annotations

import pytest
from flow_runs import run, runs, state

EACH_TYPES = [
    pytest.param("io.kestra.plugin.core.flow.ForEach", "values", id="ForEach"),
    pytest.param("io.kestra.plugin.core.flow.EachSequential", "value", id="EachSequential"),
    pytest.param("io.kestra.plugin.core.flow.EachParallel", "value", id="EachParallel"),
    pytest.param("io.kestra.core.tasks.flows.EachSequential", "value", id="old-EachSequential"),
    pytest.param("io.kestra.core.tasks.flows.EachParallel", "value", id="old-EachParallel"),
]


# kestra: core/src/test/resources/flows/valids/each-null.yaml, EachSequentialTest.eachNull;
#         FlowableUtils.resolveEachTasks (null values fail before any child runs)
@pytest.mark.parametrize(("each_type", "prop"), EACH_TYPES)
def test_null_among_the_values_fails_before_any_child(each_type: str, prop: str) -> None:
    ex, _ = run(f"""
        id: each-null
        namespace: conformance
        tasks:
          - id: 1_each
            type: {each_type}
            {prop}: '[1, null, {{"key": "my-key", "value": "my-value"}}]'
            tasks:
              - id: 1-1
                type: io.kestra.plugin.core.debug.Return
                format: "{{{{ task.id }}}} > {{{{ taskrun.value }}}}"
          - id: 2_end
            type: io.kestra.plugin.core.debug.Return
            format: "{{{{ task.id }}}}"
    """)
    assert ex.state.value == "FAILED"
    assert len(ex.task_runs) == 1
    assert state(ex, "1_each") == "FAILED"
    error = ex.task_runs[0].error or ""
    assert "1 null value" in error
    assert '[1,null,{"key":"my-key","value":"my-value"}]' in error


# kestra: core/src/main/java/io/kestra/core/runners/FlowableUtils.java (resolveEachTasks: a
#         YAML list holding a null fails too)
def test_null_in_a_yaml_list_fails_too() -> None:
    ex, _ = run("""
        id: each-null-list
        namespace: conformance
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: ["a", null]
            tasks:
              - id: never
                type: io.kestra.plugin.core.log.Log
                message: never
    """)
    assert ex.state.value == "FAILED"
    assert [r.task_id for r in ex.task_runs] == ["each"]


# kestra: core/src/test/resources/flows/valids/each-empty.yaml, EachSequentialTest.eachEmpty
@pytest.mark.parametrize(("each_type", "prop"), EACH_TYPES[:3])
def test_no_values_no_children_and_success(each_type: str, prop: str) -> None:
    ex, _ = run(f"""
        id: each-empty
        namespace: conformance
        tasks:
          - id: 1_each
            type: {each_type}
            {prop}: '[]'
            tasks:
              - id: 1-1
                type: io.kestra.plugin.core.debug.Return
                format: "{{{{ taskrun.value }}}}"
          - id: 2_end
            type: io.kestra.plugin.core.debug.Return
            format: "{{{{ task.id }}}}"
    """)
    assert ex.state.value == "SUCCESS"
    assert [r.task_id for r in ex.task_runs] == ["1_each", "2_end"]


# kestra: core/src/test/resources/flows/valids/each-sequential.yaml, EachSequentialTest.sequential
def test_each_sequential_runs_values_in_order_with_the_value_on_each_child() -> None:
    ex, logs = run("""
        id: each-sequential
        namespace: conformance
        tasks:
          - id: 1_each
            type: io.kestra.plugin.core.flow.EachSequential
            value: '["value 1", "value 2", "value 3"]'
            tasks:
              - id: 1-1
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }} > {{ taskrun.value }}"
              - id: 1-2
                type: io.kestra.plugin.core.log.Log
                message: "{{ taskrun.value }}"
          - id: 2_end
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 8
    assert logs == ["value 1", "value 2", "value 3"]
    assert ex.outputs["1-1"]["value 2"] == {"value": "1-1 > value 2"}
    assert [r.value for r in runs(ex, "1-1")] == ["value 1", "value 2", "value 3"]


# kestra: core/src/main/java/io/kestra/plugin/core/flow/EachSequential.java (sequential nexts:
#         nothing more starts after a failure)
def test_each_sequential_stops_at_the_first_failure() -> None:
    ex, _ = run("""
        id: each-sequential-fail
        namespace: conformance
        tasks:
          - id: each
            type: io.kestra.core.tasks.flows.EachSequential
            value: ["a", "b", "c"]
            tasks:
              - id: check
                type: io.kestra.plugin.core.execution.Fail
                condition: "{{ taskrun.value == 'b' }}"
    """)
    assert ex.state.value == "FAILED"
    assert [r.value for r in runs(ex, "check")] == ["a", "b"]


# kestra: core/src/test/resources/flows/valids/each-parallel.yaml, EachParallelTest.parallel
def test_each_parallel_runs_every_task_of_every_value() -> None:
    ex, logs = run("""
        id: each-parallel
        namespace: conformance
        tasks:
          - id: 1_each
            type: io.kestra.plugin.core.flow.EachParallel
            value: '["value 1", "value 2", "value 3"]'
            tasks:
              - id: 1-1
                type: io.kestra.plugin.core.log.Log
                message: "{{ task.id }} {{ taskrun.value }}"
              - id: 1-2
                type: io.kestra.plugin.core.log.Log
                message: "{{ task.id }} {{ taskrun.value }}"
          - id: 2_end
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 8
    assert sorted(logs) == sorted(f"1-{i} value {v}" for i in (1, 2) for v in (1, 2, 3))
    assert ex.task_runs[-1].task_id == "2_end"


# kestra: core/src/test/resources/flows/valids/each-parallel-nested.yaml,
#         EachParallelTest.parallelNested (parents[0].taskrun.value inside a Sequential)
def test_each_parallel_nested_sequential_reads_the_value_from_parents() -> None:
    ex, logs = run("""
        id: each-parallel-nested
        namespace: conformance
        tasks:
          - id: 1_each
            type: io.kestra.core.tasks.flows.EachParallel
            concurrent: 2
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
                    message: "t1 > {{ parents[0].taskrun.value }}"
                  - id: 2-1-2_t2
                    type: io.kestra.plugin.core.log.Log
                    message: "t2 > {{ parents[0].taskrun.value }}"
          - id: 2_end
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 11
    assert sorted(logs) == sorted(f"t{i} > value {v}" for i in (1, 2) for v in (1, 2, 3))
    for v in (1, 2, 3):
        assert logs.index(f"t1 > value {v}") < logs.index(f"t2 > value {v}")


# kestra: core/src/test/resources/flows/valids/each-parallel-Integer.yml,
#         EachParallelTest.parallelInteger
def test_each_parallel_over_integers_gives_their_text() -> None:
    ex, _ = run("""
        id: each-parallel-Integer
        namespace: conformance
        tasks:
          - id: parallel
            type: io.kestra.plugin.core.flow.EachParallel
            value: [1, 2, 3]
            tasks:
              - id: return
                type: io.kestra.plugin.core.debug.Return
                format: "{{ taskrun.value }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert ex.outputs["return"] == {str(i): {"value": str(i)} for i in (1, 2, 3)}


# kestra: core/src/test/resources/flows/valids/each-object.yaml, EachSequentialTest.object;
#         FlowableUtils.resolveEachTasks (objects become compact JSON values)
def test_object_values_become_compact_json() -> None:
    ex, _ = run("""
        id: each-object
        namespace: conformance
        tasks:
          - id: 1_each
            type: io.kestra.plugin.core.flow.ForEach
            values: |
              [
                "value 1",
                {"key": "my-key", "value": "my-value"},
                {"key": "my-complex", "value": {"sub": 1, "bool": true}}
              ]
            tasks:
              - id: each_value
                type: io.kestra.plugin.core.debug.Return
                format: "{{ taskrun.value }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert [r.value for r in runs(ex, "each_value")] == [
        "value 1",
        '{"key":"my-key","value":"my-value"}',
        '{"key":"my-complex","value":{"sub":1,"bool":true}}',
    ]


# kestra: core/src/main/java/io/kestra/core/runners/FlowableUtils.java (resolveEachTasks keeps
#         distinct values only)
def test_repeated_values_run_once() -> None:
    ex, logs = run("""
        id: each-distinct
        namespace: conformance
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: ["a", "b", "a"]
            tasks:
              - id: log
                type: io.kestra.plugin.core.log.Log
                message: "{{ taskrun.value }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert logs == ["a", "b"]


# kestra: core/src/test/resources/flows/valids/foreach-concurrent-no-limit.yaml,
#         ForEachTest.concurrentNoLimit (tasks of one value still run in order)
def test_foreach_without_limit_keeps_the_order_inside_an_iteration() -> None:
    ex, logs = run("""
        id: foreach-concurrent-no-limit
        namespace: conformance
        tasks:
          - id: foreach
            type: io.kestra.plugin.core.flow.ForEach
            values: ["a", "b", "c"]
            concurrencyLimit: 0
            tasks:
              - id: first
                type: io.kestra.plugin.core.log.Log
                message: "1 {{ taskrun.value }}"
              - id: second
                type: io.kestra.plugin.core.log.Log
                message: "2 {{ taskrun.value }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 7
    for v in "abc":
        assert logs.index(f"1 {v}") < logs.index(f"2 {v}")


# kestra: core/src/test/resources/flows/valids/if-in-flowable.yaml, IfTest; ForEach.java docs
#         (a child of If inside ForEach reads the value as parent.taskrun.value)
def test_if_inside_foreach_reads_the_value_from_parent() -> None:
    ex, _ = run("""
        id: if-in-flowable
        namespace: conformance
        tasks:
          - id: for_each
            type: io.kestra.plugin.core.flow.ForEach
            values: ["value 1", "value 2", "value 3"]
            tasks:
              - id: before_if
                type: io.kestra.plugin.core.debug.Return
                format: "Before if: {{ taskrun.value }}"
              - id: if
                type: io.kestra.plugin.core.flow.If
                condition: "{{ taskrun.value equals 'value 2' }}"
                then:
                  - id: after_if
                    type: io.kestra.plugin.core.debug.Return
                    format: "After if: {{ parent.taskrun.value }}"
    """)
    assert ex.state.value == "SUCCESS"
    (after,) = runs(ex, "after_if")
    assert after.outputs == {"value": "After if: value 2"}


# kestra: core/src/main/java/io/kestra/core/models/executions/Execution.java (parents: only
#         enclosing task runs with a value or outputs); RunVariables.java (parent = first)
def test_parents_lists_only_ancestors_with_a_value() -> None:
    ex, logs = run("""
        id: parents
        namespace: conformance
        tasks:
          - id: top
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: each
                type: io.kestra.plugin.core.flow.ForEach
                values: ["v"]
                tasks:
                  - id: direct
                    type: io.kestra.plugin.core.log.Log
                    message: "direct {{ parents | length }} {{ parent is defined }}"
                  - id: group
                    type: io.kestra.plugin.core.flow.Sequential
                    tasks:
                      - id: leaf
                        type: io.kestra.plugin.core.log.Log
                        message: "leaf {{ parents | length }} {{ parents | json }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert logs == ["direct 0 false", 'leaf 1 [{"taskrun":{"value":"v"}}]']


# kestra: core/src/test/resources/flows/valids/flowable-with-parent-fail.yaml (nested ForEach:
#         parents[0] is the nearest ancestor that carries the outer value)
def test_nested_foreach_reads_the_outer_value_from_parents() -> None:
    ex, logs = run("""
        id: flowable-with-parent
        namespace: conformance
        tasks:
          - id: vision
            type: io.kestra.plugin.core.flow.ForEach
            concurrencyLimit: 0
            values: '["MONTHLY", "CUMULATIVE"]'
            tasks:
              - id: metaseg_date
                type: io.kestra.plugin.core.flow.ForEach
                values: '[{"NEW_MONTH": "2018-01-01"}]'
                tasks:
                  - id: if
                    type: io.kestra.plugin.core.flow.If
                    condition: "{{ parents[0].taskrun.value == 'CUMULATIVE' }}"
                    then:
                      - id: when-true
                        type: io.kestra.plugin.core.log.Log
                        message: "true {{ parents | length }} {{ parent.taskrun.value }}"
                    else:
                      - id: when-false
                        type: io.kestra.plugin.core.log.Log
                        message: "false {{ parents | length }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert sorted(logs) == ["false 2", 'true 2 {"NEW_MONTH":"2018-01-01"}']


# kestra: core/src/test/resources/flows/valids/sequential.yaml, SequentialTest.sequential
def test_nested_sequentials_run_every_task_in_order() -> None:
    ex, _ = run("""
        id: sequential
        namespace: conformance
        tasks:
          - id: 1-seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: 1-1
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
              - id: 1-2
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
              - id: 1-3_seq
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - id: 1-3-1
                    type: io.kestra.plugin.core.debug.Return
                    format: "{{ task.id }}"
                  - id: 1-3-2_seq
                    type: io.kestra.plugin.core.flow.Sequential
                    tasks:
                      - id: 1-3-2-1
                        type: io.kestra.plugin.core.debug.Return
                        format: "{{ task.id }}"
                      - id: 1-3-2-2_end
                        type: io.kestra.plugin.core.debug.Return
                        format: "{{ task.id }}"
                  - id: 1-3-3_end
                    type: io.kestra.plugin.core.debug.Return
                    format: "{{ task.id }}"
              - id: 1-4_end
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
          - id: 2_end
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 11
    assert [r.task_id for r in ex.task_runs if not r.task_id.endswith("seq")] == [
        "1-1",
        "1-2",
        "1-3-1",
        "1-3-2-1",
        "1-3-2-2_end",
        "1-3-3_end",
        "1-4_end",
        "2_end",
    ]


# kestra: core/src/test/resources/flows/valids/disable-flowable.yaml, DisabledTest.flowable
def test_disabled_children_of_flowables_do_not_run() -> None:
    ex, _ = run("""
        id: disable-flowable
        namespace: conformance
        tasks:
          - id: 1-each
            type: io.kestra.plugin.core.flow.ForEach
            values: '["value 1", "value 2", "value 3"]'
            tasks:
              - id: 1-each-1
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }} > {{ taskrun.value }}"
              - id: 1-each-2
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
                disabled: true
          - id: 2-parallel
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: 2-parallel-1
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
              - id: 2-parallel-2
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
                disabled: true
          - id: 3-sequential
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: 3-sequential-1
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
              - id: 3-sequential-2
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
                disabled: true
          - id: 4-switch
            type: io.kestra.plugin.core.flow.Switch
            value: FIRST
            cases:
              FIRST:
                - id: 4-switch-case-1
                  type: io.kestra.plugin.core.debug.Return
                  format: "{{ task.id }}"
                - id: 4-switch-case-2
                  type: io.kestra.plugin.core.debug.Return
                  format: "{{ task.id }}"
                  disabled: true
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 10
    assert not [r for r in ex.task_runs if r.task_id.endswith("-2")]
