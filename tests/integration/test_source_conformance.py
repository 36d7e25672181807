"""One conformance suite for every source kind: Kafka, RabbitMQ (AMQP) and MQTT, each
against its real broker, through ``kflow run`` as a process.

Each case publishes JSON messages (acknowledged by the broker) and runs a flow storing one
MongoDB document per execution; "nothing lost" means every message id has a document.
Sources are at-least-once: a kill or a broker restart may run a message twice, never zero
times; a clean stop redelivers nothing it finished.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from testkit.processes import running
from testkit.sources import AmqpKit, KafkaKit, MqttKit, SourceKit, flow_yaml, messages
from testkit.stack import fresh_database, restart
from testkit.waiting import wait_until

KINDS = ["kafka", "amqp", "mqtt", "redis", "mariadb", "postgres", "nats"]


@pytest.fixture(params=KINDS)
def kit(request: pytest.FixtureRequest, unique_name: Callable[[str], str]) -> SourceKit:
    name = unique_name(request.param)
    if request.param == "kafka":
        return KafkaKit(name, request.getfixturevalue("kafka_bootstrap"))
    if request.param == "amqp":
        request.getfixturevalue("amqp_url")
        return AmqpKit(name)
    if request.param == "redis":
        from testkit.redis import RedisKit

        request.getfixturevalue("redis_url")
        return RedisKit(name)
    if request.param == "mariadb":
        from testkit.mysql import MysqlCdcKit

        request.getfixturevalue("mysql_dsn")
        # its own state directory: the trigger stores its binlog position there
        state = request.getfixturevalue("tmp_path") / "kflow-state"
        request.getfixturevalue("monkeypatch").setenv("KFLOW_STATE_DIR", str(state))
        return MysqlCdcKit(name)
    if request.param == "postgres":
        from testkit.postgres import PostgresCdcKit

        request.getfixturevalue("postgres_dsn")
        pg = PostgresCdcKit(name)
        request.addfinalizer(pg.cleanup)  # drops the slot after kflow has stopped
        return pg
    if request.param == "nats":
        from testkit.nats import NatsKit

        nats = NatsKit(name, request.getfixturevalue("nats_url"))
        request.addfinalizer(nats.cleanup)  # deletes its stream
        return nats
    request.getfixturevalue("mqtt_server")
    return MqttKit(name)


@pytest.fixture
def store(mongo_uri: str, unique_name: Callable[[str], str]) -> Iterator[tuple[str, Any]]:
    database = unique_name("db")
    with fresh_database(mongo_uri, database) as db:
        yield database, db["docs"]


def write_flow(tmp_path: Path, kit: SourceKit, mongo_uri: str, database: str, sleep: str) -> Path:
    path = tmp_path / f"{kit.kind}.yaml"
    path.write_text(flow_yaml(kit, mongo_uri, database, "docs", sleep), encoding="utf-8")
    return path


def stored_ids(collection: Any) -> list[str]:
    return [d["mid"] for d in collection.find({}, {"mid": 1, "_id": 0})]


def test_every_message_runs_once_and_a_clean_stop_leaves_nothing_to_redeliver(
    kit: SourceKit, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    kit.prepare()
    batch = messages(kit.name, 120)
    kit.publish(batch)
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0S")
    with running(flow, ["--max-executions", "120"], tmp_path / "a", {}) as proc:
        assert proc.wait(120) == 0, proc.stderr()[-2000:]
    assert sorted(stored_ids(docs)) == sorted(m.id for m in batch)
    # everything was acknowledged: a second run gets nothing
    with running(flow, ["--timeout", "4"], tmp_path / "b", {}) as again:
        assert again.wait(60) == 0, again.stderr()[-2000:]
        assert again.executions() == []


def test_a_bad_payload_fails_one_execution_and_the_stream_goes_on(
    kit: SourceKit, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    if getattr(kit, "undecodable", None):
        pytest.skip(kit.undecodable)
    database, docs = store
    kit.prepare()
    good = messages(kit.name, 10)
    kit.publish(good[:5])
    kit.publish([type(good[0])("bad", None, b"{not json")])
    kit.publish(good[5:])
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0S")
    with running(flow, ["--max-executions", "11"], tmp_path / "a", {}) as proc:
        assert proc.wait(120) == 0, proc.stderr()[-2000:]
        states = [e["state"] for e in proc.executions()]
    assert states.count("FAILED") == 1 and states.count("SUCCESS") == 10
    assert sorted(stored_ids(docs)) == sorted(m.id for m in good)


def test_kill_9_mid_stream_then_a_restart_loses_nothing(
    kit: SourceKit, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    kit.prepare()
    batch = messages(kit.name, 200)
    kit.publish(batch)
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0.02S")
    with running(flow, ["--concurrency", "8"], tmp_path / "a", {}) as first:
        wait_until(lambda: docs.count_documents({}), lambda n: n >= 40, timeout=60, what="40 docs")
        first.kill9()
    with running(flow, ["--concurrency", "8", "--timeout", "15"], tmp_path / "b", {}) as second:
        assert second.wait(120) == 0, second.stderr()[-2000:]
    assert {m.id for m in batch} <= set(stored_ids(docs))


def test_a_broker_restart_mid_stream_loses_nothing(
    kit: SourceKit, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    kit.prepare()
    batch = messages(kit.name, 200)
    kit.publish(batch)
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0.02S")
    with running(flow, ["--concurrency", "8"], tmp_path / "a", {}) as proc:
        wait_until(lambda: docs.count_documents({}), lambda n: n >= 40, timeout=60, what="40 docs")
        restart(kit.broker)
        wanted = {m.id for m in batch}
        wait_until(
            lambda: wanted - set(stored_ids(docs)), lambda left: not left, timeout=180, what="all"
        )
        proc.sigterm()
        assert proc.wait(60) == 0, proc.stderr()[-2000:]


def test_sigterm_finishes_in_flight_work_and_acknowledges_it(
    kit: SourceKit, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    kit.prepare()
    batch = messages(kit.name, 100)
    kit.publish(batch)
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0.2S")
    with running(flow, ["--concurrency", "8"], tmp_path / "a", {}) as first:
        wait_until(lambda: docs.count_documents({}), lambda n: n >= 16, timeout=60, what="16 docs")
        first.sigterm()
        assert first.wait(60) == 0, first.stderr()[-2000:]
        done_first = set(stored_ids(docs))
        assert len(first.executions()) == len(done_first)  # each finished one was stored
    with running(flow, ["--concurrency", "8", "--timeout", "15"], tmp_path / "b", {}) as second:
        assert second.wait(120) == 0, second.stderr()[-2000:]
    assert {m.id for m in batch} <= set(stored_ids(docs))
    ids = stored_ids(docs)
    # what the first run finished was acknowledged: the second did not run it again
    assert {i for i in ids if ids.count(i) > 1} & done_first == set()


def test_back_pressure_holds_the_in_flight_bound(
    kit: SourceKit, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, _ = store
    kit.prepare()
    kit.publish(messages(kit.name, 60))
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0.05S")
    with running(flow, ["--concurrency", "4", "--max-executions", "60"], tmp_path / "a", {}) as p:
        assert p.wait(120) == 0, p.stderr()[-2000:]
        spans = [
            (datetime.fromisoformat(e["startDate"]), datetime.fromisoformat(e["endDate"]))
            for e in p.executions()
        ]
    assert len(spans) == 60
    peak = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert peak <= 4


def test_same_key_messages_run_in_order(
    kit: SourceKit, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    if kit.unordered:
        pytest.skip(kit.unordered)
    database, _ = store
    kit.prepare()
    kit.publish(messages(kit.name, 60, keys=3))
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0.01S")
    with running(flow, ["--concurrency", "16", "--max-executions", "60"], tmp_path / "a", {}) as p:
        assert p.wait(120) == 0, p.stderr()[-2000:]
        runs = p.executions()
    by_key: dict[str, list[tuple[str, str]]] = {}
    for e in runs:
        by_key.setdefault(e["trigger"]["key"], []).append((e["startDate"], e["endDate"]))
    for key, spans in by_key.items():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), key
