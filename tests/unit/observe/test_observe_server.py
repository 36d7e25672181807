"""The metrics server over a real service: probes answered from a thread, totals from the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kflow.engine.events import EventBus
from kflow.engine.execution import TriggerRecord
from kflow.engine.memory_source import MemorySource
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService
from kflow.errors import UsageError
from kflow.flow import load_flow_text
from kflow.observe.server import RunObserver, start_observer
from testkit.metrics import get
from testkit.waiting import wait_until

FLOW = """
id: echo
namespace: obs
tasks:
  - id: fail_on_zero
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ trigger.value == 0 }}"
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.value }}"
"""


def executions(base: str) -> dict[str, float]:
    _, text = get(base + "/metrics")
    return {
        s.labels["state"]: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "kflow_executions"
        for s in family.samples
        if s.name == "kflow_executions_total"
    }


class Run:
    """A service on its own event loop thread, as ``kflow run`` has one."""

    def __init__(self, observer: RunObserver, bus: EventBus) -> None:
        self.source = MemorySource(closed=False)
        self.observer, self.bus = observer, bus
        self.loop: asyncio.AbstractEventLoop | None = None
        self.watching = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()))

    async def _main(self) -> None:
        flow = load_flow_text(FLOW, for_run=True).flow
        assert flow is not None
        runner = FlowRunner(flow, self.bus, environ={})
        service = FlowService(runner, self.source)
        self.loop = asyncio.get_running_loop()
        self.observer.watch(service)
        self.watching.set()
        try:
            await service.run(timeout=30)
        finally:
            await runner.close()

    def put(self, *values: object) -> None:
        assert self.loop is not None
        records = [TriggerRecord(value=v) for v in values]
        self.loop.call_soon_threadsafe(self.source.put, *records)

    def end(self) -> None:
        if self.loop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.source.close)
        self.thread.join(30)


@pytest.fixture
def served() -> Iterator[tuple[str, RunObserver, EventBus]]:
    bus = EventBus()
    lines: list[str] = []
    observer = start_observer("127.0.0.1", 0, bus, lines.append)
    [line] = lines
    base = line.split(" ")[4].removesuffix("/metrics,")
    assert line == (
        f"kflow run: metrics on {base}/metrics, health on {base}/healthz and {base}/readyz"
    )
    try:
        yield base, observer, bus
    finally:
        observer.close()


def test_probes_follow_the_run_and_metrics_count_its_executions(
    served: tuple[str, RunObserver, EventBus],
) -> None:
    base, observer, bus = served
    assert get(base + "/healthz") == (200, "ok\n")
    assert get(base + "/readyz") == (503, "starting: no trigger yet\n")
    assert get(base + "/elsewhere")[0] == 404

    run = Run(observer, bus)
    run.thread.start()
    try:
        assert run.watching.wait(10)
        assert get(base + "/readyz") == (200, "ready\n")
        run.put(1, 0, 2, 3, 0)
        counts = wait_until(
            lambda: executions(base),
            lambda c: sum(c.values()) == 5,
            timeout=10,
            what="5 executions on /metrics",
        )
        assert counts == {"SUCCESS": 3, "FAILED": 2}
    finally:
        run.end()
    assert not run.thread.is_alive()
    assert get(base + "/healthz") == (200, "ok\n")
    assert get(base + "/readyz") == (503, "the event loop is not answering\n")
    assert executions(base) == {"SUCCESS": 3, "FAILED": 2}  # the last totals, kept


def test_a_port_in_use_is_one_clear_usage_error(served: tuple[str, RunObserver, EventBus]) -> None:
    base, _, _ = served
    port = int(base.rsplit(":", 1)[1])
    with pytest.raises(
        UsageError, match=rf"^--metrics-port {port}: cannot listen on 127\.0\.0\.1:"
    ):
        start_observer("127.0.0.1", port, EventBus(), print)
