"""The samples beyond the blog flow, end to end on the real stack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer
from pymongo import MongoClient

from testkit.kafka import produce
from testkit.orders import csv_orders, order_records
from testkit.processes import REPO, kflow_run

SAMPLES = REPO / "samples"


@pytest.fixture(autouse=True)
def seeded(seeded_products: None) -> None:
    """Every test here reads the products."""


@pytest.fixture
def db(mongo_uri: str) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    yield client["kestra"]
    client.close()


def sample(tmp_path: Path, name: str, **replace: str) -> Path:
    text = (SAMPLES / name).read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def args(bootstrap: str, topic: str, group: str, n: int) -> list[str]:
    return [
        "--bootstrap-servers",
        bootstrap,
        "--topic",
        topic,
        "--group-id",
        group,
        "--from-beginning",
        "--max-executions",
        str(n),
        "--timeout",
        "90",
    ]


def test_idempotent_sample_never_duplicates_a_redelivered_order(
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    collection_name: str,
    db: Any,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    rows = csv_orders()[:30]
    produce(kafka_bootstrap, topic_name, order_records(rows) * 2, partitions=3)  # all twice
    flow = sample(
        tmp_path, "idempotent_detailed_order.yaml", detailed_orders_idempotent=collection_name
    )
    result = kflow_run(
        flow, *args(kafka_bootstrap, topic_name, unique_name("g"), 60), mongo_uri=mongo_uri
    )
    assert [e["state"] for e in result.executions] == ["SUCCESS"] * 60, result.stderr
    docs = list(db[collection_name].find({}, {"_id": 0}))
    db.drop_collection(collection_name)
    assert sorted(d["order_id"] for d in docs) == sorted(r["order_id"] for r in rows)
    first = next(d for d in docs if d["order_id"] == rows[0]["order_id"])
    assert first["total"] == float(rows[0]["total"])  # typed: a number, not a string
    assert isinstance(first["product"]["id"], int)


def test_route_sample_sends_high_value_orders_to_their_topic(
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    rows = csv_orders()[:40]
    produce(kafka_bootstrap, topic_name, order_records(rows))
    review = unique_name("review")
    flow = sample(tmp_path, "route_high_value_orders.yaml")
    flow.write_text(
        flow.read_text().replace("topic: high_value_orders", f"topic: {review}"), encoding="utf-8"
    )
    result = kflow_run(
        flow, *args(kafka_bootstrap, topic_name, unique_name("g"), 40), mongo_uri=mongo_uri
    )
    assert [e["state"] for e in result.executions] == ["SUCCESS"] * 40, result.stderr
    expected = {r["order_id"] for r in rows if float(r["total"]) >= 500}
    assert expected, "the dataset has high-value orders"
    consumer = KafkaConsumer(
        review, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    got: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while len(got) < len(expected) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            got.update({r.key.decode(): r for r in records})
    consumer.close()
    assert set(got) == expected
    some = got[min(expected)]
    assert json.loads(some.value)["order_id"] == min(expected)
    assert dict(some.headers)["routed-by"] == b"dev.route_high_value_orders"


def test_retry_sample_stores_every_known_order(
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    collection_name: str,
    db: Any,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    rows = csv_orders()[:20]
    produce(kafka_bootstrap, topic_name, order_records(rows))
    flow = sample(tmp_path, "detailed_order_with_retry.yaml", detailed_orders_retry=collection_name)
    result = kflow_run(
        flow, *args(kafka_bootstrap, topic_name, unique_name("g"), 20), mongo_uri=mongo_uri
    )
    assert [e["state"] for e in result.executions] == ["SUCCESS"] * 20, result.stderr
    names = {d["order_id"]: d["product_name"] for d in db[collection_name].find({})}
    db.drop_collection(collection_name)
    assert set(names) == {r["order_id"] for r in rows}
    assert all(names.values())
