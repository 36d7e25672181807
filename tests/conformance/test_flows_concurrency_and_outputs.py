"""Flow-level ``outputs``, ``variables``, ``labels``, ``pluginDefaults`` and ``concurrency``.

Each case names the Kestra test, flow or source file (kestra-io/kestra) it follows; the
flows are written anew after Kestra's test flows. Kestra's behaviour, as read there:

- outputs: ``ExecutorService.onEnd`` renders them once the tasks, ``errors`` and
  ``finally`` have ended (``afterExecution`` runs later), then
  ``FlowInputOutput.typedOutputs`` types them; a failure logs "Failed to render output
  values" and ends the execution FAILED, without outputs (``FlowOutputTest``);
- variables: ``RunVariables`` puts ``flow.variables`` under ``vars`` as written, and
  ``VariableRenderer`` renders once unless asked (``render(vars.x)``, ``VariablesTest``);
- labels: visible as ``labels.*`` (``RunVariables``); map values are written with Java's
  ``String.valueOf`` (``ListOrMapOfLabelDeserializer``); ``system.*`` labels are Kestra's
  (``FlowValidator``, ``flows/invalids/system-labels.yaml``);
- pluginDefaults: ``PluginDefaultService`` and ``PluginDefaultServiceTest``;
- concurrency: ``Concurrency``, ``ExecutorService.checkConcurrencyLimit`` and
  ``FlowConcurrencyCaseTest`` with ``flows/valids/flow-concurrency-*.yml``.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from typing import Any

import pytest
from flow_runs import run

from kflow.engine.events import EventBus, ExecutionFinished, LogEmitted
from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.memory_source import MemorySource
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService
from kflow.flow import load_flow_text
from kflow.flow.model import Flow
from kflow.plugins.kafka_record import KafkaRecord


def load(yaml_text: str) -> Flow:
    result = load_flow_text(textwrap.dedent(yaml_text))
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    return result.flow


def errors_of(yaml_text: str) -> list[str]:
    result = load_flow_text(textwrap.dedent(yaml_text))
    assert result.flow is None
    return [d.format() for d in result.errors]


def log_levels(yaml_text: str) -> list[tuple[str, str]]:
    flow = load(yaml_text)
    bus = EventBus()
    seen: list[tuple[str, str]] = []
    bus.subscribe(
        lambda e: (
            seen.append((e.entry.level, e.entry.message)) if isinstance(e, LogEmitted) else None
        )
    )

    async def main() -> None:
        runner = FlowRunner(flow, bus, environ={})
        try:
            await runner.execute(TriggerRecord(value=None))
        finally:
            await runner.close()

    asyncio.run(main())
    return seen


# -- outputs --------------------------------------------------------------------------


# kestra: core/src/test/resources/flows/valids/flow-with-outputs.yml, FlowOutputTest
def test_flow_output_renders_a_task_output_as_text() -> None:
    ex, _ = run("""
        id: flow-with-outputs
        namespace: conformance
        tasks:
          - id: return
            type: io.kestra.plugin.core.debug.Return
            format: "{{ flow.id }}"
        outputs:
          - id: key
            value: "{{ outputs.return }}"
            type: STRING
    """)
    assert ex.state.value == "SUCCESS"
    assert ex.flow_outputs == {"key": '{"value":"flow-with-outputs"}'}


# kestra: core/src/test/resources/flows/valids/flow-with-array-outputs.yml, FlowOutputTest
def test_flow_output_of_type_array_renders_each_item() -> None:
    ex, _ = run("""
        id: flow-with-array-outputs
        namespace: conformance
        tasks:
          - id: return
            type: io.kestra.plugin.core.output.OutputValues
            values:
              one: 1rstValue
              two: 2ndValue
        outputs:
          - id: myout
            type: ARRAY
            value:
              - "{{ outputs.return.values.one }}"
              - "{{ outputs.return.values.two }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert ex.flow_outputs == {"myout": ["1rstValue", "2ndValue"]}


# kestra: core/src/test/resources/flows/valids/flow-with-outputs-failed.yml, FlowOutputTest
def test_flow_output_that_cannot_render_fails_the_execution_without_outputs() -> None:
    ex, logs = run("""
        id: flow-with-outputs-failed
        namespace: conformance
        tasks:
          - id: return
            type: io.kestra.plugin.core.debug.Return
            format: "{{ flow.id }}"
        outputs:
          - id: key
            value: "{{ invalid }}"
            type: STRING
    """)
    assert ex.state.value == "FAILED"
    assert ex.flow_outputs is None
    assert [r.state.value for r in ex.task_runs] == ["SUCCESS"]
    assert any(line.startswith("Failed to render output values: output 'key'") for line in logs)


# kestra: core/src/main/java/io/kestra/core/runners/FlowInputOutput.java (typedOutputs,
# parseType: INT, BOOLEAN and JSON read from the rendered text)
def test_flow_outputs_are_typed_by_their_type() -> None:
    ex, _ = run("""
        id: typed-outputs
        namespace: conformance
        tasks:
          - id: count
            type: io.kestra.plugin.core.debug.Return
            format: "{{ 40 + 2 }}"
        outputs:
          - id: n
            type: INT
            value: "{{ outputs.count.value }}"
          - id: ok
            type: BOOLEAN
            value: "{{ outputs.count.value == '42' }}"
          - id: doc
            type: JSON
            value: '{"n": {{ outputs.count.value }}}'
            description: a JSON document
    """)
    assert ex.flow_outputs == {"n": 42, "ok": True, "doc": {"n": 42}}


# kestra: core/src/main/java/io/kestra/core/runners/ExecutorService.java (handleEnd waits for
# tasks, errors and finally before onEnd renders the outputs; handleAfterExecution comes after)
def test_flow_outputs_see_finally_but_not_after_execution() -> None:
    ex, _ = run("""
        id: outputs-order
        namespace: conformance
        tasks:
          - id: main
            type: io.kestra.plugin.core.debug.Return
            format: main
        finally:
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: finally
        afterExecution:
          - id: after
            type: io.kestra.plugin.core.debug.Return
            format: after
        outputs:
          - id: seen
            type: STRING
            value: "{{ outputs.last.value }}/{{ outputs.after.value ?? 'not yet' }}"
    """)
    assert ex.state.value == "SUCCESS"
    assert ex.flow_outputs == {"seen": "finally/not yet"}
    assert ex.outputs["after"] == {"value": "after"}


# kestra: core/src/main/java/io/kestra/core/models/flows/Output.java (id pattern, type and
# value required), core/.../validations/validator/FlowValidator.java (duplicate outputs)
def test_flow_outputs_are_checked_as_kestras_output_model() -> None:
    problems = errors_of("""
        id: bad-outputs
        namespace: conformance
        tasks:
          - id: t
            type: io.kestra.plugin.core.debug.Return
            format: x
        outputs:
          - id: _no
            type: STRING
            value: x
          - id: twice
            type: STRNG
            value: x
          - id: twice
            value: x
          - id: empty
            type: INT
    """)
    assert problems == [
        "<string>:9:9 outputs[0].id: '_no' does not match [a-zA-Z0-9][.a-zA-Z0-9_-]*",
        "<string>:13:11 outputs[1].type: 'STRNG' is not allowed; expected one of "
        "STRING, ENUM, SELECT, INT, FLOAT, BOOLEAN, BOOL, DATETIME, DATE, TIME, DURATION, "
        "FILE, JSON, URI, SECRET, ARRAY, MULTISELECT, YAML, EMAIL",
        "<string>:15:5 outputs[2]: missing required property 'type'",
        "<string>:15:9 outputs[2].id: duplicate output id 'twice' (first used on line 12)",
        "<string>:17:5 outputs[3]: missing required property 'value'",
    ]


# kestra: the --event path prints what the JSON writer prints for a Kafka record
def test_run_event_json_shows_flow_outputs_and_labels(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from kflow.run.session import RunOptions, run_event

    flow = load("""
        id: event-outputs
        namespace: conformance
        labels:
          team: data
        tasks:
          - id: qty
            type: io.kestra.plugin.core.debug.Return
            format: "{{ trigger.value | jq('.qty') | first }}"
        outputs:
          - id: qty
            type: INT
            value: "{{ outputs.qty.value }}"
    """)
    assert run_event(flow, '{"qty": 3}', None, RunOptions(json_output=True)) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["flowOutputs"] == {"qty": 3}
    assert printed["labels"] == {"team": "data"}
    assert printed["outputs"] == {"qty": {"value": "3"}}


# -- variables -----------------------------------------------------------------------


# kestra: core/src/test/resources/flows/valids/variables.yaml, VariablesTest.recursiveVars;
# core/src/main/java/io/kestra/core/runners/RunVariables.java (vars as written)
def test_variables_are_read_as_written_and_render_renders_them() -> None:
    ex, _ = run("""
        id: variables
        namespace: conformance
        variables:
          first: "1"
          second: "{{vars.first}} > 2"
          third: "{{vars.second}} > 3"
        tasks:
          - id: variable
            type: io.kestra.plugin.core.debug.Return
            format: "{{render(vars.third)}}"
          - id: direct
            type: io.kestra.plugin.core.debug.Return
            format: "{{ vars.second }}"
          - id: once
            type: io.kestra.plugin.core.debug.Return
            format: "{{ render(vars.third, recursive=false) }}"
    """)
    assert ex.outputs["variable"] == {"value": "1 > 2 > 3"}
    assert ex.outputs["direct"] == {"value": "{{vars.first}} > 2"}
    assert ex.outputs["once"] == {"value": "{{vars.first}} > 2 > 3"}


# -- labels --------------------------------------------------------------------------


# kestra: core/src/main/java/io/kestra/core/runners/RunVariables.java (labels),
# core/.../serializers/ListOrMapOfLabelDeserializer.java (String.valueOf of map values)
@pytest.mark.parametrize(
    "labels",
    [
        "labels:\n  team: data\n  critical: true\n  tier: 2",
        "labels:\n  - key: team\n    value: data\n  - key: critical\n    value: true\n"
        "  - key: tier\n    value: 2",
    ],
    ids=["map", "list"],
)
def test_labels_are_visible_in_expressions_and_on_the_execution(labels: str) -> None:
    text = (
        "id: labelled\nnamespace: conformance\n" + labels + "\n"
        "tasks:\n"
        "  - id: show\n"
        "    type: io.kestra.plugin.core.debug.Return\n"
        "    format: \"{{ labels.team }} {{ labels.critical }} {{ labels['tier'] }}\"\n"
    )
    ex, _ = run(text)
    assert ex.outputs["show"] == {"value": "data true 2"}
    assert ex.labels == {"team": "data", "critical": "true", "tier": "2"}


# kestra: core/src/test/resources/flows/invalids/system-labels.yaml, FlowValidator
def test_system_labels_are_kestras_own() -> None:
    problems = errors_of("""
        id: system-labels
        namespace: conformance
        labels:
          system.label: system_key
          system.id: id
          another: label
          system.readOnly: "true"
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: bla
    """)
    assert problems == [
        "<string>:5:3 labels.system.label: system labels can only be set by Kestra itself: "
        "'system.label'",
        "<string>:6:3 labels.system.id: system labels can only be set by Kestra itself: "
        "'system.id'",
    ]


# -- pluginDefaults ------------------------------------------------------------------


# kestra: core/src/test/java/io/kestra/core/services/PluginDefaultServiceTest.java
# (taskValueOverTaskDefaults)
def test_a_task_value_wins_over_a_plugin_default() -> None:
    assert log_levels("""
        id: defaults
        namespace: conformance
        pluginDefaults:
          - type: io.kestra.plugin.core.log.Log
            values:
              level: WARN
        tasks:
          - id: own
            type: io.kestra.plugin.core.log.Log
            message: testing
            level: INFO
          - id: defaulted
            type: io.kestra.plugin.core.log.Log
            message: defaulted
    """) == [("INFO", "testing"), ("WARN", "defaulted")]


# kestra: PluginDefaultServiceTest.prefix (an exact type listed first wins over a prefix; a
# prefix that does not match is ignored)
def test_plugin_defaults_match_a_type_prefix() -> None:
    assert log_levels("""
        id: defaults
        namespace: conformance
        pluginDefaults:
          - type: io.kestra.plugin.core.log.Log
            values:
              message: exact
          - type: io.kestra.plugin.core.
            values:
              message: prefix
              level: WARN
          - type: io.kestra.plugin.other.
            values:
              level: ERROR
        tasks:
          - id: mine
            type: io.kestra.plugin.core.log.Log
            message: mine
          - id: defaulted
            type: io.kestra.plugin.core.log.Log
    """) == [("WARN", "mine"), ("WARN", "exact")]


# kestra: PluginDefaultServiceTest.alias (a default for an old type name applies)
def test_plugin_defaults_for_an_old_type_name_apply() -> None:
    assert log_levels("""
        id: defaults
        namespace: conformance
        pluginDefaults:
          - type: io.kestra.core.tasks.log.Log
            values:
              level: ERROR
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: aliased
    """) == [("ERROR", "aliased")]


# kestra: PluginDefaultServiceTest.forced, flowDefaultsOverrideGlobalDefaults
def test_a_forced_plugin_default_wins_over_the_task_value() -> None:
    assert log_levels("""
        id: defaults
        namespace: conformance
        pluginDefaults:
          - type: io.kestra.plugin.core.log.Log
            forced: true
            values:
              level: ERROR
          - type: io.kestra.plugin.core.log.Log
            values:
              level: WARN
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: forced
            level: INFO
    """) == [("ERROR", "forced")]


# kestra: PluginDefaultServiceTest.forced (forced defaults are applied in reverse, so the
# first one listed wins)
@pytest.mark.xfail(
    strict=True,
    reason="kflow/flow/validate.py applies forced defaults in order: the last one listed wins",
)
def test_the_first_of_two_forced_plugin_defaults_wins() -> None:
    assert log_levels("""
        id: defaults
        namespace: conformance
        pluginDefaults:
          - type: io.kestra.plugin.core.log.Log
            forced: true
            values:
              level: ERROR
          - type: io.kestra.plugin.core.log.Log
            forced: true
            values:
              level: DEBUG
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: forced
    """) == [("ERROR", "forced")]


# kestra: core/src/main/java/io/kestra/core/utils/MapUtils.java (merge concatenates lists:
# the default's items, then the task's), used by PluginDefaultService.defaults
@pytest.mark.xfail(
    strict=True, reason="kflow/flow/validate.py merge_nodes replaces lists instead of joining"
)
def test_a_plugin_default_list_is_joined_with_the_task_list() -> None:
    flow = load("""
        id: defaults
        namespace: conformance
        pluginDefaults:
          - type: io.kestra.plugin.core.flow.ForEach
            values:
              values: ["a"]
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: ["b"]
            tasks:
              - id: log
                type: io.kestra.plugin.core.log.Log
                message: "{{ taskrun.value }}"
    """)
    assert flow.tasks[0].props["values"] == ["a", "b"]


# kestra: core/src/main/java/io/kestra/core/models/flows/Flow.java (taskDefaults, the old name)
def test_task_defaults_is_the_old_name_of_plugin_defaults() -> None:
    text = """
        id: defaults
        namespace: conformance
        taskDefaults:
          - type: io.kestra.plugin.core.log.Log
            values:
              level: WARN
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: old name
    """
    result = load_flow_text(textwrap.dedent(text))
    assert [d.code for d in result.warnings] == ["deprecated"]
    assert log_levels(text) == [("WARN", "old name")]


# kestra: PluginDefaultServiceTest.injectFlowAndGlobals (defaults apply to triggers too)
def test_plugin_defaults_apply_to_triggers() -> None:
    flow = load("""
        id: defaults
        namespace: conformance
        pluginDefaults:
          - type: io.kestra.plugin.kafka
            values:
              groupId: from-defaults
              properties:
                bootstrap.servers: localhost:9092
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: "{{ trigger.value }}"
        triggers:
          - id: realtime
            type: io.kestra.plugin.kafka.RealtimeTrigger
            topic: orders
    """)
    props = flow.triggers[0].props
    assert props["groupId"] == "from-defaults"
    assert props["properties"] == {"bootstrap.servers": "localhost:9092"}


# -- concurrency ---------------------------------------------------------------------


def records(count: int) -> MemorySource:
    """The given records in one batch (so they all arrive at once)."""
    return MemorySource(
        [
            KafkaRecord(value={"n": i}, topic="t", partition=0, offset=i, timestamp_ms=0)
            for i in range(count)
        ],
        batch=count,
        closed=False,
    )


def acked(source: MemorySource) -> list[int]:
    return sorted(int(r.offset) for r, _ in source.acks)  # type: ignore[attr-defined]


def serve(yaml_text: str, count: int) -> tuple[list[Execution], MemorySource]:
    flow = load(yaml_text)
    source = records(count)
    finished: list[Execution] = []
    bus = EventBus()
    bus.subscribe(
        lambda e: finished.append(e.execution) if isinstance(e, ExecutionFinished) else None
    )

    async def main() -> None:
        runner = FlowRunner(flow, bus, environ={})
        try:
            service = FlowService(runner, source, max_executions=count)
            await service.run(timeout=30)
        finally:
            await runner.close()

    asyncio.run(main())
    return sorted(finished, key=lambda e: e.trigger.offset or 0), source  # type: ignore[attr-defined]


SLEEPING = """
    id: flow-concurrency-{name}
    namespace: conformance
    concurrency:
      behavior: {behavior}
      limit: 1
    tasks:
      - id: sleep
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.1S
"""


# kestra: core/src/test/resources/flows/valids/flow-concurrency-cancel.yml,
# FlowConcurrencyCaseTest.flowConcurrencyCancel
def test_concurrency_cancel_cancels_the_second_execution() -> None:
    (first, second), source = serve(SLEEPING.format(name="cancel", behavior="CANCEL"), 2)
    assert (first.state.value, second.state.value) == ("SUCCESS", "CANCELLED")
    assert second.task_runs == []
    assert acked(source) == [0, 1]


# kestra: core/src/test/resources/flows/valids/flow-concurrency-fail.yml,
# FlowConcurrencyCaseTest.flowConcurrencyFail
def test_concurrency_fail_fails_the_second_execution() -> None:
    (first, second), source = serve(SLEEPING.format(name="fail", behavior="FAIL"), 2)
    assert (first.state.value, second.state.value) == ("SUCCESS", "FAILED")
    assert second.task_runs == []
    assert second.error == (
        "concurrency limit reached: 1 execution of flow conformance.flow-concurrency-fail "
        "already running"
    )
    assert acked(source) == [0, 1]


# kestra: core/src/test/resources/flows/valids/flow-concurrency-queue.yml,
# FlowConcurrencyCaseTest.flowConcurrencyQueue (the second waits, then runs to SUCCESS)
def test_concurrency_queue_runs_the_second_execution_after_the_first() -> None:
    (first, second), source = serve(SLEEPING.format(name="queue", behavior="QUEUE"), 2)
    assert (first.state.value, second.state.value) == ("SUCCESS", "SUCCESS")
    assert second.task_runs[0].start >= first.end
    assert acked(source) == [0, 1]


# kestra: core/src/main/java/io/kestra/core/models/flows/Concurrency.java (limit @Positive,
# behavior QUEUE by default, one of QUEUE, CANCEL, FAIL)
def test_concurrency_needs_a_positive_limit_and_a_known_behavior() -> None:
    assert load(SLEEPING.format(name="x", behavior="QUEUE")).concurrency_limit is not None
    flow = load(SLEEPING.replace("      behavior: {behavior}\n", "").format(name="d"))
    assert flow.concurrency == {"limit": 1, "behavior": "QUEUE"}
    problems = errors_of(
        SLEEPING.format(name="bad", behavior="DROP").replace("limit: 1", "limit: 0")
    )
    assert [p.split(" ", 1)[1] for p in problems] == [
        "concurrency.behavior: 'DROP' is not allowed; expected one of QUEUE, CANCEL, FAIL",
        "concurrency.limit: must be at least 1, got 0",
    ]
