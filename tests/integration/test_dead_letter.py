"""Dead-letter topics: failed records are kept, unchanged, with the reason in headers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaConsumer

from testkit.kafka import create_topic, produce
from testkit.orders import csv_orders, order_records
from testkit.processes import kflow_run


def consume_all(bootstrap: str, topic: str, count: int, deadline_s: float = 60) -> list[object]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    out: list[object] = []
    deadline = time.monotonic() + deadline_s
    try:
        while len(out) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
    finally:
        consumer.close()
    return out


def test_failed_records_go_to_the_dead_letter_topic_and_can_be_replayed(
    seeded_products: None,
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    collection_name: str,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    good = order_records(csv_orders()[:3])
    unknown_product = {**csv_orders()[3], "order_id": "dlq-1", "product_id": "99999"}
    records = [
        good[0],
        ("bad", b"{not json"),
        good[1],
        ("dlq-1", json.dumps(unknown_product).encode()),
        good[2],
    ]
    produce(kafka_bootstrap, topic_name, records)
    dead = unique_name("dead")
    create_topic(kafka_bootstrap, dead)
    flow_text = Path(__file__).resolve().parents[2] / "samples" / "detailed_order_with_retry.yaml"
    # The retry sample fails fast on an unknown product (Fail task) and on bad JSON.
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        flow_text.read_text()
        .replace("detailed_orders_retry", collection_name)
        .replace("errors:\n", "errorsDisabled:\n", 0),
        encoding="utf-8",
    )
    result = kflow_run(
        flow,
        "--bootstrap-servers",
        kafka_bootstrap,
        "--topic",
        topic_name,
        "--group-id",
        unique_name("g"),
        "--from-beginning",
        "--max-executions",
        "5",
        "--timeout",
        "90",
        "--dead-letter-topic",
        dead,
        mongo_uri=mongo_uri,
    )
    assert result.code == 0, result.stderr
    states = {e["trigger"]["offset"]: e["state"] for e in result.executions}
    assert states == {0: "SUCCESS", 1: "FAILED", 2: "SUCCESS", 3: "FAILED", 4: "SUCCESS"}
    assert "2 dead-lettered" in result.stderr

    letters = consume_all(kafka_bootstrap, dead, 2)
    assert len(letters) == 2
    by_key = {r.key: r for r in letters}  # type: ignore[attr-defined]
    assert by_key[b"bad"].value == b"{not json"
    assert by_key[b"dlq-1"].value == records[3][1]
    headers = dict(by_key[b"dlq-1"].headers)
    assert headers["kflow.flow"] == b"dev.detailed_order_with_retry"
    assert headers["kflow.failed.task"] == b"require_product"
    assert b"unknown product 99999" in headers["kflow.error"]
    assert headers["kflow.source.topic"] == topic_name.encode()
    assert headers["kflow.source.offset"] == b"3"

    # Replaying the dead-letter topic through the flow: same outcome, nothing lost.
    replay = kflow_run(
        flow,
        "--bootstrap-servers",
        kafka_bootstrap,
        "--topic",
        dead,
        "--group-id",
        unique_name("r"),
        "--from-beginning",
        "--max-executions",
        "2",
        "--timeout",
        "60",
        mongo_uri=mongo_uri,
    )
    assert sorted(e["state"] for e in replay.executions) == ["FAILED", "FAILED"]
