"""The flow's ``concurrency`` in FlowService: QUEUE bounds, CANCEL and FAIL refuse at once.

Executions hold (``engine_fakes.Hold``) until the test releases them, so every case
awaits conditions instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from engine_fakes import Hold, flow, records, settle, task, until

from kflow.console.records import execution_record
from kflow.engine.events import EventBus, ExecutionFinished, ExecutionStarted, LogEmitted
from kflow.engine.execution import Execution
from kflow.engine.memory_source import MemorySource
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService, RunSummary
from kflow.flow.model import Concurrency, ConcurrencyBehavior, Flow


def held_flow(behavior: str | None = None, limit: int | None = None) -> Flow:
    concurrency: dict[str, Any] | None = None
    if limit is not None:
        concurrency = {"limit": limit, "behavior": behavior or "QUEUE"}
    return flow([task("hold", "engine_fakes:Hold")], concurrency=concurrency, labels={"team": "t"})


class Run:
    """A FlowService over a MemorySource, driven from the test's event loop."""

    def __init__(self, f: Flow, values: list[Any], **kw: Any) -> None:
        self.source = MemorySource(
            records(values, keys=kw.pop("keys", None)), batch=50, closed=False
        )
        self.events: list[object] = []
        bus = EventBus()
        bus.subscribe(self.events.append)
        kw.setdefault("max_executions", len(values))
        self.service = FlowService(FlowRunner(f, bus, environ={}), self.source, **kw)

    @property
    def started(self) -> list[Any]:
        return [e.execution.trigger.value for e in self.events if isinstance(e, ExecutionStarted)]

    @property
    def finished(self) -> list[Execution]:
        return [e.execution for e in self.events if isinstance(e, ExecutionFinished)]

    def acked(self) -> list[int]:
        """Offsets acknowledged so far, sorted."""
        return sorted(int(r.offset) for r, _ in self.source.acks)  # type: ignore[attr-defined]

    def states(self) -> list[str]:
        return [e.state.value for e in self.finished]


def drive(run: Run, scenario: Callable[[Run], Awaitable[None]]) -> RunSummary:
    async def main() -> RunSummary:
        Hold.reset()
        serving = asyncio.create_task(run.service.run(timeout=10))
        try:
            await scenario(run)
        finally:
            Hold.release.set()
        return await serving

    return asyncio.run(main())


# -- QUEUE ------------------------------------------------------------------------


def test_queue_runs_at_most_limit_executions_and_the_rest_wait() -> None:
    run = Run(held_flow("QUEUE", 2), [{"i": i} for i in range(6)])

    async def scenario(r: Run) -> None:
        await until(lambda: Hold.running == 2 and r.service.pending == 6, what="2 held, 6 pending")
        await settle()
        assert (Hold.running, Hold.entered, r.finished) == (2, 2, [])

    summary = drive(run, scenario)
    assert summary.by_state == {"SUCCESS": 6}
    assert Hold.peak == 2
    assert run.acked() == list(range(6))


def test_queue_bound_is_the_smaller_of_limit_and_the_service_concurrency() -> None:
    run = Run(held_flow("QUEUE", 5), [{}] * 6, concurrency=3)
    assert run.service.concurrency == 3

    async def scenario(r: Run) -> None:
        await until(lambda: Hold.running == 3 and r.service.pending == 6, what="3 held")
        await settle()
        assert Hold.entered == 3

    assert drive(run, scenario).by_state == {"SUCCESS": 6}
    assert Run(held_flow("QUEUE", 2), [{}], concurrency=64).service.concurrency == 2


def test_behavior_defaults_to_queue() -> None:
    f = flow([task("hold", "engine_fakes:Hold")], concurrency={"limit": 1})
    assert f.concurrency_limit == Concurrency(1, ConcurrencyBehavior.QUEUE)
    assert Run(f, [{}]).service.concurrency == 1


def test_queued_executions_start_in_arrival_order_once_one_ends() -> None:
    run = Run(held_flow("QUEUE", 1), [{"i": i} for i in range(3)])

    async def scenario(r: Run) -> None:
        await until(lambda: Hold.running == 1 and r.service.pending == 3, what="1 held")
        await settle()
        assert r.started == [{"i": 0}]

    assert drive(run, scenario).by_state == {"SUCCESS": 3}
    assert Hold.peak == 1
    assert run.started == [{"i": 0}, {"i": 1}, {"i": 2}]


# -- CANCEL and FAIL -------------------------------------------------------------


def test_cancel_ends_arrivals_over_the_limit_cancelled_without_running_a_task() -> None:
    run = Run(held_flow("CANCEL", 1), [{"i": i} for i in range(3)])

    async def scenario(r: Run) -> None:
        await until(lambda: len(r.finished) == 2, what="two cancelled executions")
        assert Hold.running == 1  # the first still runs
        assert r.states() == ["CANCELLED", "CANCELLED"]

    summary = drive(run, scenario)
    assert summary.by_state == {"CANCELLED": 2, "SUCCESS": 1}
    assert summary.finished == 3
    assert Hold.entered == 1
    cancelled = run.finished[0]
    assert cancelled.task_runs == [] and cancelled.error is None
    assert cancelled.end_date is not None and cancelled.labels == {"team": "t"}
    logs = [e.entry for e in run.events if isinstance(e, LogEmitted)]
    assert [(entry.level, entry.message) for entry in logs] == [
        ("WARN", "cancelled: concurrency limit reached: 1 execution of flow test.f already running")
    ] * 2
    record = execution_record(cancelled)
    assert (record["state"], record["taskRuns"], record["trigger"]["offset"]) == (
        "CANCELLED",
        [],
        1,
    )
    assert run.acked() == list(range(3))


def test_fail_ends_arrivals_over_the_limit_failed_with_the_reason() -> None:
    run = Run(held_flow("FAIL", 2), [{"i": i} for i in range(5)])

    async def scenario(r: Run) -> None:
        await until(lambda: len(r.finished) == 3, what="three failed executions")
        assert Hold.running == 2

    summary = drive(run, scenario)
    assert summary.by_state == {"FAILED": 3, "SUCCESS": 2}
    assert Hold.entered == 2
    failed = [e for e in run.finished if e.state.value == "FAILED"]
    assert [e.trigger.offset for e in failed] == [2, 3, 4]
    assert {e.error for e in failed} == {
        "concurrency limit reached: 2 executions of flow test.f already running"
    }
    assert all(e.task_runs == [] for e in failed)
    assert run.acked() == list(range(5))


def test_an_execution_arriving_after_one_ended_is_let_in() -> None:
    run = Run(held_flow("CANCEL", 1), [{"i": 0}, {"i": 1}, {"i": 2}])
    later = run.source.records.pop()  # arrives once the first has ended

    async def scenario(r: Run) -> None:
        await until(lambda: len(r.finished) == 1, what="the second cancelled")
        Hold.release.set()
        await until(lambda: len(r.finished) == 2, what="the first finished")
        r.source.records.append(later)
        await until(lambda: len(r.finished) == 3, what="the third finished")

    summary = drive(run, scenario)
    assert run.states() == ["CANCELLED", "SUCCESS", "SUCCESS"]
    assert summary.by_state == {"CANCELLED": 1, "SUCCESS": 2}


def test_refused_executions_are_acknowledged_while_the_running_one_is_not() -> None:
    run = Run(held_flow("CANCEL", 1), [{}] * 4)

    async def scenario(r: Run) -> None:
        await until(lambda: len(r.finished) == 3, what="three cancelled")
        # the refused ones are finished work, acknowledged; offset 0 still runs
        assert r.acked() == [1, 2, 3]

    drive(run, scenario)
    assert run.acked() == list(range(4))


def test_records_of_one_key_run_one_after_another_and_are_never_refused() -> None:
    # An execution arrives when its record may start: after the earlier ones of its key.
    run = Run(held_flow("CANCEL", 1), [{}] * 3, keys=["k", "k", "k"])

    async def scenario(r: Run) -> None:
        await until(lambda: Hold.running == 1, what="one held")
        Hold.release.set()

    assert drive(run, scenario).by_state == {"SUCCESS": 3}


def test_failed_refusals_go_to_the_dead_letter_like_other_failures() -> None:
    sent: list[int | None] = []

    class Letters:
        def wants(self, execution: Execution) -> bool:
            return execution.state.value == "FAILED"

        async def send(self, execution: Execution, stopping: asyncio.Event | None = None) -> None:
            sent.append(execution.trigger.offset)

    run = Run(held_flow("FAIL", 1), [{}] * 3, dead_letter=Letters())

    async def scenario(r: Run) -> None:
        await until(lambda: len(r.finished) == 2, what="two refused")

    summary = drive(run, scenario)
    assert sent == [1, 2] and summary.dead_lettered == 2


def test_without_a_flow_limit_the_service_bound_applies() -> None:
    run = Run(held_flow(), [{}] * 5, concurrency=4)

    async def scenario(r: Run) -> None:
        await until(lambda: Hold.running == 4 and r.service.pending == 5, what="4 held")
        await settle()
        assert Hold.entered == 4

    assert drive(run, scenario).by_state == {"SUCCESS": 5}
    assert run.service.flow_limit is None
