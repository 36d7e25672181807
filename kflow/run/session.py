"""``kflow run``'s library side: choose the trigger, the views, handle signals, summarise."""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from typing import Any

from kflow.engine.events import EventBus, TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService, RunSummary
from kflow.errors import FlowError
from kflow.flow.model import Flow, TriggerDef
from kflow.run.connections import close_connections

REALTIME = "kflow.plugins.kafka_trigger:RealtimeTrigger"
TASK_THREADS = 8
"""Threads for blocking driver calls; most task I/O is asynchronous or batched already."""


@dataclass(frozen=True)
class RunOptions:
    json_output: bool = False
    max_executions: int | None = None
    timeout: float | None = None
    concurrency: int = 64
    from_beginning: bool = False
    group_id: str | None = None
    topic: str | None = None
    dead_letter_topic: str | None = None
    bootstrap_servers: str | None = None
    inputs: dict[str, Any] | None = None  # typed by kflow.flow.inputs; None: the defaults


def realtime_trigger(flow: Flow) -> TriggerDef:
    """The flow's Kafka realtime trigger, or a FlowError saying why there is none to run."""
    for trigger in flow.triggers:
        if trigger.disabled:
            continue
        if trigger.spec.runner == REALTIME:
            return trigger
    kinds = ", ".join(t.type for t in flow.triggers) or "no trigger"
    raise FlowError(
        f"flow {flow.ref} has no enabled Kafka RealtimeTrigger to run ({kinds}); "
        "use --event to run one execution"
    )


def _with_overrides(trigger: TriggerDef, options: RunOptions) -> TriggerDef:
    props = dict(trigger.props)
    if options.bootstrap_servers:
        props["properties"] = {
            **(props.get("properties") or {}),
            "bootstrap.servers": options.bootstrap_servers,
        }
    if options.group_id:
        props["groupId"] = options.group_id
    if options.topic:
        props["topic"] = options.topic
        props.pop("topicPattern", None)
    return TriggerDef(trigger.id, trigger.type, trigger.spec, props, trigger.description)


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


def _dead_letter(source: Any, options: RunOptions) -> Any:
    """``--dead-letter-topic`` for every failed execution, else ``onSerdeError: DLQ``."""
    from kflow.plugins.kafka_deadletter import DeadLetterWriter

    if options.dead_letter_topic:
        return DeadLetterWriter(source.properties, options.dead_letter_topic)
    if source.serde_error_mode == "DLQ":
        if not source.serde_error_topic:
            raise FlowError("onSerdeError: type DLQ needs a topic")
        return DeadLetterWriter(source.properties, source.serde_error_topic, serde_only=True)
    return None


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
    trigger = _with_overrides(realtime_trigger(flow), options)
    bus = EventBus()
    views = _Views(flow, options, bus)
    runner = FlowRunner(flow, bus, threads=TASK_THREADS, inputs=options.inputs)

    async def main() -> RunSummary:
        from kflow.plugins.kafka_trigger import RealtimeTrigger

        source = RealtimeTrigger(
            trigger,
            variables=runner.flow_variables,
            from_beginning=options.from_beginning,
        )
        if views.live is None:  # the live view shows the partitions itself
            source.notify = _to_stderr
        service = FlowService(
            runner,
            source,
            concurrency=options.concurrency,
            max_executions=options.max_executions,
            dead_letter=_dead_letter(source, options),
        )
        views.service = service
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
    print(_summary_line(summary), file=sys.stderr)
    return 130 if summary.stopped_by == "killed" else 0


def event_record(flow: Flow, event: str, key: str | None) -> TriggerRecord:
    """The trigger record of ``--event``: decoded as the flow's trigger would decode it."""
    from kflow.plugins.kafka_serde import decoder
    from kflow.plugins.kafka_trigger import deserializer_names

    value_name = "STRING"
    for trigger in flow.triggers:
        if trigger.spec.runner == REALTIME:
            value_name = deserializer_names(trigger.props)[1]
            break
    record = TriggerRecord(value=None, key=key)
    try:
        record.value = decoder(value_name)(event.encode("utf-8"))
    except Exception as exc:
        record.error = f"cannot deserialize --event as {value_name}: {exc}"
    import time

    record.timestamp_ms = int(time.time() * 1000)
    return record


def run_event(flow: Flow, event: str, key: str | None, options: RunOptions) -> int:
    """One execution on a given value, no Kafka; 0 on SUCCESS/WARNING, 1 otherwise."""
    from kflow.console.writers import JsonWriter, PlainWriter

    bus = EventBus()
    writer = JsonWriter(sys.stdout) if options.json_output else PlainWriter(sys.stdout)
    bus.subscribe(writer)
    runner = FlowRunner(flow, bus, threads=TASK_THREADS, inputs=options.inputs)

    async def main() -> str:
        try:
            execution = await runner.execute(event_record(flow, event, key))
        finally:
            await runner.close()
        return execution.state.value

    try:
        state = asyncio.run(main())
    finally:
        close_connections()
        writer.close()
    return 0 if state in ("SUCCESS", "WARNING") else 1
