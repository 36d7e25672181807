"""Each service of the local stack is a real server: these use the same drivers as kflow."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats
import psycopg2
import pymysql
import pytest
import redis
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import DCAwareRoundRobinPolicy
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from psycopg2.extras import LogicalReplicationConnection
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

from testkit.stack import restart

DEADLINE_S = 60.0
T = TypeVar("T")


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


# --- PostgreSQL, MariaDB, NATS JetStream, Redis ----------------------------------------------
# Each one answers a real request of the client kflow uses, and keeps what was written before
# `devstack/stack restart NAME` (testkit.stack.restart: a clean stop, then a start on the same
# data), as a source that resumes from its slot, binlog position, stream or key needs.


def test_postgres_logical_wal_and_a_replication_role(
    postgres_dsn: str, unique_name: Callable[[str], str]
) -> None:
    conn = psycopg2.connect(postgres_dsn, connect_timeout=10)
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute("SHOW wal_level")
        assert cur.fetchone() == ("logical",)
        cur.execute(
            "SELECT rolsuper, rolreplication, rolcanlogin FROM pg_roles "
            "WHERE rolname = current_user"
        )
        assert cur.fetchone() == (True, True, True)
        cur.execute("SELECT current_database(), current_user")
        assert cur.fetchone() == ("kflow", "kflow")

    slot = unique_name("slot")
    replication = psycopg2.connect(
        postgres_dsn, connect_timeout=10, connection_factory=LogicalReplicationConnection
    )
    try:
        cur = replication.cursor()
        cur.create_replication_slot(slot, output_plugin="pgoutput")
        cur.drop_replication_slot(slot)
    finally:
        replication.close()


def test_postgres_restart_keeps_rows_and_replication_slots(
    postgres_dsn: str, unique_name: Callable[[str], str]
) -> None:
    table, slot = unique_name("orders"), unique_name("slot")

    def connect() -> Any:
        conn = psycopg2.connect(postgres_dsn, connect_timeout=10)
        conn.autocommit = True
        return conn

    with contextlib.closing(connect()) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, product text)")
        cur.execute(f"INSERT INTO {table} VALUES (1, 'Lamp')")
        cur.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    try:
        restart("postgres")
        with contextlib.closing(connect()) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT id, product FROM {table}")
            assert cur.fetchall() == [(1, "Lamp")]
            cur.execute(
                "SELECT plugin, slot_type FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            )
            assert cur.fetchone() == ("pgoutput", "logical")
    finally:
        with contextlib.closing(connect()) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s",
                (slot,),
            )
            cur.execute(f"DROP TABLE IF EXISTS {table}")


def _mysql(dsn: str) -> Any:
    url = urlsplit(dsn)
    return pymysql.connect(
        host=url.hostname,
        port=url.port or 3306,
        user=url.username,
        password=url.password or "",
        database=url.path.lstrip("/"),
        autocommit=True,
        connect_timeout=10,
    )


def test_mariadb_row_binlog_and_replication_privileges(mysql_dsn: str) -> None:
    with contextlib.closing(_mysql(mysql_dsn)) as conn, conn.cursor() as cur:
        cur.execute("SHOW VARIABLES LIKE 'binlog_format'")
        assert cur.fetchone() == ("binlog_format", "ROW")
        cur.execute("SELECT @@log_bin, @@binlog_row_image, @@server_id")
        assert cur.fetchone() == (1, "FULL", 1)
        cur.execute("SHOW MASTER STATUS")  # needs BINLOG MONITOR, as a binlog reader does
        status = cur.fetchone()
        assert status is not None and status[1] > 0


def test_mariadb_restart_keeps_rows_and_binlogs(
    mysql_dsn: str, unique_name: Callable[[str], str]
) -> None:
    table = unique_name("orders")
    with contextlib.closing(_mysql(mysql_dsn)) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, product VARCHAR(40))")
        cur.execute(f"INSERT INTO {table} VALUES (1, 'Lamp')")
        cur.execute("SHOW MASTER STATUS")
        binlog = cur.fetchone()[0]
    try:
        restart("mariadb")
        with contextlib.closing(_mysql(mysql_dsn)) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT id, product FROM {table}")
            assert cur.fetchall() == ((1, "Lamp"),)
            cur.execute("SHOW BINARY LOGS")
            assert binlog in {row[0] for row in cur.fetchall()}
    finally:
        with contextlib.closing(_mysql(mysql_dsn)) as conn, conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")


async def _with_jetstream(url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    client = await nats.connect(url, connect_timeout=10, max_reconnect_attempts=0)
    try:
        return await work(client.jetstream())
    finally:
        await client.close()


def test_nats_jetstream_account_info(nats_url: str) -> None:
    async def info(js: Any) -> Any:
        return await js.account_info()

    account = asyncio.run(_with_jetstream(nats_url, info))
    assert account.limits is not None
    assert account.streams >= 0


def test_nats_restart_keeps_stream_messages(
    nats_url: str, unique_name: Callable[[str], str]
) -> None:
    stream = unique_name("orders").upper()

    async def publish(js: Any) -> int:
        await js.add_stream(name=stream, subjects=[f"{stream}.*"])
        ack = await js.publish(f"{stream}.created", b'{"order_id": "o-1"}')
        return int(ack.seq)

    async def read(js: Any) -> bytes:
        message = await js.get_msg(stream, seq)
        return bytes(message.data)

    async def delete(js: Any) -> None:
        await js.delete_stream(stream)

    seq = asyncio.run(_with_jetstream(nats_url, publish))
    try:
        restart("nats")
        assert asyncio.run(_with_jetstream(nats_url, read)) == b'{"order_id": "o-1"}'
    finally:
        asyncio.run(_with_jetstream(nats_url, delete))


def test_redis_ping_and_version(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    try:
        assert client.ping() is True
        assert str(client.info("server")["redis_version"]).startswith("7.")
    finally:
        client.close()


def test_redis_restart_keeps_acknowledged_writes(
    redis_url: str, unique_name: Callable[[str], str]
) -> None:
    key = unique_name("order")
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    try:
        client.set(key, "Lamp")
        client.xadd(f"{key}:stream", {"order_id": "o-1"})
    finally:
        client.close()
    restart("redis")
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    try:
        assert client.get(key) == b"Lamp"
        entries = client.xrange(f"{key}:stream")
        assert [fields for _id, fields in entries or []] == [{b"order_id": b"o-1"}]
    finally:
        client.delete(key, f"{key}:stream")
        client.close()
