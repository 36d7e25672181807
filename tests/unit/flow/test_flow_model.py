"""Loading builds the model the engine runs: defaults, nested tasks, retry, pluginDefaults."""

from __future__ import annotations

import textwrap

import pytest

from kflow.errors import FlowError
from kflow.flow import Flow, RetryPolicy, RetryType, load_flow, load_flow_text


def load(yaml: str) -> Flow:
    result = load_flow_text(textwrap.dedent(yaml), "flow.yaml")
    assert [d.format() for d in result.errors] == []
    assert result.flow is not None
    return result.flow


def problems(yaml: str) -> list[str]:
    result = load_flow_text(textwrap.dedent(yaml), "flow.yaml")
    return [d.format().removeprefix("flow.yaml:") for d in result.diagnostics]


def test_defaults_are_applied_and_aliases_resolved() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: log
            type: io.kestra.core.tasks.log.Log
            message: hi
          - id: query
            type: io.kestra.plugin.cassandra.Query
            session: {endpoints: [{hostname: db}]}
            cql: SELECT 1 FROM system.local
        """
    )
    log, query = flow.tasks
    assert log.type == "io.kestra.plugin.core.log.Log"
    assert log.spec.runner == "kflow.plugins.core:Log"
    assert log.props == {"message": "hi", "level": "INFO"}
    assert query.props["fetchType"] == "NONE"
    assert query.props["session"] == {"endpoints": [{"hostname": "db", "port": 9042}]}
    assert flow.ref == "dev.f"
    assert flow.source_path == "flow.yaml"


def test_nested_task_lists_and_cases_become_taskdefs() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.ForEach
            values: [1, 2]
            tasks:
              - id: switch
                type: io.kestra.plugin.core.flow.Switch
                value: "{{ taskrun.value }}"
                cases:
                  "1":
                    - id: one
                      type: io.kestra.plugin.core.debug.Return
                      format: one
                defaults:
                  - id: other
                    type: io.kestra.plugin.core.debug.Return
                    format: other
        """
    )
    (each,) = flow.tasks
    assert each.spec.flowable
    assert each.props["values"] == [1, 2]
    assert each.props["concurrencyLimit"] == 1
    (switch,) = each.props["tasks"]
    assert [t.id for t in switch.props["cases"]["1"]] == ["one"]
    assert [t.id for t in switch.props["defaults"]] == ["other"]
    assert switch.props["errors"] == []
    assert switch.line == 9  # the snippet starts with an empty line


def test_common_task_properties() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: [a, b]
            description: two lines
            timeout: PT1M30S
            allowFailure: true
            logLevel: DEBUG
            runIf: "{{ inputs.go }}"
            retry:
              type: exponential
              interval: PT1S
              maxInterval: PT1M
              delayFactor: 2
              maxAttempt: 4
        """
    )
    (log,) = flow.tasks
    assert log.props["message"] == ["a", "b"]
    assert log.description == "two lines"
    assert log.timeout == 90.0
    assert log.allow_failure and not log.allow_warning and not log.disabled
    assert log.log_level == "DEBUG"
    assert log.run_if == "{{ inputs.go }}"
    assert log.retry == RetryPolicy(
        type=RetryType.EXPONENTIAL,
        max_attempts=4,
        interval=1.0,
        max_interval=60.0,
        delay_factor=2,
    )


def test_flow_level_keys() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        description: d
        labels:
          - key: team
            value: data
        inputs:
          - id: x
            type: STRING
            defaults: a
        variables:
          table: products
        concurrency: {limit: 2}
        retry: {type: constant, interval: PT5S, maxAttempts: 2}
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
        errors:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: "{{ outputs.fail ?? '' }}"
        finally:
          - id: done
            type: io.kestra.plugin.core.log.Log
            message: done
        revision: 3
        """
    )
    assert flow.labels == {"team": "data"}
    assert flow.inputs == [{"id": "x", "type": "STRING", "defaults": "a"}]
    assert flow.variables == {"table": "products"}
    assert flow.concurrency == {"limit": 2, "behavior": "QUEUE"}
    assert flow.retry is not None and flow.retry.interval == 5.0
    assert [t.id for t in flow.errors] == ["log"]
    assert [t.id for t in flow.finally_] == ["done"]
    assert flow.tasks[0].props == {"errorMessage": "Task failure"}
    assert flow.revision == 3


def test_plugin_defaults_apply_by_type_and_prefix_and_forced_ones_win() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        pluginDefaults:
          - type: io.kestra.plugin.cassandra
            values:
              session:
                endpoints: [{hostname: db, port: 9043}]
                localDatacenter: dc1
              unknownToSomeTypes: ignored
          - type: io.kestra.plugin.cassandra.standard.Query
            values:
              fetchType: FETCH
          - type: io.kestra.plugin.core.log.Log
            forced: true
            values:
              level: WARN
        tasks:
          - id: query
            type: io.kestra.plugin.cassandra.Query
            session:
              localDatacenter: mine
            cql: SELECT 1 FROM system.local
          - id: other
            type: io.kestra.plugin.cassandra.Query
            fetchType: FETCH_ONE
            cql: SELECT 1 FROM system.local
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: hi
            level: DEBUG
        """
    )
    query, other, log = flow.tasks
    assert query.props["session"] == {
        "endpoints": [{"hostname": "db", "port": 9043}],
        "localDatacenter": "mine",
    }
    assert query.props["fetchType"] == "FETCH"
    assert other.props["fetchType"] == "FETCH_ONE"
    assert log.props["level"] == "WARN"


def test_task_defaults_is_the_old_name_and_warns() -> None:
    assert problems(
        """
        id: f
        namespace: dev
        taskDefaults:
          - type: io.kestra.plugin.core.log.Log
            values: {level: ERROR}
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: hi
        """
    ) == ["4:1 taskDefaults: warning: taskDefaults is the old name of pluginDefaults"]


def test_misplaced_deserializer_moves_to_the_top_level_unless_set_there() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: "{{ trigger.value }}"
        triggers:
          - id: a
            type: io.kestra.plugin.kafka.RealtimeTrigger
            topic: [orders, returns]
            groupId: g
            properties: {bootstrap.servers: "k:9092"}
            serdeProperties: {valueDeserializer: JSON, schema.registry.url: "http://r"}
          - id: b
            type: io.kestra.plugin.kafka.RealtimeTrigger
            topicPattern: "orders-.*"
            groupId: g
            valueDeserializer: STRING
            properties: {bootstrap.servers: "k:9092"}
            serdeProperties: {valueDeserializer: JSON}
        """
    )
    a, b = flow.triggers
    assert a.props["valueDeserializer"] == "JSON"
    assert a.props["serdeProperties"] == {"schema.registry.url": "http://r"}
    assert a.props["topic"] == ["orders", "returns"]
    assert a.spec.runner == "kflow.plugins.kafka_trigger:RealtimeTrigger"
    assert b.props["valueDeserializer"] == "STRING"
    assert b.props["serdeProperties"] == {"valueDeserializer": "JSON"}


def test_mongodb_update_has_upsert_and_documents_stay_as_written() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: up
            type: io.kestra.plugin.mongodb.Update
            connection: {uri: "mongodb://m"}
            database: d
            collection: c
            filter: {_id: {$oid: 60930c39a982931c20ef6cd6}}
            document: '{"$set": {"n": 1}}'
        """
    )
    (up,) = flow.tasks
    assert up.props["upsert"] is False
    assert up.props["operation"] == "UPDATE_ONE"
    assert up.props["filter"] == {"_id": {"$oid": "60930c39a982931c20ef6cd6"}}
    assert up.props["document"] == '{"$set": {"n": 1}}'


def test_declared_types_without_runtime_validate() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: labels
            type: io.kestra.plugin.core.execution.Labels
            labels: {a: b}
          - id: agg
            type: io.kestra.plugin.mongodb.Aggregate
            connection: {uri: "mongodb://m"}
            database: d
            collection: c
            pipeline: [{$match: {a: 1}}]
        """
    )
    assert flow.tasks[0].spec.runner is None
    assert flow.tasks[1].props["maxTimeMs"] == 60000


def test_every_problem_is_reported_at_once() -> None:
    assert problems(
        """
        id: f
        namespace: dev
        tasks:
          - id: a
            type: io.kestra.plugin.core.log.Log
          - id: b
            type: io.kestra.plugin.core.log.Log
            message: hi
            colour: red
          - type: io.kestra.plugin.core.log.Log
            message: no id
        """
    ) == [
        "5:5 tasks.a: missing required property 'message'",
        "10:5 tasks.b.colour: unknown property 'colour'",
        "11:5 tasks[2]: missing required property 'id' of the task",
    ]


def test_empty_and_non_mapping_documents() -> None:
    assert problems("") == ["1:1 the flow file is empty"]
    assert problems("- a\n- b\n") == ["1:1 a flow must be a mapping, got a list"]
    assert problems("id: f\nnamespace: dev\n") == ["1:1 missing required property 'tasks'"]


def test_unreadable_file_raises_flow_error(tmp_path) -> None:
    with pytest.raises(FlowError, match="cannot read the flow file"):
        load_flow(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FlowError, match="not a UTF-8 text file"):
        load_flow(binary)


def test_inputs_accept_the_old_name_key_and_any_option() -> None:
    flow = load(
        """
        id: f
        namespace: dev
        inputs:
          - name: old
            type: STRING
            required: false
          - id: new
            type: INT
            defaults: 3
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: "{{ inputs.new }}"
        """
    )
    assert [i.get("id", i.get("name")) for i in flow.inputs] == ["old", "new"]
    assert problems(
        """
        id: f
        namespace: dev
        inputs:
          - type: STRING
          - id: a
            type: STRING
          - id: a
            type: INT
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: hi
        """
    ) == [
        "5:5 inputs[0]: missing required property 'id'",
        "8:5 inputs[2]: duplicate input id 'a'",
    ]


def test_errors_of_a_flowable_task_run_after_its_other_tasks() -> None:
    assert problems(
        """
        id: f
        namespace: dev
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: work
                type: io.kestra.plugin.core.debug.Return
                format: "{{ outputs.cleanup.value }}"
            errors:
              - id: cleanup
                type: io.kestra.plugin.core.debug.Return
                format: "{{ outputs.work.value }}"
          - id: after
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.cleanup.value }} {{ outputs.work.value }}"
        """
    ) == [
        "10:21 tasks.seq.tasks.work.format: warning: outputs.cleanup: task 'cleanup' does not run "
        "before task 'work'"
    ]
