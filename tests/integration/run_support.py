"""Helpers for tests that run ``kflow run`` against the real stack."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

REPO = Path(__file__).resolve().parents[2]
BLOG_FLOW = REPO / "samples" / "get_detailed_order.yaml"
ORDERS_CSV = REPO / "data" / "orders.csv"
PRODUCTS_CSV = REPO / "data" / "products.csv"


def orders() -> list[dict[str, str]]:
    with ORDERS_CSV.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def products() -> dict[int, dict[str, str]]:
    with PRODUCTS_CSV.open(newline="", encoding="utf-8") as f:
        return {int(r["product_id"]): r for r in csv.DictReader(f)}


def seed_products(cassandra_host: str, cassandra_port: int) -> None:
    """``kflow seed products``: kestra.products holds the 20 products of data/products.csv."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kflow",
            "seed",
            "products",
            "--hosts",
            f"{cassandra_host}:{cassandra_port}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def produce(
    bootstrap: str, topic: str, records: list[tuple[str | None, bytes]], partitions: int = 1
) -> None:
    """Create ``topic`` and send ``(key, value)`` records, waiting for every acknowledgement."""
    create_topic(bootstrap, topic, partitions)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        futures = [
            producer.send(topic, key=None if k is None else k.encode(), value=v) for k, v in records
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def order_records(rows: list[dict[str, str]]) -> list[tuple[str | None, bytes]]:
    return [(r["order_id"], json.dumps(r).encode()) for r in rows]


def blog_flow(tmp_path: Path, collection: str) -> Path:
    """The sample blog flow, writing to its own collection."""
    text = BLOG_FLOW.read_text(encoding="utf-8")
    assert 'collection: "detailed_orders"' in text
    path = tmp_path / "flow.yaml"
    path.write_text(text.replace('"detailed_orders"', f'"{collection}"'), encoding="utf-8")
    return path


@dataclass
class RunResult:
    code: int
    executions: list[dict[str, Any]]
    stderr: str


def kflow_run(
    flow: Path, *args: str, mongo_uri: str, timeout: float = 120.0, **env: str
) -> RunResult:
    """``kflow run FLOW --json ARGS`` in a subprocess; returns the parsed executions."""
    environ = {**os.environ, "ENV_MONGO_URI": mongo_uri, **env}
    proc = subprocess.run(
        [sys.executable, "-m", "kflow", "run", str(flow), "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environ,
        check=False,
    )
    executions = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return RunResult(proc.returncode, executions, proc.stderr)
