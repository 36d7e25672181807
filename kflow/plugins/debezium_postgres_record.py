"""A PostgreSQL row change as a trigger record: ``trigger.stream`` and ``trigger.data`` as
Kestra's Debezium trigger gives them, plus where the change came from.

``trigger.data`` is the change shaped by the trigger's ``format``/``deleted``/``key``/
``metadata`` settings (:func:`kflow.plugins.debezium_shape.shape`); ``trigger.value`` is
the same map (what the views and Kafka-style flows read). ``trigger.key`` is the row's key
columns as JSON text. Changes of one row (same table, same key) run one after another;
different rows run at once.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kflow.engine.execution import TriggerRecord
from kflow.plugins.pgoutput import lsn_text

if TYPE_CHECKING:
    from kflow.plugins.debezium_postgres_lsn import ConfirmLedger, Token


@dataclass(eq=False)
class PostgresChange(TriggerRecord):
    stream: str = ""
    table: str = ""  # schema.table
    op: str = ""
    lsn: int = 0
    seq: int = 0  # the trigger's count of changes in this run
    generation: int = 0  # the replication connection it came on
    ledger: ConfirmLedger | None = None
    token: Token | None = None

    @property
    def data(self) -> Any:
        return self.value

    def variables(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "data": self.value,
            "value": self.value,
            "key": self.key,
            "timestamp": self.timestamp(),
        }

    def coordinates(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "table": self.table or None,
            "op": self.op or None,
            "lsn": lsn_text(self.lsn) if self.lsn else None,
            "seq": self.seq or None,
            "key": self.key,
            "timestamp": self.timestamp_ms,
        }

    def label(self) -> str:
        if not self.table:
            return "event"
        return f"{self.table} {self.op} @{lsn_text(self.lsn)}"

    def order_key(self) -> Hashable | None:
        """One row's changes in order: the table and the key (a table without a key: the
        table, so its changes keep their order)."""
        if not self.table:
            return None
        return (self.table, self.key)
