"""Scenario 5: two ``kflow run`` processes in one consumer group share a 6-partition topic;
when one is killed the other takes its partitions over, and no order is lost.

Only records in flight in the killed process (started, not committed) can run twice.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from testkit.kafka import PacedProducer, create_topic, wait_all_committed
from testkit.orders import order
from testkit.processes import run_args, running, sample_flow
from testkit.stack import fresh_database
from testkit.waiting import wait_until

ORDERS = 10_000
RATE = 1_000.0
PARTITIONS = 6
IN_FLIGHT_BOUND = 64 * 4 + 500  # max pending of --concurrency 64, plus one poll


def partitions_of(executions: list[dict[str, object]]) -> set[int]:
    return {e["trigger"]["partition"] for e in executions}  # type: ignore[index]


def coordinates(executions: list[dict[str, object]]) -> set[tuple[int, int]]:
    return {(e["trigger"]["partition"], e["trigger"]["offset"]) for e in executions}  # type: ignore[index]


@pytest.mark.slow
@pytest.mark.usefixtures("seeded_products", "collect_leaked_sockets")
# kafka-python leaves the socket of a connection that failed mid-rebalance for the garbage
# collector; that is the driver's leak (in this test's own helper clients), not kflow's.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_two_processes_share_partitions_and_one_takes_over_after_a_kill(
    kafka_bootstrap: str,
    mongo_uri: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group, prefix = unique_name("orders"), unique_name("g"), unique_name("o")
    create_topic(kafka_bootstrap, topic, partitions=PARTITIONS)
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
        producer = PacedProducer(kafka_bootstrap, topic, ORDERS, RATE, prefix)
        try:
            with (
                running(flow, args, tmp_path / "a", env) as a,
                running(flow, args, tmp_path / "b", env) as b,
            ):
                producer.start()
                # both get work, on different partitions once the group has settled
                wait_until(
                    lambda: (a.count(), b.count()),
                    lambda counts: min(counts) >= 200,
                    timeout=120,
                    what="both processes running executions",
                )
                before_kill = (partitions_of(a.executions()), partitions_of(b.executions()))
                assert a.alive, a.stderr()[-2000:]
                assert b.alive, b.stderr()[-2000:]  # nothing but the kill may stop it
                b.kill9()
                killed = b.executions()
                ends_wait_start = a.count()
                producer.join()
                wait_all_committed(
                    kafka_bootstrap,
                    topic,
                    group,
                    timeout=300,
                    what="every record committed by the survivor",
                )
                a.sigterm()
                assert a.wait(60) == 0, a.stderr()[-2000:]
        finally:
            producer.abort()

        survivor = a.executions()
        after_kill = survivor[ends_wait_start:]
        assert {e["state"] for e in survivor + killed} == {"SUCCESS"}
        # they shared the topic, and the survivor took over the killed one's partitions
        assert before_kill[0] and before_kill[1]
        assert partitions_of(killed) <= partitions_of(after_kill)
        assert partitions_of(survivor) | partitions_of(killed) == set(range(PARTITIONS))
        ids = Counter(d["order_id"] for d in docs.find({}, {"order_id": 1, "_id": 0}))
        assert set(ids) == {order(prefix, i)["order_id"] for i in range(ORDERS)}  # none lost
        duplicates = sum(ids.values()) - ORDERS
        twice = coordinates(survivor) & coordinates(killed)
        assert len(twice) <= duplicates <= IN_FLIGHT_BOUND
        print(
            f"\n[scale-out] sent {ORDERS}, process A {len(survivor)}, killed B {len(killed)} "
            f"(partitions before the kill A {sorted(before_kill[0])} B {sorted(before_kill[1])}), "
            f"documents {sum(ids.values())}, duplicates {duplicates}",
            file=sys.stderr,
        )
