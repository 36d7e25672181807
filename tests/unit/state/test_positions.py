"""The position store (SQLite under the state directory) and the finished-position tracker."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from kflow.state.positions import (
    FILE_NAME,
    FinishedPositions,
    PositionKey,
    PositionStore,
    state_dir,
)

KEY = PositionKey("debezium-state", "company.team", "orders", "realtime")


def test_a_saved_position_is_loaded_back_by_a_new_store(tmp_path: Path) -> None:
    store = PositionStore.open(tmp_path / "state")
    assert store.load(KEY) is None
    store.save(KEY, {"file": "binlog.000002", "pos": 4711, "gtid": "0-1-42"})
    store.save(KEY, {"file": "binlog.000002", "pos": 5000, "gtid": "0-1-43"})
    store.close()
    again = PositionStore.open(tmp_path / "state")
    assert again.load(KEY) == {"file": "binlog.000002", "pos": 5000, "gtid": "0-1-43"}
    again.delete(KEY)
    assert again.load(KEY) is None


def test_keys_differ_by_state_name_flow_and_trigger(tmp_path: Path) -> None:
    store = PositionStore.open(tmp_path)
    others = [
        PositionKey("other", "company.team", "orders", "realtime"),
        PositionKey("debezium-state", "company", "orders", "realtime"),
        PositionKey("debezium-state", "company.team", "orders2", "realtime"),
        PositionKey("debezium-state", "company.team", "orders", "t2"),
    ]
    store.save(KEY, {"pos": 1})
    for n, key in enumerate(others, start=2):
        store.save(key, {"pos": n})
    assert store.load(KEY) == {"pos": 1}
    assert [store.load(k) for k in others] == [{"pos": 2}, {"pos": 3}, {"pos": 4}, {"pos": 5}]


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    PositionStore.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / FILE_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def _writer(directory: str, flow: str, count: int) -> None:
    store = PositionStore.open(directory)
    key = PositionKey("s", "ns", flow, "t")
    for n in range(count):
        store.save(key, {"pos": n})
    store.close()


def test_two_processes_with_different_keys_share_one_file(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), f"f{i}", 200)) for i in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = PositionStore.open(tmp_path)
    assert store.load(PositionKey("s", "ns", "f1", "t")) == {"pos": 199}
    assert store.load(PositionKey("s", "ns", "f2", "t")) == {"pos": 199}


def test_state_dir_option_then_environment_then_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KFLOW_STATE_DIR", raising=False)
    assert state_dir(None) == Path(".kflow/state")
    monkeypatch.setenv("KFLOW_STATE_DIR", str(tmp_path / "env"))
    assert state_dir(None) == tmp_path / "env"
    assert state_dir(str(tmp_path / "opt")) == tmp_path / "opt"


def test_the_safe_position_never_passes_an_unfinished_change() -> None:
    tracker: FinishedPositions[int] = FinishedPositions()
    # transaction 1: rows a, b (b carries its end position 10); transaction 2: row c (20)
    tracker.read("a", None)
    tracker.read("b", 10)
    tracker.read("c", 20)
    assert tracker.finished("c") is None  # a and b still run
    assert tracker.finished("b") is None  # a still runs
    assert tracker.safe is None
    assert tracker.finished("a") == 20
    assert tracker.safe == 20 and tracker.in_flight == 0


def test_a_position_passed_with_nothing_to_run_waits_for_earlier_changes() -> None:
    tracker: FinishedPositions[int] = FinishedPositions()
    tracker.passed(5)
    assert tracker.safe == 5
    tracker.read("a", 10)
    tracker.passed(15)  # a transaction of tables not captured
    assert tracker.safe == 5
    assert tracker.finished("a") == 15
    assert tracker.finished("unknown") is None
