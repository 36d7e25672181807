"""Soak: ``kflow run`` on the blog flow for a long time at a steady rate; prints figures.

    .venv/bin/python bench/soak.py [--seconds 600] [--rate 500] [--concurrency 64]

Needs the local stack (``devstack/stack up``). Creates its own topic, consumer group and
MongoDB database (dropped at the end), seeds ``kestra.products``, starts ``kflow run --json``
as a child process and a paced producer, then every ``--every`` seconds prints one row:
executions finished in the interval, their rate, trigger-to-done latency percentiles (from
each execution's ``latencyMs``), the process's resident memory, and the backlog (orders
sent but not yet finished). At the end: RSS at start and end, overall percentiles, states.

This is a benchmark, not a test: it asserts nothing and exits 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Executions:
    """Reads ``kflow run --json`` lines from a pipe; keeps counts and interval latencies."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.finished = 0
        self.states: Counter[str] = Counter()
        self.interval: list[float] = []
        self.all: list[float] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.stream:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            latency = e.get("latencyMs")
            with self.lock:
                self.finished += 1
                self.states[e.get("state", "?")] += 1
                if latency is not None:
                    self.interval.append(latency)
                    self.all.append(latency)

    def take_interval(self) -> tuple[int, list[float]]:
        with self.lock:
            values, self.interval = self.interval, []
            return self.finished, values


class Producer(threading.Thread):
    def __init__(self, bootstrap: str, topic: str, rate: float, seconds: float) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.rate, self.seconds = bootstrap, topic, rate, seconds
        self.sent = 0
        self.failed = 0

    def _failed(self, _exc: BaseException) -> None:
        self.failed += 1

    def run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks=1, linger_ms=5)
        start = time.monotonic()
        total = int(self.rate * self.seconds)
        try:
            for i in range(total):
                delay = start + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                value = {
                    "order_id": f"soak-{i}",
                    "customer_name": f"Customer {i}",
                    "customer_email": f"c{i}@example.org",
                    "product_id": str(1 + i % 20),
                    "price": "12.50",
                    "quantity": "2",
                    "total": "25.00",
                }
                key = value["order_id"].encode()
                producer.send(self.topic, key=key, value=json.dumps(value).encode()).add_errback(
                    self._failed
                )
                self.sent += 1
            producer.flush(60)
        finally:
            producer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--every", type=float, default=30, help="seconds between rows")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--mongo", default="mongodb://127.0.0.1:27017")
    parser.add_argument("--cassandra", default="127.0.0.1:9042")
    ns = parser.parse_args()

    from kafka.admin import KafkaAdminClient, NewTopic
    from pymongo import MongoClient

    tag = uuid.uuid4().hex[:8]
    topic, group, database = f"soak_{tag}", f"soak_{tag}", f"soak_{tag}"
    seed = subprocess.run(
        [sys.executable, "-m", "kflow", "seed", "products", "--hosts", ns.cassandra],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if seed.returncode != 0:
        print(seed.stderr, file=sys.stderr)
        return 1
    admin = KafkaAdminClient(bootstrap_servers=ns.bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=ns.partitions, replication_factor=1)])
    admin.close()
    text = (REPO / "samples" / "get_detailed_order.yaml").read_text(encoding="utf-8")
    text = text.replace('database: "kestra"', f"database: {database}")
    workdir = Path(tempfile.mkdtemp(prefix="kflow-soak-"))
    flow = workdir / "flow.yaml"
    flow.write_text(text, encoding="utf-8")
    stderr = (workdir / "kflow.stderr").open("wb")
    # fmt: off
    args = [
        sys.executable, "-m", "kflow", "run", str(flow), "--json",
        "--bootstrap-servers", ns.bootstrap, "--topic", topic, "--group-id", group,
        "--from-beginning", "--concurrency", str(ns.concurrency),
    ]
    # fmt: on
    env = {**os.environ, "ENV_MONGO_URI": ns.mongo}
    proc = subprocess.Popen(
        args, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, env=env, text=True
    )
    executions = Executions(proc.stdout)
    time.sleep(2)  # let the consumer join before measuring the starting RSS
    rss_start = rss_mib(proc.pid)
    producer = Producer(ns.bootstrap, topic, ns.rate, ns.seconds)
    start = time.monotonic()
    producer.start()
    print(
        f"soak: {ns.rate:g}/s for {ns.seconds:g} s, concurrency {ns.concurrency}, topic {topic} "
        f"({ns.partitions} partitions); kflow pid {proc.pid}, RSS {rss_start:.1f} MiB"
    )
    print(
        f"{'t (s)':>6} {'done':>8} {'rate/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'RSS MiB':>8} {'backlog':>8}"
    )
    rows = []
    last_done, last_t = 0, start
    try:
        while producer.is_alive() or executions.finished < producer.sent:
            time.sleep(ns.every)  # a sampling interval, not a synchronisation
            now = time.monotonic()
            done, lat = executions.take_interval()
            rate = (done - last_done) / (now - last_t)
            backlog = producer.sent - done
            row = (
                now - start,
                done,
                rate,
                percentile(lat, 0.5),
                percentile(lat, 0.95),
                percentile(lat, 0.99),
                rss_mib(proc.pid),
                backlog,
            )
            rows.append(row)
            print(
                f"{row[0]:6.0f} {row[1]:8d} {row[2]:8.1f} {row[3]:8.1f} {row[4]:8.1f} "
                f"{row[5]:8.1f} {row[6]:8.1f} {row[7]:8d}",
                flush=True,
            )
            last_done, last_t = done, now
            if proc.poll() is not None:
                print("kflow run exited early", file=sys.stderr)
                break
            if not producer.is_alive() and now - start > ns.seconds * 2:
                print("gave up waiting for the backlog", file=sys.stderr)
                break
    finally:
        rss_end = rss_mib(proc.pid)
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        executions.thread.join(10)
        stderr.close()
        client: Any = MongoClient(ns.mongo)
        stored = client[database]["detailed_orders"].estimated_document_count()
        client.drop_database(database)
        client.close()
    lat = executions.all
    print(
        f"\nsent {producer.sent} (failed sends {producer.failed}), finished {executions.finished}"
        f" {dict(executions.states)}, stored {stored}, in {time.monotonic() - start:.0f} s"
    )
    warm = rows[0][6] if rows else float("nan")
    print(
        f"RSS at launch {rss_start:.1f} MiB, after the first interval {warm:.1f} MiB, "
        f"end {rss_end:.1f} MiB"
    )
    print(
        f"latency ms: p50 {percentile(lat, 0.5):.1f}, p95 {percentile(lat, 0.95):.1f}, "
        f"p99 {percentile(lat, 0.99):.1f}, max {max(lat, default=float('nan')):.1f}"
    )
    print(f"kflow stderr: {workdir / 'kflow.stderr'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
