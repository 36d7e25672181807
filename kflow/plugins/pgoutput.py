"""A decoder of PostgreSQL's ``pgoutput`` logical replication messages (protocol version 1).

PostgreSQL's built-in output plug-in sends one message per ``XLogData`` payload; the first
byte says what it is (PostgreSQL's "Logical Replication Message Formats"):

- ``B`` :class:`Begin`, ``C`` :class:`Commit`, ``O`` :class:`Origin` of a transaction;
- ``R`` :class:`Relation` (a table's columns, sent before its first change and after a schema
  change), ``Y`` :class:`TypeInfo` (a user-defined column type);
- ``I`` :class:`Insert`, ``U`` :class:`Update`, ``D`` :class:`Delete`, ``T`` :class:`Truncate`;
- ``M`` :class:`LogicalMessage` (only with ``messages 'true'``).

Column values are :class:`Tuple` cells: ``None`` for SQL NULL, :data:`UNCHANGED` for a TOASTed
value the update did not touch (PostgreSQL does not send it again), else the value's text
(``t``) or, with ``binary 'true'``, its bytes (``b``). Pure: no I/O, no driver.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = [
    "UNCHANGED",
    "Begin",
    "Column",
    "Commit",
    "DecodeError",
    "Delete",
    "Insert",
    "LogicalMessage",
    "Message",
    "Origin",
    "Relation",
    "Truncate",
    "Tuple",
    "TypeInfo",
    "Update",
    "decode",
    "lsn_text",
    "parse_lsn",
    "pg_timestamp",
]

POSTGRES_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
"""PostgreSQL's timestamps count microseconds from 2000-01-01 UTC."""


class Unchanged:
    """The value of a TOASTed column an update left untouched: PostgreSQL sends no value."""

    _instance: Unchanged | None = None

    def __new__(cls) -> Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged()

Cell = str | bytes | Unchanged | None
Tuple = tuple[Cell, ...]


class DecodeError(ValueError):
    """A message that is not valid pgoutput (truncated, or of an unknown kind)."""


def pg_timestamp(micros: int) -> datetime:
    """A pgoutput timestamp (microseconds since 2000-01-01 UTC) as an aware datetime."""
    return POSTGRES_EPOCH + timedelta(microseconds=micros)


def lsn_text(lsn: int) -> str:
    """``0/16B3748``: an LSN as PostgreSQL prints it."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """The LSN ``0/16B3748`` as a number."""
    high, sep, low = text.strip().partition("/")
    if not sep:
        raise ValueError(f"not an LSN: {text!r}")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int  # the LSN of the transaction's commit record
    commit_time: datetime
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    flags: int
    commit_lsn: int  # the LSN of the commit record
    end_lsn: int  # the LSN just past it: where streaming resumes once this is confirmed
    commit_time: datetime


@dataclass(frozen=True, slots=True)
class Origin:
    origin_lsn: int
    name: str


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_oid: int
    type_modifier: int
    key: bool  # part of the replica identity (by default, the primary key)


@dataclass(frozen=True, slots=True)
class Relation:
    oid: int
    namespace: str  # the schema ("public"); PostgreSQL sends "" for pg_catalog
    name: str
    replica_identity: str  # d default, n nothing, f full, i index
    columns: tuple[Column, ...]

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.key)


@dataclass(frozen=True, slots=True)
class TypeInfo:
    oid: int
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class Insert:
    relation_oid: int
    new: Tuple


@dataclass(frozen=True, slots=True)
class Update:
    relation_oid: int
    old: Tuple | None  # the old row (replica identity FULL) or its old key (the key changed)
    old_kind: str | None  # "O" a whole old row, "K" only the key columns, None: not sent
    new: Tuple


@dataclass(frozen=True, slots=True)
class Delete:
    relation_oid: int
    old: Tuple
    old_kind: str  # "O" the whole row (replica identity FULL), "K" the key columns


@dataclass(frozen=True, slots=True)
class Truncate:
    relation_oids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True, slots=True)
class LogicalMessage:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Message = (
    Begin
    | Commit
    | Origin
    | Relation
    | TypeInfo
    | Insert
    | Update
    | Delete
    | Truncate
    | LogicalMessage
)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if size < 0 or end > len(self.data):
            raise DecodeError(f"message truncated at byte {self.pos} (wanted {size} more)")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def int8(self) -> int:
        return self.take(1)[0]

    def int16(self) -> int:
        return int(struct.unpack("!h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack("!i", self.take(4))[0])

    def uint32(self) -> int:
        return int(struct.unpack("!I", self.take(4))[0])

    def int64(self) -> int:
        return int(struct.unpack("!q", self.take(8))[0])

    def uint64(self) -> int:
        return int(struct.unpack("!Q", self.take(8))[0])

    def char(self) -> str:
        return chr(self.int8())

    def string(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise DecodeError(f"unterminated string at byte {self.pos}")
        out = self.data[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return out

    def tuple_data(self) -> Tuple:
        count = self.int16()
        cells: list[Cell] = []
        for _ in range(count):
            kind = self.char()
            if kind == "n":
                cells.append(None)
            elif kind == "u":
                cells.append(UNCHANGED)
            elif kind == "t":
                cells.append(self.take(self.int32()).decode("utf-8"))
            elif kind == "b":
                cells.append(self.take(self.int32()))
            else:
                raise DecodeError(f"unknown column value kind {kind!r} at byte {self.pos - 1}")
        return tuple(cells)

    def done(self) -> None:
        if self.pos != len(self.data):
            raise DecodeError(f"{len(self.data) - self.pos} bytes left over at byte {self.pos}")


def decode(data: bytes) -> Message:
    """One pgoutput message (the payload of one ``XLogData``)."""
    if not data:
        raise DecodeError("empty message")
    r = _Reader(bytes(data))
    kind = r.char()
    out: Message
    if kind == "B":
        out = Begin(r.uint64(), pg_timestamp(r.int64()), r.uint32())
    elif kind == "C":
        flags = r.int8()
        out = Commit(flags, r.uint64(), r.uint64(), pg_timestamp(r.int64()))
    elif kind == "O":
        out = Origin(r.uint64(), r.string())
    elif kind == "R":
        oid, namespace, name, identity = r.uint32(), r.string(), r.string(), r.char()
        columns = []
        for _ in range(r.int16()):
            flags = r.int8()
            columns.append(Column(r.string(), r.uint32(), r.int32(), bool(flags & 1)))
        out = Relation(oid, namespace, name, identity, tuple(columns))
    elif kind == "Y":
        out = TypeInfo(r.uint32(), r.string(), r.string())
    elif kind == "I":
        oid = r.uint32()
        _expect(r, "N")
        out = Insert(oid, r.tuple_data())
    elif kind == "U":
        oid = r.uint32()
        marker = r.char()
        old: Tuple | None = None
        old_kind: str | None = None
        if marker in ("K", "O"):
            old_kind, old = marker, r.tuple_data()
            marker = r.char()
        if marker != "N":
            raise DecodeError(f"update: expected 'N', got {marker!r}")
        out = Update(oid, old, old_kind, r.tuple_data())
    elif kind == "D":
        oid = r.uint32()
        marker = r.char()
        if marker not in ("K", "O"):
            raise DecodeError(f"delete: expected 'K' or 'O', got {marker!r}")
        out = Delete(oid, r.tuple_data(), marker)
    elif kind == "T":
        count = r.int32()
        options = r.int8()
        oids = tuple(r.uint32() for _ in range(count))
        out = Truncate(oids, bool(options & 1), bool(options & 2))
    elif kind == "M":
        flags = r.int8()
        lsn, prefix = r.uint64(), r.string()
        out = LogicalMessage(bool(flags & 1), lsn, prefix, r.take(r.int32()))
    else:
        raise DecodeError(f"unknown pgoutput message kind {kind!r}")
    r.done()
    return out


def _expect(r: _Reader, marker: str) -> None:
    got = r.char()
    if got != marker:
        raise DecodeError(f"expected {marker!r}, got {got!r} at byte {r.pos - 1}")
