"""Retries: a task's own, the nearest enclosing flowable's, the flow's.

Each case names the Kestra test, flow or source file (kestra-io/kestra) it follows; the
flows are written anew after Kestra's test flows. Intervals are shortened.
"""

from __future__ import annotations

from flow_runs import run, runs


# kestra: core/src/test/resources/flows/valids/retry-flowable.yaml,
#         RetryCaseTest.retryFlowable; ExecutorService.java (retry of the parent task)
def test_a_child_without_retry_uses_its_flowable_parents_retry() -> None:
    ex, _ = run("""
        id: retry-flowable
        namespace: conformance
        tasks:
          - id: flowable
            type: io.kestra.plugin.core.flow.Sequential
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 3
            tasks:
              - id: child
                type: io.kestra.plugin.core.execution.Fail
    """)
    assert ex.state.value == "FAILED"
    assert ex.task_runs[1].task_id == "child"
    assert ex.task_runs[1].attempts == 3
    assert runs(ex, "flowable")[0].attempts == 1  # flowables themselves are not retried


# kestra: core/src/test/resources/flows/valids/retry-flowable-child.yaml,
#         RetryCaseTest.retryFlowableChild
def test_a_child_with_its_own_retry() -> None:
    ex, _ = run("""
        id: retry-flowable-child
        namespace: conformance
        tasks:
          - id: flowable
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: child
                type: io.kestra.plugin.core.execution.Fail
                retry:
                  type: constant
                  interval: PT0.01S
                  maxAttempt: 3
    """)
    assert ex.state.value == "FAILED"
    assert ex.task_runs[1].attempts == 3


# kestra: core/src/test/resources/flows/valids/retry-flowable-nested-child.yaml,
#         RetryCaseTest.retryFlowableNestedChild
def test_a_nested_child_with_its_own_retry() -> None:
    ex, _ = run("""
        id: retry-flowable-nested-child
        namespace: conformance
        tasks:
          - id: flowable
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: flowable2
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - id: child
                    type: io.kestra.plugin.core.execution.Fail
                    retry:
                      type: constant
                      interval: PT0.01S
                      maxAttempt: 3
    """)
    assert ex.state.value == "FAILED"
    assert ex.task_runs[2].task_id == "child"
    assert ex.task_runs[2].attempts == 3


# kestra: core/src/main/java/io/kestra/core/runners/ExecutorService.java (the parent search
#         climbs through flowables without a retry up to the first one that has one)
def test_a_grandparent_retry_is_inherited_through_a_flowable_without_one() -> None:
    ex, _ = run("""
        id: retry-grandparent
        namespace: conformance
        tasks:
          - id: outer
            type: io.kestra.plugin.core.flow.Sequential
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 3
            tasks:
              - id: inner
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - id: child
                    type: io.kestra.plugin.core.execution.Fail
    """)
    assert runs(ex, "child")[0].attempts == 3


# kestra: core/src/test/resources/flows/valids/retry-flowable-parallel.yaml,
#         RetryCaseTest.retryFlowableParallel
def test_each_iteration_of_a_concurrent_foreach_uses_the_foreach_retry() -> None:
    ex, _ = run("""
        id: retry-flowable-parallel
        namespace: conformance
        tasks:
          - id: flowable
            type: io.kestra.plugin.core.flow.ForEach
            concurrencyLimit: 0
            values: [0, 1]
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 3
            tasks:
              - id: child
                type: io.kestra.plugin.core.execution.Fail
    """)
    assert ex.state.value == "FAILED"
    assert [r.attempts for r in runs(ex, "child")] == [3, 3]


# kestra: core/src/main/java/io/kestra/core/runners/ExecutorService.java (the nearest
#         parent with a retry wins)
def test_the_nearest_parent_retry_wins() -> None:
    ex, _ = run("""
        id: retry-nearest
        namespace: conformance
        tasks:
          - id: outer
            type: io.kestra.plugin.core.flow.Sequential
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 4
            tasks:
              - id: inner
                type: io.kestra.plugin.core.flow.Sequential
                retry:
                  type: constant
                  interval: PT0.01S
                  maxAttempt: 2
                tasks:
                  - id: child
                    type: io.kestra.plugin.core.execution.Fail
    """)
    assert runs(ex, "child")[0].attempts == 2


# kestra: core/src/main/java/io/kestra/core/runners/ExecutorService.java (task retry, then
#         parent retry, then flow retry)
def test_a_task_retry_beats_the_parent_retry() -> None:
    ex, _ = run("""
        id: retry-own-first
        namespace: conformance
        tasks:
          - id: flowable
            type: io.kestra.plugin.core.flow.Sequential
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 4
            tasks:
              - id: child
                type: io.kestra.plugin.core.execution.Fail
                retry:
                  type: constant
                  interval: PT0.01S
                  maxAttempt: 2
    """)
    assert runs(ex, "child")[0].attempts == 2


# kestra: core/src/main/java/io/kestra/core/runners/ExecutorService.java (parent retry before
#         the flow's)
def test_the_parent_retry_beats_the_flow_retry() -> None:
    ex, _ = run("""
        id: retry-parent-before-flow
        namespace: conformance
        retry:
          type: constant
          interval: PT0.01S
          maxAttempt: 4
        tasks:
          - id: flowable
            type: io.kestra.plugin.core.flow.Sequential
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 2
            tasks:
              - id: child
                type: io.kestra.plugin.core.execution.Fail
    """)
    assert runs(ex, "child")[0].attempts == 2


# kestra: core/src/test/resources/flows/valids/retry-failed-flow-attempts.yml,
#         RetryCaseTest.retryFailedFlowAttempts
def test_the_flow_retry_applies_to_a_task_without_one() -> None:
    ex, _ = run("""
        id: retry-failed-flow-attempts
        namespace: conformance
        retry:
          behavior: RETRY_FAILED_TASK
          type: constant
          maxAttempt: 4
          interval: PT0.01S
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
    """)
    assert ex.state.value == "FAILED"
    assert ex.task_runs[0].attempts == 4


# kestra: core/src/test/resources/flows/valids/retry-failed-flow-attempts.yml (the flow
#         retry reaches tasks nested in flowables too)
def test_the_flow_retry_applies_to_a_nested_task() -> None:
    ex, _ = run("""
        id: retry-flow-nested
        namespace: conformance
        retry:
          type: constant
          maxAttempt: 3
          interval: PT0.01S
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: fail
                type: io.kestra.plugin.core.execution.Fail
    """)
    assert runs(ex, "fail")[0].attempts == 3
    assert runs(ex, "seq")[0].attempts == 1


# kestra: core/src/test/resources/flows/valids/retry-failed-task-attempts.yml,
#         RetryCaseTest.retryFailedTaskAttempts
def test_a_task_retry_counts_every_attempt() -> None:
    ex, _ = run("""
        id: retry-failed-task-attempts
        namespace: conformance
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
            retry:
              behavior: RETRY_FAILED_TASK
              type: constant
              maxAttempt: 4
              interval: PT0.01S
    """)
    assert ex.state.value == "FAILED"
    assert ex.task_runs[0].attempts == 4


# kestra: core/src/test/resources/flows/valids/retry-success.yaml, RetryCaseTest.retrySuccess
def test_warning_on_retry_after_a_late_success() -> None:
    ex, logs = run("""
        id: retry-success
        namespace: conformance
        tasks:
          - id: failed
            type: io.kestra.plugin.core.log.Log
            message: "{{ taskrun.attemptsCount == 3 ? 'ok' : ko }}"
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 4
              maxDuration: PT15S
              warningOnRetry: true
        errors:
          - id: never-happen
            type: io.kestra.plugin.core.log.Log
            message: "Never {{ task.id }}"
    """)
    assert ex.state.value == "WARNING"
    assert len(ex.task_runs) == 1
    assert ex.task_runs[0].attempts == 4
    assert logs == ["ok"]


# kestra: core/src/test/resources/flows/valids/retry-success-first-attempt.yaml,
#         RetryCaseTest.retrySuccessAtFirstAttempt
def test_no_warning_when_the_first_attempt_succeeds() -> None:
    ex, _ = run("""
        id: retry-success-first-attempt
        namespace: conformance
        tasks:
          - id: not-retry-and-no-warning
            type: io.kestra.plugin.core.log.Log
            message: foo
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 5
              warningOnRetry: true
        errors:
          - id: never-happen
            type: io.kestra.plugin.core.log.Log
            message: never
    """)
    assert ex.state.value == "SUCCESS"
    assert ex.task_runs[0].attempts == 1


# kestra: core/src/main/java/io/kestra/core/runners/Worker.java (warningOnRetry is read from
#         the task's own retry only)
def test_warning_on_retry_of_an_inherited_retry_is_not_applied() -> None:
    ex, _ = run("""
        id: retry-inherited-warning
        namespace: conformance
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 3
              warningOnRetry: true
            tasks:
              - id: late
                type: io.kestra.plugin.core.log.Log
                message: "{{ taskrun.attemptsCount == 1 ? 'ok' : ko }}"
    """)
    assert runs(ex, "late")[0].attempts == 2
    assert ex.state.value == "SUCCESS"


# kestra: core/src/test/resources/flows/valids/retry-failed.yaml, RetryCaseTest.retryFailed
def test_errors_run_once_after_the_last_attempt() -> None:
    ex, logs = run("""
        id: retry-failed
        namespace: conformance
        tasks:
          - id: failed
            type: io.kestra.plugin.core.execution.Fail
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 5
              maxDuration: PT15S
        errors:
          - id: t2
            type: io.kestra.plugin.core.log.Log
            message: "second {{ task.id }}"
    """)
    assert ex.state.value == "FAILED"
    assert len(ex.task_runs) == 2
    assert ex.task_runs[0].attempts == 5
    assert logs == ["second t2"]


# kestra: core/src/test/resources/flows/valids/retry-fail.yaml, RetryCaseTest.retryFail
def test_a_retried_failure_stops_the_following_tasks() -> None:
    ex, logs = run("""
        id: retry-and-fail
        namespace: conformance
        tasks:
          - id: keepFailingWithRetry
            type: io.kestra.plugin.core.execution.Fail
            retry:
              type: constant
              maxAttempt: 3
              interval: PT0.01S
          - id: thisTaskShouldNotBeExecuted
            type: io.kestra.plugin.core.log.Log
            message: never
        errors:
          - id: error
            type: io.kestra.plugin.core.log.Log
            message: once
    """)
    assert ex.state.value == "FAILED"
    assert len(ex.task_runs) == 2
    assert ex.task_runs[0].attempts == 3
    assert logs == ["once"]


# kestra: core/src/main/java/io/kestra/core/runners/ExecutorService.java (a child retried by
#         its parent's policy can still succeed, and then so does the parent)
def test_an_inherited_retry_can_rescue_the_flowable() -> None:
    ex, logs = run("""
        id: retry-rescue
        namespace: conformance
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: ["x"]
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 3
            tasks:
              - id: flaky
                type: io.kestra.plugin.core.log.Log
                message: "{{ taskrun.attemptsCount == 2 ? taskrun.value : ko }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert runs(ex, "flaky")[0].attempts == 3
    assert logs == ["x"]
