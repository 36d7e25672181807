"""``kflow replay --from-dead-letter``: dead-lettered orders re-run through the blog flow
against real Kafka, Cassandra and MongoDB; only what succeeds leaves the dead letter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from testkit.kafka import committed_offsets, consume_all, create_topic, end_offsets, produce
from testkit.orders import order, order_records
from testkit.processes import REPO, kflow_run, run_args, sample_flow

pytestmark = pytest.mark.integration


@pytest.fixture
def collection(mongo_uri: str, collection_name: str) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    yield client["kestra"][collection_name]
    client["kestra"].drop_collection(collection_name)
    client.close()


def replay(flow: Path, dead: str, group: str, history: Path, mongo_uri: str, bootstrap: str):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "kflow", "replay", str(flow), "--from-dead-letter", dead,
         "--group-id", group, "--bootstrap-servers", bootstrap, "--json",
         "--history", str(history), "--timeout", "90"],
        capture_output=True, text=True, cwd=REPO, timeout=150, check=False,
        env={**os.environ, "ENV_MONGO_URI": mongo_uri},
    )  # fmt: skip


def test_replay_acknowledges_the_successes_and_keeps_the_failures(
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    keyspace_name: str,
    collection_name: str,
    products: Any,
    collection: Any,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    good = [order("d", i) for i in range(3)]
    late = {**order("d", 10), "product_id": "7001"}  # added to Cassandra before the replay
    never = {**order("d", 11), "product_id": "7002"}  # still unknown at the first replay
    produce(kafka_bootstrap, topic_name, order_records([good[0], late, good[1], never, good[2]]))
    dead = unique_name("dead")
    create_topic(kafka_bootstrap, dead)
    flow = sample_flow(
        tmp_path,
        "get_detailed_order.yaml",
        {
            "kestra.products": f"{keyspace_name}.products",
            '"detailed_orders"': f'"{collection_name}"',
        },
    )
    history = tmp_path / "history.sqlite"
    first = kflow_run(
        flow,
        *run_args(kafka_bootstrap, topic_name, unique_name("g"), "--max-executions", "5",
                  "--timeout", "90", "--dead-letter", dead, "--history", str(history)),
        mongo_uri=mongo_uri,
    )  # fmt: skip
    assert first.code == 0, first.stderr
    failed_ids = {e["id"] for e in first.executions if e["state"] == "FAILED"}
    assert len(failed_ids) == 2
    assert end_offsets(kafka_bootstrap, dead) == {(dead, 0): 2}

    # The first replay: one cause fixed, the other not.
    products.execute(
        f"INSERT INTO {keyspace_name}.products (product_id, product_name, product_category, "
        "brand) VALUES (7001, 'late', 'Toys', 'acme')"
    )
    group = unique_name("replay")
    r1 = replay(flow, dead, group, history, mongo_uri, kafka_bootstrap)
    assert r1.returncode == 1, r1.stderr
    runs = [json.loads(line) for line in r1.stdout.splitlines()]
    assert sorted(e["state"] for e in runs) == ["FAILED", "SUCCESS"]
    assert (
        f"kflow replay: {dead}: 2 of 2 dead-lettered records replayed" in r1.stderr
        and "1 succeeded (acknowledged), 1 failed (1 appended to" in r1.stderr
    ), r1.stderr
    # Every record held at the start is committed; the failure was written back first.
    assert committed_offsets(kafka_bootstrap, group) == {(dead, 0): 2}
    assert end_offsets(kafka_bootstrap, dead) == {(dead, 0): 3}
    letters = consume_all(kafka_bootstrap, dead, 3)
    again = letters[2]
    assert json.loads(again.value) == never  # the original value, unchanged
    headers = dict(again.headers)
    assert headers["kflow.failed.task"] == b"insert_into_mongodb"
    assert sum(1 for k, _ in again.headers if k == "kflow.execution.id") == 1
    assert collection.count_documents({"order_id": late["order_id"]}) == 1
    assert collection.count_documents({"order_id": never["order_id"]}) == 0

    # The replays are kept in the history, each naming the execution it replays.
    listed = subprocess.run(
        [sys.executable, "-m", "kflow", "executions", "list", "--json", "--history", str(history)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=True,
    )  # fmt: skip
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {r["replayOf"] for r in records if r["replayOf"]} == failed_ids
    assert all(r["trigger"]["headers"] == {} for r in records if r["replayOf"])

    # A second replay of the same group sees only the record that failed again.
    products.execute(
        f"INSERT INTO {keyspace_name}.products (product_id, product_name, product_category, "
        "brand) VALUES (7002, 'later', 'Toys', 'acme')"
    )
    r2 = replay(flow, dead, group, history, mongo_uri, kafka_bootstrap)
    assert r2.returncode == 0, r2.stderr
    assert [json.loads(line)["state"] for line in r2.stdout.splitlines()] == ["SUCCESS"]
    assert "1 of 1 dead-lettered records replayed" in r2.stderr
    assert committed_offsets(kafka_bootstrap, group) == {(dead, 0): 3}
    assert collection.count_documents({"order_id": never["order_id"]}) == 1
    assert collection.count_documents({"order_id": late["order_id"]}) == 1

    r3 = replay(flow, dead, group, history, mongo_uri, kafka_bootstrap)
    assert r3.returncode == 0, r3.stderr
    assert r3.stdout == ""
    assert "nothing to replay" in r3.stderr


def test_an_unknown_dead_letter_topic_is_one_line(
    kafka_bootstrap: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    flow = sample_flow(tmp_path, "get_detailed_order.yaml", {})
    missing = unique_name("nope")
    r = replay(
        flow, missing, unique_name("g"), tmp_path / "h.sqlite", "mongodb://x", kafka_bootstrap
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        f"kflow: error: --from-dead-letter: Kafka topic {missing!r} does not exist"
    )


def test_amqp_replay_acks_the_successes_and_keeps_the_failures_in_the_queue(
    amqp_url: str,
    mongo_uri: str,
    keyspace_name: str,
    collection_name: str,
    products: Any,
    collection: Any,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    from testkit import amqp

    queue, dead = unique_name("q"), unique_name("dlq")
    good = [order("a", i) for i in range(2)]
    late = {**order("a", 10), "product_id": "7101"}
    never = {**order("a", 11), "product_id": "7102"}
    flow = sample_flow(
        tmp_path,
        "blog-flow-amqp.yaml",
        {
            "kestra.products": f"{keyspace_name}.products",
            '"detailed_orders"': f'"{collection_name}"',
            "queue: orders": f"queue: {queue}",
        },
    )
    history = tmp_path / "history.sqlite"
    env = {**os.environ, "ENV_MONGO_URI": mongo_uri}
    try:
        amqp.run(amqp.declare_queue(amqp_url, queue))
        bodies = [amqp.json_body(o) for o in [good[0], late, good[1], never]]
        amqp.run(amqp.publish(amqp_url, queue, bodies))

        def kflow(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "kflow", *args, "--history", str(history)],
                capture_output=True, text=True, cwd=REPO, timeout=150, check=False, env=env,
            )  # fmt: skip

        first = kflow("run", str(flow), "--json", "--dead-letter", dead, "--max-executions", "4",
                      "--timeout", "90")  # fmt: skip
        assert first.returncode == 0, first.stderr
        assert sorted(json.loads(x)["state"] for x in first.stdout.splitlines()) == (
            ["FAILED"] * 2 + ["SUCCESS"] * 2
        )
        assert amqp.run(amqp.ready_count(amqp_url, dead)) == 2

        products.execute(
            f"INSERT INTO {keyspace_name}.products (product_id, product_name, product_category, "
            "brand) VALUES (7101, 'late', 'Toys', 'acme')"
        )
        r1 = kflow("replay", str(flow), "--from-dead-letter", dead, "--json", "--timeout", "90")
        assert r1.returncode == 1, r1.stderr
        assert sorted(json.loads(x)["state"] for x in r1.stdout.splitlines()) == [
            "FAILED",
            "SUCCESS",
        ]
        assert "2 of 2 dead-lettered records replayed" in r1.stderr, r1.stderr
        assert "1 succeeded (acknowledged), 1 failed (1 appended to" in r1.stderr
        assert amqp.run(amqp.ready_count(amqp_url, dead)) == 1  # the failure, and only it
        assert collection.count_documents({"order_id": late["order_id"]}) == 1

        products.execute(
            f"INSERT INTO {keyspace_name}.products (product_id, product_name, product_category, "
            "brand) VALUES (7102, 'later', 'Toys', 'acme')"
        )
        r2 = kflow("replay", str(flow), "--from-dead-letter", dead, "--json", "--timeout", "90")
        assert r2.returncode == 0, r2.stderr
        assert [json.loads(x)["state"] for x in r2.stdout.splitlines()] == ["SUCCESS"]
        assert amqp.run(amqp.ready_count(amqp_url, dead)) == 0
        assert collection.count_documents({"order_id": never["order_id"]}) == 1
        assert collection.count_documents({"order_id": late["order_id"]}) == 1

        r3 = kflow("replay", str(flow), "--from-dead-letter", dead, "--timeout", "60")
        assert r3.returncode == 0, r3.stderr
        assert "nothing to replay" in r3.stderr
    finally:
        amqp.run(amqp.delete(amqp_url, queue, dead))
