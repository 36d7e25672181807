"""MQTT ``Publish`` task: publishes rendered messages and waits for the broker's acknowledgements.

``from`` is one message, a list of messages (one PUBLISH each, in order), or, once rendered,
a string: with ``serdeType: JSON`` a ``kestra://`` URI is the file's records (ION or JSON
lines, one message each, as Kestra's ``Data.from``), a string holding a JSON list is that
list of messages, any other string or JSON value is one message. Each message is encoded by
``serdeType``: JSON (a string that holds JSON is sent as that JSON), STRING (text as UTF-8;
maps and lists as JSON) or BYTES (text as UTF-8). Outputs ``messagesCount``, as Kestra.

One connection per distinct connection settings for the life of the process (clean
session; ``clientId`` when set, else a random one). QoS 1 and 2 publishes are acknowledged
by the broker before the task ends; MQTT 5 ``responseTopic`` and ``correlationData``
(Base64) are sent as message properties.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import Mapping
from typing import Any

from kflow.catalog.mqtt import topic_name_problem
from kflow.connectors.mqtt import connection_settings, publish_properties, shared_publisher
from kflow.engine.task import TaskContext, TaskRunner
from kflow.errors import TaskError
from kflow.expr import compile_value
from kflow.flow.model import TaskDef
from kflow.plugins.kafka_serde import encoder
from kflow.storage import default_storage, is_storage_uri

_CONNECTION_KEYS = (
    "server",
    "clientId",
    "mqttVersion",
    "connectionTimeout",
    "httpsHostnameVerificationEnabled",
    "username",
    "password",
    "crt",
)


def read_file_messages(uri: str) -> list[Any]:
    """The records of an internal-storage file, one message each."""
    with contextlib.closing(default_storage().read_records(uri)) as records:
        return [record for _, record in records]


def messages_of(value: Any, serde: str) -> list[Any]:
    """The messages a rendered ``from`` holds (see the module's doc)."""
    if isinstance(value, list):
        return value
    if isinstance(value, str) and serde == "JSON":
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        return parsed if isinstance(parsed, list) else [parsed]
    return [value]


class Publish(TaskRunner):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        props = task.props
        self.connection = compile_value({k: props[k] for k in _CONNECTION_KEYS if k in props})
        self.topic = compile_value(props.get("topic"))
        self.records = compile_value(props.get("from"))
        self.serde = str(props.get("serdeType") or "JSON").upper()
        self.encode = encoder(self.serde)
        self.qos = int(props.get("qos", 1))
        self.retain = bool(props.get("retain", False))
        self.response_topic = compile_value(props.get("responseTopic"))
        self.correlation_data = compile_value(props.get("correlationData"))

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        variables = ctx.variables
        settings = connection_settings(self.connection.render(variables), client_id="")
        topic = str(self.topic.render(variables) or "")
        problem = topic_name_problem(topic)
        if problem is not None:
            raise TaskError(f"topic {topic!r}: {problem}")
        if self.qos not in (0, 1, 2):
            raise TaskError(f"qos is 0, 1 or 2, not {self.qos}")
        source = self.records.render(variables)
        if self.serde == "JSON" and is_storage_uri(source):
            source = await ctx.in_thread(read_file_messages, str(source).strip())
        payloads = [self._payload(m) for m in messages_of(source, self.serde)]
        properties = None
        if settings.v5:
            properties = publish_properties(
                response_topic=self.response_topic.render(variables) or None,
                correlation_data=self._correlation(self.correlation_data.render(variables)),
            )
        publisher = await ctx.in_thread(shared_publisher, settings)
        await asyncio.gather(
            *(
                publisher.publish(
                    topic, payload, qos=self.qos, retain=self.retain, properties=properties
                )
                for payload in payloads
            )
        )
        return {"messagesCount": len(payloads)}

    def _payload(self, message: Any) -> bytes | None:
        if self.serde == "STRING" and message is not None and not isinstance(message, str):
            message = json.dumps(message, ensure_ascii=False, default=str)
        try:
            return self.encode(message)
        except (TypeError, ValueError) as exc:
            raise TaskError(f"cannot encode a message as {self.serde}: {exc}") from exc

    @staticmethod
    def _correlation(value: Any) -> bytes | None:
        if value is None or value == "":
            return None
        try:
            return base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TaskError(
                f"correlationData must be Base64 (it is binary on the wire): {exc}"
            ) from exc
