"""One kit per source kind, so one conformance suite runs against Kafka, RabbitMQ and MQTT.

A kit prepares a stream (a topic, a durable queue, a persistent MQTT session), publishes
JSON messages to it with the broker's own acknowledgement (Kafka acks, AMQP publisher
confirms, MQTT PUBACK), and writes the trigger of a flow reading it.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from typing import Any

from testkit.kafka import create_topic, send_all
from testkit.stack import amqp_address, amqp_url, mqtt_address


@dataclass
class Message:
    id: str
    key: str | None
    payload: bytes


def messages(prefix: str, count: int, keys: int = 0) -> list[Message]:
    """``count`` JSON messages ``{"id", "k", "n"}``; ``keys`` > 0 spreads them over that many
    keys (``k``, also the Kafka key)."""
    out = []
    for n in range(count):
        key = f"k{n % keys}" if keys else None
        body = json.dumps({"id": f"{prefix}-{n}", "k": key, "n": n}).encode()
        out.append(Message(f"{prefix}-{n}", key, body))
    return out


class SourceKit:
    kind: str
    broker: str  # the devstack service
    unordered: str | None  # why the same-key case does not apply, if it does not

    def field(self, name: str) -> str:
        """The expression reading field ``name`` of a published message in the flow."""
        return f"trigger.value.{name}"

    def __init__(self, name: str) -> None:
        self.name = name

    def prepare(self) -> None:
        raise NotImplementedError

    def publish(self, batch: list[Message]) -> None:
        raise NotImplementedError

    def trigger(self) -> str:
        raise NotImplementedError


class KafkaKit(SourceKit):
    kind, broker, unordered = "kafka", "kafka", None

    def __init__(self, name: str, bootstrap: str) -> None:
        super().__init__(name)
        self.bootstrap = bootstrap

    def prepare(self) -> None:
        create_topic(self.bootstrap, self.name, partitions=3)

    def publish(self, batch: list[Message]) -> None:
        send_all(self.bootstrap, self.name, [(m.key, m.payload) for m in batch])

    def trigger(self) -> str:
        return f"""
          - id: source
            type: io.kestra.plugin.kafka.RealtimeTrigger
            topic: {self.name}
            groupId: {self.name}-g
            valueDeserializer: JSON
            properties:
              bootstrap.servers: {self.bootstrap}
              auto.offset.reset: earliest
        """


class AmqpKit(SourceKit):
    kind, broker = "amqp", "rabbitmq"
    unordered = "AMQP messages carry no key kflow orders by"

    def prepare(self) -> None:
        from testkit import amqp

        amqp.run(amqp.declare_queue(amqp_url(), self.name))

    def publish(self, batch: list[Message]) -> None:
        from testkit import amqp

        amqp.run(amqp.publish(amqp_url(), self.name, [m.payload for m in batch]))

    def trigger(self) -> str:
        host, port = amqp_address()
        return f"""
          - id: source
            type: io.kestra.plugin.amqp.RealtimeTrigger
            host: {host}
            port: "{port}"
            username: guest
            password: guest
            queue: {self.name}
            serdeType: JSON
        """


class MqttKit(SourceKit):
    """The trigger's persistent session is made first (same client id), so what is
    published before kflow starts waits for it in the broker."""

    kind, broker = "mqtt", "mosquitto"
    unordered = "kflow orders MQTT messages by topic: the kit's one topic runs in order"

    def _client(self, client_id: str) -> Any:
        import paho.mqtt.client as mqtt

        return mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )

    def prepare(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        host, port = mqtt_address()
        client = self._client(self.name)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        client.connect(host, port, clean_start=False, properties=props)
        client.loop_start()
        try:
            result, _mid = client.subscribe(self.name, qos=1)
            assert result == 0, result
        finally:
            client.disconnect()
            client.loop_stop()

    def publish(self, batch: list[Message]) -> None:
        host, port = mqtt_address()
        client = self._client(f"{self.name}-pub")
        client.connect(host, port)
        client.loop_start()
        try:
            for m in batch:
                client.publish(self.name, m.payload, qos=1).wait_for_publish(30)
        finally:
            client.disconnect()
            client.loop_stop()

    def trigger(self) -> str:
        host, port = mqtt_address()
        return f"""
          - id: source
            type: io.kestra.plugin.mqtt.RealtimeTrigger
            server: tcp://{host}:{port}
            clientId: {self.name}
            topic: {self.name}
            qos: 1
            serdeType: JSON
        """


def flow_yaml(kit: SourceKit, mongo_uri: str, database: str, collection: str, sleep: str) -> str:
    """A flow that stores one document per execution: ``{mid, k, n}`` of the message."""
    head = textwrap.dedent(f"""
        id: conformance_{kit.kind}
        namespace: dev.sources
        tasks:
          - id: wait
            type: io.kestra.plugin.core.flow.Sleep
            duration: {sleep}
          - id: store
            type: io.kestra.plugin.mongodb.InsertOne
            connection:
              uri: "{mongo_uri}"
            database: {database}
            collection: {collection}
            document:
              mid: "{{{{ {kit.field("id")} }}}}"
              k: "{{{{ {kit.field("k")} }}}}"
              n: "{{{{ {kit.field("n")} }}}}"
        triggers:
    """)
    return head + textwrap.indent(textwrap.dedent(kit.trigger()).strip("\n"), "  ") + "\n"
