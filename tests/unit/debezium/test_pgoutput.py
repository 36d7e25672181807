"""The pgoutput decoder against messages built byte by byte, as PostgreSQL lays them out."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from kflow.plugins.pgoutput import (
    UNCHANGED,
    Begin,
    Column,
    Commit,
    DecodeError,
    Delete,
    Insert,
    LogicalMessage,
    Origin,
    Relation,
    Truncate,
    TypeInfo,
    Update,
    decode,
    lsn_text,
    parse_lsn,
    pg_timestamp,
)

# 2024-01-31T10:00:00.5Z in microseconds since 2000-01-01
TS = int((datetime(2024, 1, 31, 10, 0, 0, 500000, tzinfo=UTC).timestamp() - 946684800) * 1e6)


def s(text: str) -> bytes:
    return text.encode() + b"\x00"


def tuple_data(*cells: str | bytes | object | None) -> bytes:
    out = struct.pack("!h", len(cells))
    for cell in cells:
        if cell is None:
            out += b"n"
        elif cell is UNCHANGED:
            out += b"u"
        elif isinstance(cell, bytes):
            out += b"b" + struct.pack("!i", len(cell)) + cell
        else:
            raw = str(cell).encode()
            out += b"t" + struct.pack("!i", len(raw)) + raw
    return out


def test_begin_and_commit() -> None:
    begin = decode(b"B" + struct.pack("!QqI", 0x1_0000_00A0, TS, 4242))
    assert begin == Begin(0x1_0000_00A0, datetime(2024, 1, 31, 10, 0, 0, 500000, tzinfo=UTC), 4242)
    commit = decode(b"C" + struct.pack("!BQQq", 0, 0xA0, 0xD8, TS))
    assert isinstance(commit, Commit)
    assert (commit.commit_lsn, commit.end_lsn, commit.flags) == (0xA0, 0xD8, 0)
    assert commit.commit_time == pg_timestamp(TS)


def test_origin_and_type() -> None:
    assert decode(b"O" + struct.pack("!Q", 77) + s("node_a")) == Origin(77, "node_a")
    assert decode(b"Y" + struct.pack("!I", 16400) + s("public") + s("mood")) == TypeInfo(
        16400, "public", "mood"
    )


def test_relation_columns_and_key_flags() -> None:
    body = b"R" + struct.pack("!I", 16384) + s("public") + s("orders") + b"d"
    body += struct.pack("!h", 3)
    body += b"\x01" + s("id") + struct.pack("!Ii", 23, -1)
    body += b"\x00" + s("note") + struct.pack("!Ii", 1043, 68)
    body += b"\x00" + s("price") + struct.pack("!Ii", 1700, (10 << 16 | 2) + 4)
    relation = decode(body)
    assert relation == Relation(
        16384,
        "public",
        "orders",
        "d",
        (
            Column("id", 23, -1, True),
            Column("note", 1043, 68, False),
            Column("price", 1700, (10 << 16 | 2) + 4, False),
        ),
    )
    assert isinstance(relation, Relation) and relation.key_columns == ("id",)


def test_insert_with_text_null_and_binary_cells() -> None:
    msg = decode(b"I" + struct.pack("!I", 16384) + b"N" + tuple_data("1", None, b"\x00\x01", "é"))
    assert msg == Insert(16384, ("1", None, b"\x00\x01", "é"))


def test_update_without_old_row_with_key_and_with_full_row() -> None:
    plain = decode(b"U" + struct.pack("!I", 5) + b"N" + tuple_data("1", UNCHANGED))
    assert plain == Update(5, None, None, ("1", UNCHANGED))
    assert isinstance(plain, Update) and plain.new[1] is UNCHANGED
    keyed = decode(
        b"U" + struct.pack("!I", 5) + b"K" + tuple_data("1", None) + b"N" + tuple_data("2", "x")
    )
    assert keyed == Update(5, ("1", None), "K", ("2", "x"))
    full = decode(
        b"U" + struct.pack("!I", 5) + b"O" + tuple_data("1", "a") + b"N" + tuple_data("1", "b")
    )
    assert full == Update(5, ("1", "a"), "O", ("1", "b"))


def test_delete_with_key_or_full_row() -> None:
    assert decode(b"D" + struct.pack("!I", 5) + b"K" + tuple_data("7", None)) == Delete(
        5, ("7", None), "K"
    )
    assert decode(b"D" + struct.pack("!I", 5) + b"O" + tuple_data("7", "x")) == Delete(
        5, ("7", "x"), "O"
    )


def test_truncate_relations_and_options() -> None:
    msg = decode(b"T" + struct.pack("!iB", 2, 3) + struct.pack("!II", 10, 11))
    assert msg == Truncate((10, 11), cascade=True, restart_identity=True)
    msg = decode(b"T" + struct.pack("!iB", 1, 0) + struct.pack("!I", 10))
    assert msg == Truncate((10,), cascade=False, restart_identity=False)


def test_logical_message() -> None:
    body = b"M" + struct.pack("!BQ", 1, 99) + s("kflow") + struct.pack("!i", 3) + b"abc"
    assert decode(body) == LogicalMessage(True, 99, "kflow", b"abc")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"Z\x00", "unknown pgoutput message kind 'Z'"),
        (b"B\x00\x00", "truncated"),
        (b"I" + struct.pack("!I", 1) + b"X", "expected 'N'"),
        (b"I" + struct.pack("!I", 1) + b"N" + struct.pack("!h", 1) + b"q", "unknown column value"),
        (b"D" + struct.pack("!I", 1) + b"N" + tuple_data("1"), "expected 'K' or 'O'"),
        (b"Y" + struct.pack("!I", 1) + b"public", "unterminated string"),
        (b"O" + struct.pack("!Q", 1) + s("x") + b"extra", "left over"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(data: bytes, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        decode(data)


def test_lsn_text_round_trip() -> None:
    assert lsn_text(0x1_016B_3748) == "1/16B3748"
    assert parse_lsn("1/16B3748") == 0x1_016B_3748
    assert parse_lsn(lsn_text(0)) == 0
    with pytest.raises(ValueError, match="not an LSN"):
        parse_lsn("16B3748")
