"""The Prometheus metrics of ``kflow run``, in a registry of their own.

Every family is built when ``/metrics`` is scraped (one collector). Per execution, the
event listener (:meth:`RunMetrics.__call__`) only adds to plain counts, on the event loop
and without a lock: a bucket of the execution's duration, one per task run, retries.
What the service already counts (executions by state, records, dead letters, in flight)
and what the trigger knows (backlog per stream, its state) is read at scrape time from
:class:`FlowSnapshot` values the event loop hands over. Counts no event shows
(acknowledgements, Kafka commits and rebalances) come from the source's ``counter``
callback (``RecordSource.counted``).

``prometheus_client``'s own ``Histogram`` takes a lock per bucket and per sum on each
observation: several times the cost of these counts, for nothing, since the listener runs
on one thread.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from kflow.engine.events import Event, ExecutionFinished, TaskRunFinished
from kflow.engine.source import Outcome
from kflow.observe.readiness import not_ready_reason
from kflow.observe.snapshot import FlowSnapshot

DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Seconds: executions of a realtime flow take milliseconds; a retried one may take minutes."""

FLOW_LABELS = ("namespace", "flow")
ACK_OUTCOMES = tuple(o.value for o in Outcome)
REBALANCE_EVENTS = ("assigned", "revoked", "lost")
COMMIT_RESULTS = ("ok", "failed")

SourceCounter = Callable[[str, str, int], None]
CountKey = tuple[str, str, str, str]  # namespace, flow, what, kind
TaskKey = tuple[str, str, str, str]  # namespace, flow, task id, task type


class DurationHistogram:
    """Observations counted per bucket of :data:`DURATION_BUCKETS` (the last: above them all),
    and their sum; written by one thread, read by a scrape."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(DURATION_BUCKETS, seconds)] += 1  # bucket i: <= bound i
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        """The ``le`` buckets of the exposition, ``+Inf`` last (the count)."""
        counts, out, running = list(self.counts), [], 0
        for bound, n in zip((*DURATION_BUCKETS, float("inf")), counts, strict=True):
            running += n
            out.append((floatToGoString(bound), float(running)))
        return out


class RunMetrics:
    """The listener and the registry: subscribe it to the run's bus, serve ``registry``."""

    def __init__(self, snapshots: Callable[[], Sequence[FlowSnapshot]]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.executions: dict[tuple[str, str], DurationHistogram] = {}
        self.task_runs: dict[TaskKey, DurationHistogram] = {}
        self.retries: dict[tuple[str, str, str], int] = {}
        self._acks: dict[tuple[str, str], dict[str, int]] = {}  # written on the loop only
        self._counts: dict[CountKey, int] = {}  # from the source's threads, under the lock
        self._lock = threading.Lock()
        self.registry.register(_ScrapeTimeCollector(snapshots, self))

    # the event listener (on the event loop) ------------------------------------------------

    def __call__(self, event: Event) -> None:
        kind = type(event)
        if kind is TaskRunFinished:
            assert isinstance(event, TaskRunFinished)
            self._task_run(event)
        elif kind is ExecutionFinished:
            execution = event.execution  # type: ignore[union-attr]
            key = (execution.namespace, execution.flow_id)
            histogram = self.executions.get(key)
            if histogram is None:
                histogram = self.executions[key] = DurationHistogram()
            histogram.observe(execution.duration_ms / 1000)

    def _task_run(self, event: TaskRunFinished) -> None:
        execution, run = event.execution, event.task_run
        key = (execution.namespace, execution.flow_id, run.task_id, run.type)
        histogram = self.task_runs.get(key)
        if histogram is None:
            histogram = self.task_runs[key] = DurationHistogram()
        histogram.observe(run.duration_ms / 1000)
        if run.attempts > 1:
            retry_key = key[:3]
            self.retries[retry_key] = self.retries.get(retry_key, 0) + run.attempts - 1

    # the source's counter --------------------------------------------------------------------

    def source_counter(self, namespace: str, flow_id: str) -> SourceCounter:
        """The ``RecordSource.counter`` of one flow's source. Acknowledgements come from the
        event loop (the service): counted without a lock; the rest from any thread."""
        acks = self._acks.setdefault((namespace, flow_id), dict.fromkeys(ACK_OUTCOMES, 0))

        def count(what: str, kind: str, n: int) -> None:
            if what == "ack":
                acks[kind] += n
                return
            key = (namespace, flow_id, what, kind)
            with self._lock:
                self._counts[key] = self._counts.get(key, 0) + n
                if what == "rebalance" and (n or kind == "assigned"):
                    # n counts the partitions moved; the rebalance itself is counted too
                    # (every one ends in an assignment, perhaps empty; an empty revoke is none)
                    calls = (namespace, flow_id, "rebalance-calls", kind)
                    self._counts[calls] = self._counts.get(calls, 0) + 1

        return count

    def counted(self, snapshot: FlowSnapshot, what: str, kind: str) -> int:
        if what == "ack":
            return self._acks.get((snapshot.namespace, snapshot.flow_id), {}).get(kind, 0)
        with self._lock:
            return self._counts.get((snapshot.namespace, snapshot.flow_id, what, kind), 0)

    def event_families(self) -> list[Metric]:
        """The families the listener counts: durations and retries."""
        executions = HistogramMetricFamily(
            "kflow_execution_duration_seconds",
            "Duration of finished executions, from start to end.",
            labels=FLOW_LABELS,
        )
        for key, histogram in list(self.executions.items()):
            buckets = histogram.cumulative()
            executions.add_metric(list(key), buckets, histogram.sum)
        task_runs = HistogramMetricFamily(
            "kflow_task_run_duration_seconds",
            "Duration of finished task runs, all attempts included.",
            labels=(*FLOW_LABELS, "task_id", "task_type"),
        )
        for task_key, histogram in list(self.task_runs.items()):
            task_runs.add_metric(list(task_key), histogram.cumulative(), histogram.sum)
        retries = CounterMetricFamily(
            "kflow_task_retries",
            "Task attempts beyond the first.",
            labels=(*FLOW_LABELS, "task_id"),
        )
        for retry_key, n in list(self.retries.items()):
            retries.add_metric(list(retry_key), n)
        return [executions, task_runs, retries]


class _ScrapeTimeCollector(Collector):
    """The metrics computed when scraped, from the flows' snapshots."""

    def __init__(self, snapshots: Callable[[], Sequence[FlowSnapshot]], metrics: RunMetrics):
        self._snapshots = snapshots
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        families = scrape_families(self._snapshots(), self._metrics.counted)
        return [*self._metrics.event_families(), *families]


def scrape_families(
    snapshots: Sequence[FlowSnapshot], counted: Callable[[FlowSnapshot, str, str], int]
) -> list[Metric]:
    """The families a scrape computes; ``counted(snapshot, what, kind)`` reads the source's
    counts (acks, commits, rebalances)."""
    executions = CounterMetricFamily(
        "kflow_executions",
        "Executions finished (after their dead-letter copy, if any), by final state.",
        labels=(*FLOW_LABELS, "state"),
    )
    received = CounterMetricFamily(
        "kflow_records_received",
        "Records the trigger handed over and kflow took on (executions started, plus records "
        "the trigger's filters skipped).",
        labels=FLOW_LABELS,
    )
    in_flight = GaugeMetricFamily(
        "kflow_executions_in_flight",
        "Records taken on whose execution has not finished (running or waiting on its key).",
        labels=FLOW_LABELS,
    )
    dead = CounterMetricFamily(
        "kflow_dead_lettered",
        "Records of failed executions sent to the dead-letter target.",
        labels=FLOW_LABELS,
    )
    acks = CounterMetricFamily(
        "kflow_acks",
        "Records acknowledged to the source (Kafka: marked committable), by outcome.",
        labels=(*FLOW_LABELS, "outcome"),
    )
    commits = CounterMetricFamily(
        "kflow_commits",
        "Kafka offset commits sent to the group coordinator, by result.",
        labels=(*FLOW_LABELS, "result"),
    )
    rebalances = CounterMetricFamily(
        "kflow_rebalances",
        "Kafka consumer-group rebalance callbacks, by event (assigned, revoked, lost).",
        labels=(*FLOW_LABELS, "event"),
    )
    moved = CounterMetricFamily(
        "kflow_rebalance_partitions",
        "Kafka partitions assigned, revoked or lost by rebalances.",
        labels=(*FLOW_LABELS, "event"),
    )
    errors = CounterMetricFamily(
        "kflow_connection_errors",
        "Connections lost or broker requests failed that the trigger carried on after.",
        labels=(*FLOW_LABELS, "service"),
    )
    backlog = GaugeMetricFamily(
        "kflow_backlog",
        "Messages waiting to be read, per stream (Kafka partition, queue, topic filter); "
        "absent where the broker does not say.",
        labels=(*FLOW_LABELS, "stream"),
    )
    streams = GaugeMetricFamily(
        "kflow_trigger_streams",
        "Streams the trigger reads now (Kafka: partitions assigned).",
        labels=FLOW_LABELS,
    )
    ready = GaugeMetricFamily(
        "kflow_trigger_ready",
        "1 when the trigger is connected and reading (what /readyz answers), else 0.",
        labels=FLOW_LABELS,
    )
    for s in snapshots:
        flow = [s.namespace, s.flow_id]
        for state, n in sorted(s.by_state.items()):
            executions.add_metric([*flow, state], n)
        skipped = counted(s, "ack", Outcome.SKIPPED.value)
        received.add_metric(flow, s.started + skipped)
        in_flight.add_metric(flow, s.in_flight)
        dead.add_metric(flow, s.dead_lettered)
        for outcome in ACK_OUTCOMES:
            acks.add_metric([*flow, outcome], counted(s, "ack", outcome))
        if s.service == "kafka":
            for result in COMMIT_RESULTS:
                commits.add_metric([*flow, result], counted(s, "commit", result))
            for event in REBALANCE_EVENTS:
                moved.add_metric([*flow, event], counted(s, "rebalance", event))
                rebalances.add_metric([*flow, event], counted(s, "rebalance-calls", event))
        errors.add_metric([*flow, s.service], s.reconnects)
        for stream in s.status.streams:
            if stream.backlog is not None:
                backlog.add_metric([*flow, stream.name], stream.backlog)
        streams.add_metric(flow, len(s.status.streams))
        ready.add_metric(flow, 1 if not_ready_reason(s) is None else 0)
    families: list[Metric] = [
        executions,
        received,
        in_flight,
        dead,
        acks,
        commits,
        rebalances,
        moved,
        errors,
        backlog,
        streams,
        ready,
    ]
    return [f for f in families if f.samples or f.name in _ALWAYS]


_ALWAYS = frozenset({"kflow_executions", "kflow_executions_in_flight", "kflow_trigger_ready"})
