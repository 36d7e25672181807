"""What storage-backed tasks make of file lines and Kafka records (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from bson import ObjectId
from pymongo import DeleteMany, DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne

from kflow.errors import DataError
from kflow.plugins.kafka_consume import ConsumeSettings, _Messages
from kflow.plugins.mongodb_files import bulk_operation, load_document, stored_value

WHERE = "line 7 of kestra:///up/ops.ion"


@pytest.mark.parametrize(
    ("line", "model"),
    [
        ({"insertOne": {"_id": 1, "a": "x"}}, InsertOne({"_id": 1, "a": "x"})),
        ({"insertOne": {"document": {"_id": 2}}}, InsertOne({"_id": 2})),
        (
            {"updateOne": {"filter": {"a": 1}, "update": {"$set": {"b": 2}}, "upsert": True}},
            UpdateOne({"a": 1}, {"$set": {"b": 2}}, upsert=True),
        ),
        (
            {"updateMany": {"filter": {}, "update": [{"$set": {"c": 1}}]}},
            UpdateMany({}, [{"$set": {"c": 1}}]),
        ),
        (
            {
                "replaceOne": {
                    "filter": {"_id": {"$oid": "60930c39a982931c20ef6cd6"}},
                    "replacement": {"r": 1},
                }
            },
            ReplaceOne({"_id": ObjectId("60930c39a982931c20ef6cd6")}, {"r": 1}),
        ),
        ({"deleteOne": {"filter": {"a": 1}}}, DeleteOne({"a": 1})),
        ({"deleteMany": {"filter": {"a": {"$gt": 1}}}}, DeleteMany({"a": {"$gt": 1}})),
    ],
)
def test_bulk_lines_become_write_models(line: dict[str, Any], model: Any) -> None:
    assert bulk_operation(line, WHERE) == model


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"upsertOne": {}}, "unknown bulk operation 'upsertOne'; expected one of insertOne"),
        ({"insertOne": {}, "deleteOne": {}}, "expected one operation .* got insertOne, deleteOne"),
        ([1, 2], "expected one operation .* got list"),
        ({"deleteOne": {}}, "deleteOne.filter must be a document .* got nothing"),
        ({"updateOne": {"filter": {}}}, "updateOne.update must be a document or a pipeline"),
        (
            {"updateOne": {"filter": {}, "update": {}, "upsert": "yes"}},
            "updateOne.upsert must be true",
        ),
        ({"insertOne": "text"}, "insertOne must be a document .* got a str"),
    ],
)
def test_bad_bulk_lines_name_their_line(line: Any, message: str) -> None:
    with pytest.raises(DataError, match=f"^{WHERE}: {message}"):
        bulk_operation(line, WHERE)


def test_load_copies_the_id_key() -> None:
    hex_id = "60930c39a982931c20ef6cd6"
    assert load_document({"id": hex_id, "n": "john"}, WHERE, "id", True) == InsertOne(
        {"n": "john", "_id": ObjectId(hex_id)}
    )
    # not an ObjectId: the value is kept as the _id (Kestra fails there)
    assert load_document({"sku": "P-1"}, WHERE, "sku", False) == InsertOne(
        {"sku": "P-1", "_id": "P-1"}
    )
    assert load_document({"a": 1}, WHERE, "", True) == InsertOne({"a": 1})
    with pytest.raises(DataError, match=f"^{WHERE}: the record has no field 'id'"):
        load_document({"a": 1}, WHERE, "id", True)
    with pytest.raises(DataError, match="a record must be a document"):
        load_document("text", WHERE, "", True)


def test_stored_values_are_what_kestra_writes() -> None:
    from bson import Binary, Decimal128, Int64

    oid = ObjectId("60930c39a982931c20ef6cd6")
    naive = datetime(2024, 1, 2, 3, 4, 5)
    assert stored_value(
        {"_id": oid, "at": naive, "n": Int64(5), "d": Decimal128("1.5"), "b": Binary(b"\x01")}
    ) == {
        "_id": "60930c39a982931c20ef6cd6",
        "at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "n": 5,
        "d": 1.5,
        "b": b"\x01",
    }


def record(value: bytes | None, headers: list[tuple[str, bytes | None]] | None = None) -> Any:
    return SimpleNamespace(
        topic="orders",
        partition=2,
        offset=41,
        timestamp=1_700_000_000_123,
        key=b"k1",
        value=value,
        headers=headers or [],
    )


def settings(**props: Any) -> ConsumeSettings:
    return ConsumeSettings.from_props({"properties": {"bootstrap.servers": "x"}, **props})


def test_records_become_kestras_messages() -> None:
    messages = _Messages(settings(valueDeserializer="JSON"))
    assert messages.message(record(b'{"n": 1}', [("h", b"v"), ("h", b"w"), ("n", None)])) == {
        "key": "k1",
        "value": {"n": 1},
        "topic": "orders",
        "headers": [{"h": "v"}, {"h": "w"}, {"n": None}],
        "partition": 2,
        "timestamp": datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC),
        "offset": 41,
    }
    assert _Messages(settings(valueDeserializer="BYTES")).message(record(b"\x00"))["value"] == (
        b"\x00"
    )


def test_header_filters_keep_matching_records_only() -> None:
    messages = _Messages(settings(headerFilters={"type": "paid"}))
    assert messages.message(record(b"x", [("type", b"new"), ("type", b"paid")])) is not None
    assert messages.message(record(b"x", [("type", b"paid"), ("type", b"new")])) is None
    assert messages.message(record(b"x")) is None


def test_a_record_that_cannot_be_deserialized() -> None:
    bad = record(b"not json")
    with pytest.raises(DataError, match=r"value of record orders\[2\]@41 as JSON: not JSON"):
        _Messages(settings(valueDeserializer="JSON")).message(bad)
    skipped = settings(valueDeserializer="JSON", onSerdeError={"type": "SKIPPED"})
    assert _Messages(skipped).message(bad) is None
    stored = settings(valueDeserializer="JSON", onSerdeError={"type": "STORE"})
    assert _Messages(stored).message(bad)["value"] == "not json"  # type: ignore[index]


def test_consume_settings_from_properties() -> None:
    plain = settings(topic="t", pollDuration=2.0, maxRecords=10)
    assert (plain.topics, plain.poll_s, plain.max_records, plain.manual) == (["t"], 2.0, 10, True)
    grouped = settings(topic=["a", "b"], groupId="g")
    assert (grouped.topics, grouped.group_id, grouped.manual) == (["a", "b"], "g", False)
    assert settings(topic="t", groupId="g", partitions=[0, 2]).manual is True
    from_properties = ConsumeSettings.from_props(
        {"properties": {"bootstrap.servers": "x", "group.id": "pg"}, "topicPattern": "o.*"}
    )
    assert (from_properties.group_id, from_properties.manual) == ("pg", False)
