"""The local stack for tests and benchmarks: devstack control, outages, seeding, reads.

Outages always end: :func:`outage` starts the service again, and waits until it answers,
whatever the block did (others may run tests on the same stack).

Addresses of the message brokers, from the same ``KFLOW_*_PORT`` variables as
``devstack/stack`` (host 127.0.0.1): :func:`amqp_address` / :func:`amqp_url` (RabbitMQ,
guest/guest, ``KFLOW_AMQP_PORT``, default 5672) and :func:`mqtt_address` (Mosquitto,
anonymous, ``KFLOW_MQTT_PORT``, default 1883), :func:`postgres_dsn` (PostgreSQL,
``kflow``/``kflow``, database ``kflow``, ``KFLOW_POSTGRES_PORT``, default 5432),
:func:`mysql_address` / :func:`mysql_dsn` (MariaDB, ``kflow``/``kflow``, database ``kflow``,
``KFLOW_MYSQL_PORT``, default 3306), :func:`nats_url` (nats-server with JetStream,
``KFLOW_NATS_PORT``, default 4222) and :func:`redis_url` (``KFLOW_REDIS_PORT``, default
6379). Kafka, Cassandra and MongoDB addresses are the fixtures of
``tests/integration/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STACK = REPO / "devstack" / "stack"
HOST = "127.0.0.1"


def _port(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    return int(raw) if raw else default


def amqp_address() -> tuple[str, int]:
    """RabbitMQ's AMQP 0-9-1 listener: ``("127.0.0.1", $KFLOW_AMQP_PORT or 5672)``."""
    return HOST, _port("KFLOW_AMQP_PORT", 5672)


def amqp_url(user: str = "guest", password: str = "guest", vhost: str = "/") -> str:
    """``amqp://guest:guest@127.0.0.1:5672/%2F`` (the default vhost ``/``, URL-encoded)."""
    from urllib.parse import quote

    host, port = amqp_address()
    return f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/" + quote(
        vhost, safe=""
    )


def mqtt_address() -> tuple[str, int]:
    """Mosquitto's MQTT listener (anonymous): ``("127.0.0.1", $KFLOW_MQTT_PORT or 1883)``."""
    return HOST, _port("KFLOW_MQTT_PORT", 1883)


def postgres_address() -> tuple[str, int]:
    """PostgreSQL (``wal_level=logical``): ``("127.0.0.1", $KFLOW_POSTGRES_PORT or 5432)``."""
    return HOST, _port("KFLOW_POSTGRES_PORT", 5432)


def postgres_dsn(database: str = "kflow") -> str:
    """``postgresql://kflow:kflow@127.0.0.1:5432/kflow``: a superuser with REPLICATION."""
    host, port = postgres_address()
    return f"postgresql://kflow:kflow@{host}:{port}/{database}"


def mysql_address() -> tuple[str, int]:
    """MariaDB (binlog ROW): ``("127.0.0.1", $KFLOW_MYSQL_PORT or 3306)``."""
    return HOST, _port("KFLOW_MYSQL_PORT", 3306)


def mysql_dsn(database: str = "kflow") -> str:
    """``mysql://kflow:kflow@127.0.0.1:3306/kflow``: every privilege, replication included."""
    host, port = mysql_address()
    return f"mysql://kflow:kflow@{host}:{port}/{database}"


def nats_url() -> str:
    """nats-server with JetStream: ``nats://127.0.0.1:$KFLOW_NATS_PORT`` (default 4222)."""
    return f"nats://{HOST}:{_port('KFLOW_NATS_PORT', 4222)}"


def redis_url(db: int = 0) -> str:
    """redis-server: ``redis://127.0.0.1:$KFLOW_REDIS_PORT/0`` (default port 6379)."""
    return f"redis://{HOST}:{_port('KFLOW_REDIS_PORT', 6379)}/{db}"


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


def restart(service: str) -> float:
    """``devstack/stack restart SERVICE``: stopped cleanly, started on the same data, and
    answering again; returns the seconds it took (RabbitMQ about 5-6 s, Mosquitto 1 s)."""
    started = time.monotonic()
    proc = stack("restart", service)
    if proc.returncode != 0:
        service_up(service)  # never leave a shared service down
        raise AssertionError(f"devstack could not restart {service}: {proc.stdout[-2000:]}")
    return time.monotonic() - started


def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    """``rabbitmqctl ARGS`` against the stack's RabbitMQ node (``devstack/stack rabbitmqctl``);
    its output, or AssertionError."""
    proc = stack("rabbitmqctl", *args, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"rabbitmqctl {' '.join(args)} failed: {proc.stdout}{proc.stderr}")
    return proc.stdout


@contextlib.contextmanager
def outage(service: str) -> Iterator[float]:
    """Stop ``service`` for the block; it is started again (and answering) afterwards.

    Yields the monotonic time the service went down.
    """
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
