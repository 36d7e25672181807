"""Scenario 3 (part not covered by test_dead_letter.py): Kestra's ``onSerdeError`` in a flow.

- ``onSerdeError: {type: DLQ, topic: T}``: a record that cannot be deserialized is sent,
  unchanged, to T with ``kflow.*`` headers; its execution FAILS and is counted; records whose
  execution fails for another reason are not dead-lettered (only serde errors are).
- ``onSerdeError: {type: SKIPPED}``: such a record makes no execution at all, and its offset is
  committed with the others (the group does not stall on it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from testkit.kafka import committed_offsets, consume_all, create_topic, send_all
from testkit.orders import order
from testkit.processes import run_args, running, sample_flow
from testkit.stack import fresh_database, seed_products


def serde_flow(tmp_path: Path, database: str, on_serde_error: str) -> Path:
    return sample_flow(
        tmp_path,
        "get_detailed_order.yaml",
        {
            'database: "kestra"': f"database: {database}",
            '"detailed_orders"': "detailed",
            "    groupId: kestraConsumer": f"    groupId: kestraConsumer\n{on_serde_error}",
        },
    )


def records() -> list[tuple[bytes, bytes]]:
    bad_product = {**order("sd", 3), "product_id": "not a number"}
    return [
        (b"sd-0", json.dumps(order("sd", 0)).encode()),
        (b"bad-1", b"{not json"),
        (b"sd-2", json.dumps(order("sd", 2)).encode()),
        (b"sd-3", json.dumps(bad_product).encode()),  # fails in a task, not in the serde
        (b"bad-4", b'{"order_id": "\xff"}'),
        (b"sd-5", json.dumps(order("sd", 5)).encode()),
    ]


def test_on_serde_error_dlq_sends_only_undecodable_records(
    kafka_bootstrap: str,
    mongo_uri: str,
    cassandra_port: int,
    cassandra_hosts: list[str],
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    seed_products(port=cassandra_port)
    topic, dead, database = unique_name("serde"), unique_name("dlq"), unique_name("db")
    create_topic(kafka_bootstrap, topic)
    create_topic(kafka_bootstrap, dead)
    sent = records()
    send_all(kafka_bootstrap, topic, sent)
    on_error = f"    onSerdeError:\n      type: DLQ\n      topic: {dead}"
    flow = serde_flow(tmp_path, database, on_error)
    args = run_args(kafka_bootstrap, topic, unique_name("g"), "--max-executions", "6")

    with fresh_database(mongo_uri, database) as db:
        with running(flow, args, tmp_path / "run", {"ENV_MONGO_URI": mongo_uri}) as run:
            assert run.wait(90) == 0, run.stderr()[-2000:]
        states = {e["trigger"]["offset"]: e["state"] for e in run.executions()}
        assert states == {
            0: "SUCCESS",
            1: "FAILED",
            2: "SUCCESS",
            3: "FAILED",
            4: "FAILED",
            5: "SUCCESS",
        }
        assert "2 dead-lettered" in run.stderr()
        assert sorted(d["order_id"] for d in db["detailed"].find({})) == ["sd-0", "sd-2", "sd-5"]

    letters = consume_all(kafka_bootstrap, dead, 2, deadline_s=30)
    assert [(r.key, r.value) for r in letters] == [sent[1], sent[4]]  # unchanged, in order
    for letter, offset in zip(letters, (1, 4), strict=True):
        headers = dict(letter.headers)
        assert headers["kflow.flow"] == b"dev.get_detailed_order"
        assert headers["kflow.source.topic"] == topic.encode()
        assert headers["kflow.source.offset"] == str(offset).encode()
        assert headers["kflow.failed.task"] == b""  # no task ran
        assert b"cannot deserialize the value" in headers["kflow.error"]
        assert headers["kflow.execution.id"]


def test_on_serde_error_skipped_makes_no_execution_and_commits_past_it(
    kafka_bootstrap: str,
    mongo_uri: str,
    cassandra_port: int,
    cassandra_hosts: list[str],
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    seed_products(port=cassandra_port)
    topic, group, database = unique_name("skip"), unique_name("g"), unique_name("db")
    create_topic(kafka_bootstrap, topic)
    send_all(kafka_bootstrap, topic, records())
    flow = serde_flow(tmp_path, database, "    onSerdeError:\n      type: SKIPPED")
    args = run_args(kafka_bootstrap, topic, group, "--max-executions", "4")

    with fresh_database(mongo_uri, database) as db:
        with running(flow, args, tmp_path / "run", {"ENV_MONGO_URI": mongo_uri}) as run:
            assert run.wait(90) == 0, run.stderr()[-2000:]
        states = {e["trigger"]["offset"]: e["state"] for e in run.executions()}
        assert states == {0: "SUCCESS", 2: "SUCCESS", 3: "FAILED", 5: "SUCCESS"}
        assert db["detailed"].count_documents({}) == 3
    assert committed_offsets(kafka_bootstrap, group) == {(topic, 0): 6}
