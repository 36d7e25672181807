"""A JetStream message as a trigger record: Kestra's ``trigger.*`` (``subject``, ``headers``,
``data``, ``timestamp``) and where it sits in its stream."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from kflow.engine.execution import TriggerRecord


@dataclass(eq=False)
class NatsMessage(TriggerRecord):
    """One message of a pull consumer. ``key`` is its subject (the order key); ``value`` its
    data as a string, as Kestra gives it; ``headers`` map a name to its list of values.
    ``msg`` is nats-py's message, which acknowledges it (None for ``--event``)."""

    subject: str | None = None
    stream: str | None = None
    stream_seq: int | None = None
    consumer_seq: int | None = None
    delivered: int = 1  # how many times the server has delivered it (1: the first time)
    msg: Any = None

    def variables(self) -> dict[str, Any]:
        """Exactly Kestra's four ``trigger.*`` variables (``NatsMessageOutput``)."""
        return {
            "subject": self.subject,
            "headers": self.headers,
            "data": self.value,
            "timestamp": self.timestamp(),
        }

    def coordinates(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "key": self.subject,
            "stream": self.stream,
            "sequence": self.stream_seq,
            "consumerSequence": self.consumer_seq,
            "delivered": self.delivered,
            "timestamp": self.timestamp_ms,
        }

    def label(self) -> str:
        if self.stream_seq is None:
            return "event" if self.subject is None else f"nats {self.subject}"
        return f"nats {self.subject} #{self.stream_seq}"

    def order_key(self) -> Hashable | None:
        """Messages of one subject run one after another, in stream order; different subjects
        run at once. A subject is what NATS routes and filters by (one per order, device or
        key: ``orders.<id>``, as the KV store does), and JetStream keeps per-subject order."""
        return self.subject


def header_lists(headers: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """nats-py headers (one string per name) as Kestra gives them: each name to a list."""
    out: dict[str, list[str]] = {}
    for name, value in (headers or {}).items():
        if isinstance(value, list | tuple):
            out[str(name)] = [str(v) for v in value]
        else:
            out[str(name)] = [str(value)]
    return out
