"""A MySQL/MariaDB row change as a trigger record, and the binlog position kflow stores."""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from kflow.engine.execution import TriggerRecord
from kflow.plugins.debezium_shape import Change


@dataclass(frozen=True, slots=True)
class BinlogPosition:
    """Where the next transaction starts: binlog file and offset, and MariaDB's GTID
    position (``domain-server-sequence`` of the last transaction before it, if known)."""

    file: str
    pos: int
    gtid: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "pos": self.pos, "gtid": self.gtid}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BinlogPosition:
        return cls(str(data["file"]), int(data["pos"]), data.get("gtid") or None)

    def __str__(self) -> str:
        return f"{self.file}:{self.pos}" + (f" (GTID {self.gtid})" if self.gtid else "")


@dataclass(eq=False)
class MysqlChange(TriggerRecord):
    """One row change: ``trigger.stream`` and ``trigger.data`` as Kestra's Debezium
    trigger gives them; ``position`` is set on the last change of a transaction (the
    position to store once it and everything before it have finished)."""

    stream: str = ""
    change: Change | None = None
    seq: int = 0
    position: BinlogPosition | None = None
    row_key: str | None = None

    def variables(self) -> dict[str, Any]:
        return {"stream": self.stream, "data": self.value}

    def coordinates(self) -> dict[str, Any]:
        change = self.change
        source = change.source if change is not None else {}
        return {
            "stream": self.stream,
            "op": change.op if change is not None else None,
            "file": source.get("file"),
            "pos": source.get("pos"),
            "row": source.get("row"),
            "gtid": source.get("gtid"),
            "key": self.row_key,
            "timestamp": self.timestamp_ms,
        }

    def label(self) -> str:
        change = self.change
        if change is None:
            return "event"
        where = change.source.get("file"), change.source.get("pos")
        return f"{change.database}.{change.table} {change.op} {where[0]}:{where[1]}"

    def order_key(self) -> Hashable | None:
        """Changes of one row (table and primary key) run in binlog order; other rows run
        concurrently. A table without a primary key runs in order as a whole."""
        change = self.change
        if change is None:
            return None
        return f"{change.database}.{change.table}:{self.row_key or ''}"


def key_text(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
