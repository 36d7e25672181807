"""The run's metrics: histograms and retries from events, the rest computed when scraped."""

from __future__ import annotations

from observe_helpers import labels, scrape

from kflow.engine.events import (
    ExecutionFinished,
    ExecutionStarted,
    StreamStatus,
    TaskRunFinished,
    TriggerStatus,
)
from kflow.engine.execution import Execution, TaskRun, TriggerRecord
from kflow.engine.states import State
from kflow.observe.metrics import DurationHistogram, RunMetrics
from kflow.observe.snapshot import FlowSnapshot

FLOW = {"namespace": "shop", "flow": "orders"}


def execution(seconds: float, state: State = State.SUCCESS) -> Execution:
    e = Execution("id", "shop", "orders", TriggerRecord(value=1), state=state)
    e.start, e.end = 100.0, 100.0 + seconds
    return e


def task_run(task_id: str, seconds: float, attempts: int = 1) -> TaskRun:
    return TaskRun(
        "tr",
        task_id,
        "io.kestra.plugin.core.log.Log",
        attempts=attempts,
        start=5.0,
        end=5.0 + seconds,
    )


def snapshot(**kw: object) -> FlowSnapshot:
    status = kw.pop("status", TriggerStatus("kafka orders", "running", ()))
    return FlowSnapshot("shop", "orders", str(kw.pop("service", "kafka")), status, **kw)  # type: ignore[arg-type]


def test_execution_and_task_run_durations_are_histograms_by_flow_and_task() -> None:
    metrics = RunMetrics(lambda: [])
    for seconds in (0.004, 0.02, 0.3):
        e = execution(seconds)
        metrics(ExecutionStarted(e))
        metrics(TaskRunFinished(e, task_run("lookup", seconds / 2)))
        metrics(ExecutionFinished(e))
    samples = scrape(metrics.registry)
    flow = labels(**FLOW)
    assert samples[("kflow_execution_duration_seconds_count", flow)] == 3
    assert abs(samples[("kflow_execution_duration_seconds_sum", flow)] - 0.324) < 1e-9
    assert samples[("kflow_execution_duration_seconds_bucket", flow | labels(le="0.005"))] == 1
    assert samples[("kflow_execution_duration_seconds_bucket", flow | labels(le="0.025"))] == 2
    assert samples[("kflow_execution_duration_seconds_bucket", flow | labels(le="+Inf"))] == 3
    task = flow | labels(task_id="lookup", task_type="io.kestra.plugin.core.log.Log")
    assert samples[("kflow_task_run_duration_seconds_count", task)] == 3


def test_attempts_beyond_the_first_count_as_retries() -> None:
    metrics = RunMetrics(lambda: [])
    e = execution(0.01)
    metrics(TaskRunFinished(e, task_run("call", 0.01, attempts=3)))
    metrics(TaskRunFinished(e, task_run("call", 0.01, attempts=1)))
    metrics(TaskRunFinished(e, task_run("call", 0.01, attempts=2)))
    samples = scrape(metrics.registry)
    assert samples[("kflow_task_retries_total", labels(**FLOW, task_id="call"))] == 3


def test_totals_backlog_and_readiness_come_from_the_snapshot_at_scrape_time() -> None:
    streams = (
        StreamStatus("orders[0]", 7),
        StreamStatus("orders[1]", 0),
        StreamStatus("x[0]", None),
    )
    current = [
        snapshot(
            status=TriggerStatus("kafka orders", "running", streams),
            in_flight=4,
            started=12,
            by_state={"SUCCESS": 6, "FAILED": 2},
            dead_lettered=2,
            reconnects=3,
        )
    ]
    metrics = RunMetrics(lambda: current)
    samples = scrape(metrics.registry)
    flow = labels(**FLOW)
    assert samples[("kflow_executions_total", flow | labels(state="SUCCESS"))] == 6
    assert samples[("kflow_executions_total", flow | labels(state="FAILED"))] == 2
    assert samples[("kflow_records_received_total", flow)] == 12
    assert samples[("kflow_executions_in_flight", flow)] == 4
    assert samples[("kflow_dead_lettered_total", flow)] == 2
    assert samples[("kflow_connection_errors_total", flow | labels(service="kafka"))] == 3
    assert samples[("kflow_backlog", flow | labels(stream="orders[0]"))] == 7
    assert samples[("kflow_backlog", flow | labels(stream="orders[1]"))] == 0
    assert ("kflow_backlog", flow | labels(stream="x[0]")) not in samples  # the broker did not say
    assert samples[("kflow_trigger_streams", flow)] == 3
    assert samples[("kflow_trigger_ready", flow)] == 1

    current[0] = snapshot(status=TriggerStatus("kafka orders", "running", ()))  # no partitions
    assert scrape(metrics.registry)[("kflow_trigger_ready", flow)] == 0


def test_the_source_counter_counts_acks_commits_and_rebalances() -> None:
    current = [snapshot(started=3)]
    metrics = RunMetrics(lambda: current)
    count = metrics.source_counter("shop", "orders")
    for outcome in ("success", "success", "dead-lettered", "skipped"):
        count("ack", outcome, 1)
    count("commit", "ok", 1)
    count("rebalance", "revoked", 0)  # the empty revoke of a first join: no rebalance
    count("rebalance", "assigned", 3)
    count("rebalance", "revoked", 3)
    count("rebalance", "assigned", 2)
    samples = scrape(metrics.registry)
    flow = labels(**FLOW)
    assert samples[("kflow_acks_total", flow | labels(outcome="success"))] == 2
    assert samples[("kflow_acks_total", flow | labels(outcome="dead-lettered"))] == 1
    assert samples[("kflow_acks_total", flow | labels(outcome="failed"))] == 0
    assert samples[("kflow_records_received_total", flow)] == 4  # 3 started + 1 skipped
    assert samples[("kflow_commits_total", flow | labels(result="ok"))] == 1
    assert samples[("kflow_rebalances_total", flow | labels(event="assigned"))] == 2
    assert samples[("kflow_rebalances_total", flow | labels(event="revoked"))] == 1
    assert samples[("kflow_rebalance_partitions_total", flow | labels(event="assigned"))] == 5
    assert samples[("kflow_rebalance_partitions_total", flow | labels(event="revoked"))] == 3


def test_kafka_only_families_are_left_out_for_other_sources() -> None:
    metrics = RunMetrics(lambda: [snapshot(service="amqp")])
    names = {name for name, _ in scrape(metrics.registry)}
    assert "kflow_acks_total" in names
    assert not {"kflow_commits_total", "kflow_rebalances_total"} & names


def test_a_duration_on_a_bucket_bound_counts_in_that_bucket() -> None:
    histogram = DurationHistogram()
    for seconds in (0.001, 0.0011, 61.0):
        histogram.observe(seconds)
    buckets = dict(histogram.cumulative())
    assert (buckets["0.001"], buckets["0.0025"], buckets["60.0"], buckets["+Inf"]) == (1, 2, 2, 3)
