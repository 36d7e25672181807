"""Each service of the local stack is a real server: these use the same drivers as kflow."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import DCAwareRoundRobinPolicy
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

DEADLINE_S = 60.0


def _consume(consumer: KafkaConsumer, count: int) -> list[bytes]:
    """Poll until ``count`` records arrived (or the deadline passes); return their values."""
    values: list[bytes] = []
    deadline = time.monotonic() + DEADLINE_S
    while len(values) < count and time.monotonic() < deadline:
        batches = consumer.poll(timeout_ms=500, max_records=count - len(values))
        for records in batches.values():
            values.extend(record.value for record in records)
    return values


def test_kafka_committed_offset_survives_a_new_consumer(
    kafka_bootstrap: str, topic_name: str, unique_name: Callable[[str], str]
) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic_name, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    try:
        for number in range(5):
            producer.send(topic_name, key=b"order", value=f"event-{number}".encode())
        producer.flush(timeout=30)
    finally:
        producer.close()

    group = unique_name("group")
    partition = TopicPartition(topic_name, 0)

    def consumer() -> KafkaConsumer:
        return KafkaConsumer(
            topic_name,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )

    first = consumer()
    try:
        assert _consume(first, 2) == [b"event-0", b"event-1"]
        first.commit()
    finally:
        first.close()

    second = consumer()
    try:
        assert second.committed(partition) == 2
        assert _consume(second, 3) == [b"event-2", b"event-3", b"event-4"]
    finally:
        second.close()


def test_cassandra_prepared_insert_then_select(
    cassandra_hosts: list[str], cassandra_port: int, cassandra_datacenter: str, keyspace_name: str
) -> None:
    profile = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=cassandra_datacenter)
    )
    cluster = Cluster(
        contact_points=cassandra_hosts,
        port=cassandra_port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
    )
    session = cluster.connect()
    try:
        # NetworkTopologyStrategy names the datacenter, so this also proves it is datacenter1.
        session.execute(
            f"CREATE KEYSPACE {keyspace_name} WITH replication = "
            f"{{'class': 'NetworkTopologyStrategy', '{cassandra_datacenter}': 1}}"
        )
        session.execute(
            f"CREATE TABLE {keyspace_name}.products "
            "(product_id text PRIMARY KEY, name text, price decimal)"
        )
        insert = session.prepare(
            f"INSERT INTO {keyspace_name}.products (product_id, name, price) VALUES (?, ?, ?)"
        )
        session.execute(insert, ("p-1", "Lamp", Decimal("19.90")))
        session.execute(insert, ("p-2", "Desk", Decimal("120.00")))

        select = session.prepare(
            f"SELECT name, price FROM {keyspace_name}.products WHERE product_id = ?"
        )
        row = session.execute(select, ("p-2",)).one()
        assert (row.name, row.price) == ("Desk", Decimal("120.00"))
        assert session.execute(select, ("missing",)).one() is None
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace_name}")
        cluster.shutdown()


def test_mongo_insert_find_and_unique_index(mongo_uri: str, collection_name: str) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri, serverSelectionTimeoutMS=10_000)
    try:
        collection = client["kflow_test"][collection_name]
        collection.create_index("order_id", unique=True)
        collection.insert_one({"order_id": "o-1", "product": "Lamp", "quantity": 2})

        found = collection.find_one({"order_id": "o-1"}, {"_id": False})
        assert found == {"order_id": "o-1", "product": "Lamp", "quantity": 2}

        with pytest.raises(DuplicateKeyError):
            collection.insert_one({"order_id": "o-1", "product": "Desk", "quantity": 1})
        assert collection.count_documents({}) == 1
    finally:
        client["kflow_test"].drop_collection(collection_name)
        client.close()
