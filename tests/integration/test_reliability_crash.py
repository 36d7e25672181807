"""Scenario 1: ``kill -9`` of ``kflow run`` while orders flow, then a restart: nothing is lost.

Offsets are committed only after executions finish, so after a crash the records that were in
flight are delivered again. With the idempotent sample (upsert keyed by the order id) that is
harmless: exactly one document per order. With a plain InsertOne the re-delivered records
that had already been written give duplicates; the test measures them and checks that only
records in flight at the crash (at most ``concurrency * 4`` pending plus one poll) repeat.
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
from testkit.stack import fresh_database, seed_products
from testkit.waiting import wait_until

# FerretDB on SQLite upserts about 100 documents/s on a 2-core machine, inserts about 300/s:
# the idempotent run gets fewer orders so that the whole suite stays within minutes.
RATE = 1_000.0
CONCURRENCY = 64
MAX_POLL_RECORDS = 500  # kflow.plugins.kafka_trigger.MAX_POLL_RECORDS
IN_FLIGHT_BOUND = CONCURRENCY * 4 + MAX_POLL_RECORDS
KILL_AT = 500  # documents stored when the first process is killed


@pytest.fixture(scope="module", autouse=True)
def seeded(cassandra_port: int, cassandra_hosts: list[str]) -> None:
    seed_products(port=cassandra_port)


def idempotent_flow(tmp_path: Path, database: str, collection: str) -> Path:
    # The sample upserts by _id = order id: FerretDB (SQLite) serves _id equality from an
    # index, so the upsert stays fast as the collection grows.
    return sample_flow(
        tmp_path,
        "idempotent_detailed_order.yaml",
        {
            "database: kestra": f"database: {database}",
            "collection: detailed_orders_idempotent": f"collection: {collection}",
        },
    )


def insert_flow(tmp_path: Path, database: str, collection: str) -> Path:
    return sample_flow(
        tmp_path,
        "get_detailed_order.yaml",
        {'database: "kestra"': f"database: {database}", '"detailed_orders"': collection},
    )


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "orders"), [("idempotent", 3_000), ("insert", 10_000)])
def test_kill_9_mid_stream_then_restart_stores_every_order(
    mode: str,
    orders: int,
    kafka_bootstrap: str,
    mongo_uri: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group, prefix = unique_name("orders"), unique_name("g"), unique_name("o")
    create_topic(kafka_bootstrap, topic, partitions=3)
    database, collection = unique_name("db"), "detailed"
    make = idempotent_flow if mode == "idempotent" else insert_flow
    flow = make(tmp_path, database, collection)
    args = run_args(kafka_bootstrap, topic, group, "--concurrency", str(CONCURRENCY))
    env = {"ENV_MONGO_URI": mongo_uri}

    with fresh_database(mongo_uri, database) as db:
        docs = db[collection]
        producer = PacedProducer(kafka_bootstrap, topic, orders, RATE, prefix).start()
        try:
            with running(flow, args, tmp_path / "run", env) as first:
                wait_until(
                    docs.estimated_document_count,
                    lambda n: n >= KILL_AT,
                    timeout=120,
                    what=f"{KILL_AT} orders stored before the crash",
                )
                sent_at_crash = producer.sent
                first.kill9()
            stored_at_crash = docs.count_documents({})
            producer.join()
        finally:
            producer.abort()

        with running(flow, args, tmp_path / "run", env) as second:
            wait_all_committed(
                kafka_bootstrap,
                topic,
                group,
                timeout=300,
                what="every record committed after the restart",
            )
            second.sigterm()
            assert second.wait(60) == 0, second.stderr()[-2000:]

        executions = first.executions() + second.executions()
        states = Counter(e["state"] for e in executions)
        assert set(states) == {"SUCCESS"}, [e["error"] for e in executions if e["error"]][:5]
        ids = Counter(d["order_id"] for d in docs.find({}, {"order_id": 1, "_id": 0}))
        assert set(ids) == {order(prefix, i)["order_id"] for i in range(orders)}  # none lost
        duplicates = sum(ids.values()) - orders
        redelivered = len(
            {(e["trigger"]["partition"], e["trigger"]["offset"]) for e in second.executions()}
            & {(e["trigger"]["partition"], e["trigger"]["offset"]) for e in first.executions()}
        )
        print(
            f"\n[crash/{mode}] sent {orders} ({sent_at_crash} at the crash), "
            f"stored at crash {stored_at_crash}, "
            f"documents {sum(ids.values())}, duplicates {duplicates}, "
            f"reported twice {redelivered}, executions {len(executions)}",
            file=sys.stderr,
        )
        if mode == "idempotent":
            assert duplicates == 0
            sample = docs.find_one({"order_id": order(prefix, 7)["order_id"]})
            assert sample["total"] == float(order(prefix, 7)["total"])
            assert sample["product"]["id"] == 8
        else:
            # only records in flight at the crash can be written twice
            assert redelivered <= duplicates <= IN_FLIGHT_BOUND
        # every record ran, and ran once, apart from the in-flight ones run again
        assert len(executions) - redelivered == orders
        assert len(second.executions()) <= orders - len(first.executions()) + IN_FLIGHT_BOUND
