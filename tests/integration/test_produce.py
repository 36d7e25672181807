"""`kflow produce orders` against the real Kafka of the local stack."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from typer.testing import CliRunner

from kflow.cli.app import app
from kflow.data.csvfiles import read_orders

REPO = Path(__file__).resolve().parents[2]
ORDERS = read_orders(REPO / "data" / "orders.csv")
DEADLINE_S = 60.0
runner = CliRunner()


def _consume(bootstrap: str, topic: str, count: int) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the beginning, once ``count`` have arrived."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    records: list[ConsumerRecord] = []
    try:
        deadline = time.monotonic() + DEADLINE_S
        while len(records) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        # anything beyond ``count`` would be a bug: give it a last chance to show up
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    finally:
        consumer.close()
    return records


@pytest.fixture
def topic(topic_name: str, kafka_bootstrap: str) -> Iterator[str]:
    yield topic_name
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.delete_topics([topic_name])
    finally:
        admin.close()


def _produce(kafka_bootstrap: str, topic: str, *args: str) -> str:
    result = runner.invoke(
        app, ["produce", "orders", "--bootstrap-servers", kafka_bootstrap, "--topic", topic, *args]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_count_keys_and_values(kafka_bootstrap: str, topic: str) -> None:
    out = _produce(kafka_bootstrap, topic, "--count", "30", "--rate", "0")
    assert out.startswith(f"sent 30, acknowledged 30, failed 0 to {topic} at {kafka_bootstrap}")
    records = _consume(kafka_bootstrap, topic, 30)
    assert len(records) == 30
    assert [r.key.decode() for r in records] == [o["order_id"] for o in ORDERS[:30]]
    # values are the CSV rows as JSON objects of strings, hard names intact
    assert [json.loads(r.value) for r in records] == ORDERS[:30]


def test_rate_limits_the_pace(kafka_bootstrap: str, topic: str) -> None:
    _produce(kafka_bootstrap, topic, "--count", "20", "--rate", "10")
    records = _consume(kafka_bootstrap, topic, 20)
    assert len(records) == 20
    stamps = sorted(r.timestamp for r in records)
    span = (stamps[-1] - stamps[0]) / 1000
    assert span == pytest.approx(1.9, abs=0.3)
    gaps = [(b - a) / 1000 for a, b in itertools.pairwise(stamps)]
    assert min(gaps) > 0.03  # paced one by one, never in a burst


def test_loop_replays_the_file(kafka_bootstrap: str, topic: str) -> None:
    _produce(kafka_bootstrap, topic, "--loop", "--count", "130", "--rate", "0")
    records = _consume(kafka_bootstrap, topic, 130)
    keys = [r.key.decode() for r in records]
    assert keys == [o["order_id"] for o in ORDERS] + [o["order_id"] for o in ORDERS[:30]]


def test_fake_orders_into_a_new_topic_with_partitions(kafka_bootstrap: str, topic: str) -> None:
    out = _produce(
        kafka_bootstrap, topic, "--fake", "500", "--rate", "0", "--partitions", "3",
        "--key", "customer_email",
    )  # fmt: skip
    assert out.startswith("sent 500, acknowledged 500, failed 0")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        (described,) = admin.describe_topics([topic])
    finally:
        admin.close()
    assert len(described["partitions"]) == 3
    records = _consume(kafka_bootstrap, topic, 500)
    assert len(records) == 500
    orders = [json.loads(r.value) for r in records]
    assert sorted(int(o["order_id"]) for o in orders) == list(range(101, 601))
    assert all(1 <= int(o["product_id"]) <= 20 for o in orders)
    assert all(r.key.decode() == json.loads(r.value)["customer_email"] for r in records)
    assert {r.partition for r in records} == {0, 1, 2}


def test_an_unreachable_broker_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = subprocess.run(
        [
            sys.executable, "-m", "kflow", "produce", "orders", "--bootstrap-servers",
            f"127.0.0.1:{port}", "--file", str(REPO / "data" / "orders.csv"),
        ],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert (
        done.stderr.strip().splitlines()[-1]
        == f"kflow: error: cannot reach Kafka at 127.0.0.1:{port}"
    )


def test_count_zero_with_partitions_only_prepares_the_topic(
    kafka_bootstrap: str, topic: str
) -> None:
    output = _produce(kafka_bootstrap, topic, "--count", "0", "--partitions", "3")
    assert "sent 0" in output
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        assert consumer.partitions_for_topic(topic) == {0, 1, 2}
    finally:
        consumer.close()
