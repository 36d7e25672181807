"""An MQTT message as a trigger record: its topic, packet id and QoS, and its raw payload.

``trigger.*`` follows Kestra's ``RealtimeTrigger.Output``: ``id`` (the packet identifier,
0 for QoS 0), ``topic``, ``qos``, ``payload`` (decoded by ``serdeType``), ``retain``,
``properties``, ``responseTopic`` and ``correlationData`` (Base64). kflow adds ``value``
(the payload again, what the views and Kafka-style flows read), ``dup`` (the broker
delivered it before, e.g. after a reconnect) and ``timestamp`` (when kflow received it).
Kestra's ``properties`` is a list of MQTT 5 property identifiers; kflow's is a map of the
message's MQTT 5 properties (``contentType``, ``userProperties``...), null for MQTT 3.1.1.
"""

from __future__ import annotations

import base64
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from kflow.engine.execution import TriggerRecord


@dataclass(eq=False)
class MqttMessage(TriggerRecord):
    topic: str | None = None
    mid: int = 0  # the packet identifier (0 for QoS 0): reused, unique only while unacked
    qos: int = 0
    retain: bool = False
    dup: bool = False
    properties: dict[str, Any] | None = None  # MQTT 5 properties; None for MQTT 3.1.1
    raw_properties: Any = None  # paho's Properties, kept for the dead-letter copy
    epoch: int = 0  # the trigger's connection number it arrived on
    seq: int | None = None  # its place in that connection's acknowledgement order

    @property
    def response_topic(self) -> str | None:
        return (self.properties or {}).get("responseTopic")

    @property
    def correlation_data(self) -> str | None:
        return (self.properties or {}).get("correlationData")

    def variables(self) -> dict[str, Any]:
        return {
            "id": self.mid,
            "topic": self.topic,
            "qos": self.qos,
            "payload": self.value,
            "value": self.value,
            "retain": self.retain,
            "dup": self.dup,
            "properties": self.properties,
            "responseTopic": self.response_topic,
            "correlationData": self.correlation_data,
            "timestamp": self.timestamp(),
        }

    def coordinates(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "id": self.mid,
            "qos": self.qos,
            "retain": self.retain,
            "dup": self.dup,
            "timestamp": self.timestamp_ms,
        }

    def label(self) -> str:
        if self.topic is None:
            return "event"
        return f"mqtt {self.topic} id {self.mid}" if self.qos else f"mqtt {self.topic}"

    def order_key(self) -> Hashable | None:
        """Messages of one topic run one after another, in arrival order: MQTT orders
        messages per topic, and a device usually publishes its state on a topic of its own
        (an older reading must not overwrite a newer one). Different topics run at once."""
        return self.topic


def message_properties(props: Any) -> dict[str, Any] | None:
    """The MQTT 5 properties of a PUBLISH (paho ``Properties``) as plain values, camelCase:
    ``payloadFormatIndicator``, ``messageExpiryInterval``, ``contentType``, ``responseTopic``,
    ``correlationData`` (Base64), ``userProperties`` (a map; a repeated name gives a list),
    ``subscriptionIdentifiers``. None when the message has none (MQTT 3.1.1)."""
    if props is None:
        return None
    out: dict[str, Any] = {}
    for attr, name in _SIMPLE:
        if hasattr(props, attr):
            out[name] = getattr(props, attr)
    if hasattr(props, "CorrelationData"):
        out["correlationData"] = base64.b64encode(bytes(props.CorrelationData)).decode("ascii")
    if hasattr(props, "UserProperty"):
        users: dict[str, Any] = {}
        for key, value in props.UserProperty:
            if key in users:
                previous = users[key]
                users[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                users[key] = value
        out["userProperties"] = users
    if hasattr(props, "SubscriptionIdentifier"):
        ids = props.SubscriptionIdentifier
        out["subscriptionIdentifiers"] = list(ids) if isinstance(ids, list) else [ids]
    return out


_SIMPLE = (
    ("PayloadFormatIndicator", "payloadFormatIndicator"),
    ("MessageExpiryInterval", "messageExpiryInterval"),
    ("ContentType", "contentType"),
    ("ResponseTopic", "responseTopic"),
)
