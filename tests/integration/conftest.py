"""Shared fixtures for integration tests against the local stack (``devstack/stack up``).

Every test under ``tests/integration`` is marked ``integration``. The service fixtures read the
same environment variables as ``devstack/stack`` (``KFLOW_KAFKA_PORT``, ``KFLOW_CASSANDRA_PORT``,
``KFLOW_MONGO_PORT``; host 127.0.0.1) and check the service answers before handing out its
address. An unreachable service skips the test with a hint to run ``devstack/stack up``, except
in CI (``CI`` set) or with ``KFLOW_REQUIRE_STACK=1``, where it fails the test instead.

Fixtures for reuse:

- ``kafka_bootstrap``: ``"127.0.0.1:9092"``
- ``cassandra_hosts``: ``["127.0.0.1"]``, with ``cassandra_port`` (int) and
  ``cassandra_datacenter`` (``"datacenter1"``)
- ``mongo_uri``: ``"mongodb://127.0.0.1:27017/"``
- ``amqp_url``: ``"amqp://guest:guest@127.0.0.1:5672/"`` (RabbitMQ, ``KFLOW_AMQP_PORT``)
- ``mqtt_server``: ``"tcp://127.0.0.1:1883"`` (Mosquitto, ``KFLOW_MQTT_PORT``)
- ``postgres_dsn``: ``"postgresql://kflow:kflow@127.0.0.1:5432/kflow"`` (``KFLOW_POSTGRES_PORT``)
- ``mysql_dsn``: ``"mysql://kflow:kflow@127.0.0.1:3306/kflow"`` (MariaDB, ``KFLOW_MYSQL_PORT``)
- ``nats_url``: ``"nats://127.0.0.1:4222"`` (JetStream on, ``KFLOW_NATS_PORT``)
- ``redis_url``: ``"redis://127.0.0.1:6379/0"`` (``KFLOW_REDIS_PORT``)
- ``unique_name``: ``unique_name("orders")`` gives a fresh name safe as a Kafka topic, a
  Cassandra keyspace or table, or a MongoDB database or collection
- ``products``: a session on ``keyspace_name`` seeded with the 20 products
- ``topic_name``, ``keyspace_name``, ``collection_name``: one fresh name per test
"""

from __future__ import annotations

import gc
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


def _port(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    return int(raw) if raw else default


def stack_required() -> bool:
    """True when a missing service must fail the run rather than skip (CI, or asked for)."""
    ci = os.environ.get("CI", "").strip().lower()
    return ci not in ("", "0", "false", "no") or os.environ.get("KFLOW_REQUIRE_STACK") == "1"


def _require(service: str, port: int) -> None:
    """Fail or skip unless something accepts TCP connections on HOST:port."""
    try:
        with socket.create_connection((HOST, port), timeout=3):
            return
    except OSError as exc:
        message = (
            f"{service} is not reachable on {HOST}:{port} ({exc.strerror or exc}); "
            "start the local stack with `devstack/stack up`"
        )
    if stack_required():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    port = _port("KFLOW_KAFKA_PORT", 9092)
    _require("Kafka", port)
    return f"{HOST}:{port}"


@pytest.fixture(scope="session")
def cassandra_port() -> int:
    return _port("KFLOW_CASSANDRA_PORT", 9042)


@pytest.fixture(scope="session")
def cassandra_hosts(cassandra_port: int) -> list[str]:
    _require("Cassandra", cassandra_port)
    return [HOST]


@pytest.fixture(scope="session")
def cassandra_datacenter() -> str:
    return "datacenter1"


@pytest.fixture(scope="session")
def mongo_uri() -> str:
    port = _port("KFLOW_MONGO_PORT", 27017)
    _require("MongoDB (FerretDB)", port)
    return f"mongodb://{HOST}:{port}/"


@pytest.fixture(scope="session")
def amqp_url() -> str:
    port = _port("KFLOW_AMQP_PORT", 5672)
    _require("RabbitMQ", port)
    return f"amqp://guest:guest@{HOST}:{port}/"


@pytest.fixture(scope="session")
def mqtt_server() -> str:
    port = _port("KFLOW_MQTT_PORT", 1883)
    _require("Mosquitto", port)
    return f"tcp://{HOST}:{port}"


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    from testkit.stack import postgres_address, postgres_dsn

    _require("PostgreSQL", postgres_address()[1])
    return postgres_dsn()


@pytest.fixture(scope="session")
def mysql_dsn() -> str:
    from testkit.stack import mysql_address, mysql_dsn

    _require("MariaDB", mysql_address()[1])
    return mysql_dsn()


@pytest.fixture(scope="session")
def nats_url() -> str:
    from testkit.stack import nats_url

    _require("NATS", _port("KFLOW_NATS_PORT", 4222))
    return nats_url()


@pytest.fixture(scope="session")
def redis_url() -> str:
    from testkit.stack import redis_url

    _require("Redis", _port("KFLOW_REDIS_PORT", 6379))
    return redis_url()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Factory of fresh names: lowercase letters, digits and ``_``, at most 48 characters."""
    test = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")
    test = test.removeprefix("test_")

    def make(purpose: str) -> str:
        suffix = uuid.uuid4().hex[:10]
        stem = re.sub(r"[^a-z0-9]+", "_", purpose.lower()).strip("_") or "x"
        head = f"t_{stem}_{test}"[: 48 - len(suffix) - 1].rstrip("_")
        return f"{head}_{suffix}"

    return make


@pytest.fixture
def topic_name(unique_name: Callable[[str], str]) -> str:
    return unique_name("topic")


@pytest.fixture
def keyspace_name(unique_name: Callable[[str], str]) -> str:
    return unique_name("ks")


@pytest.fixture
def collection_name(unique_name: Callable[[str], str]) -> str:
    return unique_name("coll")


@pytest.fixture
def products(cassandra_hosts: list[str], cassandra_port: int, keyspace_name: str) -> Iterator[Any]:
    """A keyspace of its own (``keyspace_name``) seeded with the 20 products by
    ``kflow seed products``; yields a session to add more, and drops the keyspace after."""
    import subprocess
    import sys

    from cassandra.cluster import Cluster

    from testkit.processes import REPO

    subprocess.run(
        [sys.executable, "-m", "kflow", "seed", "products", "--keyspace", keyspace_name,
         "--hosts", f"{cassandra_hosts[0]}:{cassandra_port}"],
        cwd=REPO, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    cluster = Cluster(cassandra_hosts, port=cassandra_port)
    session = cluster.connect()
    yield session
    session.execute(f"DROP KEYSPACE IF EXISTS {keyspace_name}")
    cluster.shutdown()


@pytest.fixture(scope="session")
def seeded_products(cassandra_hosts: list[str], cassandra_port: int) -> None:
    """``kestra.products`` holds the 20 products of data/products.csv (``kflow seed products``)."""
    from testkit.stack import seed_products

    seed_products(cassandra_hosts[0], cassandra_port)


@pytest.fixture
def collect_leaked_sockets() -> Iterator[None]:
    """Collect the driver's leaked sockets at the end of the test, where their warnings are
    expected: kafka-python leaves the socket of a connection that failed mid-rebalance for the
    garbage collector (in the tests' own helper clients)."""
    yield
    gc.collect()
