"""Secrets never show in messages; Extended JSON is read as MongoDB reads it."""

from __future__ import annotations

import datetime as dt

import pytest
from bson import Int64, ObjectId

from kflow.connectors.masking import mask, one_line, register_secret
from kflow.connectors.mongodb import mask_uri, parse_extended_json
from kflow.errors import DataError


def test_registered_secrets_are_masked_longest_first() -> None:
    register_secret("hunter2-abc")
    register_secret("hunter2-abc-longer")
    register_secret("")
    assert mask("a hunter2-abc-longer and hunter2-abc") == "a *** and ***"
    assert one_line("bad\n  password hunter2-abc\n") == "bad password ***"


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        (
            "mongodb://kestra:p%40ss@127.0.0.1:27017/?authSource=admin",
            "mongodb://kestra:***@127.0.0.1:27017/?authSource=admin",
        ),
        (
            "mongodb+srv://u:x@cluster0.example.net/db",
            "mongodb+srv://u:***@cluster0.example.net/db",
        ),
        ("mongodb://127.0.0.1:27017/db", "mongodb://127.0.0.1:27017/db"),
        ("mongodb://user@127.0.0.1/", "mongodb://user@127.0.0.1/"),
    ],
)
def test_mask_uri(uri: str, masked: str) -> None:
    assert mask_uri(uri) == masked


def test_extended_json_text() -> None:
    value = parse_extended_json(
        '{"_id": {"$oid": "5f1b2c3d4e5f6a7b8c9d0e1f"}, "at": {"$date": "2024-06-27T08:00:00Z"},'
        ' "n": {"$numberLong": "9007199254740993"}, "plain": ["a", 1.5]}'
    )
    assert value["_id"] == ObjectId("5f1b2c3d4e5f6a7b8c9d0e1f")
    assert value["at"].replace(tzinfo=dt.UTC) == dt.datetime(2024, 6, 27, 8, tzinfo=dt.UTC)
    assert value["n"] == 9007199254740993 and isinstance(value["n"], Int64 | int)
    assert value["plain"] == ["a", 1.5]


def test_extended_json_of_parsed_values() -> None:
    value = parse_extended_json({"a": [{"$numberLong": "7"}, {"b": {"$oid": "0" * 24}}]})
    assert value == {"a": [7, {"b": ObjectId("0" * 24)}]}


def test_invalid_json_is_a_data_error_with_its_position() -> None:
    with pytest.raises(DataError, match="invalid JSON at line 2 column 1"):
        parse_extended_json('{"a": 1,\n}')
