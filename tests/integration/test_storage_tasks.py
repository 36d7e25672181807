"""Storage-backed tasks against the real Kafka and FerretDB: Kafka Consume, MongoDB Load,
Bulk, Aggregate and Find with ``store``, in flows run by the engine.

Each test has its own storage directory (``KFLOW_STORAGE_DIR``), topic and collection.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.expr.ion import from_ion
from kflow.flow import load_flow_text
from kflow.run.connections import close_connections
from kflow.storage import LocalStorage
from testkit.kafka import committed_offsets, create_topic, read_topic, send_all

DATABASE = "kflow_test"


def run_flow(yaml_text: str, **env: str) -> Execution:
    """Validate an inline flow and run one execution of it; ``env`` is read as ``envs.*``."""
    result = load_flow_text(textwrap.dedent(yaml_text))
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    flow = result.flow

    async def main() -> Execution:
        runner = FlowRunner(flow, environ=env)
        try:
            return await runner.execute(TriggerRecord(value=None))
        finally:
            await runner.close()

    try:
        return asyncio.run(main())
    finally:
        close_connections()


def succeeded(ex: Execution) -> Execution:
    assert ex.state.value == "SUCCESS", ex.error
    return ex


def ion_lines(text: str) -> list[Any]:
    return [from_ion(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalStorage:
    monkeypatch.setenv("KFLOW_STORAGE_DIR", str(tmp_path / "storage"))
    return LocalStorage(tmp_path / "storage")


@pytest.fixture
def coll(mongo_uri: str, collection_name: str) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    yield client[DATABASE][collection_name]
    client[DATABASE].drop_collection(collection_name)
    client.close()


def consume_task(bootstrap: str, topic: str, extra: str = "") -> str:
    return f"""
          - id: consume
            type: io.kestra.plugin.kafka.Consume
            properties:
              bootstrap.servers: {bootstrap}
              auto.offset.reset: earliest
            topic: {topic}
            pollDuration: PT1S
{textwrap.indent(textwrap.dedent(extra), " " * 12)}"""


def mongo_task(task_id: str, kind: str, body: str) -> str:
    return f"""
          - id: {task_id}
            type: io.kestra.plugin.mongodb.{kind}
            connection:
              uri: "{{{{ envs.uri }}}}"
            database: {DATABASE}
            collection: "{{{{ envs.coll }}}}"
{textwrap.indent(textwrap.dedent(body), " " * 12)}"""


# --------------------------------------------------------------------------- Kafka Consume


def test_produce_then_consume_writes_every_record_and_read_returns_them(
    kafka_bootstrap: str, topic_name: str, storage: LocalStorage
) -> None:
    create_topic(kafka_bootstrap, topic_name, partitions=3)
    records = [
        f'{{key: "k{i}", value: \'{{"n": {i}, "name": "Kelly \\"K\\" O"}}\', '
        f"headers: {{source: kflow}}}}"
        for i in range(12)
    ]
    consume = consume_task(kafka_bootstrap, topic_name, "valueDeserializer: JSON")
    flow = f"""
        id: consume_flow
        namespace: kflow.tests
        tasks:
          - id: produce
            type: io.kestra.plugin.kafka.Produce
            properties:
              bootstrap.servers: {kafka_bootstrap}
            topic: {topic_name}
            valueSerializer: JSON
            from: [{", ".join(records)}]
{consume}
          - id: content
            type: io.kestra.plugin.core.debug.Return
            format: "{{{{ read(outputs.consume.uri) }}}}"
    """
    ex = succeeded(run_flow(flow))
    assert ex.outputs["produce"] == {"messagesCount": 12}
    consumed = ex.outputs["consume"]
    assert consumed["messagesCount"] == 12
    (run,) = [r for r in ex.task_runs if r.task_id == "consume"]
    prefix = f"kestra:///kflow/tests/consume-flow/executions/{ex.id}/tasks/consume/{run.id}/"
    assert consumed["uri"].startswith(prefix) and consumed["uri"].endswith(".ion")
    assert storage.path_of(consumed["uri"]).is_file()

    messages = ion_lines(ex.outputs["content"]["value"])
    assert len(messages) == 12
    assert {m["key"]: m["value"] for m in messages} == {
        f"k{i}": {"n": i, "name": 'Kelly "K" O'} for i in range(12)
    }
    first = messages[0]
    assert list(first) == ["key", "value", "topic", "headers", "partition", "timestamp", "offset"]
    assert first["topic"] == topic_name and first["headers"] == [{"source": "kflow"}]
    by_partition: dict[int, list[int]] = {}
    for m in messages:
        by_partition.setdefault(m["partition"], []).append(m["offset"])
    assert all(offsets == list(range(len(offsets))) for offsets in by_partition.values())


def test_consume_with_a_group_reads_max_records_and_commits_them(
    kafka_bootstrap: str, topic_name: str, storage: LocalStorage
) -> None:
    create_topic(kafka_bootstrap, topic_name)
    send_all(kafka_bootstrap, topic_name, [(f"k{i}", f"v{i}".encode()) for i in range(5)])
    group = f"{topic_name}_group"
    consume = consume_task(kafka_bootstrap, topic_name, f"groupId: {group}\nmaxRecords: 3")
    flow = f"""
        id: consume_group
        namespace: kflow.tests
        tasks:
{consume}
    """
    first = succeeded(run_flow(flow)).outputs["consume"]
    assert first["messagesCount"] == 3
    assert [m["value"] for _, m in storage.read_records(first["uri"])] == ["v0", "v1", "v2"]
    assert committed_offsets(kafka_bootstrap, group) == {(topic_name, 0): 3}

    second = succeeded(run_flow(flow)).outputs["consume"]
    assert [m["value"] for _, m in storage.read_records(second["uri"])] == ["v3", "v4"]
    assert committed_offsets(kafka_bootstrap, group) == {(topic_name, 0): 5}

    third = succeeded(run_flow(flow)).outputs["consume"]
    assert third["messagesCount"] == 0
    assert storage.read_text(third["uri"]) == ""


def test_consume_since_a_timestamp_on_assigned_partitions(
    kafka_bootstrap: str, topic_name: str, storage: LocalStorage
) -> None:
    create_topic(kafka_bootstrap, topic_name, partitions=2)
    produced = [
        f'{{key: k{i}, value: v{i}, partition: {i % 2}, timestamp: "2024-01-0{i + 1}T00:00:00Z"}}'
        for i in range(4)
    ]
    consume = consume_task(kafka_bootstrap, topic_name, 'since: "2024-01-03T00:00:00Z"')
    flow = f"""
        id: consume_since
        namespace: kflow.tests
        tasks:
          - id: produce
            type: io.kestra.plugin.kafka.Produce
            properties:
              bootstrap.servers: {kafka_bootstrap}
            topic: {topic_name}
            from: [{", ".join(produced)}]
{consume}
    """
    consumed = succeeded(run_flow(flow)).outputs["consume"]
    assert consumed["messagesCount"] == 2
    values = sorted(m["value"] for _, m in storage.read_records(consumed["uri"]))
    assert values == ["v2", "v3"]


def test_a_record_that_is_not_json_fails_consume_and_commits_nothing(
    kafka_bootstrap: str, topic_name: str, storage: LocalStorage
) -> None:
    create_topic(kafka_bootstrap, topic_name)
    send_all(kafka_bootstrap, topic_name, [("a", b'{"n": 1}'), ("b", b"oops"), ("c", b"{}")])
    group = f"{topic_name}_group"
    consume = consume_task(
        kafka_bootstrap, topic_name, f"groupId: {group}\nvalueDeserializer: JSON"
    )
    flow = f"""
        id: consume_bad
        namespace: kflow.tests
        tasks:
{consume}
    """
    failed = run_flow(flow)
    assert failed.state.value == "FAILED"
    assert failed.error is not None and "\n" not in failed.error
    assert f"cannot deserialize the value of record {topic_name}[0]@1 as JSON" in failed.error
    assert committed_offsets(kafka_bootstrap, group) == {}
    assert not list(storage.root.rglob("*.ion")), "a failed consume leaves no file"

    skipping = flow.replace(
        "valueDeserializer: JSON",
        "valueDeserializer: JSON\n            onSerdeError: {type: SKIPPED}",
    )
    consumed = succeeded(run_flow(skipping)).outputs["consume"]
    assert consumed["messagesCount"] == 2
    assert [m["key"] for _, m in storage.read_records(consumed["uri"])] == ["a", "c"]
    assert committed_offsets(kafka_bootstrap, group) == {(topic_name, 0): 3}


def test_bad_records_go_to_the_dead_letter_topic(
    kafka_bootstrap: str, topic_name: str, unique_name: Any, storage: LocalStorage
) -> None:
    dead = unique_name("dead")
    create_topic(kafka_bootstrap, topic_name)
    create_topic(kafka_bootstrap, dead)
    send_all(kafka_bootstrap, topic_name, [("a", b'{"n": 1}'), ("b", b"oops"), ("c", b"{}")])
    extra = f"valueDeserializer: JSON\nonSerdeError: {{type: DLQ, topic: {dead}}}"
    flow = "id: consume_dlq\nnamespace: kflow.tests\ntasks:" + consume_task(
        kafka_bootstrap, topic_name, extra
    )
    consumed = succeeded(run_flow(flow)).outputs["consume"]
    assert consumed["messagesCount"] == 2
    assert [m["key"] for _, m in storage.read_records(consumed["uri"])] == ["a", "c"]
    assert [r["value"] for r in read_topic(kafka_bootstrap, dead, bytes)] == [b"oops"]


def test_assigned_partitions_with_a_group_resume_at_its_offsets(
    kafka_bootstrap: str, topic_name: str, storage: LocalStorage
) -> None:
    create_topic(kafka_bootstrap, topic_name, partitions=2)
    records = [f"{{key: k{i}, value: v{i}, partition: {0 if i < 4 else 1}}}" for i in range(6)]
    group = f"{topic_name}_group"
    extra = f"partitions: [0]\ngroupId: {group}\nmaxRecords: 3"
    produce = f"""
          - id: produce
            type: io.kestra.plugin.kafka.Produce
            properties:
              bootstrap.servers: {kafka_bootstrap}
            topic: {topic_name}
            from: [{", ".join(records)}]
    """
    consume = consume_task(kafka_bootstrap, topic_name, extra)
    first = succeeded(run_flow("id: f\nnamespace: kflow.tests\ntasks:" + produce + consume))
    values = [m["value"] for _, m in storage.read_records(first.outputs["consume"]["uri"])]
    assert values == ["v0", "v1", "v2"]
    assert committed_offsets(kafka_bootstrap, group) == {(topic_name, 0): 3}

    again = succeeded(run_flow("id: f\nnamespace: kflow.tests\ntasks:" + consume))
    values = [m["value"] for _, m in storage.read_records(again.outputs["consume"]["uri"])]
    assert values == ["v3"]  # partition 1 is not read
    assert committed_offsets(kafka_bootstrap, group) == {(topic_name, 0): 4}


# ------------------------------------------------------------------- Kafka to MongoDB


def test_consume_load_into_mongo_then_aggregate_counts_them(
    kafka_bootstrap: str,
    topic_name: str,
    mongo_uri: str,
    collection_name: str,
    coll: Any,
    storage: LocalStorage,
) -> None:
    create_topic(kafka_bootstrap, topic_name, partitions=2)
    orders = [
        {"category": ["books", "games", "music"][i % 3], "total": i, "paid": i % 4 != 0}
        for i in range(30)
    ]
    send_all(
        kafka_bootstrap,
        topic_name,
        [(f"order-{i}", json.dumps(o).encode()) for i, o in enumerate(orders)],
    )
    tasks = [
        consume_task(kafka_bootstrap, topic_name, "valueDeserializer: JSON"),
        mongo_task(
            "load",
            "Load",
            """
            from: "{{ outputs.consume.uri }}"
            chunk: 7
            idKey: key
            """,
        ),
        mongo_task(
            "paid_by_category",
            "Aggregate",
            """
            pipeline:
              - $match: {value.paid: true}
              - $group: {_id: "$value.category", orders: {$sum: 1}}
              - $sort: {_id: 1}
            """,
        ),
        # FerretDB 1.24 gives 0 for every $sum of a $group after the first: one per stage
        mongo_task(
            "revenue",
            "Aggregate",
            """
            pipeline:
              - $group: {_id: "$value.category", revenue: {$sum: "$value.total"}}
              - $sort: {revenue: -1}
              - $limit: 1
            """,
        ),
        mongo_task(
            "stored",
            "Aggregate",
            """
            pipeline: |
              [{"$match": {"value.category": "{{ envs.category }}"}},
               {"$sort": {"offset": 1}}]
            store: true
            """,
        ),
    ]
    flow = "id: orders_to_mongo\nnamespace: kflow.tests\ntasks:" + "".join(tasks)
    env = {"uri": mongo_uri, "coll": collection_name, "category": "games"}
    ex = succeeded(run_flow(flow, **env))
    assert ex.outputs["consume"]["messagesCount"] == 30
    assert ex.outputs["load"] == {
        "size": 30,
        "insertedCount": 30,
        "matchedCount": 0,
        "modifiedCount": 0,
        "deletedCount": 0,
    }
    assert coll.count_documents({}) == 30
    stored = coll.find_one({"_id": "order-4"})  # idKey: the record key became the _id
    assert stored is not None and "key" not in stored and stored["value"]["total"] == 4

    paid: dict[str, int] = {}
    revenue: dict[str, int] = {}
    for o in orders:
        revenue[o["category"]] = revenue.get(o["category"], 0) + o["total"]
        if o["paid"]:
            paid[o["category"]] = paid.get(o["category"], 0) + 1
    assert ex.outputs["paid_by_category"] == {
        "rows": [{"_id": c, "orders": paid[c]} for c in sorted(paid)],
        "size": 3,
    }
    top = max(revenue, key=lambda c: revenue[c])
    assert ex.outputs["revenue"] == {"rows": [{"_id": top, "revenue": revenue[top]}], "size": 1}

    games = ex.outputs["stored"]
    assert set(games) == {"uri", "size"} and games["size"] == 10
    rows = [r for _, r in storage.read_records(games["uri"])]
    assert {r["_id"] for r in rows} == {f"order-{i}" for i in range(30) if i % 3 == 1}
    assert all(r["value"]["category"] == "games" for r in rows)


# ------------------------------------------------------------------------- MongoDB files


BULK_LINES = """\
{"insertOne": {"_id": 1, "char": "Brisbane", "class": "monk", "lvl": 4}}
{"insertOne": {"document": {"_id": 2, "char": "Eldon", "class": "alchemist", "lvl": 3}}}
{ insertOne: { "_id": 3, "char": "Meldane", "class": "ranger", "lvl": 3 } }
{"insertOne": {"_id": 4, "char": "Dithras", "class": "barbarian", "lvl": 1}}
{"insertOne": {"_id": 5, "char": "Taeln", "class": "fighter", "lvl": 1}}

{"updateMany": {"filter": {"lvl": 1}, "update": {"$inc": {"lvl": 1}}}}
{"updateOne": {"filter": {"char": "Eldon"}, "update": {"$set": {"status": "Critical Injury"}}}}
{"updateOne": {"filter": {"char": "Nobody"}, "update": {"$set": {"lvl": 9}}, "upsert": true}}
{ deleteOne: { filter: { char: "Brisbane" } } }
{"replaceOne": {"filter": {"char": "Meldane"}, "replacement": {"char": "Tanys", "lvl": 4}}}
{"deleteMany": {"filter": {"class": "barbarian"}}}
"""


def bulk_file(storage: LocalStorage, text: str) -> str:
    uri = "kestra:///kflow/tests/uploads/bulk.ion"
    path = storage.path_of(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return uri


def test_bulk_file_of_mixed_operations(
    mongo_uri: str, collection_name: str, coll: Any, storage: LocalStorage
) -> None:
    task = mongo_task("bulk", "Bulk", 'from: "{{ envs.file }}"\nchunk: 4')
    flow = "id: bulk_flow\nnamespace: kflow.tests\ntasks:" + task
    env = {"uri": mongo_uri, "coll": collection_name, "file": bulk_file(storage, BULK_LINES)}
    ex = succeeded(run_flow(flow, **env))
    assert ex.outputs["bulk"] == {
        "size": 11,
        "insertedCount": 5,
        "matchedCount": 4,  # updateMany 2, updateOne Eldon 1, the upsert 0, replaceOne 1
        "modifiedCount": 4,
        "deletedCount": 2,
    }
    assert any("3 bulk requests for 11 records" in log.message for log in ex.logs)
    docs = {d.get("char"): d for d in coll.find({}, {"_id": 0})}
    assert set(docs) == {"Eldon", "Taeln", "Tanys", "Nobody"}
    assert docs["Eldon"]["status"] == "Critical Injury"
    assert docs["Taeln"]["lvl"] == 2 and docs["Tanys"] == {"char": "Tanys", "lvl": 4}
    assert docs["Nobody"]["lvl"] == 9


def test_a_rejected_bulk_write_names_its_line(
    mongo_uri: str, collection_name: str, coll: Any, storage: LocalStorage
) -> None:
    text = '{"insertOne": {"_id": 1}}\n{"insertOne": {"_id": 2}}\n\n{"insertOne": {"_id": 1}}\n'
    flow = "id: bulk_dup\nnamespace: kflow.tests\ntasks:" + mongo_task(
        "bulk", "Bulk", 'from: "{{ envs.file }}"'
    )
    env = {"uri": mongo_uri, "coll": collection_name, "file": bulk_file(storage, text)}
    ex = run_flow(flow, **env)
    assert ex.state.value == "FAILED"
    assert ex.error is not None and "\n" not in ex.error
    assert ex.error.startswith("task bulk: line 4 of kestra:///kflow/tests/uploads/bulk.ion: ")
    assert "duplicate key" in ex.error or "E11000" in ex.error

    bad = bulk_file(storage, '{"insertOne": {"_id": 7}}\n{"upsertOne": {"_id": 8}}\n')
    ex = run_flow(flow, **{**env, "file": bad})
    assert ex.state.value == "FAILED"
    assert "line 2 of kestra:///kflow/tests/uploads/bulk.ion: unknown bulk operation" in str(
        ex.error
    )
    assert coll.count_documents({"_id": 7}) == 0, "nothing is written before the file is read"


def test_find_with_store_writes_the_rows_to_a_file(
    mongo_uri: str, collection_name: str, coll: Any, storage: LocalStorage
) -> None:
    from datetime import UTC, datetime

    from bson import ObjectId

    oid = ObjectId("60930c39a982931c20ef6cd6")
    when = datetime(2024, 4, 21, 23, 0, tzinfo=UTC)
    coll.insert_many(
        [{"_id": oid, "n": 1, "at": when}] + [{"_id": f"d{i}", "n": i} for i in range(2, 6)]
    )
    find = mongo_task(
        "find",
        "Find",
        """
        filter: {n: {$lt: 4}}
        sort: {n: 1}
        store: true
        """,
    )
    content = """
          - id: content
            type: io.kestra.plugin.core.debug.Return
            format: "{{ read(outputs.find.uri) }}"
    """
    flow = "id: find_store\nnamespace: kflow.tests\ntasks:" + find + content
    ex = succeeded(run_flow(flow, uri=mongo_uri, coll=collection_name))
    assert set(ex.outputs["find"]) == {"uri", "size"} and ex.outputs["find"]["size"] == 3
    lines = ex.outputs["content"]["value"].splitlines()
    assert lines[0] == '{_id:"60930c39a982931c20ef6cd6",n:1,at:2024-04-21T23:00:00Z}'
    assert [from_ion(line)["_id"] for line in lines] == [str(oid), "d2", "d3"]


def test_an_aggregation_the_server_refuses_is_one_clear_line(
    mongo_uri: str, collection_name: str, coll: Any, storage: LocalStorage
) -> None:
    coll.insert_one({"a": 1})
    flow = "id: aggregate_bad\nnamespace: kflow.tests\ntasks:" + mongo_task(
        "agg", "Aggregate", "pipeline: [{$noSuchStage: {}}]"
    )
    ex = run_flow(flow, uri=mongo_uri, coll=collection_name)
    assert ex.state.value == "FAILED"
    assert ex.error is not None and "\n" not in ex.error
    assert ex.error.startswith("task agg: MongoDB at mongodb://127.0.0.1:")
    assert "$noSuchStage" in ex.error
