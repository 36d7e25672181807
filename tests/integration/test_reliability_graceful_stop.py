"""Scenario 6: SIGTERM under load stops cleanly: in-flight executions finish, offsets are
committed, exit 0 within ``STOP_BOUND_S``; a restart then processes nothing twice.

The bound: a graceful stop waits for at most ``concurrency * 4`` pending executions (plus one
poll of up to 500 records already handed over) and then closes its clients. At the
~300 executions/s the blog flow reaches on the 2-core machine that is about 3 s; 20 s leaves
room for a loaded machine.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from testkit.kafka import committed_offsets, create_topic, send_all, wait_all_committed
from testkit.orders import encoded, order
from testkit.processes import run_args, running, sample_flow
from testkit.stack import fresh_database, seed_products
from testkit.waiting import wait_until

ORDERS = 3_000
STOP_BOUND_S = 20.0


@pytest.fixture(scope="module", autouse=True)
def seeded(cassandra_port: int, cassandra_hosts: list[str]) -> None:
    seed_products(port=cassandra_port)


def coordinates(executions: list[dict[str, object]]) -> list[tuple[int, int]]:
    return [(e["trigger"]["partition"], e["trigger"]["offset"]) for e in executions]  # type: ignore[index]


@pytest.mark.slow
def test_sigterm_under_load_finishes_commits_and_exits_0(
    kafka_bootstrap: str,
    mongo_uri: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group, prefix = unique_name("orders"), unique_name("g"), unique_name("o")
    create_topic(kafka_bootstrap, topic, partitions=3)
    rows = [order(prefix, i) for i in range(ORDERS)]
    send_all(kafka_bootstrap, topic, [(r["order_id"].encode(), encoded(r)) for r in rows])
    database = unique_name("db")
    flow = sample_flow(
        tmp_path,
        "get_detailed_order.yaml",
        {'database: "kestra"': f"database: {database}", '"detailed_orders"': "detailed"},
    )
    args = run_args(kafka_bootstrap, topic, group)
    env = {"ENV_MONGO_URI": mongo_uri}

    with fresh_database(mongo_uri, database) as db:
        docs = db["detailed"]
        with running(flow, args, tmp_path / "run", env) as first:
            wait_until(
                docs.estimated_document_count,
                lambda n: n >= ORDERS // 6,
                timeout=120,
                what="a sixth of the orders stored",
            )
            stored_at_signal = docs.count_documents({})
            first.sigterm()
            signalled = time.monotonic()
            signalled_at = datetime.now(UTC)
            code = first.wait(STOP_BOUND_S + 30)
            stop_seconds = time.monotonic() - signalled
        assert code == 0, first.stderr()[-2000:]
        assert "stopped (signal)" in first.stderr()
        assert stop_seconds <= STOP_BOUND_S
        done = first.executions()
        drained = sum(1 for e in done if datetime.fromisoformat(e["endDate"]) > signalled_at)
        assert 0 < len(done) < ORDERS  # it stopped under load, not at the end
        assert {e["state"] for e in done} == {"SUCCESS"}
        # in-flight executions finished: one document per execution, no more
        assert docs.count_documents({}) == len(done)

        # the committed offsets are exactly the end of the finished prefix of each partition
        committed = committed_offsets(kafka_bootstrap, group)
        finished_by_partition: dict[int, set[int]] = {}
        for p, o in coordinates(done):
            finished_by_partition.setdefault(p, set()).add(o)
        for (_, p), position in committed.items():
            assert set(range(position)) <= finished_by_partition.get(p, set())
        assert sum(committed.values()) == len(done)  # nothing finished beyond the commit

        with running(flow, args, tmp_path / "run", env) as second:
            wait_all_committed(
                kafka_bootstrap,
                topic,
                group,
                timeout=180,
                what="every record committed after the restart",
            )
            second.sigterm()
            assert second.wait(STOP_BOUND_S + 30) == 0, second.stderr()[-2000:]

        again = set(coordinates(done)) & set(coordinates(second.executions()))
        assert again == set()  # nothing processed twice
        ids = Counter(d["order_id"] for d in docs.find({}, {"order_id": 1, "_id": 0}))
        assert sorted(ids) == sorted(r["order_id"] for r in rows)
        assert set(ids.values()) == {1}
        print(
            f"\n[graceful] sent {ORDERS}, stored at SIGTERM {stored_at_signal}, finished by the "
            f"first run {len(done)} ({drained} after the signal), exit after {stop_seconds:.2f} s, "
            f"second run "
            f"{len(second.executions())}, documents {sum(ids.values())}",
            file=sys.stderr,
        )
