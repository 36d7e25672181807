"""errors branches: the flow's, and a flowable task's own (local) errors.

Each case names the Kestra test, flow or source file (kestra-io/kestra) it follows; the
flows are written anew after Kestra's test flows.
"""

from __future__ import annotations

from flow_runs import run, runs, state

LOCAL_ERRORS = """
    id: local-errors
    namespace: conformance
    tasks:
      - id: parent-seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: t1
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
          - id: t2_seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: t2-t1
                type: io.kestra.plugin.core.execution.Fail
                errorMessage: inner failure
              - id: t2-t2
                type: io.kestra.plugin.core.debug.Return
                format: never
            errors:
              - id: error-t1
                type: io.kestra.plugin.core.debug.Return
                format: "handled {{ task.id }}"
              - id: error-t2
                type: io.kestra.plugin.core.debug.Return
                format: "handled {{ task.id }}"
"""


# kestra: core/src/test/resources/flows/valids/sequential-with-local-errors.yaml,
#         SequentialTest.sequentialWithLocalErrors
def test_local_errors_of_a_flowable_run_when_a_child_fails() -> None:
    ex, _ = run(LOCAL_ERRORS)
    assert ex.state.value == "FAILED"
    assert [r.task_id for r in ex.task_runs] == [
        "parent-seq",
        "t1",
        "t2_seq",
        "t2-t1",
        "error-t1",
        "error-t2",
    ]
    assert ex.outputs["error-t1"] == {"value": "handled error-t1"}
    assert ex.outputs["error-t2"] == {"value": "handled error-t2"}


# kestra: core/src/main/java/io/kestra/core/runners/FlowableUtils.java (resolveTasks: the
#         errors are children of the flowable's task run)
def test_local_errors_are_children_of_the_flowable() -> None:
    ex, _ = run(LOCAL_ERRORS)
    seq = runs(ex, "t2_seq")[0]
    assert runs(ex, "error-t1")[0].parent_id == seq.id
    assert runs(ex, "error-t2")[0].parent_id == seq.id


# kestra: core/src/main/java/io/kestra/core/models/executions/Execution.java (guessFinalState
#         looks at the tasks, not the errors: the flowable stays FAILED, and so do its parents)
def test_a_flowable_whose_errors_succeed_stays_failed() -> None:
    ex, _ = run(LOCAL_ERRORS)
    assert state(ex, "t2_seq") == "FAILED"
    assert state(ex, "parent-seq") == "FAILED"
    assert state(ex, "error-t1") == "SUCCESS"
    assert ex.error == "task t2-t1: inner failure"


# kestra: core/src/test/resources/flows/valids/sequential-with-global-errors.yaml,
#         SequentialTest.sequentialWithGlobalErrors
def test_flow_errors_run_at_the_top_after_a_nested_failure() -> None:
    ex, _ = run("""
        id: global-errors
        namespace: conformance
        tasks:
          - id: parent-seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: t1
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
              - id: t2_seq
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - id: t2-t1
                    type: io.kestra.plugin.core.execution.Fail
                  - id: t2-t2
                    type: io.kestra.plugin.core.debug.Return
                    format: never
        errors:
          - id: error-t1
            type: io.kestra.plugin.core.debug.Return
            format: "global {{ task.id }}"
          - id: error-t2
            type: io.kestra.plugin.core.debug.Return
            format: "global {{ task.id }}"
    """)
    assert ex.state.value == "FAILED"
    assert len(ex.task_runs) == 6
    assert runs(ex, "error-t1")[0].parent_id is None
    assert runs(ex, "t2-t2") == []


# kestra: core/src/main/java/io/kestra/core/models/executions/Execution.java
#         (findTaskDependingFlowState, at each level: local errors first, then the flow's)
def test_local_then_flow_errors_both_run() -> None:
    ex, logs = run("""
        id: both-errors
        namespace: conformance
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: boom
                type: io.kestra.plugin.core.execution.Fail
            errors:
              - id: local
                type: io.kestra.plugin.core.log.Log
                message: local
        errors:
          - id: global
            type: io.kestra.plugin.core.log.Log
            message: global
    """)
    assert ex.state.value == "FAILED"
    assert logs == ["local", "global"]


# kestra: core/src/main/java/io/kestra/core/models/executions/Execution.java
#         (findTaskDependingFlowState: errors only once a child has failed)
def test_local_errors_do_not_run_when_every_child_succeeds() -> None:
    ex, logs = run("""
        id: no-errors
        namespace: conformance
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: fine
                type: io.kestra.plugin.core.log.Log
                message: fine
            errors:
              - id: local
                type: io.kestra.plugin.core.log.Log
                message: must not run
    """)
    assert ex.state.value == "SUCCESS"
    assert logs == ["fine"]


# kestra: core/src/main/java/io/kestra/core/runners/FlowableUtils.java (resolveState: a failed
#         errors task does not change the flowable's state either)
def test_a_failing_local_errors_task_keeps_the_flowable_failed() -> None:
    ex, logs = run("""
        id: failing-errors
        namespace: conformance
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: boom
                type: io.kestra.plugin.core.execution.Fail
                errorMessage: first
            errors:
              - id: handler
                type: io.kestra.plugin.core.execution.Fail
                errorMessage: second
              - id: not_reached
                type: io.kestra.plugin.core.log.Log
                message: must not run
    """)
    assert ex.state.value == "FAILED"
    assert state(ex, "seq") == "FAILED"
    assert state(ex, "handler") == "FAILED"
    assert logs == []
    assert ex.error == "task boom: first"


# kestra: core/src/main/java/io/kestra/plugin/core/flow/ForEach.java (resolveNexts with the
#         errors of the ForEach); FlowableUtils.resolveSequentialNexts
def test_local_errors_of_a_foreach_run_once_after_a_failed_iteration() -> None:
    ex, logs = run("""
        id: each-errors
        namespace: conformance
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: ["a", "b", "c"]
            tasks:
              - id: check
                type: io.kestra.plugin.core.execution.Fail
                condition: "{{ taskrun.value == 'b' }}"
                errorMessage: "bad {{ taskrun.value }}"
            errors:
              - id: report
                type: io.kestra.plugin.core.log.Log
                message: "each failed"
    """)
    assert ex.state.value == "FAILED"
    assert [r.value for r in runs(ex, "check")] == ["a", "b"]  # c never starts
    assert logs == ["each failed"]
    report = runs(ex, "report")[0]
    assert report.parent_id == runs(ex, "each")[0].id
    assert report.value is None


# kestra: core/src/main/java/io/kestra/plugin/core/flow/If.java (If has errors too)
def test_local_errors_of_an_if_branch() -> None:
    ex, logs = run("""
        id: if-errors
        namespace: conformance
        tasks:
          - id: when
            type: io.kestra.plugin.core.flow.If
            condition: "{{ true }}"
            then:
              - id: boom
                type: io.kestra.plugin.core.execution.Fail
            errors:
              - id: handled
                type: io.kestra.plugin.core.log.Log
                message: "if failed"
    """)
    assert ex.state.value == "FAILED"
    assert logs == ["if failed"]


# kestra: core/src/main/java/io/kestra/plugin/core/flow/Parallel.java (errors of Parallel)
def test_local_errors_of_a_parallel() -> None:
    ex, logs = run("""
        id: parallel-errors
        namespace: conformance
        tasks:
          - id: par
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: ok
                type: io.kestra.plugin.core.debug.Return
                format: ok
              - id: boom
                type: io.kestra.plugin.core.execution.Fail
            errors:
              - id: handled
                type: io.kestra.plugin.core.log.Log
                message: "parallel failed"
    """)
    assert ex.state.value == "FAILED"
    assert state(ex, "ok") == "SUCCESS"
    assert logs == ["parallel failed"]


# kestra: core/src/test/resources/flows/valids/errors.yaml, FlowGraphTest / ErrorsTest
#         (errors may nest flowables; errorLogs() lists the failure)
def test_flow_errors_may_nest_flowables_and_read_error_logs() -> None:
    ex, logs = run("""
        id: errors
        namespace: conformance
        tasks:
          - id: failed
            type: io.kestra.plugin.core.execution.Fail
            errorMessage: it broke
        errors:
          - id: t2
            type: io.kestra.plugin.core.log.Log
            message: |
              {%- for log in errorLogs() -%}
              task {{ log.taskId }}: {{ log.message }}
              {%- endfor -%}
          - id: t3
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: t3-t1
                type: io.kestra.plugin.core.flow.Parallel
                tasks:
                  - id: t3-t1-last
                    type: io.kestra.plugin.core.log.Log
                    message: "deep {{ task.id }}"
    """)
    assert ex.state.value == "FAILED"
    assert logs == ["task failed: it broke", "deep t3-t1-last"]


# kestra: core/src/test/resources/flows/valids/disable-error.yaml, DisabledTest.error
def test_disabled_errors_task_is_skipped() -> None:
    ex, logs = run("""
        id: disable-error
        namespace: conformance
        tasks:
          - id: failed
            type: io.kestra.plugin.core.execution.Fail
        errors:
          - id: t2
            type: io.kestra.plugin.core.log.Log
            message: "second {{ task.id }}"
          - id: t3
            type: io.kestra.plugin.core.log.Log
            message: "third {{ task.id }}"
            disabled: true
          - id: t4
            type: io.kestra.plugin.core.log.Log
            message: "fourth {{ task.id }}"
    """)
    assert len(ex.task_runs) == 3
    assert logs == ["second t2", "fourth t4"]


# kestra: core/src/test/resources/flows/valids/failed-first.yaml (a template that cannot
#         render fails its task; the next one does not run)
def test_a_task_whose_template_fails_stops_the_flow() -> None:
    ex, _ = run("""
        id: failed-first
        namespace: conformance
        tasks:
          - id: t1
            type: io.kestra.plugin.core.debug.Return
            format: "{{ missingVar }}"
          - id: t2
            type: io.kestra.plugin.core.debug.Return
            format: never
    """)
    assert ex.state.value == "FAILED"
    assert [r.task_id for r in ex.task_runs] == ["t1"]


FINALLY_FLOW = """
    id: finally-flow-error
    namespace: conformance
    inputs:
      - id: failed
        type: BOOLEAN
        defaults: {failed}
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
    errors:
      - id: e1
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ task.id }}}}"
    finally:
      - id: a1
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ task.id }}}}"
      - id: a2
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ task.id }}}}"
"""


# kestra: core/src/test/resources/flows/valids/finally-flow-error.yaml,
#         FinallyTest.flowErrorBlockWithoutErrors (newer Kestra: flow-level finally)
def test_finally_runs_after_a_success_and_errors_do_not() -> None:
    ex, _ = run(FINALLY_FLOW.format(failed="false"))
    assert ex.state.value == "SUCCESS"
    assert [r.task_id for r in ex.task_runs] == ["if", "ok", "a1", "a2"]


# kestra: core/src/test/resources/flows/valids/finally-flow-error.yaml, FinallyTest
#         (errors first, then finally; the execution stays FAILED)
def test_finally_runs_after_the_errors_of_a_failure() -> None:
    ex, _ = run(FINALLY_FLOW.format(failed="true"))
    assert ex.state.value == "FAILED"
    assert [r.task_id for r in ex.task_runs] == ["if", "ko", "e1", "a1", "a2"]
    assert state(ex, "a1") == "SUCCESS"
