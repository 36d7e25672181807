"""Core and flowable tasks run from inline flows, as users write them."""

from __future__ import annotations

import asyncio
import textwrap

import pytest
from shared_corpus import CONFORMANCE, kestra_flow

from kflow.engine.events import EventBus, LogEmitted
from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.flow import load_flow, load_flow_text


def execute(yaml_text: str, value: object = None) -> tuple[Execution, list[str]]:
    result = load_flow_text(textwrap.dedent(yaml_text))
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    return run_flow(result.flow, value)


def run_flow(flow, value: object = None) -> tuple[Execution, list[str]]:  # type: ignore[no-untyped-def]
    logs: list[str] = []
    bus = EventBus()
    bus.subscribe(lambda e: logs.append(e.entry.message) if isinstance(e, LogEmitted) else None)

    async def main() -> Execution:
        runner = FlowRunner(flow, bus, environ={})
        try:
            return await runner.execute(TriggerRecord(value=value))
        finally:
            await runner.close()

    return asyncio.run(main()), logs


def test_log_output_values_and_return() -> None:
    ex, logs = execute(
        """
        id: f
        namespace: t
        tasks:
          - id: values
            type: io.kestra.plugin.core.output.OutputValues
            values:
              total: "{{ trigger.value.price * 2 }}"
              name: "{{ trigger.value.name | upper }}"
          - id: ret
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.values.values.name }}-{{ outputs.values.values.total }}"
          - id: log
            type: io.kestra.core.tasks.log.Log
            message:
              - "first {{ outputs.ret.value }}"
              - "second"
    """,
        {"price": 2.5, "name": "ada"},
    )
    assert ex.state.value == "SUCCESS"
    assert ex.outputs["values"] == {"values": {"total": "5.0", "name": "ADA"}}
    assert ex.outputs["ret"] == {"value": "ADA-5.0"}
    assert logs == ["first ADA-5.0", "second"]


@pytest.mark.parametrize(("total", "branch"), [(900, "big"), (10, "small")])
def test_if_runs_one_branch(total: int, branch: str) -> None:
    ex, logs = execute(
        """
        id: f
        namespace: t
        tasks:
          - id: route
            type: io.kestra.plugin.core.flow.If
            condition: "{{ trigger.value.total >= 500 }}"
            then:
              - id: big
                type: io.kestra.plugin.core.log.Log
                message: big
            else:
              - id: small
                type: io.kestra.plugin.core.log.Log
                message: small
    """,
        {"total": total},
    )
    assert logs == [branch]
    assert [r.task_id for r in ex.task_runs] == ["route", branch]
    assert ex.task_runs[1].parent_id == ex.task_runs[0].id


@pytest.mark.parametrize(("value", "ran"), [("B", "b"), ("Z", "other")])
def test_switch_picks_the_case_or_defaults(value: str, ran: str) -> None:
    ex, logs = execute(
        """
        id: f
        namespace: t
        tasks:
          - id: sw
            type: io.kestra.plugin.core.flow.Switch
            value: "{{ trigger.value }}"
            cases:
              A:
                - {id: a, type: io.kestra.plugin.core.log.Log, message: a}
              B:
                - {id: b, type: io.kestra.plugin.core.log.Log, message: b}
            defaults:
              - {id: other, type: io.kestra.plugin.core.log.Log, message: other}
    """,
        value,
    )
    assert logs == [ran]
    assert ex.outputs["sw"]["value"] == value


def test_foreach_gives_each_value_to_its_children_and_parent_to_theirs() -> None:
    flow = load_flow(kestra_flow("core-ForEach-1.yaml")).flow
    ex, _ = run_flow(flow)
    assert ex.state.value == "SUCCESS"
    assert ex.outputs["before_if"] == {
        "value 1": {"value": "Before if value 1"},
        "value 2": {"value": "Before if value 2"},
        "value 3": {"value": "Before if value 3"},
    }
    assert [r.value for r in ex.task_runs if r.task_id == "before_if"] == [
        "value 1",
        "value 2",
        "value 3",
    ]
    after = [r for r in ex.task_runs if r.task_id == "after_if"]
    assert len(after) == 1
    # keyed by the value of its enclosing loop, as Kestra's Execution.outputs does
    assert ex.outputs["after_if"] == {"value 2": {"value": "After if value 2"}}


def test_kestra_restart_each_flow_runs_lazy_ternaries_and_nested_loops() -> None:
    flow = load_flow(kestra_flow("core-testflow-restart-each.yaml")).flow
    ex, logs = run_flow(flow)
    assert ex.state.value == "SUCCESS"
    assert logs == ["0"] * (3 + 9)
    assert ex.outputs["2_end"]["value"].startswith("2_end > 20")


def test_conformance_foreach_flow_gives_values_to_children_and_parent_to_theirs() -> None:
    flow = load_flow(CONFORMANCE / "core-foreach.yaml").flow
    ex, logs = run_flow(flow)
    assert ex.state.value == "SUCCESS"
    assert ex.outputs["city_name"] == {
        "Lyon": {"value": "city Lyon"},
        "Porto": {"value": "city Porto"},
        "Gdansk": {"value": "city Gdansk"},
    }
    assert ex.outputs["porto_found"] == {"Porto": {"value": "found Porto"}}
    # each_size runs its iterations concurrently (concurrencyLimit: 0), each_sku one by one.
    assert sorted(logs[:3]) == ["batch size 1", "batch size 2", "batch size 3"]
    assert logs[3:] == ["restock sku-001", "restock sku-002"]


def test_conformance_pebble_operators_flow_prints_what_pebble_prints() -> None:
    flow = load_flow(CONFORMANCE / "expr-null-coalescing.yaml").flow
    ex, logs = run_flow(flow)
    assert ex.state.value == "SUCCESS"
    assert logs == [
        "hello stranger",
        "maybe null: ",
        "both missing",
        "no nickname",
        "DEAR GUEST",
        "no email",
    ]
    assert ex.outputs["lazy_branch"] == {"value": "anonymous"}


def test_parallel_runs_children_together_and_sequential_in_order() -> None:
    ex, logs = execute("""
        id: f
        namespace: t
        tasks:
          - id: par
            type: io.kestra.plugin.core.flow.Parallel
            concurrent: 2
            tasks:
              - id: seq
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - {id: s1, type: io.kestra.plugin.core.log.Log, message: s1}
                  - {id: s2, type: io.kestra.plugin.core.log.Log, message: s2}
              - {id: p2, type: io.kestra.plugin.core.log.Log, message: p2}
    """)
    assert ex.state.value == "SUCCESS"
    assert sorted(logs) == ["p2", "s1", "s2"]
    assert logs.index("s1") < logs.index("s2")


def test_fail_with_condition_and_errors_branch_sees_error_logs() -> None:
    ex, logs = execute(
        """
        id: f
        namespace: t
        tasks:
          - id: check
            type: io.kestra.plugin.core.execution.Fail
            condition: "{{ trigger.value.qty < 1 }}"
            errorMessage: "bad quantity {{ trigger.value.qty }}"
          - {id: never, type: io.kestra.plugin.core.log.Log, message: never}
        errors:
          - id: report
            type: io.kestra.plugin.core.log.Log
            message: "{{ errorLogs() | first | jq('.message') | first }}"
    """,
        {"qty": 0},
    )
    assert ex.state.value == "FAILED"
    assert ex.error == "task check: bad quantity 0"
    assert logs == ["bad quantity 0"]


def test_a_child_failure_fails_its_parent_unless_allowed() -> None:
    ex, _ = execute("""
        id: f
        namespace: t
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - {id: boom, type: io.kestra.plugin.core.execution.Fail, allowFailure: true}
              - {id: after, type: io.kestra.plugin.core.log.Log, message: still}
    """)
    assert ex.state.value == "WARNING"
    # As Kestra's Worker: the allowed failure itself ends in WARNING, and so does its parent.
    assert {r.task_id: r.state.value for r in ex.task_runs} == {
        "seq": "WARNING",
        "boom": "WARNING",
        "after": "SUCCESS",
    }
