"""A RabbitMQ message as a trigger record: its queue and delivery, and Kestra's ``Message``
fields as ``trigger.*`` variables."""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kflow.engine.execution import TriggerRecord
from kflow.plugins.core import iso_duration

PROPERTY_NAMES = {
    "contentType": "content_type",
    "contentEncoding": "content_encoding",
    "deliveryMode": "delivery_mode",
    "priority": "priority",
    "messageId": "message_id",
    "correlationId": "correlation_id",
    "replyTo": "reply_to",
    "type": "message_type",
    "userId": "user_id",
    "appId": "app_id",
}
"""Kestra's ``Message`` field names and the AMQP basic properties they read."""


@dataclass(eq=False)
class AmqpMessage(TriggerRecord):
    """One delivery. ``generation`` is the channel it came on (the trigger's count of
    channels): a delivery tag means nothing on any other channel."""

    queue: str | None = None
    delivery_tag: int | None = None
    redelivered: bool = False
    exchange: str | None = None
    routing_key: str | None = None
    generation: int = 0
    seq: int = 0  # the trigger's count of messages received in this run
    properties: Any = None  # pamqp Basic.Properties, as received (dead-letter copies)

    def variables(self) -> dict[str, Any]:
        """Kestra's ``Message`` fields; ``value`` mirrors ``data`` (as Kafka's value)."""
        out = message_fields(self.properties)
        out["data"] = self.value
        out["value"] = self.value
        out["headers"] = self.headers
        return out

    def coordinates(self) -> dict[str, Any]:
        props = self.properties
        return {
            "queue": self.queue,
            "seq": self.seq or None,
            "deliveryTag": self.delivery_tag,
            "redelivered": self.redelivered,
            "exchange": self.exchange,
            "routingKey": self.routing_key,
            "messageId": getattr(props, "message_id", None),
            "timestamp": self.timestamp_ms,
        }

    def label(self) -> str:
        if self.queue is None:
            return "event"
        return f"queue {self.queue} #{self.seq}"

    def order_key(self) -> Hashable | None:
        """RabbitMQ messages carry no key: they run freely (at most prefetch at once)."""
        return None


def message_fields(props: Any) -> dict[str, Any]:
    """The properties of a message as Kestra names them: absent ones are None,
    ``expiration`` an ISO-8601 duration (``PT1M``), ``timestamp`` a UTC datetime."""
    out: dict[str, Any] = {
        name: getattr(props, attr, None) if props is not None else None
        for name, attr in PROPERTY_NAMES.items()
    }
    expiration = getattr(props, "expiration", None)
    out["expiration"] = _expiration(expiration)
    stamp = getattr(props, "timestamp", None)
    if isinstance(stamp, datetime) and stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    out["timestamp"] = stamp
    return out


def _expiration(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return iso_duration(int(str(value)) / 1000)
    except ValueError:
        return str(value)


def header_values(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Header values as strings, as Kestra gives them (maps and lists as JSON)."""
    return {str(k): header_text(v) for k, v in (headers or {}).items()}


def header_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)
