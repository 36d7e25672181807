"""Sleep, Pause (without a manual resume) and the AllowFailure flowable.

Each case names the Kestra test, flow or source file (kestra-io/kestra) it follows; the
flows are written anew after Kestra's test flows. Durations are kept tiny (PT0.05S).
"""

from __future__ import annotations

import textwrap

import pytest
from flow_runs import run, runs, state

from kflow.engine.execution import Execution
from kflow.flow import load_flow_text


def diagnostics(yaml_text: str) -> list[str]:
    result = load_flow_text(textwrap.dedent(yaml_text))
    return [d.format() for d in result.diagnostics]


# kestra: core/src/test/resources/flows/valids/sleep.yml, SleepTest; Sleep.java (logs the wait)
def test_sleep_waits_its_duration_then_succeeds() -> None:
    ex, logs = run("""
        id: sleep
        namespace: conformance
        tasks:
          - id: sleep
            type: io.kestra.plugin.core.flow.Sleep
            duration: PT0.05S
          - id: next
            type: io.kestra.plugin.core.log.Log
            message: awake
    """)
    assert ex.state.value == "SUCCESS"
    assert runs(ex, "sleep")[0].duration_ms >= 50
    assert logs == ["Waiting for PT0.05S", "awake"]


# kestra: core/src/main/java/io/kestra/plugin/core/flow/Sleep.java (duration, a Property in
#         newer Kestra: it may come from an input)
def test_sleep_duration_may_be_a_template() -> None:
    ex, logs = run("""
        id: sleep-input
        namespace: conformance
        inputs:
          - id: wait
            type: DURATION
            defaults: PT0.05S
        tasks:
          - id: sleep
            type: io.kestra.plugin.core.flow.Sleep
            duration: "{{ inputs.wait }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert runs(ex, "sleep")[0].duration_ms >= 50
    assert logs == ["Waiting for PT0.05S"]


# kestra: core/src/main/java/io/kestra/plugin/core/flow/Sleep.java (duration is required and
#         an ISO-8601 duration)
@pytest.mark.parametrize(("prop", "message"), [("", "duration"), ("duration: 5s", "ISO-8601")])
def test_sleep_needs_an_iso_duration(prop: str, message: str) -> None:
    found = diagnostics(f"""
        id: sleep-bad
        namespace: conformance
        tasks:
          - id: sleep
            type: io.kestra.plugin.core.flow.Sleep
            {prop}
    """)
    assert any("tasks.sleep" in d and message in d for d in found), found


# kestra: core/src/test/resources/flows/valids/pause-delay.yaml, PauseTest.delay (the pause
#         ends by itself, then its tasks and the next ones run)
@pytest.mark.parametrize(
    "pause_type", ["io.kestra.plugin.core.flow.Pause", "io.kestra.core.tasks.flows.Pause"]
)
def test_pause_with_a_delay_goes_on_after_it(pause_type: str) -> None:
    ex, logs = run(f"""
        id: pause-delay
        namespace: conformance
        tasks:
          - id: pause
            type: {pause_type}
            delay: PT0.05S
            tasks:
              - id: subtask
                type: io.kestra.plugin.core.log.Log
                message: after the pause
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: "{{{{ task.id }}}}"
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 3
    assert state(ex, "pause") == "SUCCESS"
    assert runs(ex, "pause")[0].duration_ms >= 50
    assert logs == ["after the pause"]


# kestra: core/src/test/resources/flows/valids/pause-delay-from-input.yaml,
#         PauseTest.delayFromInput
def test_pause_delay_from_an_input() -> None:
    ex, _ = run("""
        id: pause-delay-from-input
        namespace: conformance
        inputs:
          - id: delay
            type: DURATION
            defaults: PT0.05S
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            delay: "{{ inputs.delay }}"
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert runs(ex, "pause")[0].duration_ms >= 50
    assert state(ex, "last") == "SUCCESS"


# kestra: core/src/main/java/io/kestra/plugin/core/flow/Pause.java (newer Kestra: delay is
#         deprecated for pauseDuration; a Pause without tasks ends in SUCCESS)
def test_pause_duration_without_tasks() -> None:
    ex, _ = run("""
        id: pause-duration
        namespace: conformance
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            pauseDuration: PT0.05S
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert [r.task_id for r in ex.task_runs] == ["pause", "last"]
    assert runs(ex, "pause")[0].duration_ms >= 50


# kestra: core/src/main/java/io/kestra/plugin/core/flow/Pause.java (delay is deprecated)
def test_pause_delay_is_a_deprecation_warning() -> None:
    found = diagnostics("""
        id: pause-delay
        namespace: conformance
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            delay: PT0.05S
    """)
    assert len(found) == 1
    assert "warning" in found[0] and "pauseDuration" in found[0]


# kestra: core/src/main/java/io/kestra/plugin/core/flow/Pause.java (behavior WARN: the Pause
#         ends in WARNING and the execution goes on; FAIL: the Pause fails)
@pytest.mark.parametrize(
    ("behavior", "pause", "final", "ran"),
    [
        ("RESUME", "SUCCESS", "SUCCESS", ["next"]),
        ("WARN", "WARNING", "WARNING", ["next"]),
        ("FAIL", "FAILED", "FAILED", ["on-error"]),
    ],
)
def test_pause_behavior_once_the_duration_passed(
    behavior: str, pause: str, final: str, ran: list[str]
) -> None:
    ex, logs = run(f"""
        id: pause-behavior
        namespace: conformance
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            pauseDuration: PT0.05S
            behavior: {behavior}
          - id: next
            type: io.kestra.plugin.core.log.Log
            message: next
        errors:
          - id: on-error
            type: io.kestra.plugin.core.log.Log
            message: on-error
    """)
    assert state(ex, "pause") == pause
    assert ex.state.value == final
    assert logs == ran


# kestra: core/src/main/java/io/kestra/plugin/core/flow/Pause.java (behavior CANCEL cancels the
#         execution: kflow has no CANCELLED state and refuses it)
def test_pause_behavior_cancel_is_refused() -> None:
    found = diagnostics("""
        id: pause-cancel
        namespace: conformance
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            pauseDuration: PT0.05S
            behavior: CANCEL
    """)
    assert any("behavior CANCEL is not supported" in d for d in found), found


# kestra: core/src/test/resources/flows/valids/pause-timeout.yaml, PauseTest.timeout (not resumed
#         before its timeout: the Pause fails and its tasks never run)
def test_pause_with_only_a_timeout_fails_after_it() -> None:
    ex, logs = run("""
        id: pause-timeout
        namespace: conformance
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            timeout: PT0.05S
            tasks:
              - id: ko
                type: io.kestra.plugin.core.log.Log
                message: never
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
    """)
    assert ex.state.value == "FAILED"
    assert len(ex.task_runs) == 1
    pause = runs(ex, "pause")[0]
    assert pause.state.value == "FAILED"
    assert pause.duration_ms >= 50
    assert "timeout" in (pause.error or "")
    assert logs == []


# kestra: core/src/test/resources/flows/valids/pause-timeout-allow-failure.yaml (kestra PR #9623:
#         allowFailure on a Pause that timed out)
def test_pause_timeout_with_allow_failure_ends_in_warning() -> None:
    ex, _ = run("""
        id: pause-timeout-allow-failure
        namespace: conformance
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            timeout: PT0.05S
            allowFailure: true
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
    """)
    assert ex.state.value == "WARNING"
    assert state(ex, "pause") == "WARNING"
    assert state(ex, "last") == "SUCCESS"


# kestra: core/src/test/resources/flows/valids/pause.yaml, pause_no_tasks.yaml (a Pause that
#         waits for a manual resume: kflow cannot resume one, so the flow is refused)
@pytest.mark.parametrize(
    "tasks", ["", "tasks: [{id: t, type: io.kestra.plugin.core.log.Log, message: m}]"]
)
def test_pause_without_delay_is_a_validation_error(tasks: str) -> None:
    found = diagnostics(f"""
        id: pause
        namespace: conformance
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            {tasks}
    """)
    assert len(found) == 1
    assert "tasks.pause" in found[0]
    assert "Pause without delay needs a manual resume, which kflow cannot do" in found[0]


# kestra: core/src/test/resources/flows/valids/each-parallel-pause.yml, PauseTest.parallelDelay
def test_pauses_inside_each_parallel_all_resume() -> None:
    ex, logs = run("""
        id: each-parallel-pause
        namespace: conformance
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.EachParallel
            value: ["toto", "tata", "titi"]
            tasks:
              - id: pause
                type: io.kestra.plugin.core.flow.Pause
                delay: PT0.05S
                tasks:
                  - id: log
                    type: io.kestra.plugin.core.log.Log
                    message: "Hello {{ parent.taskrun.value }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert len(ex.task_runs) == 7
    assert sorted(logs) == ["Hello tata", "Hello titi", "Hello toto"]
    # they pause at the same time, not one after another
    assert runs(ex, "each")[0].duration_ms < 3 * 50


_ALLOW_FAILURE = """
    id: allow-failure
    namespace: conformance
    inputs:
      - id: crash
        type: STRING
        defaults: {crash}
    tasks:
      - id: first
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: 1-1-allow-failure
            type: {allow_type}
            tasks:
              - id: 1-1-1_seq
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - id: 1-1-1-1
                    type: io.kestra.plugin.core.debug.Return
                    format: "{{{{ task.id }}}}"
                  - id: ko
                    type: io.kestra.plugin.core.execution.Fail
                  - id: 1-1-1-3
                    type: io.kestra.plugin.core.debug.Return
                    format: "{{{{ task.id }}}}"
            errors:
              - id: local-error
                type: io.kestra.plugin.core.debug.Return
                format: "Error Trigger ! {{{{ task.id }}}}"
          - id: 1-2-todo
            type: io.kestra.plugin.core.debug.Return
            format: "{{{{ task.id }}}}"
      - id: switch
        type: io.kestra.plugin.core.flow.Switch
        value: "{{{{ inputs.crash is not none }}}}"
        cases:
          "true":
            - id: crash
              type: io.kestra.plugin.core.execution.Fail
        defaults:
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: "{{{{ task.id }}}}"
    errors:
      - id: global-error
        type: io.kestra.plugin.core.debug.Return
        format: "Error Trigger ! {{{{ task.id }}}}"
"""

ALLOW_TYPES = ["io.kestra.plugin.core.flow.AllowFailure", "io.kestra.core.tasks.flows.AllowFailure"]


def _control(ex: Execution) -> None:
    assert state(ex, "first") == "WARNING"
    assert state(ex, "1-1-allow-failure") == "WARNING"
    assert state(ex, "1-1-1_seq") == "FAILED"
    assert state(ex, "1-1-1-1") == "SUCCESS"
    assert state(ex, "ko") == "FAILED"
    assert state(ex, "local-error") == "SUCCESS"
    assert state(ex, "1-2-todo") == "SUCCESS"


# kestra: core/src/test/resources/flows/valids/allow-failure.yaml, AllowFailureTest.success
@pytest.mark.parametrize("allow_type", ALLOW_TYPES)
def test_allow_failure_block_ends_in_warning_and_the_flow_goes_on(allow_type: str) -> None:
    ex, _ = run(_ALLOW_FAILURE.format(crash="null", allow_type=allow_type))
    assert ex.state.value == "WARNING"
    assert len(ex.task_runs) == 9
    _control(ex)
    assert runs(ex, "1-1-1-3") == []
    assert runs(ex, "global-error") == []
    assert state(ex, "last") == "SUCCESS"


# kestra: core/src/test/resources/flows/valids/allow-failure.yaml, AllowFailureTest.failed
def test_a_later_failure_outside_the_block_still_fails() -> None:
    ex, _ = run(_ALLOW_FAILURE.format(crash="yes", allow_type=ALLOW_TYPES[0]))
    assert ex.state.value == "FAILED"
    assert len(ex.task_runs) == 10
    _control(ex)
    assert state(ex, "switch") == "FAILED"
    assert state(ex, "crash") == "FAILED"
    assert state(ex, "global-error") == "SUCCESS"


# kestra: core/src/main/java/io/kestra/plugin/core/flow/AllowFailure.java (a Sequential: when
#         nothing fails it ends in SUCCESS, its errors unused)
def test_allow_failure_block_without_failure_succeeds() -> None:
    ex, logs = run("""
        id: allow-failure-ok
        namespace: conformance
        tasks:
          - id: block
            type: io.kestra.plugin.core.flow.AllowFailure
            tasks:
              - id: one
                type: io.kestra.plugin.core.log.Log
                message: one
              - id: two
                type: io.kestra.plugin.core.log.Log
                message: two
            errors:
              - id: never
                type: io.kestra.plugin.core.log.Log
                message: never
    """)
    assert ex.state.value == "SUCCESS"
    assert state(ex, "block") == "SUCCESS"
    assert logs == ["one", "two"]
