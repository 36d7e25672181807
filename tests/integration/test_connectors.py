"""The connectors against the real servers: cached clients and translated errors."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator

import pytest
from bson import ObjectId

from kflow.connectors.cassandra import (
    cassandra_errors,
    cassandra_session,
    close_cassandra_sessions,
)
from kflow.connectors.kafka import ensure_topic, make_admin, make_consumer, make_producer
from kflow.connectors.mongodb import (
    close_mongo_clients,
    mongo_client,
    mongo_errors,
    parse_extended_json,
)
from kflow.errors import CassandraError, KafkaError, MongoError


@pytest.fixture
def closing() -> Iterator[None]:
    yield
    close_cassandra_sessions()
    close_mongo_clients()


def test_one_cassandra_session_per_config(
    closing: None, cassandra_hosts: list[str], cassandra_port: int, cassandra_datacenter: str
) -> None:
    endpoints = [(host, cassandra_port) for host in cassandra_hosts]
    first = cassandra_session(endpoints, cassandra_datacenter)
    assert cassandra_session(list(endpoints), cassandra_datacenter) is first
    other = cassandra_session(endpoints, cassandra_datacenter, application_name="other")
    assert other is not first
    assert first.execute("SELECT release_version FROM system.local").one() is not None


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ("SELECT * FROM no_such_keyspace_x.t", "rejected the request: "),
        ("SELEKT 1", "rejected the request: line 1:0"),
    ],
)
def test_cassandra_server_errors_become_one_line(
    closing: None,
    cassandra_hosts: list[str],
    cassandra_port: int,
    cassandra_datacenter: str,
    cql: str,
    expected: str,
) -> None:
    session = cassandra_session(
        [(h, cassandra_port) for h in cassandra_hosts], cassandra_datacenter
    )
    address = f"{cassandra_hosts[0]}:{cassandra_port}"
    with pytest.raises(CassandraError) as caught, cassandra_errors(address):
        session.execute(cql)
    message = str(caught.value)
    assert message.startswith(f"Cassandra at {address} {expected}")
    assert "\n" not in message
    assert caught.value.__cause__ is not None


def test_one_mongo_client_per_uri_and_extended_json(
    closing: None, mongo_uri: str, collection_name: str
) -> None:
    client = mongo_client(mongo_uri)
    assert mongo_client(mongo_uri) is client
    collection = client["kflow_test"][collection_name]
    document = parse_extended_json(
        '{"_id": {"$oid": "65f1b2c3d4e5f6a7b8c9d0e1"}, "at": {"$date": "2024-06-27T08:00:00Z"},'
        ' "count": {"$numberLong": "5"}}'
    )
    try:
        with mongo_errors(mongo_uri):
            collection.insert_one(document)
            stored = collection.find_one({"_id": ObjectId("65f1b2c3d4e5f6a7b8c9d0e1")})
        assert stored is not None
        assert stored["at"] == dt.datetime(2024, 6, 27, 8, 0)
        assert stored["count"] == 5
        with pytest.raises(MongoError) as caught, mongo_errors(mongo_uri):
            collection.insert_one(document)
        assert str(caught.value).startswith(f"MongoDB at {mongo_uri} rejected a duplicate key")
    finally:
        collection.drop()


def test_ensure_topic_creates_once_and_keeps_an_existing_topic(
    kafka_bootstrap: str, topic_name: str
) -> None:
    admin = make_admin({"bootstrap.servers": kafka_bootstrap})
    try:
        assert ensure_topic(admin, topic_name, 2) == 2
        assert ensure_topic(admin, topic_name, 5) == 2
        with pytest.raises(KafkaError, match="at least one partition"):
            ensure_topic(admin, topic_name, 0)
    finally:
        admin.delete_topics([topic_name])
        admin.close()


def test_clients_from_java_properties_exchange_a_record(
    kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("topic")
    producer = make_producer(
        {"bootstrap.servers": kafka_bootstrap, "acks": "all", "linger.ms": "0"}
    )
    try:
        producer.send(topic, key=b"k", value=b'{"order_id": "1"}').get(timeout=30)
    finally:
        producer.close()
    consumer = make_consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": unique_name("group"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": "false",
            "max.poll.records": "10",
        }
    )
    try:
        consumer.subscribe([topic])
        values: list[bytes] = []
        deadline = time.monotonic() + 60
        while not values and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records)
        assert values == [b'{"order_id": "1"}']
    finally:
        consumer.close()
    admin = make_admin({"bootstrap.servers": kafka_bootstrap})
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()
