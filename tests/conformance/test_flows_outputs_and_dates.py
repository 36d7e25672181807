"""Outputs and how dates print in templates.

Kestra prints execution, task run and trigger dates with Java's ``Instant.toString``
(ISO-8601 in UTC, ``Z``): the fraction of a second in groups of three digits, as many as
the clock gave (none, milliseconds or microseconds; trailing zeros inside a group kept,
``12.300Z``). State.java takes ``Instant.now()`` untruncated, and the executions stored in
Kestra's own tests carry micro- and nanoseconds (DeserializationIssuesCaseTest.java,
WorkerTaskRunningTest.java). Kafka record timestamps are milliseconds.

Each case names the Kestra test, flow or source file (kestra-io/kestra) it follows; the
flows are written anew after Kestra's test flows.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flow_runs import run

from kflow.expr.printing import to_text
from kflow.plugins.kafka_record import KafkaRecord

INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z")


# kestra: core/src/test/resources/flows/valids/return.yaml, ReturnTest / FlowGraphTest
def test_return_outputs_task_flow_and_date() -> None:
    ex, _ = run("""
        id: return
        namespace: conformance
        tasks:
          - id: date
            type: io.kestra.plugin.core.debug.Return
            format: "{{ taskrun.startDate }}"
          - id: task-id
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
          - id: flow-id
            type: io.kestra.plugin.core.debug.Return
            format: "{{ flow.id }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert INSTANT.fullmatch(ex.outputs["date"]["value"])
    assert ex.outputs["task-id"] == {"value": "task-id"}
    assert ex.outputs["flow-id"] == {"value": "return"}


# kestra: core/src/test/resources/flows/valids/output-values.yml, OutputValuesTest
def test_output_values_render_each_value() -> None:
    ex, _ = run("""
        id: output-values
        namespace: conformance
        tasks:
          - id: return
            type: io.kestra.plugin.core.output.OutputValues
            values:
              output1: xyz
              output2: abc
              taskInfo: "{{ task.id }} > {{ taskrun.startDate }}"
    """)
    values = ex.outputs["return"]["values"]
    assert values["output1"] == "xyz"
    assert values["output2"] == "abc"
    prefix, date = values["taskInfo"].split(" > ")
    assert prefix == "return"
    assert INSTANT.fullmatch(date)


# kestra: core/src/main/java/io/kestra/core/runners/RunVariables.java (execution.startDate is
#         the Instant of the execution's state); Instant.toString
def test_execution_start_date_prints_as_an_instant() -> None:
    ex, _ = run("""
        id: dates
        namespace: conformance
        tasks:
          - id: started
            type: io.kestra.plugin.core.debug.Return
            format: "{{ execution.startDate }}"
    """)
    text = ex.outputs["started"]["value"]
    assert INSTANT.fullmatch(text)
    assert text == to_text(ex.start_date)


# kestra: Instant.ofEpochMilli(record.timestamp()).toString(), as trigger dates of records
#         print (plugin-kafka RealtimeTrigger outputs); ISO_INSTANT keeps 3 digits
@pytest.mark.parametrize(
    ("millis", "printed"),
    [
        pytest.param(1704103872345, "2024-01-01T10:11:12.345Z", id="millis"),
        pytest.param(1704103872300, "2024-01-01T10:11:12.300Z", id="trailing-zeros-kept"),
        pytest.param(1704103872000, "2024-01-01T10:11:12Z", id="whole-second"),
    ],
)
def test_trigger_timestamp_prints_like_java_instant(millis: int, printed: str) -> None:
    ex, _ = run(
        """
        id: trigger-date
        namespace: conformance
        tasks:
          - id: when
            type: io.kestra.plugin.core.debug.Return
            format: "{{ trigger.timestamp }}"
        """,
        record=KafkaRecord(value="v", topic="t", partition=0, offset=1, timestamp_ms=millis),
    )
    assert ex.outputs["when"] == {"value": printed}


# kestra: core/src/test/java/io/kestra/core/runners/DeserializationIssuesCaseTest.java
#         (stored start dates with micro/nanoseconds: Instant.toString keeps them)
@pytest.mark.parametrize(
    ("micros", "printed"),
    [
        pytest.param(324536, "2023-11-28T10:16:22.324536Z", id="micros"),
        pytest.param(648000, "2023-11-28T10:16:22.648Z", id="millis"),
        pytest.param(100, "2023-11-28T10:16:22.000100Z", id="leading-zeros"),
        pytest.param(0, "2023-11-28T10:16:22Z", id="none"),
    ],
)
def test_dates_print_their_fraction_in_groups_of_three(micros: int, printed: str) -> None:
    moment = dt.datetime(2023, 11, 28, 10, 16, 22, micros, tzinfo=dt.UTC)
    assert to_text(moment) == printed


# kestra: core/src/test/resources/flows/valids/execution.yaml (execution.id and flow vars)
def test_execution_and_flow_variables() -> None:
    ex, _ = run("""
        id: execution
        namespace: conformance.sub
        tasks:
          - id: ids
            type: io.kestra.plugin.core.debug.Return
            format: "{{ execution.id }} {{ flow.namespace }} {{ flow.id }}"
    """)
    assert ex.outputs["ids"] == {"value": f"{ex.id} conformance.sub execution"}


# kestra: core/src/main/java/io/kestra/core/models/executions/Execution.java (outputs: a task
#         in a loop keeps one output per value)
def test_outputs_of_a_loop_child_are_keyed_by_value() -> None:
    ex, _ = run("""
        id: loop-outputs
        namespace: conformance
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: ["a", "b"]
            tasks:
              - id: ret
                type: io.kestra.plugin.core.debug.Return
                format: "got {{ taskrun.value }}"
          - id: after
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.ret['b'].value }}"
    """)
    assert ex.outputs["ret"] == {"a": {"value": "got a"}, "b": {"value": "got b"}}
    assert ex.outputs["after"] == {"value": "got b"}
