"""allowFailure / allowWarning, as Kestra's engine resolves them.

Each case names the Kestra test, flow or source file (kestra-io/kestra) it follows; the
flows are written anew after Kestra's test flows.
"""

from __future__ import annotations

from flow_runs import run, runs, state


# kestra: core/src/test/resources/flows/valids/task-allow-failure-runnable.yml,
#         TaskWithAllowFailureTest.runnableTask
def test_allowed_failure_of_a_runnable_task_ends_the_execution_in_warning() -> None:
    ex, logs = run(
        """
        id: allowed
        namespace: conformance
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
            allowFailure: true
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 3
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: next one runs
        """
    )
    assert ex.state.value == "WARNING"
    assert len(ex.task_runs) == 2
    assert runs(ex, "fail")[0].attempts == 3
    assert logs == ["next one runs"]


# kestra: core/src/test/resources/flows/valids/task-allow-warning-runnable.yml,
#         TaskWithAllowWarningTest.runnableTask; Worker.java (allowFailure then allowWarning)
def test_allow_failure_with_allow_warning_ends_the_execution_in_success() -> None:
    ex, _ = run(
        """
        id: allowed
        namespace: conformance
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
            allowFailure: true
            allowWarning: true
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 3
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: next one runs
        """
    )
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 2
    assert runs(ex, "fail")[0].attempts == 3
    assert state(ex, "fail") == "SUCCESS"
    assert ex.error is None


# kestra: core/src/main/java/io/kestra/core/runners/Worker.java (an allowed failure is
#         recorded on the task run as WARNING)
def test_the_allowed_task_run_itself_is_warning_and_keeps_its_error() -> None:
    ex, _ = run("""
        id: allowed
        namespace: conformance
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
            errorMessage: kept for the record
            allowFailure: true
    """)
    assert state(ex, "fail") == "WARNING"
    assert runs(ex, "fail")[0].error == "kept for the record"


# kestra: core/src/test/resources/flows/valids/task-allow-failure-flowable.yml,
#         TaskWithAllowFailureTest.flowableTask
def test_allowed_failure_of_a_flowable_ends_in_warning() -> None:
    ex, logs = run("""
        id: allowed-flowable
        namespace: conformance
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            allowFailure: true
            tasks:
              - id: fail
                type: io.kestra.plugin.core.execution.Fail
              - id: skipped_after_failure
                type: io.kestra.plugin.core.log.Log
                message: never
          - id: after
            type: io.kestra.plugin.core.log.Log
            message: allowed
    """)
    assert ex.state.value == "WARNING"
    assert len(ex.task_runs) == 3
    assert state(ex, "seq") == "WARNING"
    assert state(ex, "fail") == "FAILED"  # only the flowable is allowed to fail
    assert logs == ["allowed"]


# kestra: core/src/test/resources/flows/valids/task-allow-warning-flowable.yml,
#         TaskWithAllowWarningTest.flowableTask; Execution.guessFinalState
def test_allowed_failure_and_warning_of_a_flowable_ends_in_success() -> None:
    ex, logs = run("""
        id: allowed-flowable
        namespace: conformance
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            allowFailure: true
            allowWarning: true
            tasks:
              - id: fail
                type: io.kestra.plugin.core.execution.Fail
              - id: skipped_after_failure
                type: io.kestra.plugin.core.log.Log
                message: never
          - id: after
            type: io.kestra.plugin.core.log.Log
            message: allowed
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 3
    assert state(ex, "seq") == "SUCCESS"
    assert logs == ["allowed"]


# kestra: core/src/main/java/io/kestra/core/models/executions/Execution.java
#         (guessFinalState: a WARNING turns SUCCESS when allowWarning is set)
def test_allow_warning_alone_turns_a_warning_flowable_into_success() -> None:
    ex, _ = run("""
        id: allowed-warning
        namespace: conformance
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            allowWarning: true
            tasks:
              - id: fail
                type: io.kestra.plugin.core.execution.Fail
                allowFailure: true
    """)
    assert state(ex, "fail") == "WARNING"
    assert state(ex, "seq") == "SUCCESS"
    assert ex.state.value == "SUCCESS"


# kestra: core/src/test/resources/flows/valids/allow-failure.yaml, AllowFailureTest.success
#         (the flow's errors do not run when the failure was allowed)
def test_flow_errors_do_not_run_for_an_allowed_failure() -> None:
    ex, logs = run("""
        id: allow-failure
        namespace: conformance
        tasks:
          - id: first
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: ko
                type: io.kestra.plugin.core.execution.Fail
                allowFailure: true
              - id: todo
                type: io.kestra.plugin.core.debug.Return
                format: "{{ task.id }}"
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
        errors:
          - id: global-error
            type: io.kestra.plugin.core.log.Log
            message: must not run
    """)
    assert ex.state.value == "WARNING"
    assert state(ex, "first") == "WARNING"
    assert state(ex, "last") == "SUCCESS"
    assert runs(ex, "global-error") == []
    assert logs == []


# kestra: core/src/test/resources/flows/valids/allow-failure.yaml, AllowFailureTest.failed
#         (a later failure that is not allowed still fails the execution and runs its errors)
def test_a_failure_that_is_not_allowed_still_fails_after_an_allowed_one() -> None:
    ex, logs = run("""
        id: allow-failure
        namespace: conformance
        tasks:
          - id: ko
            type: io.kestra.plugin.core.execution.Fail
            allowFailure: true
          - id: switch
            type: io.kestra.plugin.core.flow.Switch
            value: "crash"
            cases:
              crash:
                - id: crash
                  type: io.kestra.plugin.core.execution.Fail
        errors:
          - id: global-error
            type: io.kestra.plugin.core.log.Log
            message: "global error"
    """)
    assert ex.state.value == "FAILED"
    assert state(ex, "switch") == "FAILED"
    assert state(ex, "crash") == "FAILED"
    assert state(ex, "global-error") == "SUCCESS"
    assert logs == ["global error"]


# kestra: core/src/main/java/io/kestra/core/models/executions/Execution.java
#         (findTaskDependingFlowState: only FAILED children switch a flowable to its errors)
def test_an_allowed_failure_does_not_start_the_local_errors_of_its_parent() -> None:
    ex, logs = run("""
        id: allowed-local
        namespace: conformance
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: ko
                type: io.kestra.plugin.core.execution.Fail
                allowFailure: true
              - id: still
                type: io.kestra.plugin.core.log.Log
                message: still runs
            errors:
              - id: local-error
                type: io.kestra.plugin.core.log.Log
                message: must not run
    """)
    assert ex.state.value == "WARNING"
    assert logs == ["still runs"]
    assert runs(ex, "local-error") == []
