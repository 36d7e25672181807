"""``kflow run``'s library side: choose the trigger, the views, handle signals, summarise."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kflow.engine.events import EventBus
from kflow.engine.execution import Execution
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService, RunSummary
from kflow.engine.source import RecordSource, SourceOptions
from kflow.errors import FlowError, KflowError, RunError, UsageError
from kflow.flow.model import Flow, TriggerDef
from kflow.history import DEFAULT_MAX_ROWS
from kflow.run import DEFAULT_CONCURRENCY
from kflow.run.connections import close_connections

if TYPE_CHECKING:
    from kflow.run.fleet import Fleet, FlowVersion
    from kflow.run.watch import FlowFileWatch

TASK_THREADS = 8
"""Threads for blocking driver calls; most task I/O is asynchronous or batched already."""

MAX_TASK_THREADS = 32
"""The most task threads a run of many flows shares (``TASK_THREADS`` per flow up to this)."""

KAFKA_SHORTHANDS = {
    "topic": "topic",
    "group_id": "groupId",
    "bootstrap_servers": "properties.bootstrap.servers",
}
"""``kflow run`` flags that are short for ``--set`` on a Kafka trigger."""


@dataclass(frozen=True)
class RunOptions:
    json_output: bool = False
    max_executions: int | None = None
    timeout: float | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    from_beginning: bool = False
    group_id: str | None = None
    topic: str | None = None
    dead_letter: str | None = None
    bootstrap_servers: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # --set, parsed
    inputs: dict[str, Any] | None = None  # typed by kflow.flow.inputs; None: the defaults
    state_dir: str | None = None  # --state-dir (sources that store their own position)
    history: str | None = None  # --history FILE (KFLOW_HISTORY); None: no history
    no_history: bool = False  # --no-history
    history_max_rows: int | None = DEFAULT_MAX_ROWS  # --history-max-rows
    history_max_age: float | None = None  # --history-max-age, in seconds
    replay_of: str | None = None  # the execution this run replays (kflow executions replay)
    metrics_port: int | None = None  # --metrics-port (0: any free port); None: no metrics
    metrics_address: str = "127.0.0.1"  # --metrics-address
    ordered: bool = True  # --ordering key (True) or none


def realtime_trigger(flow: Flow) -> TriggerDef:
    """The flow's first enabled trigger kflow can run as a source, or a FlowError saying why
    there is none."""
    for trigger in flow.triggers:
        if not trigger.disabled and trigger.spec.kind == "trigger" and trigger.spec.supported:
            return trigger
    kinds = ", ".join(t.type for t in flow.triggers) or "no trigger"
    raise FlowError(
        f"flow {flow.ref} has no enabled realtime trigger kflow can run ({kinds}); "
        "use --event to run one execution"
    )


def source_class(trigger: TriggerDef) -> type[RecordSource]:
    cls = trigger.spec.load_runner()
    if not (isinstance(cls, type) and issubclass(cls, RecordSource)):
        raise FlowError(f"trigger type {trigger.type} cannot be run as a realtime source")
    return cls


def source_options(trigger: TriggerDef, options: RunOptions) -> SourceOptions:
    """``--set`` and the Kafka shorthands; a shorthand on another source is refused."""
    overrides = dict(options.overrides)
    for attr, prop in KAFKA_SHORTHANDS.items():
        value = getattr(options, attr)
        if value is None:
            continue
        if source_class(trigger).kind != "kafka":
            if attr == "bootstrap_servers":
                continue  # often set in the environment (KFLOW_BOOTSTRAP_SERVERS)
            flag = "--" + attr.replace("_", "-")
            raise UsageError(f"{flag} applies to Kafka triggers; use --set for {trigger.type}")
        overrides.setdefault(prop, value)
    return SourceOptions(
        from_beginning=options.from_beginning,
        prefetch=options.concurrency,
        overrides=overrides,
        state_dir=options.state_dir,
    )


def build_source(trigger: TriggerDef, runner: FlowRunner, options: RunOptions) -> RecordSource:
    cls = source_class(trigger)
    return cls.from_trigger(trigger, runner.flow_variables, source_options(trigger, options))


class _Views:
    """The listeners for this run: live view on a terminal, else plain or JSON lines.

    ``many``: the run may hold several flows (more than one given, a directory, ``--watch``
    on one): the live view has a row per flow and plain lines name their flow."""

    def __init__(self, title: str, options: RunOptions, bus: EventBus, *, many: bool) -> None:
        from kflow.console.stats import StatsByFlow
        from kflow.console.writers import JsonWriter, PlainWriter

        self.many = many
        self.stats = StatsByFlow()
        bus.subscribe(self.stats)
        self.title = title
        self.live: Any = None
        self.writer: JsonWriter | PlainWriter | None = None
        if options.json_output:
            self.writer = JsonWriter(sys.stdout)
        elif not sys.stdout.isatty():
            self.writer = PlainWriter(sys.stdout, with_flow=many)
        if self.writer is not None:
            bus.subscribe(self.writer)

    def show(self, fleet: Fleet) -> Any:
        """The live view of ``fleet`` on a terminal (a context manager), else None."""
        if self.writer is not None:
            return None
        from rich.console import Console

        from kflow.console.live import FleetView, LiveView

        if self.many:
            return FleetView(Console(), fleet.rows, self.stats.all, self.title)
        return LiveView(Console(), self.stats.all, fleet.status, self.title)


def _history(
    flow: Flow | Callable[[Execution], str | None], options: RunOptions, bus: EventBus
) -> Any:
    """The execution-history listener (``kflow.history``), subscribed; None: no history."""
    from kflow.history.writer import start_history

    history = start_history(flow, options, _to_stderr)
    if history is not None:
        bus.subscribe(history)
    return history


def _observer(options: RunOptions, bus: EventBus) -> Any:
    """``--metrics-port``: metrics and health served from a thread (``kflow.observe``)."""
    if options.metrics_port is None:
        return None
    from kflow.observe.server import start_observer

    return start_observer(options.metrics_address, options.metrics_port, bus, _to_stderr)


class Stoppable(Protocol):
    def request_stop(self, reason: str = "signal") -> None: ...

    def kill(self) -> None: ...


def stop_on_signals(service: Stoppable) -> None:
    """Ctrl-C or SIGTERM stops ``service`` (a flow's, or a run's of many) gracefully
    (in-flight work finishes and is acknowledged); a second one kills it (nothing
    unfinished is acknowledged). Call on the service's event loop."""
    presses = 0

    def on_signal() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            service.request_stop("signal")
        else:
            service.kill()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _states(summary: RunSummary) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(summary.by_state.items())) or "none"


def _summary_line(summary: RunSummary, flows: int = 1) -> str:
    states = _states(summary)
    rate = summary.finished / summary.seconds if summary.seconds > 0 else 0.0
    dead = f", {summary.dead_lettered} dead-lettered" if summary.dead_lettered else ""
    of = f" of {flows} flows" if flows > 1 else ""
    return (
        f"kflow run: stopped ({summary.stopped_by}) after {summary.seconds:.1f} s: "
        f"{summary.finished} executions{of} ({states}{dead}), {rate:,.1f}/s"
    )


def _summary_lines(fleet: Fleet) -> list[str]:
    """One line for one flow; for many, a line per flow and one for the run."""
    from kflow.run.fleet import combined

    per_flow = {ref: combined(s) for ref, s in sorted(fleet.summaries.items())}
    if len(per_flow) == 1:
        summary = next(iter(per_flow.values()))
        if fleet.watch is not None:  # versions of one flow: the run's stop and length
            summary.seconds = fleet.seconds
            summary.stopped_by = fleet.stopped_by or summary.stopped_by
        return [_summary_line(summary)]
    total = combined(list(per_flow.values()))
    total.seconds = fleet.seconds
    total.stopped_by = fleet.stopped_by or total.stopped_by
    lines = [
        f"kflow run: {ref}: {s.finished} executions ({_states(s)})" for ref, s in per_flow.items()
    ]
    return [*lines, _summary_line(total, len(per_flow))]


def _task_pool(flows: int) -> ThreadPoolExecutor:
    threads = min(MAX_TASK_THREADS, TASK_THREADS * max(1, flows))
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kflow-task")


def _prepare_all(
    flows: Sequence[Flow], options: RunOptions, bus: EventBus, pool: ThreadPoolExecutor
) -> list[FlowVersion]:
    """Every flow built before anything connects; every problem named, then one error."""
    from kflow.run.fleet import prepare

    versions, problems = [], []
    for flow in flows:
        try:
            path = Path(flow.source_path or flow.ref).resolve()
            versions.append(prepare(path, flow, options, bus, pool))
        except KflowError as exc:
            if len(flows) == 1:
                raise
            problems.append(f"flow {flow.ref} ({flow.source_path}): {exc}")
    if problems:
        for line in problems:
            _to_stderr(f"kflow: {line}")
        raise RunError(f"{len(problems)} of {len(flows)} flows cannot run; nothing was started")
    return versions


def run_flow(
    flows: Flow | Sequence[Flow],
    options: RunOptions,
    *,
    watch: FlowFileWatch | None = None,
    many: bool | None = None,
) -> int:
    """Run the flows until stopped; returns the exit code (0 after a clean stop).

    ``watch``: pick up edited, added and removed flow files. ``many``: show the views of a
    many-flow run (default: when there is more than one flow, or a watch)."""
    from kflow.observe.logs import say_for
    from kflow.run.fleet import Fleet

    flows = [flows] if isinstance(flows, Flow) else list(flows)
    many = (len(flows) > 1 or watch is not None) if many is None else many
    bus = EventBus()
    title = f"kflow run {flows[0].ref}" if not many else f"kflow run: {len(flows)} flows"
    views = _Views(title, options, bus, many=many)
    pool = _task_pool(len(flows))
    try:
        versions = _prepare_all(flows, options, bus, pool)
    except BaseException:
        pool.shutdown(wait=False)
        raise
    fleet = Fleet(
        versions,
        options,
        bus,
        pool,
        views.stats,
        say=_to_stderr,
        say_for=say_for if many else (lambda _ref: _to_stderr),
        watch=watch,
    )
    history = _history(
        (lambda e: fleet.flow_path(e.namespace, e.flow_id)) if many else flows[0], options, bus
    )
    fleet.observer = _observer(options, bus)
    live = views.show(fleet)
    fleet.quiet_sources = live is not None  # the live view shows the partitions itself

    async def main() -> None:
        stop_on_signals(fleet)
        await fleet.run()

    try:
        if live is not None:
            with live:
                asyncio.run(main())
        else:
            asyncio.run(main())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        close_connections()
        if views.writer is not None:
            views.writer.close()
        if history is not None:
            history.close()
        if fleet.observer is not None:
            fleet.observer.close()
    if fleet.errors:
        _raise_first(fleet, len(flows))
    for line in _summary_lines(fleet):
        print(line, file=sys.stderr)
    return 130 if fleet.killed else 0


def _raise_first(fleet: Fleet, flows: int) -> None:
    """The error that stopped the run: as raised for one flow, named by its flow for many."""
    ref, exc = fleet.errors[0]
    for other_ref, other in fleet.errors[1:]:
        _to_stderr(f"kflow: flow {other_ref}: {other}")
    if flows == 1 and fleet.watch is None:
        raise exc
    if isinstance(exc, KflowError):
        raise RunError(f"flow {ref}: {exc}") from exc
    raise exc


def event_trigger(flow: Flow) -> TriggerDef | None:
    """The trigger whose decoding ``--event`` follows (the flow may have none)."""
    try:
        return realtime_trigger(flow)
    except FlowError:
        return None


def run_event(flow: Flow, event: str, key: str | None, options: RunOptions) -> int:
    """One execution on a given value, through the same service as a broker's records, with
    an in-memory source; 0 on SUCCESS/WARNING, 1 otherwise."""
    from kflow.console.writers import JsonWriter, PlainWriter
    from kflow.engine.memory_source import MemorySource

    trigger = event_trigger(flow)
    cls = source_class(trigger) if trigger is not None else RecordSource
    record = cls.event_record(trigger, event, key)
    bus = EventBus()
    writer = JsonWriter(sys.stdout) if options.json_output else PlainWriter(sys.stdout)
    bus.subscribe(writer)
    history = _history(flow, options, bus)
    runner = FlowRunner(flow, bus, threads=TASK_THREADS, inputs=options.inputs)
    source = MemorySource([record])

    async def main() -> RunSummary:
        try:
            return await FlowService(runner, source, concurrency=1).run()
        finally:
            await runner.close()

    try:
        summary = asyncio.run(main())
    finally:
        close_connections()
        writer.close()
        if history is not None:
            history.close()
    ok = summary.by_state.get("SUCCESS", 0) + summary.by_state.get("WARNING", 0)
    return 0 if ok == summary.finished == 1 else 1
