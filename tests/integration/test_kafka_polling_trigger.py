"""Kafka ``Trigger`` (polling) against the real Kafka: one execution per non-empty batch,
the batch in a storage file, offsets committed once the execution has finished.

Kestra's reference: plugin-kafka ``Trigger.java`` and ``TriggerTest`` (a Produce, then
an execution whose ``trigger.messagesCount`` counts what was produced).
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kflow.engine.events import EventBus, ExecutionFinished
from kflow.engine.execution import Execution
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService
from kflow.engine.source import SourceOptions
from kflow.expr.ion import from_ion
from kflow.flow import load_flow_text
from kflow.plugins.kafka_polling import PollingTrigger
from kflow.run.connections import close_connections
from kflow.storage import LocalStorage
from testkit.kafka import committed_offsets, create_topic, send_all

FLOW = """
    id: poll
    namespace: dev.kafka
    tasks:
      - id: count
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ trigger.messagesCount }}}}"
    triggers:
      - id: watch
        type: io.kestra.plugin.kafka.Trigger
        topic: {topic}
        groupId: {group}
        interval: PT0.2S
        pollDuration: PT1S
        valueDeserializer: JSON
        properties:
          bootstrap.servers: {bootstrap}
          auto.offset.reset: earliest
"""


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalStorage:
    monkeypatch.setenv("KFLOW_STORAGE_DIR", str(tmp_path / "storage"))
    return LocalStorage(tmp_path / "storage")


def poll_once(text: str, executions: int = 1) -> list[Execution]:
    result = load_flow_text(textwrap.dedent(text), for_run=True)
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    flow = result.flow
    finished: list[Execution] = []
    bus = EventBus()
    bus.subscribe(
        lambda e: finished.append(e.execution) if isinstance(e, ExecutionFinished) else None
    )

    async def main() -> None:
        runner = FlowRunner(flow, bus, environ={})
        source = PollingTrigger(flow.triggers[0], runner.flow_variables, SourceOptions())
        try:
            await FlowService(runner, source, max_executions=executions).run(timeout=60)
        finally:
            await runner.close()

    try:
        asyncio.run(main())
    finally:
        close_connections()
    return finished


def test_a_batch_becomes_one_execution_with_its_file_and_is_committed_after_it(
    kafka_bootstrap: str, unique_name: Callable[[str], str], storage: LocalStorage
) -> None:
    topic, group = unique_name("t"), unique_name("g")
    create_topic(kafka_bootstrap, topic, partitions=2)
    send_all(kafka_bootstrap, topic, [(f"k{i}", f'{{"n": {i}}}'.encode()) for i in range(7)])
    text = FLOW.format(topic=topic, group=group, bootstrap=kafka_bootstrap)

    (first,) = poll_once(text)
    assert first.state.value == "SUCCESS", first.error
    assert first.trigger.variables()["messagesCount"] == 7
    uri = first.trigger.variables()["uri"]
    assert uri.startswith(f"kestra:///dev/kafka/poll/executions/{first.id}/trigger/watch/")
    lines: list[Any] = [from_ion(x) for x in storage.read_text(uri).splitlines() if x.strip()]
    assert sorted(m["value"]["n"] for m in lines) == list(range(7))
    assert first.task_runs[0].outputs == {"value": "7"}
    assert sum(committed_offsets(kafka_bootstrap, group).values()) == 7

    # the next poll reads only what arrived since
    send_all(kafka_bootstrap, topic, [(None, b'{"n": 7}'), (None, b'{"n": 8}')])
    (second,) = poll_once(text)
    assert second.trigger.variables()["messagesCount"] == 2
    assert sum(committed_offsets(kafka_bootstrap, group).values()) == 9
