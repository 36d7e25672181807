"""An element of a Redis list as a trigger record: ``trigger.value`` as Kestra gives it."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from kflow.engine.execution import TriggerRecord


@dataclass(eq=False)
class RedisElement(TriggerRecord):
    """One element moved from list ``list_key`` into ``processing`` (its consumer's
    processing list, where it stays until its execution finished)."""

    list_key: str | None = None
    processing: str | None = None
    seq: int = 0  # the trigger's count of elements received in this run

    def variables(self) -> dict[str, Any]:
        """Kestra's ``RealtimeTrigger.Output``: ``value`` alone (a string, or the parsed
        JSON with ``serdeType: JSON``)."""
        return {"value": self.value}

    def coordinates(self) -> dict[str, Any]:
        return {
            "list": self.list_key,
            "seq": self.seq or None,
            "processingList": self.processing,
            "timestamp": self.timestamp_ms,
        }

    def label(self) -> str:
        if self.list_key is None:
            return "event"
        return f"list {self.list_key} #{self.seq}"

    def order_key(self) -> Hashable | None:
        """List elements carry no key: they run freely (at most prefetch at once), started
        in list order; ``--concurrency 1`` runs them strictly one after another."""
        return None
