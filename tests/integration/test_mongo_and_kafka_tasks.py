"""MongoDB tasks and Kafka Produce against the real servers, run in-process by the engine."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer
from pymongo import MongoClient

from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.flow import load_flow_text
from kflow.run.connections import close_connections


def run_many(yaml_text: str, values: list[Any], **env: str) -> list[Execution]:
    """Run one execution per value, concurrently, as the service would."""
    result = load_flow_text(textwrap.dedent(yaml_text))
    assert result.flow is not None, [d.format() for d in result.diagnostics]

    async def main() -> list[Execution]:
        runner = FlowRunner(result.flow, environ=env)  # type: ignore[arg-type]
        try:
            return list(
                await asyncio.gather(*(runner.execute(TriggerRecord(value=v)) for v in values))
            )
        finally:
            await runner.close()

    try:
        return asyncio.run(main())
    finally:
        close_connections()


@pytest.fixture
def coll(mongo_uri: str, collection_name: str) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    yield client["kflow_test"][collection_name]
    client["kflow_test"].drop_collection(collection_name)
    client.close()


def mongo_task(kind: str, body: str) -> str:
    return f"""
        id: f
        namespace: t
        tasks:
          - id: m
            type: io.kestra.plugin.mongodb.{kind}
            connection:
              uri: "{{{{ envs.uri }}}}"
            database: kflow_test
            collection: "{{{{ envs.coll }}}}"
{textwrap.indent(textwrap.dedent(body), " " * 12)}
    """


def test_concurrent_inserts_each_get_their_own_id_or_error(
    mongo_uri: str, collection_name: str, coll: Any
) -> None:
    flow = mongo_task(
        "InsertOne",
        """
        document: |
          {"_id": "{{ trigger.value.id }}", "n": {{ trigger.value.n }}}
    """,
    )
    values = [{"id": f"k{i}", "n": i} for i in range(40)] + [{"id": "k7", "n": 99}]
    executions = run_many(flow, values, uri=mongo_uri, coll=collection_name)
    states = [e.state.value for e in executions]
    assert states.count("SUCCESS") == 40 and states.count("FAILED") == 1
    failed = next(e for e in executions if e.state.value == "FAILED")
    assert "duplicate key" in (failed.error or "")
    assert executions[3].outputs["m"] == {"insertedId": "k3", "wasAcknowledged": True}
    assert coll.count_documents({}) == 40
    assert coll.find_one({"_id": "k7"})["n"] == 7


def test_extended_json_ids_and_map_documents(
    mongo_uri: str, collection_name: str, coll: Any
) -> None:
    flow = mongo_task(
        "InsertOne",
        """
        document:
          _id:
            $oid: 60930c39a982931c20ef6cd6
          name: "{{ trigger.value }}"
    """,
    )
    [ex] = run_many(flow, ['Ann "A" \\ B'], uri=mongo_uri, coll=collection_name)
    assert ex.state.value == "SUCCESS", ex.error
    assert ex.outputs["m"]["insertedId"] == "60930c39a982931c20ef6cd6"
    doc = coll.find_one({})
    assert str(doc["_id"]) == "60930c39a982931c20ef6cd6"
    assert doc["name"] == 'Ann "A" \\ B'


def test_update_with_upsert_find_and_delete(
    mongo_uri: str, collection_name: str, coll: Any
) -> None:
    env = {"uri": mongo_uri, "coll": collection_name}
    upsert = mongo_task(
        "Update",
        """
        operation: REPLACE_ONE
        upsert: true
        filter: '{"order_id": "{{ trigger.value.id }}"}'
        document: '{"order_id": "{{ trigger.value.id }}", "total": {{ trigger.value.total }}}'
    """,
    )
    first = run_many(upsert, [{"id": "1", "total": 10}, {"id": "2", "total": 20}], **env)
    assert [e.outputs["m"]["matchedCount"] for e in first] == [0, 0]
    again = run_many(upsert, [{"id": "1", "total": 11}], **env)
    assert again[0].outputs["m"]["matchedCount"] == 1
    assert again[0].outputs["m"]["upsertedId"] is None
    assert coll.count_documents({}) == 2

    find = mongo_task(
        "Find",
        """
        filter: '{"total": {"$gt": {{ trigger.value }}}}'
        sort: '{"total": -1}'
        projection: '{"_id": 0}'
    """,
    )
    [found] = run_many(find, [5], **env)
    assert found.outputs["m"] == {
        "rows": [{"order_id": "2", "total": 20}, {"order_id": "1", "total": 11}],
        "size": 2,
    }

    delete = mongo_task(
        "Delete",
        """
        operation: DELETE_MANY
        filter: '{"total": {"$lt": {{ trigger.value }}}}'
    """,
    )
    [deleted] = run_many(delete, [15], **env)
    assert deleted.outputs["m"]["deletedCount"] == 1
    assert [d["order_id"] for d in coll.find({})] == ["2"]


def test_produce_sends_records_with_keys_and_headers(kafka_bootstrap: str, topic_name: str) -> None:
    flow = f"""
        id: f
        namespace: t
        tasks:
          - id: send
            type: io.kestra.plugin.kafka.Produce
            properties:
              bootstrap.servers: {kafka_bootstrap}
            topic: {topic_name}
            keySerializer: STRING
            valueSerializer: JSON
            from:
              key: "{{{{ trigger.value.id }}}}"
              value: "{{{{ trigger.value | toJson }}}}"
              headers:
                source: kflow
    """
    executions = run_many(flow, [{"id": "a", "x": 1}, {"id": "b", "x": 2}])
    assert [e.state.value for e in executions] == ["SUCCESS", "SUCCESS"], executions[0].error
    assert executions[0].outputs["send"] == {"messagesCount": 1}
    consumer = KafkaConsumer(
        topic_name, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    got: list[Any] = []
    deadline = time.monotonic() + 30
    while len(got) < 2 and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            got.extend(records)
    consumer.close()
    by_key = {r.key: r for r in got}
    assert set(by_key) == {b"a", b"b"}
    assert json.loads(by_key[b"b"].value) == {"id": "b", "x": 2}
    assert dict(by_key[b"a"].headers) == {"source": b"kflow"}
