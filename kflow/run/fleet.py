"""Many flows in one ``kflow run``, on one event loop, and ``--watch`` reloads.

Every flow has its own trigger source and :class:`FlowService`; they share the event
loop, the task threads, the event bus (so one writer, one metrics registry and one history
serve them all) and the process-wide driver clients (one Cassandra session per cluster and
keyspace, one MongoDB client per URI, one pool per JDBC URL), whichever flow opened them.

A flow file is the unit of change. With ``--watch``, an edit that loads, validates and
builds is applied by stopping the running version gracefully (it stops reading, finishes
what is in flight and acknowledges it) and then starting the new version from where the
old one acknowledged; an edit that does not is reported and the running version goes on.
A flow that fails (its trigger cannot connect, a usage error) stops every flow gracefully:
the run ends with an error, for a supervisor to restart it whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kflow.console.live import FlowRow
from kflow.console.stats import StatsByFlow
from kflow.engine.events import EventBus, TriggerStatus
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService, RunSummary
from kflow.engine.source import DeadLetter, RecordSource
from kflow.errors import KflowError
from kflow.flow.model import Flow

if TYPE_CHECKING:
    from kflow.run.session import RunOptions
    from kflow.run.watch import Changes, FlowFileWatch

WATCH_EVERY_S = 1.0
"""How often ``--watch`` looks at the flow files."""

Say = Callable[[str], None]


@dataclass
class FlowVersion:
    """One version of a flow file, ready to run: its runner, source and dead letter built,
    nothing connected yet."""

    path: Path
    flow: Flow
    runner: FlowRunner
    source: RecordSource
    dead_letter: DeadLetter | None
    number: int = 1
    digest: str | None = None  # of the file's bytes the flow was read from, when known

    @property
    def ref(self) -> str:
        return self.flow.ref


def prepare(
    path: Path,
    flow: Flow,
    options: RunOptions,
    bus: EventBus,
    pool: ThreadPoolExecutor,
    number: int = 1,
) -> FlowVersion:
    """Build what running ``flow`` takes, or raise the :class:`KflowError` saying why it
    cannot run (no realtime trigger, a bad ``--set``, a property that does not render)."""
    from kflow.run.session import TASK_THREADS, build_source, realtime_trigger

    trigger = realtime_trigger(flow)
    runner = FlowRunner(flow, bus, threads=TASK_THREADS, inputs=options.inputs, pool=pool)
    source = build_source(trigger, runner, options)
    return FlowVersion(path, flow, runner, source, source.dead_letter(options.dead_letter), number)


@dataclass
class _Slot:
    """A flow file of the run: the version running, and the one waiting to replace it."""

    path: Path
    version: FlowVersion
    service: FlowService | None = None
    task: asyncio.Task[None] | None = None
    next: FlowVersion | None = None
    removing: bool = False
    note: str | None = None
    previous: FlowVersion | None = None  # the version a reload replaced (--watch)
    added: bool = False  # by --watch, after the start


@dataclass
class Fleet:
    """Runs flow versions side by side until stopped; ``summaries`` holds, per flow, the
    summary of each version that ran."""

    versions: Sequence[FlowVersion]
    options: RunOptions
    bus: EventBus
    pool: ThreadPoolExecutor
    stats: StatsByFlow
    say: Say  # lines about the run as a whole
    say_for: Callable[[str], Say]  # lines a flow's source writes (partitions, reconnects)
    watch: FlowFileWatch | None = None
    observer: Any = None  # kflow.observe.server.RunObserver, or None
    quiet_sources: bool = False  # the live view shows what sources would say
    summaries: dict[str, list[RunSummary]] = field(default_factory=dict)
    errors: list[tuple[str, BaseException]] = field(default_factory=list)
    stopped_by: str | None = None
    seconds: float = 0.0
    killed: bool = False

    def __post_init__(self) -> None:
        self._slots: dict[Path, _Slot] = {v.path: _Slot(v.path, v) for v in self.versions}
        if self.watch is not None:  # the files as the watch saw them before they were read
            for version in self.versions:
                version.digest = self.watch.digest_of(version.path)
        self._retired: list[FlowRunner] = []
        self._paths: dict[tuple[str, str], str] = {}  # (namespace, id): file, set per start
        self._deadline: float | None = None
        self._wake: asyncio.Event | None = None

    # control (also the signal handlers') ------------------------------------------------------

    def request_stop(self, reason: str = "signal") -> None:
        """Graceful stop of every flow; the first reason given is the run's."""
        if self.stopped_by is None:
            self.stopped_by = reason
        for slot in self._slots.values():
            slot.next = None
            if slot.service is not None:
                slot.service.request_stop(reason)
        if self._wake is not None:
            self._wake.set()

    def kill(self) -> None:
        self.killed = True
        self.request_stop("killed")
        self.stopped_by = "killed"
        for slot in self._slots.values():
            if slot.service is not None:
                slot.service.kill()

    @property
    def stopping(self) -> bool:
        return self.stopped_by is not None

    # what the views show ----------------------------------------------------------------------

    def rows(self) -> list[FlowRow]:
        rows = []
        for slot in sorted(self._slots.values(), key=lambda s: s.version.ref):
            flow = slot.version.flow
            stats = self.stats.of(flow.namespace, flow.id)
            rows.append(FlowRow(flow.ref, _status(slot.service), stats, slot.note))
        return rows

    def status(self) -> TriggerStatus | None:
        """The status of the one flow (the single-flow live view)."""
        for slot in self._slots.values():
            return _status(slot.service)
        return None

    def flow_path(self, namespace: str, flow_id: str) -> str | None:
        """The file the latest version of a flow came from (for the history; per execution)."""
        return self._paths.get((namespace, flow_id))

    # running ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start every flow and serve until they have all stopped (``--watch``: until a
        signal or ``--timeout``)."""
        began = time.monotonic()
        if self.options.timeout is not None:
            self._deadline = began + self.options.timeout
        self._wake = asyncio.Event()
        for slot in list(self._slots.values()):
            self._start(slot)
        try:
            while True:
                tasks = [s.task for s in self._slots.values() if s.task is not None]
                if not tasks and (self.watch is None or self.stopping):
                    break
                if self.watch is None or self.stopping:
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), WATCH_EVERY_S)
                self._wake.clear()
                if self._remaining() == 0.0:
                    self.request_stop("timeout")
                elif not self.stopping:
                    self._apply(self.watch.poll())
        finally:
            self.seconds = time.monotonic() - began
            for runner in self._retired:
                await runner.close()

    def _remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def _start(self, slot: _Slot) -> None:
        version = slot.version
        self._paths[(version.flow.namespace, version.flow.id)] = str(slot.path)
        service = FlowService(
            version.runner,
            version.source,
            concurrency=self.options.concurrency,
            max_executions=self.options.max_executions,
            dead_letter=version.dead_letter,
            ordered=self.options.ordered,
        )
        if not self.quiet_sources:
            version.source.notify = self.say_for(version.ref)
        if self.observer is not None:
            self.observer.watch(service)
        slot.service = service
        slot.task = asyncio.create_task(self._serve(slot, service, version))

    async def _serve(self, slot: _Slot, service: FlowService, version: FlowVersion) -> None:
        failure: Exception | None = None
        try:
            summary = await service.run(self._remaining())
        except Exception as exc:
            summary, failure = service.summary, exc
            summary.stopped_by = "error"
        finally:
            if self.observer is not None:
                self.observer.unwatch(service)
            self._retired.append(version.runner)
            slot.service = slot.task = None
        self.summaries.setdefault(version.ref, []).append(summary)
        slot.note = f"stopped ({summary.stopped_by})"
        if failure is not None and self._fall_back(slot, version, summary, failure):
            pass
        elif failure is not None:  # this flow cannot go on: the run stops, and says why
            self.errors.append((version.ref, failure))
            self.request_stop("error")
        elif slot.removing:
            del self._slots[slot.path]
            self._tell(f"flow {version.ref} stopped: {slot.path} was removed")
        elif slot.next is not None and not self.stopping:
            slot.previous, slot.version, slot.next = version, slot.next, None
            slot.note = f"version {slot.version.number}"
            self._start(slot)
            self._tell(f"flow {slot.version.ref} runs version {slot.version.number} of {slot.path}")
        if self._wake is not None:
            self._wake.set()

    def _fall_back(
        self, slot: _Slot, failed: FlowVersion, summary: RunSummary, exc: Exception
    ) -> bool:
        """``--watch``: a version from an edit that fails before it ran anything (a broker
        that is not there, a refused login) gives way to the version it replaced, rebuilt, or
        (a file added while running) is dropped; the run goes on. False for the flows the
        run started with: their failure is the run's, as without ``--watch``."""
        previous = slot.previous
        if self.watch is None or summary.started or self.stopping:
            return False
        why = f"version {failed.number} of flow {failed.ref} failed to start: {exc}"
        if previous is None:
            if not slot.added:
                return False
            del self._slots[slot.path]
            self._tell(f"{why}; it is not run (an edit of {slot.path} tries again)")
            return True
        try:
            back = prepare(slot.path, previous.flow, self.options, self.bus, self.pool)
        except KflowError:
            return False
        back.number, back.digest = previous.number, previous.digest
        slot.version, slot.previous = back, None
        slot.note = f"edit refused: {exc}"
        self._tell(f"{why}; going back to version {back.number}")
        self._start(slot)
        return True

    def _tell(self, message: str) -> None:
        self.say(f"kflow run: {message}")

    # --watch ----------------------------------------------------------------------------------

    def _apply(self, changes: Changes) -> None:
        for path in changes.removed:
            slot = self._slots.get(path)
            if slot is None:
                continue
            slot.next = None
            if slot.service is None:
                del self._slots[path]
                self._tell(f"{path} was removed; flow {slot.version.ref} was not running")
            else:
                slot.removing = True
                slot.note = "stopping: file removed"
                self._tell(f"{path} was removed: stopping flow {slot.version.ref}")
                slot.service.request_stop("removed")
        for path in changes.changed:
            self._reload(path)

    def _reload(self, path: Path) -> None:
        slot = self._slots.get(path)
        keeps = (
            f"; flow {slot.version.ref} keeps running version {slot.version.number}"
            if slot is not None
            else "; it is not run"
        )
        version = self._load(path, keeps, slot)
        if version is None:
            return
        if slot is None:
            slot = self._slots[path] = _Slot(path, version, added=True)
            self._start(slot)
            self._tell(f"flow {version.ref} added from {path}")
            return
        slot.next, slot.note = version, None
        if slot.service is None:  # it had ended (--max-executions): start the edit at once
            slot.previous, slot.version, slot.next = slot.version, version, None
            self._start(slot)
        else:
            slot.note = f"reloading: version {version.number}"
            self._tell(
                f"{path} changed: flow {slot.version.ref} finishes its in-flight executions, "
                f"then runs version {version.number}"
            )
            slot.service.request_stop("reload")

    def _load(self, path: Path, keeps: str, slot: _Slot | None) -> FlowVersion | None:
        """The new version of ``path``, or None after saying why it cannot run."""
        from kflow.flow import load_flow
        from kflow.run.watch import file_digest

        def refuse(why: str) -> None:
            self._tell(f"{path}: {why}{keeps}")
            if slot is not None:
                slot.note = f"edit refused: {why}"

        digest = file_digest(path)  # before reading: a later edit is reported again
        if slot is not None and slot.next is None and digest == slot.version.digest:
            slot.note = None
            self._tell(f"{path} is back to the version running")
            return None
        try:
            result = load_flow(path, for_run=True)
        except KflowError as exc:
            refuse(str(exc))
            return None
        for diagnostic in result.diagnostics:
            self.say(diagnostic.format())
        flow = result.flow
        if flow is None:
            refuse("the edit is not a valid flow")
            return None
        for other in self._slots.values():
            refs = (other.version.ref, other.next.ref if other.next is not None else None)
            if other.path != path and flow.ref in refs:
                refuse(f"flow {flow.ref} is already run from {other.path}")
                return None
        number = (slot.next or slot.version).number + 1 if slot is not None else 1
        try:
            version = prepare(path, flow, self.options, self.bus, self.pool, number)
        except KflowError as exc:
            refuse(str(exc))
            return None
        version.digest = digest
        return version


def _status(service: FlowService | None) -> TriggerStatus | None:
    return service.status() if service is not None else None


def combined(summaries: Sequence[RunSummary]) -> RunSummary:
    """The summaries of every version of a flow as one."""
    total = RunSummary()
    for summary in summaries:
        total.started += summary.started
        total.finished += summary.finished
        total.dead_lettered += summary.dead_lettered
        for state, n in summary.by_state.items():
            total.by_state[state] = total.by_state.get(state, 0) + n
        total.seconds += summary.seconds
        total.stopped_by = summary.stopped_by
    return total
