"""``kflow run``'s library side: choose the trigger, the views, handle signals, summarise."""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from kflow.engine.events import EventBus, TriggerStatus
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService, RunSummary
from kflow.engine.source import RecordSource, SourceOptions
from kflow.errors import FlowError, UsageError
from kflow.flow.model import Flow, TriggerDef
from kflow.history import DEFAULT_MAX_ROWS
from kflow.run import DEFAULT_CONCURRENCY
from kflow.run.connections import close_connections

TASK_THREADS = 8
"""Threads for blocking driver calls; most task I/O is asynchronous or batched already."""

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
    """The listeners for this run: live view on a terminal, else plain or JSON lines."""

    def __init__(self, flow: Flow, options: RunOptions, bus: EventBus) -> None:
        from kflow.console.stats import RunStats
        from kflow.console.writers import JsonWriter, PlainWriter

        self.stats = RunStats()
        bus.subscribe(self.stats)
        self.live: Any = None
        self.status: TriggerStatus | None = None
        self.service: FlowService | None = None
        self.writer: JsonWriter | PlainWriter | None = None
        if options.json_output:
            self.writer = JsonWriter(sys.stdout)
        elif sys.stdout.isatty():
            from rich.console import Console

            from kflow.console.live import LiveView

            self.live = LiveView(Console(), self.stats, self._status, f"kflow run {flow.ref}")
        else:
            self.writer = PlainWriter(sys.stdout)
        if self.writer is not None:
            bus.subscribe(self.writer)

    def _status(self) -> TriggerStatus | None:
        return self.service.status() if self.service is not None else None


def _history(flow: Flow, options: RunOptions, bus: EventBus) -> Any:
    """The execution-history listener (``kflow.history``), subscribed; None: --no-history."""
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


def stop_on_signals(service: FlowService) -> None:
    """Ctrl-C or SIGTERM stops ``service`` gracefully (in-flight work finishes and is
    acknowledged); a second one kills it (nothing unfinished is acknowledged). Call on the
    service's event loop."""
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


def _summary_line(summary: RunSummary) -> str:
    states = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_state.items())) or "none"
    rate = summary.finished / summary.seconds if summary.seconds > 0 else 0.0
    dead = f", {summary.dead_lettered} dead-lettered" if summary.dead_lettered else ""
    return (
        f"kflow run: stopped ({summary.stopped_by}) after {summary.seconds:.1f} s: "
        f"{summary.finished} executions ({states}{dead}), {rate:,.1f}/s"
    )


def run_flow(flow: Flow, options: RunOptions) -> int:
    """Run until stopped; returns the exit code (0 after a clean stop)."""
    trigger = realtime_trigger(flow)
    bus = EventBus()
    views = _Views(flow, options, bus)
    history = _history(flow, options, bus)
    runner = FlowRunner(flow, bus, threads=TASK_THREADS, inputs=options.inputs)
    observer = _observer(options, bus)

    async def main() -> RunSummary:
        source = build_source(trigger, runner, options)
        if views.live is None:  # the live view shows the partitions itself
            source.notify = _to_stderr
        service = FlowService(
            runner,
            source,
            concurrency=options.concurrency,
            max_executions=options.max_executions,
            dead_letter=source.dead_letter(options.dead_letter),
            ordered=options.ordered,
        )
        views.service = service
        if observer is not None:
            observer.watch(service)
        stop_on_signals(service)
        try:
            return await service.run(options.timeout)
        finally:
            await runner.close()

    try:
        if views.live is not None:
            with views.live:
                summary = asyncio.run(main())
        else:
            summary = asyncio.run(main())
    finally:
        close_connections()
        if views.writer is not None:
            views.writer.close()
        if history is not None:
            history.close()
        if observer is not None:
            observer.close()
    print(_summary_line(summary), file=sys.stderr)
    return 130 if summary.stopped_by == "killed" else 0


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
