"""FlowService over any source: every record runs once, same-key order, bounded work, and
one acknowledgement per admitted record, after its execution finished."""

from __future__ import annotations

import asyncio

from engine_fakes import CALLS, Sleep, flow, records, task

from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.memory_source import MemorySource
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService, RunSummary
from kflow.engine.source import Outcome


def serve(
    values: list[object],
    *,
    keys: list[object] | None = None,
    source: MemorySource | None = None,
    tasks: list | None = None,  # type: ignore[type-arg]
    **kw: object,
) -> tuple[RunSummary, MemorySource]:
    source = source or MemorySource(records(values, keys=keys))
    f = flow(tasks or [task("s", "engine_fakes:Sleep", s=0)])

    async def main() -> RunSummary:
        runner = FlowRunner(f, environ={})
        service = FlowService(runner, source, **kw)  # type: ignore[arg-type]
        return await service.run(timeout=5)

    CALLS.clear()
    Sleep.peak = 0
    return asyncio.run(main()), source


def test_every_record_runs_and_is_acknowledged_once_then_a_finite_source_ends_the_run() -> None:
    summary, source = serve([{"sleep": 0}] * 25)
    assert summary.finished == 25
    assert summary.stopped_by == "end"
    assert summary.by_state == {"SUCCESS": 25}
    acked = [r.offset for r, _ in source.acks]  # type: ignore[attr-defined]
    assert sorted(acked) == list(range(25))
    assert source.outcomes() == [Outcome.SUCCESS] * 25
    assert source.stopped


def test_max_executions_stops_early_and_acknowledges_only_what_ran() -> None:
    summary, source = serve([{"sleep": 0}] * 30, max_executions=12)
    assert summary.finished == 12
    assert summary.stopped_by == "max-executions"
    assert sorted(r.offset for r, _ in source.acks) == list(range(12))  # type: ignore[attr-defined]


def test_a_failed_execution_is_acknowledged_as_failed() -> None:
    summary, source = serve(
        [1, 2], tasks=[task("f", "engine_fakes:FailTimes", times=5)], max_executions=2
    )
    assert summary.by_state == {"FAILED": 2}
    assert source.outcomes() == [Outcome.FAILED, Outcome.FAILED]


def test_skipped_records_are_acknowledged_without_an_execution() -> None:
    recs = records([{"sleep": 0}] * 4)
    recs[1].skip = recs[3].skip = True
    summary, source = serve([], source=MemorySource(recs))
    assert summary.started == summary.finished == 2
    assert sorted(o.value for o in source.outcomes()) == [
        "skipped",
        "skipped",
        "success",
        "success",
    ]


def test_same_key_runs_in_arrival_order_while_other_keys_overlap() -> None:
    # Earlier records sleep longer: without keyed ordering they would finish last.
    values = [{"sleep": 0.05 - i * 0.004, "i": i} for i in range(10)]
    keys = ["a", "b"] * 5
    summary, _ = serve(values, keys=keys, concurrency=8, max_executions=10)
    assert summary.finished == 10
    order_a = [v["i"] for _, v in CALLS if v["i"] % 2 == 0]
    order_b = [v["i"] for _, v in CALLS if v["i"] % 2 == 1]
    assert order_a == [0, 2, 4, 6, 8]
    assert order_b == [1, 3, 5, 7, 9]
    assert Sleep.peak == 2  # one per key at a time, both keys at once


def test_records_without_key_run_concurrently_up_to_the_limit() -> None:
    summary, _ = serve([{"sleep": 0.02}] * 20, concurrency=4, max_executions=20)
    assert summary.finished == 20
    assert Sleep.peak == 4


class WatchingSource(MemorySource):
    """Records, at each acknowledgement, which executions had finished by then."""

    def __init__(self, recs: list[TriggerRecord], finished: list[Execution]) -> None:
        super().__init__(recs, batch=10)
        self.finished = finished
        self.seen_at_ack: list[bool] = []

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        self.seen_at_ack.append(any(e.trigger is record for e in self.finished))
        super().ack(record, outcome)


def test_an_acknowledgement_comes_after_its_execution_has_finished() -> None:
    from kflow.engine.events import EventBus, ExecutionFinished

    finished: list[Execution] = []
    bus = EventBus()
    bus.subscribe(
        lambda e: finished.append(e.execution) if isinstance(e, ExecutionFinished) else None
    )
    values = [{"sleep": 0.05}] + [{"sleep": 0}] * 9
    source = WatchingSource(records(values), finished)  # type: ignore[arg-type]

    async def main() -> RunSummary:
        runner = FlowRunner(flow([task("s", "engine_fakes:Sleep", s=0)]), bus, environ={})
        return await FlowService(runner, source, concurrency=10).run(timeout=5)

    summary = asyncio.run(main())
    assert summary.finished == 10
    assert source.seen_at_ack == [True] * 10
    assert source.acks[-1][0].offset == 0  # type: ignore[attr-defined]  # the slow one, last


def test_backpressure_pauses_the_source() -> None:
    summary, source = serve([{"sleep": 0.01}] * 40, concurrency=2, max_pending=4, max_executions=40)
    assert summary.finished == 40
    assert True in source.paused_calls and source.paused_calls[-1] is False


def test_graceful_stop_finishes_in_flight_work_and_acknowledges_it() -> None:
    source = MemorySource(records([{"sleep": 0.1}] * 5), batch=5, closed=False)
    f = flow([task("s", "engine_fakes:Sleep", s=0)])

    async def main() -> RunSummary:
        service = FlowService(FlowRunner(f, environ={}), source)
        asyncio.get_running_loop().call_later(0.05, service.request_stop, "signal")
        return await service.run()

    summary = asyncio.run(main())
    assert summary.stopped_by == "signal"
    assert summary.finished == 5
    assert len(source.acks) == 5 and source.stopped


def test_a_kill_cancels_in_flight_work_and_acknowledges_none_of_it() -> None:
    source = MemorySource(records([{"sleep": 5}] * 3), batch=3, closed=False)
    f = flow([task("s", "engine_fakes:Sleep", s=0)])

    async def main() -> RunSummary:
        service = FlowService(FlowRunner(f, environ={}), source)
        asyncio.get_running_loop().call_later(0.05, service.kill)
        return await service.run()

    summary = asyncio.run(main())
    assert summary.stopped_by == "killed"
    assert source.acks == []


class RefusingSource(MemorySource):
    """Stops wanting its records after the first five (as a revoked Kafka partition)."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.admitted = 0

    def admit(self, record: TriggerRecord) -> bool:
        self.admitted += 1
        return self.admitted <= 5


def test_records_a_source_no_longer_admits_never_start_and_are_never_acknowledged() -> None:
    summary, source = serve([], source=RefusingSource(records([{"sleep": 0}] * 20), batch=5))
    assert summary.started == 5
    assert len(source.acks) == 5


def test_an_event_source_with_one_record_runs_it_once_and_ends() -> None:
    summary, source = serve([], source=MemorySource([TriggerRecord(value={"sleep": 0})]))
    assert (summary.finished, summary.stopped_by) == (1, "end")
    assert source.outcomes() == [Outcome.SUCCESS]


def test_without_ordering_same_key_records_overlap_and_are_each_acknowledged() -> None:
    values = [{"sleep": 0.05 - i * 0.004, "i": i} for i in range(10)]
    summary, source = serve(
        values, keys=["a"] * 10, concurrency=8, max_executions=10, ordered=False
    )
    assert summary.finished == 10
    assert Sleep.peak == 8  # one key, yet as many at once as the limit allows
    assert sorted(r.offset for r, _ in source.acks) == list(range(10))  # type: ignore[attr-defined]
    finished = [v["i"] for _, v in CALLS]
    assert sorted(finished) == list(range(10))
