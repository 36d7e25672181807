"""``python -m bench.engine``: what the engine and each listener cost per execution, in process.

No server is involved: a flow of two ``Return`` tasks runs over an in-memory source
through the same :class:`FlowService` and :class:`FlowRunner` as ``kflow run``, with the
listeners ``kflow run`` subscribes (the run's counts always; then the plain writer, the
``--json`` writer, the execution history, the metrics of ``--metrics-port``). Each
configuration runs ``--rounds`` times; the figure is the lowest CPU time per execution
(outside load only ever adds to it), with the cost each listener adds to the bare engine.

    .venv/bin/python -m bench.engine [--executions 20000] [--rounds 5]

This is a benchmark, not a test: it asserts only that every execution finished.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from kflow.console.stats import RunStats
from kflow.console.writers import JsonWriter, PlainWriter
from kflow.engine.events import EventBus, Listener
from kflow.engine.execution import TriggerRecord
from kflow.engine.memory_source import MemorySource
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService
from kflow.flow.loader import load_flow_text

FLOW = """
id: engine_overhead
namespace: bench
tasks:
  - id: lookup
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.value.product_id }}"
  - id: store
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.lookup.value }}"
"""

ORDER = {
    "order_id": 1,
    "customer_name": "Alice Smith",
    "customer_email": "alice@example.com",
    "product_id": 5,
    "price": 19.99,
    "quantity": 2,
    "total": 39.98,
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _history(workdir: Path) -> Listener:
    from kflow.history.writer import HistoryWriter

    return HistoryWriter(workdir / "history.sqlite", flow_path="bench.yaml")


def _metrics(_: Path) -> Listener:
    from kflow.observe.metrics import RunMetrics

    return RunMetrics(list)


LISTENERS: dict[str, Callable[[Path], Listener] | None] = {
    "engine": None,
    "plain writer": lambda _: PlainWriter(io.StringIO()),
    "--json writer": lambda _: JsonWriter(io.StringIO()),
    "history": _history,
    "metrics": _metrics,
}


def run_once(n: int, make: Callable[[Path], Listener] | None, workdir: Path) -> float:
    """CPU seconds per execution of ``n`` executions with the listener ``make`` builds."""
    loaded = load_flow_text(FLOW, "bench.yaml")
    assert loaded.flow is not None, loaded.diagnostics
    bus = EventBus()
    bus.subscribe(RunStats())
    listener = make(workdir) if make is not None else None
    if listener is not None:
        bus.subscribe(listener)
    runner = FlowRunner(loaded.flow, bus, threads=8, environ={})
    records = [TriggerRecord(dict(ORDER, order_id=i), timestamp_ms=1) for i in range(n)]
    source = MemorySource(records, batch=500)

    async def main() -> int:
        try:
            summary = await FlowService(runner, source, concurrency=256).run()
        finally:
            await runner.close()
        return summary.finished

    before = _cpu()
    finished = asyncio.run(main())
    close = getattr(listener, "close", None)
    if close is not None:
        close()  # the history writes what is queued: its thread's CPU counts too
    spent = _cpu() - before
    if finished != n:
        raise SystemExit(f"{finished} of {n} executions finished")
    return spent / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.engine", description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="kflow_bench_engine_") as tmp:
        for name, make in LISTENERS.items():
            best = min(
                run_once(args.executions, make, Path(tmp) / f"{name}-{i}".replace(" ", "_"))
                for i in range(args.rounds)
            )
            rows[name] = best * 1e6
    base = rows["engine"]
    print(f"{'listener':<16}{'CPU us / execution':>20}{'added':>10}")
    for name, us in rows.items():
        added = "" if name == "engine" else f"{us - base:+.1f}"
        print(f"{name:<16}{us:>20.1f}{added:>10}")
    print(json.dumps({"executions": args.executions, "cpu_us_per_execution": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
