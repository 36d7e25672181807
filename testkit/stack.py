"""The local stack for tests and benchmarks: devstack control, outages, seeding, reads.

Outages always end: :func:`outage` starts the service again, and waits until it answers,
whatever the block did (others may run tests on the same stack).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STACK = REPO / "devstack" / "stack"


def stack(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``devstack/stack ARGS``."""
    return subprocess.run(
        [str(STACK), *args], capture_output=True, text=True, cwd=REPO, timeout=timeout, check=False
    )


def service_up(service: str) -> None:
    """Start ``service`` (idempotent) and wait until it answers a real request."""
    last = ""
    for _ in range(3):
        proc = stack("up", service)
        if proc.returncode == 0:
            return
        last = proc.stdout + proc.stderr
    raise AssertionError(f"devstack could not start {service}: {last[-2000:]}")


@contextlib.contextmanager
def outage(service: str) -> Iterator[float]:
    """Stop ``service`` for the block; it is started again (and answering) afterwards.

    Yields the monotonic time the service went down.
    """
    import time

    try:
        proc = stack("down", service)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield time.monotonic()
    finally:
        service_up(service)


def seed_products(host: str = "127.0.0.1", port: int = 9042) -> None:
    """``kflow seed products``: ``kestra.products`` holds the 20 products of data/products.csv."""
    proc = subprocess.run(
        [sys.executable, "-m", "kflow", "seed", "products", "--hosts", f"{host}:{port}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        raise AssertionError(f"kflow seed products failed: {proc.stderr[-1000:]}")


def cassandra_products(host: str = "127.0.0.1", port: int = 9042) -> dict[str, dict[str, str]]:
    """The Cassandra products table as the blog flow stores it: by product id, values as text."""
    from cassandra.cluster import Cluster

    cluster = Cluster([host], port=port)
    try:
        session = cluster.connect()
        rows = session.execute(
            "SELECT product_id, product_name, brand, product_category FROM kestra.products"
        )
        return {
            str(r.product_id): {
                "id": str(r.product_id),
                "name": r.product_name,
                "brand": r.brand,
                "category": r.product_category,
            }
            for r in rows
        }
    finally:
        cluster.shutdown()


@contextlib.contextmanager
def fresh_database(mongo_uri: str, name: str) -> Iterator[Any]:
    """A MongoDB database of the caller's own (FerretDB keeps one SQLite file per database, so
    tests running at the same time do not lock each other out); dropped afterwards."""
    from pymongo import MongoClient

    client: Any = MongoClient(mongo_uri)
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")
