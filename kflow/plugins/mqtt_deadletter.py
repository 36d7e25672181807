"""MQTT dead letters: the message of an execution that finally failed is published to a topic
(``kflow run --dead-letter TOPIC``) before the original is acknowledged.

The copy keeps the payload unchanged and goes out at QoS 1 on a connection of its own (so
that a busy trigger connection never delays it); the original is acknowledged only after
the broker's PUBACK. With MQTT 5 the copy keeps the original's properties (content type,
user properties...) and gains ``kflow.*`` user properties saying which flow, execution and
task failed, why, and where the message came from. MQTT 3.1.1 has no properties: the copy
is the payload alone. Until the broker acknowledges it, the publish is retried (a broker
outage stalls the acknowledgements instead of losing messages).
"""

from __future__ import annotations

import asyncio
import dataclasses

from kflow.connectors.masking import mask
from kflow.connectors.mqtt import ConnectionSettings, publish_properties, shared_publisher
from kflow.engine.delivery import until_acknowledged
from kflow.engine.execution import Execution
from kflow.plugins.mqtt_record import MqttMessage


def dead_letter_user_properties(execution: Execution) -> list[tuple[str, str]]:
    t = execution.trigger
    assert isinstance(t, MqttMessage)
    return [
        ("kflow.flow", f"{execution.namespace}.{execution.flow_id}"),
        ("kflow.execution.id", execution.id),
        ("kflow.failed.task", execution.failed_task or ""),
        ("kflow.error", mask(execution.error or "failed")),
        ("kflow.source.topic", t.topic or ""),
        ("kflow.source.id", str(t.mid)),
    ]


class MqttDeadLetter:
    """Publishes the messages of FAILED executions to ``topic`` on the trigger's broker."""

    def __init__(self, settings: ConnectionSettings, topic: str) -> None:
        # A client of its own, clean session, random id (shared by the process).
        self.settings = dataclasses.replace(settings, client_id="")
        self.topic = topic
        self.sent = 0

    def wants(self, execution: Execution) -> bool:
        return execution.state.value == "FAILED"

    async def send(self, execution: Execution, stopping: asyncio.Event | None = None) -> None:
        """Publish and wait for the PUBACK, retrying until there is one; raise MqttError once
        a stop was asked and retries reached their longest interval."""
        await until_acknowledged(lambda: self._send_once(execution), stopping)
        self.sent += 1

    async def _send_once(self, execution: Execution) -> None:
        t = execution.trigger
        assert isinstance(t, MqttMessage)
        loop = asyncio.get_running_loop()
        publisher = await loop.run_in_executor(None, shared_publisher, self.settings)
        properties = None
        if self.settings.v5:
            properties = publish_properties(
                base=t.raw_properties, user_properties=dead_letter_user_properties(execution)
            )
        await publisher.publish(self.topic, t.raw_value, qos=1, properties=properties)
