"""``kflow run --metrics-port`` and ``--log-format json`` on the blog flow, against the real
Kafka, Cassandra and MongoDB; ``/metrics`` read with the Prometheus client's own parser."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit.kafka import create_topic, send_all
from testkit.metrics import Sample, get, scrape
from testkit.orders import csv_orders, order_records
from testkit.processes import KflowProcess, blog_flow, run_args, running
from testkit.waiting import wait_until

pytestmark = pytest.mark.integration

URL = re.compile(r"metrics on (http://\S+)/metrics,")


@pytest.fixture(autouse=True)
def seeded(seeded_products: None) -> None:
    """The blog flow reads the products."""


def total(samples: dict[Sample, float], name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples carrying ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def backlog(samples: dict[Sample, float]) -> dict[str, float]:
    """``kflow_backlog`` by stream (a stream whose backlog is not known yet has none)."""
    return {dict(ls)["stream"]: v for (name, ls), v in samples.items() if name == "kflow_backlog"}


def log_lines(process: KflowProcess) -> list[dict[str, Any]]:
    """Every stderr line, each parsed as one JSON object (a line that is not fails)."""
    return [json.loads(line) for line in process.stderr().splitlines()]


def with_flow(records: list[dict[str, Any]], flow: Path) -> list[dict[str, Any]]:
    """The lines written once the flow was loaded, all naming it; the lines before are the
    loader's diagnostics of the file (two warnings for the blog flow)."""
    before = [r for r in records if "flow" not in r]
    assert [(r["level"], r["message"].startswith(f"{flow}:")) for r in before] == [
        ("warning", True),
        ("warning", True),
    ]
    after = records[len(before) :]
    assert {tuple(sorted(r)) for r in after} == {("flow", "level", "message", "ts")}
    assert {r["flow"] for r in after} == {"dev.get_detailed_order"}
    return after


def base_url(process: KflowProcess) -> str:
    def found() -> str | None:
        for record in log_lines(process):
            match = URL.search(record["message"])
            if match:
                return match.group(1)
        return None

    url = wait_until(found, lambda u: u is not None, timeout=30, what="the metrics address")
    assert url is not None
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_count_every_execution_of_the_blog_flow(
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    collection_name: str,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    rows = csv_orders()[:60]
    create_topic(kafka_bootstrap, topic_name, partitions=3)
    flow = blog_flow(tmp_path, collection_name)
    args = run_args(kafka_bootstrap, topic_name, unique_name("g"))
    args += ["--metrics-port", "0", "--log-format", "json", "--no-history"]
    env = {"ENV_MONGO_URI": mongo_uri}
    with running(flow, args, tmp_path / "run", env) as process:
        base = base_url(process)
        assert get(base + "/healthz") == (200, "ok\n")
        wait_until(
            lambda: get(base + "/readyz"), lambda r: r[0] == 200, timeout=60, what="/readyz 200"
        )
        assert get(base + "/readyz") == (200, "ready\n")

        send_all(kafka_bootstrap, topic_name, order_records(rows))
        wait_until(process.count, lambda n: n >= len(rows), timeout=90, what="60 executions")
        flow_labels = {"namespace": "dev", "flow": "get_detailed_order"}
        partitions = {f"{topic_name}[{p}]" for p in range(3)}
        samples = wait_until(
            lambda: scrape(base),
            lambda s: (
                total(s, "kflow_acks_total", outcome="success") == len(rows)
                and backlog(s) == dict.fromkeys(partitions, 0.0)
                and total(s, "kflow_commits_total", result="ok") > 0
            ),
            timeout=30,
            what="every record acknowledged and no backlog on any partition",
        )
        n = len(rows)
        assert total(samples, "kflow_executions_total", **flow_labels, state="SUCCESS") == n
        assert total(samples, "kflow_executions_total") == n
        assert total(samples, "kflow_records_received_total", **flow_labels) == n
        assert total(samples, "kflow_executions_in_flight") == 0
        assert total(samples, "kflow_execution_duration_seconds_count", **flow_labels) == n
        assert total(samples, "kflow_execution_duration_seconds_bucket", le="+Inf") == n
        for task in ("get_product_from_cassandra", "insert_into_mongodb"):
            assert total(samples, "kflow_task_run_duration_seconds_count", task_id=task) == n
        assert total(samples, "kflow_task_retries_total") == 0
        assert total(samples, "kflow_dead_lettered_total") == 0
        assert total(samples, "kflow_acks_total", outcome="failed") == 0
        assert total(samples, "kflow_trigger_streams") == 3
        assert total(samples, "kflow_trigger_ready") == 1
        assert total(samples, "kflow_rebalances_total", event="assigned") >= 1
        assert total(samples, "kflow_rebalance_partitions_total", event="assigned") >= 3
        assert total(samples, "kflow_connection_errors_total", service="kafka") == 0

        process.sigterm()
        assert process.wait(60) == 0, process.stderr()[-2000:]

    records = with_flow(log_lines(process), flow)
    messages = [r["message"] for r in records]
    assert any(m.startswith("kflow run: trigger daily: assigned ") for m in messages)
    assert messages[-1].startswith("kflow run: stopped (signal) after ")
    assert f"{n} executions (SUCCESS {n})" in messages[-1]
    assert records[-1]["level"] == "info"


def test_not_ready_while_no_kafka_answers_and_the_error_is_a_json_line(
    mongo_uri: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    port = free_port()  # nothing listens there
    flow = blog_flow(tmp_path, unique_name("c"))
    args = run_args(f"127.0.0.1:{port}", "orders", unique_name("g"))
    args += ["--metrics-port", "0", "--log-format", "json", "--no-history"]
    with running(flow, args, tmp_path / "run", {"ENV_MONGO_URI": mongo_uri}) as process:
        base = base_url(process)
        assert get(base + "/healthz") == (200, "ok\n")
        connecting = (503, "flow dev.get_detailed_order: trigger connecting\n")
        wait_until(  # "starting" until the trigger is built, then "connecting" until it fails
            lambda: get(base + "/readyz"),
            lambda r: r == connecting,
            timeout=10,
            what="/readyz 503 while connecting",
        )
        status = scrape(base)
        assert total(status, "kflow_trigger_ready") == 0
        assert process.wait(60) == 1
    records = with_flow(log_lines(process), flow)
    assert records[-1]["level"] == "error"
    assert records[-1]["message"] == f"kflow: error: cannot reach Kafka at 127.0.0.1:{port}"
