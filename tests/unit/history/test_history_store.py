"""The history file: schema, queries, pruning by rows and by age, two writers on one file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kflow.history.store import HistoryError, HistoryRow, HistoryStore


def row(
    i: int, *, state: str = "SUCCESS", flow: str = "orders", end_ms: int | None = None
) -> HistoryRow:
    end = 1_000_000 + i * 1000 if end_ms is None else end_ms
    return HistoryRow(
        id=f"e{i:05d}",
        namespace="dev",
        flow_id=flow,
        flow_path="/flows/orders.yaml",
        state=state,
        start_ms=end - 10,
        end_ms=end,
        duration_ms=10.0,
        replay_of=None,
        record=f'{{"id": "e{i:05d}"}}',
    )


def test_the_file_is_created_in_wal_mode_with_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "history.sqlite"
    store = HistoryStore.open(path)
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    columns = [r[1] for r in db.execute("PRAGMA table_info(executions)")]
    assert columns == [
        "id",
        "namespace",
        "flow_id",
        "flow_path",
        "state",
        "start_ms",
        "end_ms",
        "duration_ms",
        "replay_of",
        "record",
    ]
    db.close()


def test_list_filters_and_orders_the_last_to_end_first(tmp_path: Path) -> None:
    store = HistoryStore.open(tmp_path / "h.sqlite")
    store.insert([row(1), row(2, state="FAILED"), row(3, flow="other"), row(4, state="FAILED")])
    assert [r.id for r in store.list()] == ["e00004", "e00003", "e00002", "e00001"]
    assert [r.id for r in store.list(state="FAILED")] == ["e00004", "e00002"]
    assert [r.id for r in store.list(flow_id="other")] == ["e00003"]
    assert [r.id for r in store.list(namespace="prod")] == []
    assert [r.id for r in store.list(since_ms=1_003_000)] == ["e00004", "e00003"]
    assert [r.id for r in store.list(limit=1)] == ["e00004"]
    store.close()


def test_get_by_id_or_unique_prefix(tmp_path: Path) -> None:
    store = HistoryStore.open(tmp_path / "h.sqlite")
    store.insert([row(1), row(22), row(23)])
    assert store.get("e00001").id == "e00001"
    assert store.get("e0000").id == "e00001"
    with pytest.raises(HistoryError, match="ambiguous"):
        store.get("e0002")
    with pytest.raises(HistoryError, match="no execution 'zz'"):
        store.get("zz")
    store.close()


def test_prune_by_rows_keeps_the_last_to_end(tmp_path: Path) -> None:
    store = HistoryStore.open(tmp_path / "h.sqlite")
    store.insert([row(i) for i in range(10)])
    assert store.prune(max_rows=3, now_ms=0) == 7
    assert [r.id for r in store.list()] == ["e00009", "e00008", "e00007"]
    assert store.prune(max_rows=3, now_ms=0) == 0
    store.close()


def test_prune_by_age_forgets_what_ended_before_the_cutoff(tmp_path: Path) -> None:
    store = HistoryStore.open(tmp_path / "h.sqlite")
    now = 10_000_000
    store.insert(
        [row(1, end_ms=now - 3_600_001), row(2, end_ms=now - 3_599_000), row(3, end_ms=now)]
    )
    assert store.prune(max_age_s=3600, now_ms=now) == 1
    assert sorted(r.id for r in store.list()) == ["e00002", "e00003"]
    store.close()


def test_open_existing_refuses_a_missing_file_and_another_database(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no execution history at"):
        HistoryStore.open_existing(tmp_path / "missing.sqlite")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(HistoryError, match="is not a kflow execution history"):
        HistoryStore.open_existing(other)


_WRITER = textwrap.dedent(
    """
    import sys
    from kflow.history.store import HistoryRow, HistoryStore

    path, tag, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = HistoryStore.open(path)
    print("ready", flush=True)
    sys.stdin.readline()  # both writers start together
    for b in range(batches):
        rows = [
            HistoryRow(f"{tag}-{b}-{i}", "dev", tag, None, "SUCCESS", b, b, 1.0, None, "{}")
            for i in range(50)
        ]
        store.insert(rows)
        store.prune(max_rows=100_000, now_ms=0)
    store.close()
    """
)


def test_two_processes_write_one_file_at_once_and_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    HistoryStore.open(path).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), tag, "40"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    store = HistoryStore.open_existing(path)
    assert len(store.list(flow_id="a", limit=None)) == 40 * 50
    assert len(store.list(flow_id="b", limit=None)) == 40 * 50
    store.close()
