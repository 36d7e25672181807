"""Runs a flow against any record source: dispatch, bounded concurrency, keyed order, acks.

Guarantees, whatever the source:
- at most ``concurrency`` executions run at once; records wait (and the
  source is paused) when ``max_pending`` records are started but unfinished;
- the flow's own ``concurrency`` (Kestra's ``limit`` and ``behavior``) is honoured:
  ``QUEUE`` lowers the bound to ``limit`` (an execution waits for a running one to
  end); ``CANCEL`` and ``FAIL`` end an execution that arrives while ``limit`` are
  running CANCELLED or FAILED at once, without running a task. Such executions are
  finished like any other: reported, counted and acknowledged. An execution arrives
  when its record may start, that is after the earlier records of its key;
- records with the same order key run one after another, in arrival order (unless the
  service is built with ``ordered=False``: then every record runs as soon as a slot is
  free, and the source still acknowledges as it always does);
- every admitted record is acknowledged exactly once, after its execution
  (and its dead-letter copy, if any) has finished; a killed or cancelled
  execution is never acknowledged, so the broker delivers it again;
- a graceful stop stops reading, lets in-flight executions finish, and has the
  source settle their acknowledgements before it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Hashable
from dataclasses import dataclass, field

from kflow.engine.events import ExecutionFinished, ExecutionStarted, TriggerStatus
from kflow.engine.execution import Execution, LogEntry, TriggerRecord, utc_now
from kflow.engine.ids import new_id
from kflow.engine.ordering import KeyedQueue
from kflow.engine.runner import FlowRunner
from kflow.engine.source import DeadLetter, Outcome, RecordSource, outcome_of
from kflow.engine.states import State
from kflow.flow.model import Concurrency, ConcurrencyBehavior


@dataclass
class RunSummary:
    started: int = 0
    finished: int = 0
    dead_lettered: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    stopped_by: str = "end"


class FlowService:
    """Feeds records from a source to a :class:`FlowRunner`.

    ``concurrency`` bounds the executions running at once; the flow's own
    ``concurrency`` (read from the runner's flow) applies on top of it.
    """

    def __init__(
        self,
        runner: FlowRunner,
        source: RecordSource,
        *,
        concurrency: int = 64,
        max_pending: int | None = None,
        max_executions: int | None = None,
        dead_letter: DeadLetter | None = None,
        ordered: bool = True,
    ) -> None:
        self.runner = runner
        self.ordered = ordered
        self.source = source
        self.flow_limit: Concurrency | None = runner.flow.concurrency_limit
        if self.flow_limit is not None and self.flow_limit.behavior is ConcurrencyBehavior.QUEUE:
            concurrency = min(concurrency, self.flow_limit.limit)
        self.concurrency = concurrency
        self.max_pending = max_pending or concurrency * 4
        self.max_executions = max_executions
        self.dead_letter = dead_letter
        self.summary = RunSummary()
        self._keys: KeyedQueue[TriggerRecord] = KeyedQueue()
        self._slots = asyncio.Semaphore(concurrency)
        self._admitted = 0  # executions let in under a CANCEL or FAIL limit, not yet ended
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._paused = False
        self._stop = asyncio.Event()
        self._room = asyncio.Event()
        self._idle = asyncio.Event()  # set when nothing is pending
        self.stopping = False
        self._killed = False

    # control ------------------------------------------------------------------

    def request_stop(self, reason: str = "signal") -> None:
        """Graceful stop: no new records; in-flight executions finish and are acknowledged."""
        if not self.stopping:
            self.stopping = True
            self.summary.stopped_by = reason
        self._stop.set()

    def kill(self) -> None:
        """Stop now: cancel in-flight executions; nothing unfinished is acknowledged."""
        self.request_stop("killed")
        self.summary.stopped_by = "killed"  # also after a graceful stop was asked for
        self._killed = True
        for task in list(self._tasks):
            task.cancel()

    @property
    def pending(self) -> int:
        return self._pending

    def status(self) -> TriggerStatus:
        return self.source.status()

    # main loop ------------------------------------------------------------------

    async def run(self, timeout: float | None = None) -> RunSummary:
        start = time.monotonic()
        await self.source.start()
        deadline = None if timeout is None else start + timeout
        try:
            while not self._stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    self.request_stop("timeout")
                    break
                if self.source.exhausted:  # a finite source: end once its work is done
                    if not self._pending:
                        self.request_stop("end")
                        break
                    self._idle.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._idle.wait(), 0.1)
                    continue
                if self._pending >= self.max_pending:  # hold back until work finishes
                    self._room.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._room.wait(), 0.1)
                    continue
                batch = await self.source.next_batch(0.1)
                for record in batch:
                    if self._stop.is_set():
                        break
                    self._dispatch(record)
                    if (
                        self.max_executions is not None
                        and self.summary.started >= self.max_executions
                    ):
                        self.request_stop("max-executions")
                        break
                self._backpressure()
            await self._drain()
        finally:
            await self.source.stop()
            self.summary.seconds = time.monotonic() - start
        return self.summary

    async def _drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _backpressure(self) -> None:
        should_pause = self._pending >= self.max_pending
        if should_pause != self._paused:
            self._paused = should_pause
            self.source.pause(should_pause)

    # dispatch ----------------------------------------------------------------------

    def _dispatch(self, record: TriggerRecord) -> None:
        if not self.source.admit(record):
            return  # e.g. its partition was revoked after it was read
        if record.skip:
            self.source.ack(record, Outcome.SKIPPED)
            self.source.counted("ack", Outcome.SKIPPED)
            return
        self.summary.started += 1
        self._pending += 1
        if self._keys.admit(self._order_key(record), record):
            self._spawn(record)

    def _order_key(self, record: TriggerRecord) -> Hashable | None:
        return record.order_key() if self.ordered else None

    def _spawn(self, record: TriggerRecord) -> None:
        task = asyncio.create_task(self._execute(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, record: TriggerRecord) -> None:
        try:
            if not self.source.wanted(record):
                return  # e.g. its partition was revoked while it waited: the new owner runs it
            execution = await self._run(record)
            outcome = outcome_of(execution)
            if self.dead_letter is not None and self.dead_letter.wants(execution):
                await self.dead_letter.send(execution, self._stop)
                self.summary.dead_lettered += 1
                outcome = Outcome.DEAD_LETTERED
            self._count(execution)
            self.source.ack(record, outcome)
            self.source.counted("ack", outcome)
        finally:
            self._pending -= 1
            if self._pending < self.max_pending:
                self._room.set()
            if not self._pending:
                self._idle.set()
            nxt = self._keys.release(self._order_key(record))
            if nxt is not None and not self._killed:
                self._spawn(nxt)
            self._backpressure()

    async def _run(self, record: TriggerRecord) -> Execution:
        limit = self.flow_limit
        if limit is None or limit.behavior is ConcurrencyBehavior.QUEUE:
            async with self._slots:
                return await self.runner.execute(record)
        if self._admitted >= limit.limit:
            return self._refuse(record, limit)
        self._admitted += 1
        try:
            async with self._slots:
                return await self.runner.execute(record)
        finally:
            self._admitted -= 1

    def _refuse(self, record: TriggerRecord, limit: Concurrency) -> Execution:
        """An execution over the flow's limit: CANCELLED or FAILED at once, no task run
        (Kestra's ``ExecutorService`` concurrency check)."""
        flow, bus = self.runner.flow, self.runner.bus
        execution = Execution(
            record.execution_id or new_id(),
            flow.namespace,
            flow.id,
            record,
            labels=dict(flow.labels),
        )
        execution.state = State.RUNNING
        bus.emit(ExecutionStarted(execution))
        reason = (
            f"concurrency limit reached: {limit.limit} execution"
            f"{'s' if limit.limit > 1 else ''} of flow {flow.ref} already running"
        )
        if limit.behavior is ConcurrencyBehavior.CANCEL:
            execution.state = State.CANCELLED
            self.runner.log(execution, LogEntry(utc_now(), "WARN", f"cancelled: {reason}", None))
        else:
            execution.state = State.FAILED
            execution.error = reason
        execution.end = time.monotonic()
        execution.end_date = utc_now()
        bus.emit(ExecutionFinished(execution))
        return execution

    def _count(self, execution: Execution) -> None:
        s = self.summary
        s.finished += 1
        s.by_state[execution.state.value] = s.by_state.get(execution.state.value, 0) + 1
