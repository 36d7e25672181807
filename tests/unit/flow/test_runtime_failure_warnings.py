"""Problems Kestra saves a flow with, and fails the task for when it runs, are warnings
for ``kflow run``.

Kestra's ``FlowValidator`` (core/src/main/java/io/kestra/core/validations/validator/
FlowValidator.java) checks ids, inputs, outputs and labels, never templates: a flow whose
``runIf`` reads ``outputs.notexists`` is saved and that task fails
(core/src/test/resources/flows/valids/task-runif.yml, TaskWithRunIfTest.java). So the flow
loads for a run with located warnings; ``kflow validate`` reports what can never work (a
syntax error, a task the flow does not have) as an error marked ``fails_at_run`` and what
depends on the run as a warning; what Kestra refuses stays an error everywhere.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kflow.cli.app import app
from kflow.flow import load_flow, load_flow_text
from kflow.flow.loader import LoadResult

CONFORMANCE = Path(__file__).resolve().parents[2] / "fixtures" / "conformance"


def load(yaml: str) -> LoadResult:
    """As ``kflow run`` loads a flow."""
    return load_flow_text(textwrap.dedent(yaml), "flow.yaml", for_run=True)


def test_validate_reports_what_can_never_work_as_an_error_that_fails_at_run() -> None:
    text = textwrap.dedent(
        """
        id: f
        namespace: dev
        tasks:
          - id: a
            type: io.kestra.plugin.core.log.Log
            message: "{{ outputs.nosuch.value }} {{ outputs.b.value }}"
          - id: b
            type: io.kestra.plugin.core.log.Log
            message: "{{ 1 + }}"
        """
    )
    checked = load_flow_text(text, "flow.yaml")
    assert checked.flow is None
    assert [(d.severity, d.fails_at_run) for d in checked.diagnostics] == [
        ("error", True),  # outputs.nosuch: a task the flow does not have
        ("warning", False),  # outputs.b: b runs after a (depends on the run)
        ("error", True),  # the syntax error
    ]
    for_run = load_flow_text(text, "flow.yaml", for_run=True)
    assert for_run.flow is not None
    assert [d.severity for d in for_run.diagnostics] == ["warning"] * 3


def formatted(result: LoadResult) -> list[str]:
    return [d.format().removeprefix("flow.yaml:") for d in result.diagnostics]


def test_kestras_run_if_flow_loads_with_a_located_warning() -> None:
    result = load(
        """
        id: task-runif
        namespace: io.kestra.tests
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
          - id: willfailedtheflow
            type: io.kestra.plugin.core.log.Log
            runIf: "{{ outputs.notexists == 2 }}"
            message:
              - "should failed"
        """
    )
    assert result.flow is not None
    assert formatted(result) == [
        "16:16 tasks.willfailedtheflow.runIf: warning: outputs.notexists refers to a task "
        "that does not exist"
    ]
    (warning,) = result.warnings
    assert warning.code == "outputs" and warning.severity == "warning"


IF_FLOW = """
    id: f
    namespace: dev
    tasks:
      - id: if
        type: io.kestra.plugin.core.flow.If
        runIf: RUN_IF
        condition: CONDITION
        then:
          - id: when-true
            type: io.kestra.plugin.core.log.Log
            message: "yes"
      - id: later
        type: io.kestra.plugin.core.debug.Return
        format: x
    """


@pytest.mark.parametrize(
    ("run_if", "condition", "expected"),
    [
        ("'true'", "'{{ 1 + }}'", "8:24 tasks.if.condition: warning: expression is incomplete"),
        (
            "'true'",
            "'{{ x | nosuch }}'",
            "8:24 tasks.if.condition: warning: unknown filter 'nosuch'",
        ),
        ("'{% if %}y{% endif %}'", "'true'", "7:18 tasks.if.runIf: warning: empty expression"),
        (
            "'{{ outputs.later.value }}'",
            "'true'",
            "7:16 tasks.if.runIf: warning: outputs.later: task 'later' does not run before "
            "task 'if'",
        ),
    ],
)
def test_a_broken_if_condition_or_run_if_is_a_warning(
    run_if: str, condition: str, expected: str
) -> None:
    # As Kestra's if-condition.yaml and IfTest.java: the flow is saved; here the If fails.
    result = load(IF_FLOW.replace("RUN_IF", run_if).replace("CONDITION", condition))
    assert result.flow is not None
    assert formatted(result) == [expected]


def test_jq_and_json_document_problems_are_warnings() -> None:
    result = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: "{{ trigger.value | jq('.[') }}"
          - id: insert
            type: io.kestra.plugin.mongodb.InsertOne
            connection: {uri: "mongodb://localhost:27017"}
            database: d
            collection: c
            document: '{"a": 1'
        """
    )
    assert result.flow is not None
    assert [(d.key_path, d.severity, d.code) for d in result.diagnostics] == [
        ("tasks.log.message", "warning", "template"),
        ("tasks.insert.document", "warning", "document"),
    ]


def test_a_cql_syntax_error_is_a_warning_and_an_unbindable_expression_an_error() -> None:
    base = """
        id: f
        namespace: dev
        tasks:
          - id: q
            type: io.kestra.plugin.cassandra.standard.Query
            session:
              endpoints: [{hostname: 127.0.0.1, port: 9042}]
              localDatacenter: datacenter1
            cql: "CQL"
        """
    broken = load(base.replace("CQL", "SELECT * FROM t WHERE id = {{ trigger.value"))
    assert broken.flow is not None
    assert [(d.severity, d.code) for d in broken.diagnostics] == [("warning", "cql")]
    unbindable = load(base.replace("CQL", "SELECT * FROM {{ vars.table }}"))
    assert unbindable.flow is None
    assert [(d.severity, d.code) for d in unbindable.diagnostics] == [("error", "cql")]


def test_a_trigger_template_stays_an_error() -> None:
    # A trigger's properties are rendered when `kflow run` starts, before any task.
    result = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: hi
        triggers:
          - id: orders
            type: io.kestra.plugin.kafka.RealtimeTrigger
            topic: "{{ vars.topic"
            groupId: "{{ outputs.log.value }}"
            properties:
              bootstrap.servers: localhost:9092
        """
    )
    assert result.flow is None
    assert [(d.key_path, d.severity, d.code) for d in result.diagnostics] == [
        ("triggers.orders.topic", "error", "template"),
        ("triggers.orders.groupId", "error", "outputs"),
    ]


def test_what_kestra_refuses_at_save_stays_an_error_beside_the_warnings() -> None:
    result = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: a
            type: io.kestra.plugin.core.log.Logg
            message: "{{ outputs.nope.value }}"
          - id: b
            type: io.kestra.plugin.core.log.Log
            message: "{{ outputs.nope.value }}"
          - id: b
            type: io.kestra.plugin.core.debug.Return
          - id: c
            type: io.kestra.plugin.core.flow.If
            then:
              - id: d
                type: io.kestra.plugin.core.log.Log
        """
    )
    assert result.flow is None
    assert [(d.line, d.severity, d.code) for d in result.diagnostics] == [
        (6, "error", "unknown-type"),
        (10, "warning", "outputs"),
        (11, "error", "duplicate-id"),
        (13, "error", "missing-property"),
        (16, "error", "missing-property"),
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "error-missing-task-output.yaml",
            "outputs.lookup_customers refers to a task that does not exist; did you mean "
            "'lookup_customer'?",
        ),
        (
            "error-output-read-too-early.yaml",
            "outputs.compute_total: task 'compute_total' does not run before task 'announce'",
        ),
    ],
)
def test_the_conformance_flows_reading_missing_outputs_load_with_a_warning(
    name: str, message: str
) -> None:
    result = load_flow(CONFORMANCE / name, for_run=True)
    assert result.flow is not None
    assert [d.message for d in result.warnings] == [message]
    assert result.errors == []


def test_kflow_validate_exits_0_on_warnings_only(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(
        textwrap.dedent(
            """
            id: f
            namespace: dev
            tasks:
              - id: log
                type: io.kestra.plugin.core.log.Log
                message: "{{ outputs.later.value }}"
              - id: later
                type: io.kestra.plugin.core.debug.Return
                format: x
            """
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{path}:7:18 tasks.log.message: warning: outputs.later: task 'later' does not run "
        "before task 'log'\n"
        "✓ dev.f\n"
        "1 flow checked: 1 valid, 0 invalid; 0 errors, 1 warning\n"
    )
