"""With nothing listening, every connector answers with one clear kflow error line."""

from __future__ import annotations

import gc
import socket

import pytest

from kflow.connectors.cassandra import cassandra_session, close_cassandra_sessions
from kflow.connectors.kafka import make_admin, make_consumer, make_producer
from kflow.connectors.mongodb import close_mongo_clients, mongo_client, mongo_errors
from kflow.errors import CassandraError, KafkaError, MongoError


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# kafka-python 3.0 does not close the socket of a refused connection attempt; the
# ResourceWarning of that leak is collected here so it cannot surface in a later test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.parametrize("make", [make_producer, make_consumer, make_admin])
def test_kafka_unreachable(make: object, closed_port: int) -> None:
    address = f"127.0.0.1:{closed_port}"
    with pytest.raises(KafkaError) as caught:
        make({"bootstrap.servers": address}, bootstrap_timeout_ms=300)  # type: ignore[operator]
    gc.collect()
    assert str(caught.value) == f"cannot reach Kafka at {address}"
    assert caught.value.address == address
    assert caught.value.__cause__ is not None


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
