"""``kflow run`` with many flows, on sources in memory: side by side on one loop, one
summary per flow, and a flow that fails stopping the others gracefully."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import kflow.run.session as session
from kflow.engine.execution import TriggerRecord
from kflow.engine.memory_source import MemorySource
from kflow.errors import ConnectorError, RunError
from kflow.flow import load_flow
from kflow.flow.model import Flow

TRIGGER = """
triggers:
  - id: orders
    type: io.kestra.plugin.kafka.RealtimeTrigger
    topic: orders
    groupId: g
    properties:
      bootstrap.servers: 127.0.0.1:9
"""


def flow(tmp_path: Path, flow_id: str, tasks: str = "") -> Flow:
    tasks = tasks or '  - id: done\n    type: io.kestra.plugin.core.debug.Return\n    format: "x"\n'
    path = tmp_path / f"{flow_id}.yaml"
    path.write_text(f"id: {flow_id}\nnamespace: t\ntasks:\n{tasks}{TRIGGER}", encoding="utf-8")
    loaded = load_flow(path, for_run=True).flow
    assert loaded is not None
    return loaded


class Refused(MemorySource):
    """A source whose broker refuses it, once ``after`` (another flow's source) has
    acknowledged ``acks`` records."""

    def __init__(self, after: MemorySource | None = None, acks: int = 0) -> None:
        super().__init__()
        self.after, self.acks_first = after, acks

    async def start(self) -> None:
        async with asyncio.timeout(10):
            while self.after is not None and len(self.after.acks) < self.acks_first:
                await asyncio.sleep(0.01)
        raise ConnectorError("kafka: cannot connect to 127.0.0.1:9")


def with_sources(monkeypatch: pytest.MonkeyPatch, sources: dict[str, MemorySource]) -> None:
    def build(trigger: Any, runner: Any, options: Any) -> MemorySource:
        return sources[runner.flow.id]

    monkeypatch.setattr(session, "build_source", build)


def records(n: int) -> list[TriggerRecord]:
    return [TriggerRecord(i) for i in range(n)]


def test_each_flow_runs_its_own_source_and_is_summed_up_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = MemorySource(records(3)), MemorySource(records(5))
    with_sources(monkeypatch, {"a": a, "b": b})
    flows = [flow(tmp_path, "a"), flow(tmp_path, "b")]
    assert session.run_flow(flows, session.RunOptions(no_history=True)) == 0
    assert [len(a.acks), len(b.acks)] == [3, 5]
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert sum(" t.a " in line for line in lines) == 3  # plain lines name their flow
    assert sum(" t.b " in line for line in lines) == 5
    assert "kflow run: t.a: 3 executions (SUCCESS 3)" in err
    assert "kflow run: t.b: 5 executions (SUCCESS 5)" in err
    assert "8 executions of 2 flows (SUCCESS 8)" in err


def test_a_flow_that_cannot_start_stops_the_others_gracefully(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steady = MemorySource(records(2), closed=False)  # would run until stopped
    with_sources(monkeypatch, {"a": steady, "b": Refused(after=steady, acks=2)})
    flows = [flow(tmp_path, "a"), flow(tmp_path, "b")]
    with pytest.raises(RunError, match=r"^flow t\.b: kafka: cannot connect to 127\.0\.0\.1:9$"):
        session.run_flow(flows, session.RunOptions(no_history=True))
    assert steady.stopped and len(steady.acks) == 2


def test_one_flow_keeps_its_error_as_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_sources(monkeypatch, {"b": Refused()})
    with pytest.raises(ConnectorError, match=r"^kafka: cannot connect"):
        session.run_flow(flow(tmp_path, "b"), session.RunOptions(no_history=True))


def test_every_flow_that_cannot_run_is_named_before_any_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a = MemorySource(records(1))
    with_sources(monkeypatch, {"a": a})
    no_trigger = tmp_path / "c.yaml"
    log = "  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    no_trigger.write_text(f"id: c\nnamespace: t\ntasks:\n{log}")
    c = load_flow(no_trigger, for_run=True).flow
    assert c is not None
    options = session.RunOptions(no_history=True, topic="other")  # a Kafka-only shorthand
    with pytest.raises(RunError, match="1 of 2 flows cannot run; nothing was started"):
        session.run_flow([flow(tmp_path, "a"), c], options)
    assert not a.started
    assert "flow t.c" in capsys.readouterr().err
