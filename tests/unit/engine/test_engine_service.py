"""FlowService: every record runs, same-key order, bounded work, commits only what finished."""

from __future__ import annotations

import asyncio

from engine_fakes import CALLS, FakeSource, Sleep, flow, records, task

from kflow.engine.execution import TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService, RunSummary


def serve(
    values: list[object], *, keys: list[object] | None = None, **kw: object
) -> tuple[RunSummary, FakeSource]:
    source = FakeSource(records(values, keys=keys))
    f = flow([task("s", "engine_fakes:Sleep", s=0)])

    async def main() -> RunSummary:
        runner = FlowRunner(f, environ={})
        service = FlowService(runner, source, commit_interval=0.01, **kw)  # type: ignore[arg-type]
        return await service.run(timeout=kw.pop("timeout", None) if False else 5)

    CALLS.clear()
    Sleep.peak = 0
    return asyncio.run(main()), source


def test_every_record_runs_and_the_final_commit_is_past_the_last() -> None:
    summary, source = serve([{"sleep": 0}] * 25, max_executions=25)
    assert summary.finished == 25
    assert summary.by_state == {"SUCCESS": 25}
    assert source.committed() == {("t", 0): 25}


def test_max_executions_stops_early_and_commits_only_what_ran() -> None:
    summary, source = serve([{"sleep": 0}] * 30, max_executions=12)
    assert summary.finished == 12
    assert summary.stopped_by == "max-executions"
    assert source.committed() == {("t", 0): 12}


def test_same_key_runs_in_offset_order_while_other_keys_overlap() -> None:
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


def test_commit_never_passes_an_unfinished_record() -> None:
    # Record 0 is slow; records 1..9 finish first. No commit may reach past 0 before it ends.
    values = [{"sleep": 0.3}] + [{"sleep": 0}] * 9
    summary, source = serve(values, concurrency=10, max_executions=10)
    assert summary.finished == 10
    early = [c[("t", 0)] for c in source.commits if ("t", 0) in c]
    assert early and early[0] == 0  # the first commits hold at the slow record
    assert source.committed() == {("t", 0): 10}


def test_backpressure_pauses_the_source() -> None:
    summary, source = serve([{"sleep": 0.01}] * 40, concurrency=2, max_pending=4, max_executions=40)
    assert summary.finished == 40
    assert True in source.paused_calls and source.paused_calls[-1] is False


def test_graceful_stop_finishes_in_flight_work() -> None:
    source = FakeSource(records([{"sleep": 0.1}] * 5, keys=None), batch=5)
    f = flow([task("s", "engine_fakes:Sleep", s=0)])

    async def main() -> RunSummary:
        service = FlowService(FlowRunner(f, environ={}), source, commit_interval=0.01)
        asyncio.get_running_loop().call_later(0.05, service.request_stop, "signal")
        return await service.run()

    summary = asyncio.run(main())
    assert summary.stopped_by == "signal"
    assert summary.finished == 5
    assert source.committed() == {("t", 0): 5}


class RevokingSource(FakeSource):
    """Its partition is revoked after the first batch: later records are not current."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.revoked_at: dict[tuple[str, int], int] | None = None
        self.served = 0

    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        batch = await super().next_batch(timeout)
        self.served += len(batch)
        if self.served > 5 and self.revoked_at is None and self.on_revoked is not None:
            self.revoked_at = self.on_revoked([("t", 0)])
        return batch

    def is_current(self, record: TriggerRecord) -> bool:
        return self.revoked_at is None


def test_records_of_a_revoked_partition_never_start_and_the_revoke_gets_the_resume_point() -> None:
    source = RevokingSource(records([{"sleep": 0}] * 20), batch=5)
    f = flow([task("s", "engine_fakes:Sleep", s=0)])

    async def main() -> RunSummary:
        service = FlowService(FlowRunner(f, environ={}), source, commit_interval=0.01)
        return await service.run(timeout=0.5)

    CALLS.clear()
    summary = asyncio.run(main())
    # the first batch ran; the one served with the revoke, and every later one, did not
    assert summary.started == 5
    assert source.revoked_at is not None
    assert source.revoked_at[("t", 0)] <= 5
    assert source.final == {}
