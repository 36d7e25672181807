"""``kflow run`` on the blog flow against real Kafka, Cassandra and MongoDB."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pymongo import MongoClient

from testkit.kafka import produce
from testkit.orders import csv_orders, csv_products, order_records
from testkit.processes import blog_flow, kflow_run

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def seeded(seeded_products: None) -> None:
    """Every test here reads the products."""


@pytest.fixture
def collection(mongo_uri: str, collection_name: str) -> Iterator[object]:
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    yield client["kestra"][collection_name]
    client["kestra"].drop_collection(collection_name)
    client.close()


def run_args(kafka_bootstrap: str, topic: str, group: str, *extra: str) -> list[str]:
    return [
        "--bootstrap-servers",
        kafka_bootstrap,
        "--topic",
        topic,
        "--group-id",
        group,
        "--from-beginning",
        "--timeout",
        "90",
        *extra,
    ]


def test_blog_flow_enriches_every_order(
    seeded: None,
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    collection_name: str,
    collection: object,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    rows = csv_orders()
    assert len(rows) == 100
    produce(kafka_bootstrap, topic_name, order_records(rows), partitions=3)
    flow = blog_flow(tmp_path, collection_name)
    args = run_args(kafka_bootstrap, topic_name, unique_name("g"), "--max-executions", "100")
    result = kflow_run(flow, *args, mongo_uri=mongo_uri)
    assert result.code == 0, result.stderr
    assert [e["state"] for e in result.executions] == ["SUCCESS"] * 100
    assert {e["trigger"]["topic"] for e in result.executions} == {topic_name}

    catalog = csv_products()
    docs = {d["order_id"]: d for d in collection.find({}, {"_id": 0})}  # type: ignore[attr-defined]
    assert len(docs) == 100
    for row in rows:
        doc = docs[row["order_id"]]
        product = catalog[int(row["product_id"])]
        assert {k: doc[k] for k in row} == row  # every order field intact, as strings
        assert doc["product"] == {
            "id": product["product_id"],
            "name": product["product_name"],
            "brand": product["brand"],
            "category": product["product_category"],
        }


def test_quotes_and_backslashes_in_a_name_are_stored_intact(
    seeded: None,
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    collection_name: str,
    collection: object,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    name = 'Zoë "Z" O\'Brien \\ {{ evil }} ", "admin": true, "x": "'
    row = {**csv_orders()[0], "order_id": "q1", "customer_name": name}
    produce(kafka_bootstrap, topic_name, order_records([row]))
    flow = blog_flow(tmp_path, collection_name)
    args = run_args(kafka_bootstrap, topic_name, unique_name("g"), "--max-executions", "1")
    result = kflow_run(flow, *args, mongo_uri=mongo_uri)
    assert [e["state"] for e in result.executions] == ["SUCCESS"], result.stderr
    doc = collection.find_one({"order_id": "q1"}, {"_id": 0})  # type: ignore[attr-defined]
    assert doc["customer_name"] == name
    assert "admin" not in doc


def test_a_record_that_is_not_json_fails_alone(
    seeded: None,
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    collection_name: str,
    collection: object,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    good = order_records(csv_orders()[:4])
    records = [good[0], ("bad", b"not json {"), good[1], ("bad2", b"\xff\xfe"), good[2]]
    produce(kafka_bootstrap, topic_name, records)
    flow = blog_flow(tmp_path, collection_name)
    args = run_args(kafka_bootstrap, topic_name, unique_name("g"), "--max-executions", "5")
    result = kflow_run(flow, *args, mongo_uri=mongo_uri)
    assert result.code == 0, result.stderr
    by_offset = {e["trigger"]["offset"]: e for e in result.executions}
    assert [by_offset[o]["state"] for o in range(5)] == [
        "SUCCESS",
        "FAILED",
        "SUCCESS",
        "FAILED",
        "SUCCESS",
    ]
    assert "not JSON" in by_offset[1]["error"]
    assert f"{topic_name}[0]@1" in by_offset[1]["error"]
    assert "not valid UTF-8" in by_offset[3]["error"]
    assert by_offset[1]["taskRuns"] == []
    assert collection.count_documents({}) == 3  # type: ignore[attr-defined]


def test_a_restart_resumes_exactly_where_work_stopped(
    seeded: None,
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    collection_name: str,
    collection: object,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    rows = csv_orders()
    produce(kafka_bootstrap, topic_name, order_records(rows), partitions=3)
    flow = blog_flow(tmp_path, collection_name)
    group = unique_name("g")
    first = kflow_run(
        flow,
        *run_args(kafka_bootstrap, topic_name, group, "--max-executions", "50"),
        mongo_uri=mongo_uri,
    )
    assert first.code == 0, first.stderr
    assert len(first.executions) == 50
    second = kflow_run(
        flow,
        *run_args(kafka_bootstrap, topic_name, group, "--max-executions", "50"),
        mongo_uri=mongo_uri,
    )
    assert len(second.executions) == 50, second.stderr
    seen = [
        (e["trigger"]["partition"], e["trigger"]["offset"])
        for e in first.executions + second.executions
    ]
    assert len(set(seen)) == 100  # nothing twice, nothing missed
    ids = sorted(d["order_id"] for d in collection.find({}, {"order_id": 1}))  # type: ignore[attr-defined]
    assert ids == sorted(r["order_id"] for r in rows)
    # and a third run finds nothing left to do
    third = kflow_run(
        flow,
        "--bootstrap-servers",
        kafka_bootstrap,
        "--topic",
        topic_name,
        "--group-id",
        group,
        "--timeout",
        "5",
        mongo_uri=mongo_uri,
    )
    assert third.code == 0 and third.executions == []


def test_same_key_records_run_in_offset_order_under_concurrency(
    seeded: None,
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    collection_name: str,
    collection: object,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    base = csv_orders()
    rows = [{**base[i], "order_id": str(i)} for i in range(60)]
    records = [(f"customer-{i % 6}", json.dumps(r).encode()) for i, r in enumerate(rows)]
    produce(kafka_bootstrap, topic_name, records)
    flow = blog_flow(tmp_path, collection_name)
    args = run_args(
        kafka_bootstrap,
        topic_name,
        unique_name("g"),
        "--max-executions",
        "60",
        "--concurrency",
        "16",
    )
    result = kflow_run(flow, *args, mongo_uri=mongo_uri)
    assert [e["state"] for e in result.executions] == ["SUCCESS"] * 60, result.stderr

    def span(e: dict[str, object]) -> tuple[datetime, datetime]:
        return (
            datetime.fromisoformat(str(e["startDate"])),
            datetime.fromisoformat(str(e["endDate"])),
        )

    by_key: dict[str, list[dict[str, object]]] = defaultdict(list)
    for e in result.executions:
        by_key[e["trigger"]["key"]].append(e)
    assert len(by_key) == 6
    for runs in by_key.values():
        runs.sort(key=lambda e: e["trigger"]["offset"])  # type: ignore[index]
        for before, after in itertools.pairwise(runs):
            assert span(before)[1] <= span(after)[0]  # the next one started after this ended
    # different keys did overlap: the run was concurrent
    spans = sorted(span(e) for e in result.executions)
    overlaps = sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
    assert overlaps > 0


def test_unreachable_kafka_is_one_clear_line(tmp_path: Path, mongo_uri: str) -> None:
    flow = blog_flow(tmp_path, "unused")
    result = kflow_run(
        flow, "--bootstrap-servers", "127.0.0.1:1", "--timeout", "30", mongo_uri=mongo_uri
    )
    assert result.code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "Kafka" in last and "127.0.0.1:1" in last
    assert "Traceback" not in result.stderr
