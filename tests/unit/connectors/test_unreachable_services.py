"""With nothing listening, every connector answers with one clear kflow error line."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from kflow.connectors.cassandra import cassandra_session, close_cassandra_sessions
from kflow.connectors.mongodb import close_mongo_clients, mongo_client, mongo_errors
from kflow.errors import CassandraError, MongoError


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# kafka-python 3.0 leaks the socket of each refused connection attempt (a ResourceWarning
# at some later garbage collection); the Kafka cases run in a child process so that leak
# cannot fail an unrelated test.
_KAFKA_CHILD = """
import sys, threading
from kflow.connectors.kafka import make_admin, make_consumer, make_producer
from kflow.errors import KafkaError
for make in (make_producer, make_consumer, make_admin):
    try:
        make({"bootstrap.servers": sys.argv[1]}, bootstrap_timeout_ms=300)
    except KafkaError as exc:
        cause = type(exc.__cause__).__module__.split(".")[0]
        print(f"{make.__name__}|{exc}|{exc.address}|{cause}")
print("threads|" + ",".join(t.name for t in threading.enumerate() if t.name.startswith("kafka")))
"""


def test_kafka_unreachable(closed_port: int) -> None:
    address = f"127.0.0.1:{closed_port}"
    done = subprocess.run(
        [sys.executable, "-c", _KAFKA_CHILD, address],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"make_producer|cannot reach Kafka at {address}|{address}|kafka",
        f"make_consumer|cannot reach Kafka at {address}|{address}|kafka",
        f"make_admin|cannot reach Kafka at {address}|{address}|kafka",
        # the network thread of a client that failed to start is stopped
        "threads|",
    ]


def test_cassandra_unreachable(closed_port: int) -> None:
    with pytest.raises(CassandraError) as caught:
        cassandra_session([("127.0.0.1", closed_port)], "datacenter1", "u", "pw-8h2k")
    message = str(caught.value)
    assert message.startswith(f"cannot reach Cassandra at 127.0.0.1:{closed_port}: ")
    assert "\n" not in message and "pw-8h2k" not in message
    close_cassandra_sessions()


def test_mongo_unreachable_masks_the_password(closed_port: int) -> None:
    uri = f"mongodb://kestra:pw-77zq@127.0.0.1:{closed_port}/?serverSelectionTimeoutMS=300"
    client = mongo_client(uri)
    assert mongo_client(uri) is client
    with pytest.raises(MongoError) as caught, mongo_errors(uri):
        client.admin.command("ping")
    message = str(caught.value)
    assert message.startswith(
        f"cannot reach MongoDB at mongodb://kestra:***@127.0.0.1:{closed_port}/"
    )
    assert "pw-77zq" not in message and "\n" not in message
    close_mongo_clients()


def test_a_malformed_mongo_uri_is_a_mongo_error() -> None:
    with pytest.raises(MongoError, match="invalid MongoDB connection"):
        mongo_client("mongodb://127.0.0.1:notaport/")
