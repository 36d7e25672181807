"""Scenario 2: outages of Cassandra, of the MongoDB server, and a Kafka broker restart.

For Cassandra and MongoDB, one run of the stack's service being stopped for ``OUTAGE_S``
seconds is watched by two ``kflow run`` processes reading the same orders in their own groups:

- ``retrying`` runs ``samples/detailed_order_with_retry.yaml`` (exponential retries up to
  three minutes): every execution eventually succeeds once the service is back;
- ``plain`` runs the same flow without retries nor ``errors`` tasks, with
  ``--dead-letter-topic``: the executions that hit the outage FAIL, each one is reported and
  its record dead-lettered; none is silently dropped (stored + dead-lettered = sent).

The retrying process holds work while the service is down; its in-flight work must stay
bounded (kflow pauses the consumer at ``concurrency * 4`` pending records). Orders carry a
10 kB note so that reading the backlog into memory would show in the process's RSS.

The Kafka test restarts the broker under a running ``kflow run``: the trigger reconnects and
every order is stored.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit.kafka import PacedProducer, consume_all, create_topic, wait_all_committed
from testkit.orders import order
from testkit.processes import KflowProcess, run_args, running, sample_flow
from testkit.stack import fresh_database, outage, rss_kib, seed_products
from testkit.waiting import wait_until

OUTAGE_S = 20.0
ORDERS = 3_500
RATE = 100.0
PADDING = 10_000
CONCURRENCY = 16
RSS_GROWTH_LIMIT_KIB = 60 * 1024


@pytest.fixture(scope="module", autouse=True)
def seeded(cassandra_port: int, cassandra_hosts: list[str]) -> None:
    seed_products(port=cassandra_port)


def flows(tmp_path: Path, database: str, failed_topic: str) -> tuple[Path, Path]:
    """The retry sample on its own database and failed-orders topic, and a copy of it
    without retries nor ``errors`` tasks."""
    retrying = sample_flow(
        tmp_path,
        "detailed_order_with_retry.yaml",
        {
            "database: kestra": f"database: {database}",
            "topic: orders_failed": f"topic: {failed_topic}",
        },
        name="retrying.yaml",
    )
    text = retrying.read_text(encoding="utf-8")
    plain_text = re.sub(r"\n    retry:\n(?:      .*\n)+", "\n", text)
    plain_text = re.sub(r"\nerrors:\n.*?\ntriggers:", "\ntriggers:", plain_text, flags=re.S)
    assert "retry:" not in plain_text and "errors:" not in plain_text
    plain = tmp_path / "plain.yaml"
    plain_text = plain_text.replace("id: detailed_order_with_retry", "id: plain_order")
    plain.write_text(plain_text.replace("detailed_orders_retry", "plain_orders"))
    return retrying, plain


def stop_all(*processes: KflowProcess) -> None:
    for p in processes:
        p.sigterm()
    for p in processes:
        assert p.wait(90) == 0, p.stderr()[-2000:]


def ids_in(docs: Any) -> Counter[str]:
    return Counter(d["order_id"] for d in docs.find({}, {"order_id": 1, "_id": 0}))


@pytest.mark.slow
@pytest.mark.parametrize("service", ["cassandra", "mongo"])
def test_outage_retrying_flow_recovers_plain_flow_dead_letters(
    service: str,
    kafka_bootstrap: str,
    mongo_uri: str,
    cassandra_hosts: list[str],
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, prefix = unique_name("orders"), unique_name("o")
    failed_topic, dead_topic = unique_name("failed"), unique_name("dead")
    for t in (topic, failed_topic, dead_topic):
        create_topic(kafka_bootstrap, t, partitions=3 if t == topic else 1)
    database = unique_name("db")
    retrying_flow, plain_flow = flows(tmp_path, database, failed_topic)
    group_r, group_p = unique_name("gr"), unique_name("gp")
    env = {"ENV_MONGO_URI": mongo_uri, "ENV_KAFKA_BOOTSTRAP": kafka_bootstrap}
    common = ("--concurrency", str(CONCURRENCY))
    expected = {order(prefix, i)["order_id"] for i in range(ORDERS)}

    with fresh_database(mongo_uri, database) as db:
        producer = PacedProducer(kafka_bootstrap, topic, ORDERS, RATE, prefix, padding=PADDING)
        try:
            with (
                running(
                    retrying_flow,
                    run_args(kafka_bootstrap, topic, group_r, *common),
                    tmp_path / "r",
                    env,
                ) as r,
                running(
                    plain_flow,
                    run_args(
                        kafka_bootstrap, topic, group_p, *common, "--dead-letter-topic", dead_topic
                    ),
                    tmp_path / "p",
                    env,
                ) as p,
            ):
                producer.start()
                wait_until(
                    lambda: min(r.count(), p.count()),
                    lambda n: n >= 200,
                    timeout=120,
                    what="both processes running before the outage",
                )
                rss: list[int] = []
                with outage(service) as went_down:
                    rss_before = rss_kib(r.proc.pid)
                    while time.monotonic() - went_down < OUTAGE_S:
                        rss.append(rss_kib(r.proc.pid))
                        assert r.alive and p.alive
                        time.sleep(0.5)  # sampling memory while the outage lasts
                outage_seconds = time.monotonic() - went_down
                producer.join()
                for process, group in ((r, group_r), (p, group_p)):
                    wait_all_committed(
                        kafka_bootstrap,
                        topic,
                        group,
                        timeout=240,
                        what=f"every record committed by {process.stdout_path.parent.name}",
                    )
                stop_all(r, p)
        finally:
            producer.abort()

        # the plain flow: failures reported and dead-lettered, nothing silently dropped
        plain = p.executions()
        p_states = Counter(e["state"] for e in plain)
        failed = [e for e in plain if e["state"] == "FAILED"]
        assert failed, "the outage should have failed executions of the plain flow"
        assert len({(e["trigger"]["partition"], e["trigger"]["offset"]) for e in plain}) == ORDERS
        assert f"{len(failed)} dead-lettered" in p.stderr()
        letters = consume_all(kafka_bootstrap, dead_topic, len(failed))
        assert len(letters) == len(failed)
        dead_ids = {r.key.decode() for r in letters}
        assert dead_ids == {e["trigger"]["key"] for e in failed}
        failed_tasks = {dict(r.headers)["kflow.failed.task"] for r in letters}
        task = b"get_product" if service == "cassandra" else b"insert_detailed_order"
        assert failed_tasks == {task}
        p_ids = ids_in(db["plain_orders"])
        # A write the server applied while the connection dropped is reported FAILED and
        # dead-lettered, yet stored: at least once, never lost.
        stored_and_dead = set(p_ids) & dead_ids
        assert set(p_ids) - dead_ids == {e["trigger"]["key"] for e in plain} - dead_ids
        assert sum(p_ids.values()) == p_states["SUCCESS"] + len(stored_and_dead)
        assert set(p_ids) | dead_ids == expected
        # the retrying flow: every execution succeeded, some after retries
        retried = r.executions()
        r_states = Counter(e["state"] for e in retried)
        assert len({(e["trigger"]["partition"], e["trigger"]["offset"]) for e in retried}) == ORDERS
        attempts = max(t["attempts"] for e in retried for t in e["taskRuns"])
        assert attempts > 1  # the outage was felt
        r_ids = ids_in(db["detailed_orders_retry"])
        r_duplicates = sum(r_ids.values()) - ORDERS

        print(
            f"\n[outage/{service}] {outage_seconds:.0f} s down; sent {ORDERS}; retrying: "
            f"{dict(r_states)}, max attempts {attempts}, documents {sum(r_ids.values())}, "
            f"duplicates {r_duplicates}, RSS {rss_before} -> max {max(rss)} KiB; plain: "
            f"{dict(p_states)}, dead-lettered {len(letters)} (also stored {len(stored_and_dead)})",
            file=sys.stderr,
        )
        growth = max(rss) - rss_before
        assert growth < RSS_GROWTH_LIMIT_KIB, f"RSS grew by {growth} KiB during the outage"
        r_failed = [e["error"] for e in retried if e["state"] == "FAILED"]
        assert not r_failed, f"{len(r_failed)} FAILED despite retries: {r_failed[:2]}"
        assert set(r_ids) == expected
        assert consume_all(kafka_bootstrap, failed_topic, 0, deadline_s=3) == []


@pytest.mark.slow
def test_kafka_broker_restart_the_trigger_reconnects_and_skips_nothing(
    kafka_bootstrap: str,
    mongo_uri: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    orders_count, rate = 4_000, 200.0
    topic, group, prefix = unique_name("orders"), unique_name("g"), unique_name("o")
    create_topic(kafka_bootstrap, topic, partitions=3)
    database = unique_name("db")
    flow = sample_flow(
        tmp_path,
        "get_detailed_order.yaml",
        {'database: "kestra"': f"database: {database}", '"detailed_orders"': "detailed"},
    )
    env = {"ENV_MONGO_URI": mongo_uri}

    with fresh_database(mongo_uri, database) as db:
        docs = db["detailed"]
        producer = PacedProducer(kafka_bootstrap, topic, orders_count, rate, prefix, retries=20)
        try:
            with running(flow, run_args(kafka_bootstrap, topic, group), tmp_path / "k", env) as k:
                producer.start()
                wait_until(
                    docs.estimated_document_count,
                    lambda n: n >= 500,
                    timeout=120,
                    what="orders stored before the broker restart",
                )
                restart_start = time.monotonic()
                with outage("kafka"):
                    assert k.alive
                restart_seconds = time.monotonic() - restart_start
                stored_at_restart = docs.count_documents({})
                producer.join(timeout=300)
                wait_all_committed(
                    kafka_bootstrap,
                    topic,
                    group,
                    timeout=240,
                    what="every record committed after the broker restart",
                )
                assert k.alive, k.stderr()[-2000:]
                k.sigterm()
                assert k.wait(60) == 0, k.stderr()[-2000:]
        finally:
            producer.abort()

        executions = k.executions()
        states = Counter(e["state"] for e in executions)
        ids = ids_in(docs)
        print(
            f"\n[outage/kafka] restart took {restart_seconds:.0f} s (stored before: "
            f"{stored_at_restart}); sent {orders_count}, executions {dict(states)}, "
            f"documents {sum(ids.values())}, duplicates {sum(ids.values()) - orders_count}",
            file=sys.stderr,
        )
        assert set(states) == {"SUCCESS"}
        assert set(ids) == {order(prefix, i)["order_id"] for i in range(orders_count)}
        coordinates = {(e["trigger"]["partition"], e["trigger"]["offset"]) for e in executions}
        assert len(coordinates) == orders_count  # no record skipped
