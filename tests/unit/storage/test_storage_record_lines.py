"""Record files: one Ion (or JSON) value per line, written whole, read back as a stream."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from kflow.errors import DataError
from kflow.expr.ion import from_ion
from kflow.storage import LocalStorage, decode_line, encode_line

PREFIX = "kestra:///dev/f/executions/E/tasks/t/R"

RECORDS: list[Any] = [
    {"key": "k1", "value": {"n": 1, "ok": True, "tags": ["a", "b"]}, "offset": 0},
    {"text": 'line one\nline "two"\ttabbed \\ back', "accents": "Zoë Ølsen 日本"},
    {"when": datetime(2024, 4, 21, 23, 0, 0, 123000, tzinfo=UTC), "day": date(2024, 4, 21)},
    {"bytes": b"\x00\xffraw", "float": 1.5, "big": 2**62, "nothing": None},
    [1, "two", {"three": 3}],
    "a plain string",
    None,
]


def test_ion_lines_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    uri, count = storage.write_records(PREFIX, RECORDS)
    assert count == len(RECORDS)
    assert uri.startswith(PREFIX + "/") and uri.endswith(".ion")
    lines = storage.path_of(uri).read_text().splitlines()
    assert len(lines) == len(RECORDS)  # one value per line, newlines in strings escaped
    assert [from_ion(line) for line in lines] == RECORDS
    assert [(n, r) for n, r in storage.read_records(uri)] == list(enumerate(RECORDS, start=1))


def test_json_lines_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    records = [{"a": 1, "s": "x\ny"}, [1, 2.5], "s", None, {"nested": {"deep": [True]}}]
    uri, count = storage.write_records(PREFIX, records, fmt="json")
    assert count == 5 and uri.endswith(".jsonl")
    assert [r for _, r in storage.read_records(uri)] == records


def test_ion_lines_use_kestras_compact_text() -> None:
    assert encode_line({"key": "k", "n": 1, "x": 1.5}) == '{key:"k",n:1,x:1.5e0}'
    assert encode_line({"key": "k"}, "json") == '{"key":"k"}'


def test_a_line_may_be_json_or_ion() -> None:
    assert decode_line('{"a": [1, 2]}') == {"a": [1, 2]}
    assert decode_line('{ insertOne: { "_id": 1, $set: 2e0 } }') == {
        "insertOne": {"_id": 1, "$set": 2.0}
    }
    assert decode_line("2024-01-02T03:04:05Z") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert math.isnan(decode_line("nan"))


def test_blank_lines_are_skipped_and_numbers_kept(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    path = storage.path_of("kestra:///up/mixed.ion")
    path.parent.mkdir(parents=True)
    path.write_text('{"a":1}\n\n  \n{b:2}\n')
    assert list(storage.read_records("kestra:///up/mixed.ion")) == [(1, {"a": 1}), (4, {"b": 2})]


def test_a_bad_line_is_named_with_its_number_and_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    path = storage.path_of("kestra:///up/bad.ion")
    path.parent.mkdir(parents=True)
    path.write_text('{"a":1}\n{"a": }\n')
    records = storage.read_records("kestra:///up/bad.ion")
    assert next(records) == (1, {"a": 1})
    with pytest.raises(DataError, match=r"^line 2 of kestra:///up/bad\.ion: neither JSON nor Ion"):
        next(records)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"kestra:///nope\.ion: no such file in the internal storage"
    ):
        list(LocalStorage(tmp_path).read_records("kestra:///nope.ion"))


def test_reading_streams_the_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    uri, _ = storage.write_records(PREFIX, ({"i": i} for i in range(10_000)))
    records = storage.read_records(uri)
    assert next(records) == (1, {"i": 0})
    # the file is read as it goes: the reader has not gone far past the first line
    handle = records.gi_frame.f_locals["handle"]  # type: ignore[union-attr]
    assert handle.tell() < storage.path_of(uri).stat().st_size
    records.close()
    assert handle.closed


def test_a_file_appears_only_when_complete(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with storage.new_file(PREFIX, name="out.ion") as out:
        out.write({"a": 1})
        assert not storage.exists(out.uri)
    assert storage.exists(out.uri) and out.count == 1

    with pytest.raises(RuntimeError), storage.new_file(PREFIX, name="broken.ion") as broken:
        broken.write({"a": 1})
        raise RuntimeError("the source failed half way")
    folder = storage.path_of(PREFIX + "/x").parent
    assert sorted(p.name for p in folder.iterdir()) == ["out.ion"]


def test_a_value_ion_cannot_hold_is_named(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(DataError, match=r"record 2 for kestra:///.*: a object cannot"):
        storage.write_records(PREFIX, [{"ok": 1}, {"bad": object()}])
