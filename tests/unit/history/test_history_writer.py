"""The history listener: records written by its thread, flushed on close, masked, bounded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from kflow.connectors.masking import forget_secrets, register_secret
from kflow.engine.events import ExecutionFinished, ExecutionStarted
from kflow.engine.execution import Execution, TaskRun, TriggerRecord
from kflow.engine.states import State
from kflow.history.store import HistoryStore
from kflow.history.writer import HistoryWriter, history_path
from kflow.plugins.kafka_record import KafkaRecord


@pytest.fixture(autouse=True)
def no_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


def finished(
    i: int, trigger: TriggerRecord | None = None, state: State = State.SUCCESS
) -> Execution:
    ex = Execution(f"x{i:04d}", "dev", "orders", trigger or TriggerRecord(value={"n": i}, key="k"))
    ex.state = state
    run = TaskRun(f"r{i}", "lookup", "io.kestra.plugin.core.log.Log", state=state, attempts=2)
    run.start, run.end = ex.start + 0.002, ex.start + 0.005
    ex.task_runs.append(run)
    ex.outputs = {"lookup": {"row": {"id": i}}}
    ex.end = ex.start + 0.006
    ex.end_date = ex.start_date + timedelta(milliseconds=6)
    return ex


def test_every_finished_execution_is_written_by_close(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    writer = HistoryWriter(path, flow_path="/f/orders.yaml", replay_of="old1")
    for i in range(1234):
        writer(ExecutionStarted(finished(i)))  # not a finished execution: not kept
        writer(ExecutionFinished(finished(i)))
    writer.close()
    assert writer.written == 1234 and writer.lost == 0
    store = HistoryStore.open_existing(path)
    assert store.count() == 1234
    record = json.loads(store.get("x0007").record)
    store.close()
    assert record["trigger"]["value"] == {"n": 7}
    assert record["trigger"]["key"] == "k"
    assert record["flowPath"] == "/f/orders.yaml"
    assert record["replayOf"] == "old1"
    assert record["outputs"] == {"lookup": {"row": {"id": 7}}}
    run = record["taskRuns"][0]
    assert (run["taskId"], run["attempts"], run["state"]) == ("lookup", 2, "SUCCESS")
    assert run["startMs"] == pytest.approx(2.0, abs=0.01)
    assert run["durationMs"] == pytest.approx(3.0, abs=0.01)
    assert json.loads(record["replay"]["event"]) == {"n": 7}
    assert record["replay"]["key"] == "k"


def test_nothing_is_encoded_or_written_on_the_callers_thread(tmp_path: Path) -> None:
    writer = HistoryWriter(tmp_path / "h.sqlite")
    threads: set[str] = set()
    original = writer.store.insert

    def spy(rows: list) -> None:  # type: ignore[type-arg]
        threads.add(threading.current_thread().name)
        original(rows)

    writer.store.insert = spy  # type: ignore[method-assign]
    for i in range(10):
        writer(ExecutionFinished(finished(i)))
    writer.close()
    assert threads == {"kflow-history"}


def test_a_kafka_record_keeps_its_raw_value_and_key_for_replay(tmp_path: Path) -> None:
    raw = b'{"order_id": "7", "price": 1.50}'
    record = KafkaRecord(
        value={"order_id": "7", "price": 1.5},
        key="7",
        headers={"h": "v"},
        raw_value=raw,
        raw_key=b"7",
        topic="orders",
        partition=2,
        offset=41,
    )
    writer = HistoryWriter(tmp_path / "h.sqlite")
    writer(ExecutionFinished(finished(1, record, State.FAILED)))
    writer.close()
    store = HistoryStore.open_existing(tmp_path / "h.sqlite")
    row = store.get("x0001")
    store.close()
    stored = json.loads(row.record)
    assert row.state == "FAILED"
    assert stored["trigger"]["topic"] == "orders"
    assert (stored["trigger"]["partition"], stored["trigger"]["offset"]) == (2, 41)
    assert stored["trigger"]["headers"] == {"h": "v"}
    assert stored["replay"] == {"event": raw.decode(), "key": "7"}


def test_secrets_are_masked_in_the_stored_record(tmp_path: Path) -> None:
    register_secret("hunter2-password")
    ex = finished(1)
    ex.state = State.FAILED
    ex.error = "login failed for hunter2-password"
    ex.trigger = TriggerRecord(value={"pw": "hunter2-password"})
    writer = HistoryWriter(tmp_path / "h.sqlite")
    writer(ExecutionFinished(ex))
    writer.close()
    text = (tmp_path / "h.sqlite").read_bytes()
    assert b"hunter2-password" not in text
    store = HistoryStore.open_existing(tmp_path / "h.sqlite")
    assert "***" in json.loads(store.get("x0001").record)["error"]
    store.close()


def test_the_writer_prunes_to_max_rows(tmp_path: Path) -> None:
    writer = HistoryWriter(tmp_path / "h.sqlite", max_rows=100)
    for i in range(700):
        writer(ExecutionFinished(finished(i)))
    writer.close()
    store = HistoryStore.open_existing(tmp_path / "h.sqlite")
    assert store.count() == 100
    assert store.list(limit=1)[0].id == "x0699"
    store.close()


def test_the_default_file_is_in_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFLOW_STATE_DIR", str(tmp_path / "env"))
    assert history_path(None, None) == tmp_path / "env" / "history.sqlite"
    assert history_path(None, str(tmp_path / "opt")) == tmp_path / "opt" / "history.sqlite"
    assert history_path(str(tmp_path / "x.db"), str(tmp_path / "opt")) == tmp_path / "x.db"
    monkeypatch.delenv("KFLOW_STATE_DIR")
    assert history_path(None, None) == Path(".kflow/state/history.sqlite")


def test_a_run_keeps_history_only_when_asked(tmp_path: Path) -> None:
    from kflow.flow.model import Flow
    from kflow.history.writer import start_history
    from kflow.run.session import RunOptions

    flow = Flow(id="f", namespace="n", tasks=[])
    assert start_history(flow, RunOptions(state_dir=str(tmp_path))) is None
    assert not (tmp_path / "history.sqlite").exists()
    file = tmp_path / "kept.sqlite"
    assert start_history(flow, RunOptions(history=str(file), no_history=True)) is None
    writer = start_history(flow, RunOptions(history=str(file)))
    assert writer is not None
    writer.close()
    assert HistoryStore.open_existing(file).count() == 0
