"""Flow inputs typed and checked as Kestra's FlowInputOutput.typedInputs does.

kestra: core/src/main/java/io/kestra/core/runners/FlowInputOutput.java (defaults, required,
parseType, nested ids) and the input classes of core/src/main/java/io/kestra/core/models/
flows/input/ (IntInput min/max, StringInput validator, SelectInput values, DateTimeInput
after/before, ArrayInput itemType).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kflow.flow.inputs import InputError, parse_assignments, resolve_inputs


def one(spec: dict[str, Any], raw: Any) -> Any:
    return resolve_inputs([{"id": "x", **spec}], {"x": raw})["x"]


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("STRING", "hello", "hello"),
        ("INT", "42", 42),
        ("INT", 42, 42),
        ("FLOAT", "1.5", 1.5),
        ("BOOLEAN", "TRUE", True),
        ("BOOLEAN", "yes", False),  # Java's Boolean.valueOf
        ("BOOL", "false", False),
        ("DATETIME", "2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("DATE", "2024-01-02", dt.date(2024, 1, 2)),
        ("TIME", "03:04:05", dt.time(3, 4, 5)),
        ("DURATION", "PT1M30S", dt.timedelta(seconds=90)),
        ("JSON", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("YAML", "a: 1\nb: [x]", {"a": 1, "b": ["x"]}),
        ("ARRAY", "[1, 2]", [1, 2]),
        ("URI", "https://kestra.io/docs", "https://kestra.io/docs"),
        ("EMAIL", "ada@example.org", "ada@example.org"),
        ("SELECT", "b", "b"),
    ],
)
def test_values_are_parsed_by_their_declared_type(kind: str, raw: Any, expected: Any) -> None:
    assert one({"type": kind}, raw) == expected


@pytest.mark.parametrize(
    ("spec", "raw", "message"),
    [
        ({"type": "INT"}, "abc", "expected INT, got 'abc'"),
        ({"type": "INT", "min": 1}, "0", "it must be at least 1"),
        ({"type": "FLOAT", "max": 2.5}, "3", "it must be at most 2.5"),
        ({"type": "STRING", "validator": "^[a-z]+$"}, "Abc", "it must match the pattern"),
        ({"type": "SELECT", "values": ["red", "green"]}, "blue", "one of red, green"),
        ({"type": "DATETIME"}, "2024-01-02T03:04:05", "expected DATETIME"),  # no zone
        ({"type": "DATETIME", "after": "2024-01-01T00:00:00Z"}, "2023-01-01T00:00:00Z", "after"),
        ({"type": "DURATION", "max": "PT1M"}, "PT2M", "at most PT1M"),
        ({"type": "ARRAY", "itemType": "INT"}, '[1, "x"]', "expected INT, got 'x'"),
        ({"type": "BOOL"}, "maybe", "expected BOOL"),
        ({"type": "URI"}, "not a uri", "expected URI"),
        ({"type": "FILE"}, "/tmp/f", "internal storage"),
    ],
)
def test_a_value_that_does_not_fit_is_refused_with_the_reason(
    spec: dict[str, Any], raw: Any, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        one(spec, raw)


def test_defaults_apply_and_required_inputs_must_be_given() -> None:
    declared = [
        {"id": "name", "type": "STRING"},
        {"id": "count", "type": "INT", "defaults": 2},
        {"id": "note", "type": "STRING", "required": False},
    ]
    assert resolve_inputs(declared, {"name": "Ada"}) == {"name": "Ada", "count": 2, "note": None}
    with pytest.raises(InputError, match="input 'name': missing required input"):
        resolve_inputs(declared, {})


def test_every_problem_is_reported_at_once() -> None:
    declared = [{"id": "a", "type": "INT"}, {"id": "b", "type": "INT"}]
    with pytest.raises(InputError) as error:
        resolve_inputs(declared, {"a": "x", "zzz": "1"})
    text = str(error.value)
    assert "input 'zzz': the flow declares no such input" in text
    assert "input 'a': expected INT" in text
    assert "input 'b': missing required input" in text


def test_dotted_ids_nest_their_values() -> None:
    declared = [{"id": "db.host", "type": "STRING"}, {"id": "db.port", "type": "INT"}]
    assert resolve_inputs(declared, {"db.host": "h", "db.port": "5432"}) == {
        "db": {"host": "h", "port": 5432}
    }


def test_assignments_are_name_equals_value() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(InputError, match="expected NAME=VALUE"):
        parse_assignments(["novalue"])
