"""Flows Kestra saves although an expression cannot render or parse: the task fails at run time.

Kestra's ``FlowValidator`` never reads templates; ``VariableRenderer.renderOnce`` compiles a
template when a task renders it and turns a parse error, like a missing variable, into an
``IllegalVariableEvaluationException`` that fails that task. kflow loads such a flow (its
``validate`` warns) and fails the task with the compile error; the execution then goes on as
for any failed task (errors branches, allowFailure...).

Each case names the Kestra test, flow or source file (kestra-io/kestra) it follows; the
flows are written anew after Kestra's test flows.
"""

from __future__ import annotations

from flow_runs import run, runs, state


# kestra: core/src/test/resources/flows/valids/task-runif.yml, TaskWithRunIfTest.runnableTask
def test_a_run_if_reading_outputs_of_a_missing_task_fails_that_task() -> None:
    ex, logs = run(
        """
        id: task-runif
        namespace: conformance
        tasks:
          - id: output
            type: io.kestra.plugin.core.output.OutputValues
            values:
              taskrun_data: 1
          - id: executed
            type: io.kestra.plugin.core.log.Log
            runIf: "{{ outputs.output['values']['taskrun_data'] == 1 }}"
            message:
              - "success"
          - id: notexecuted
            type: io.kestra.plugin.core.log.Log
            runIf: "{{ outputs.output['values']['taskrun_data'] == 2 }}"
            message:
              - "should not be printed"
          - id: willfailedtheflow
            type: io.kestra.plugin.core.log.Log
            runIf: "{{ outputs.notexists == 2 }}"
            message:
              - "should failed"
        """
    )
    assert ex.state.value == "FAILED"
    assert len(ex.task_runs) == 4
    assert state(ex, "executed") == "SUCCESS"
    assert state(ex, "notexecuted") == "SKIPPED"
    assert state(ex, "willfailedtheflow") == "FAILED"
    assert logs == ["success"]
    assert ex.error == (
        "task willfailedtheflow: runIf: Unable to find `notexists` used in the expression "
        "`{{ outputs.notexists == 2 }}`"
    )


# kestra: jdbc/src/main/java/io/kestra/jdbc/runner/JdbcExecutor.java (a runIf that cannot be
#         evaluated: the task run FAILED, "Unable to evaluate the runIf condition");
#         VariableRenderer.renderOnce (a parse error is an IllegalVariableEvaluationException)
def test_a_run_if_that_does_not_parse_fails_its_task_and_the_flow_errors_run() -> None:
    ex, logs = run(
        """
        id: runif-syntax
        namespace: conformance
        tasks:
          - id: guarded
            type: io.kestra.plugin.core.log.Log
            runIf: "{{ trigger.value == }}"
            message: never
          - id: after
            type: io.kestra.plugin.core.log.Log
            message: never either
        errors:
          - id: on_error
            type: io.kestra.plugin.core.log.Log
            message: "handled {{ errorLogs()[0].taskId }}"
        """,
        value="x",
    )
    assert ex.state.value == "FAILED"
    assert [r.task_id for r in ex.task_runs] == ["guarded", "on_error"]
    (guarded,) = runs(ex, "guarded")
    assert guarded.attempts == 0
    assert guarded.error is not None and guarded.error.startswith("runIf: ")
    assert "\n" not in guarded.error
    assert logs == ["handled guarded"]


# kestra: core/src/main/java/io/kestra/plugin/core/flow/If.java (isTrue renders the condition
#         when the If runs); core/src/test/resources/flows/valids/if-without-else.yaml
def test_an_if_whose_condition_does_not_parse_fails_and_runs_no_branch() -> None:
    ex, logs = run(
        """
        id: if-without-else
        namespace: conformance
        tasks:
          - id: if
            type: io.kestra.plugin.core.flow.If
            condition: "{{ trigger.value | nosuch }}"
            then:
              - id: when-true
                type: io.kestra.plugin.core.log.Log
                message: Condition was true
        errors:
          - id: on_error
            type: io.kestra.plugin.core.log.Log
            message: handled
        """,
        value="true",
    )
    assert ex.state.value == "FAILED"
    assert [r.task_id for r in ex.task_runs] == ["if", "on_error"]
    assert ex.error == (
        "task if: condition: unknown filter 'nosuch' at line 1, column 20 of "
        "`{{ trigger.value | nosuch }}`"
    )
    assert logs == ["handled"]


# kestra: jdbc/src/main/java/io/kestra/jdbc/runner/JdbcExecutor.java (runIf is rendered before
#         the task goes to the worker, where its properties are rendered)
def test_a_skipped_task_with_a_broken_template_does_not_fail() -> None:
    ex, logs = run(
        """
        id: skipped
        namespace: conformance
        tasks:
          - id: skipped
            type: io.kestra.plugin.core.log.Log
            runIf: "{{ trigger.value == 'go' }}"
            message: "{{ outputs.nope.value }} {{ 1 + }}"
          - id: after
            type: io.kestra.plugin.core.log.Log
            message: after
        """,
        value="stop",
    )
    assert ex.state.value == "SUCCESS"
    assert state(ex, "skipped") == "SKIPPED"
    assert logs == ["after"]


# kestra: core/src/test/resources/flows/valids/task-allow-failure-runnable.yml,
#         TaskWithAllowFailureTest.runnableTask (a failed task allowed to fail: WARNING)
def test_an_allowed_failure_of_a_broken_template_ends_in_warning_and_the_flow_goes_on() -> None:
    ex, logs = run(
        """
        id: allowed
        namespace: conformance
        tasks:
          - id: broken
            type: io.kestra.plugin.core.debug.Return
            allowFailure: true
            format: "{{ trigger.value | jq('.[') | first }}"
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: next one runs
        """,
        value='{"a": 1}',
    )
    assert ex.state.value == "WARNING"
    assert state(ex, "broken") == "WARNING"
    assert logs == ["next one runs"]
    (broken,) = runs(ex, "broken")
    assert broken.error is not None and broken.error.startswith("jq: cannot compile '.['")
    assert "\n" not in broken.error


# kestra: core/src/test/resources/flows/valids/sequential-with-local-errors.yaml,
#         SequentialTest.sequentialWithLocalErrors (a failing child runs the flowable's errors)
def test_a_child_that_reads_a_later_output_fails_and_its_parent_errors_run() -> None:
    ex, logs = run(
        """
        id: read-too-early
        namespace: conformance
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: announce
                type: io.kestra.plugin.core.log.Log
                message: "the total will be {{ outputs.compute_total.value }}"
              - id: compute_total
                type: io.kestra.plugin.core.debug.Return
                format: "{{ 2 + 2 }}"
            errors:
              - id: local_error
                type: io.kestra.plugin.core.log.Log
                message: local error
        """
    )
    assert ex.state.value == "FAILED"
    assert [r.task_id for r in ex.task_runs] == ["seq", "announce", "local_error"]
    assert state(ex, "seq") == "FAILED"
    assert ex.error == (
        "task announce: Unable to find `compute_total` used in the expression "
        "`{{ outputs.compute_total.value }}`"
    )
    assert logs == ["local error"]


# kestra: core/src/test/resources/flows/valids/task-allow-failure-runnable.yml (retry of a
#         failed runnable task); Worker.java (each attempt renders the task's properties anew)
def test_a_broken_template_fails_every_attempt_of_a_retried_task() -> None:
    ex, _ = run(
        """
        id: retried
        namespace: conformance
        tasks:
          - id: broken
            type: io.kestra.plugin.core.log.Log
            message: "{% if %}never{% endif %}"
            retry:
              type: constant
              interval: PT0.01S
              maxAttempt: 3
        """
    )
    assert ex.state.value == "FAILED"
    (broken,) = runs(ex, "broken")
    assert broken.attempts == 3
    assert broken.error == (
        "message: empty expression at line 1, column 6 of `{% if %}never{% endif %}`"
    )
