"""RabbitMQ (AMQP 0-9-1): RealtimeTrigger (one execution per message), Publish, CreateQueue,
DeclareExchange, QueueBind (runnable); Trigger and Consume (declared)."""

from __future__ import annotations

import re
from typing import Any

from kflow.flow.properties import (
    CheckContext,
    Prop,
    any_value,
    boolean,
    duration,
    enum,
    integer,
    is_template_text,
    map_of,
    number,
    obj,
    one_of,
    string,
)
from kflow.flow.registry import TypeSpec
from kflow.flow.yamltree import YNode

AMQP = "io.kestra.plugin.amqp"

SERDE_TYPES = ("STRING", "JSON")
EXCHANGE_TYPES = ("DIRECT", "FANOUT", "TOPIC", "HEADERS")

_CONNECTION: dict[str, Prop] = {
    "host": string(
        templated=True, description="Broker host; required unless the deprecated url is set."
    ),
    "port": string(templated=True, default="5672", description="Broker port."),
    "username": string(templated=True, description="User name."),
    "password": string(templated=True, description="Password (masked in output)."),
    "virtualHost": string(templated=True, default="/", description="Virtual host."),
    "sslCaCertificate": string(
        templated=True,
        description="PEM CA certificate (text or a file path) trusted for the broker's TLS "
        "certificate; setting it turns TLS (AMQPS) on, as does an amqps:// url.",
    ),
    "url": string(
        templated=True,
        deprecated="use host, port, username, password and virtualHost",
        description="amqp://user:password@host:port/vhost (deprecated).",
    ),
}

_SERDE = enum(*SERDE_TYPES, default="STRING", description="How message bodies are (de)coded.")

_CONSUMER: dict[str, Prop] = {
    **_CONNECTION,
    "queue": string(required=True, templated=True, description="The queue to consume."),
    "consumerTag": string(templated=True, default="Kestra", description="The consumer tag."),
    "autoAck": boolean(
        default=False,
        description="The broker counts a message acknowledged as soon as it is delivered.",
    ),
    "serdeType": _SERDE,
}

_POLLING: dict[str, Prop] = {
    "maxRecords": integer(minimum=1, description="Stop after this many messages."),
    "maxDuration": duration(description="Stop after this long."),
}

MESSAGE_FIELDS: dict[str, Prop] = {
    "data": any_value(templated=True, description="The body, encoded by serdeType."),
    "headers": map_of(templated=True, description="Application headers."),
    "contentType": string(templated=True),
    "contentEncoding": string(templated=True),
    "deliveryMode": integer(templated=True, description="1: transient, 2: persistent."),
    "priority": integer(templated=True, minimum=0),
    "messageId": string(templated=True),
    "correlationId": string(templated=True),
    "replyTo": string(templated=True),
    "expiration": one_of(
        duration(), number(), templated=True, description="Time to live: PT30S, or seconds."
    ),
    "timestamp": one_of(
        string(), number(), templated=True, description="ISO-8601 instant, or epoch seconds."
    ),
    "type": string(templated=True),
    "userId": string(templated=True),
    "appId": string(templated=True),
}
"""The fields of one message of ``Publish.from`` (Kestra's ``models.Message``)."""

_MESSAGE = obj(MESSAGE_FIELDS)

_PORT = re.compile(r"\d{1,5}")


def check_connection(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    """``host`` or the deprecated ``url`` (not both); a literal port is a TCP port number."""
    values = node.value
    if "url" in values and "host" in values:
        ctx.error(
            node.key_node("url"),
            f"{key_path}.url",
            "set either host or the deprecated url, not both",
            "host-xor-url",
        )
    elif "url" not in values and "host" not in values:
        ctx.error(node, key_path, "missing required property 'host'", "missing-property")
    url = props.get("url")
    if isinstance(url, str) and not is_template_text(url):
        from kflow.connectors.amqp import url_problem

        problem = url_problem(url)
        if problem is not None:
            ctx.error(values["url"], f"{key_path}.url", problem, "invalid")
    port = props.get("port")
    if "port" in values and isinstance(port, str) and not is_template_text(port):
        text = port.strip()
        if not _PORT.fullmatch(text) or not 0 < int(text) < 65536:
            message = f"port must be a TCP port number (1-65535), got {port!r}"
            ctx.error(values["port"], f"{key_path}.port", message, "invalid")


def check_publish(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    """The connection, and each message written in the flow checked as Kestra's Message."""
    check_connection(props, node, ctx, key_path)
    source = node.value.get("from")
    if source is None:
        return
    if source.is_map:
        _MESSAGE.check(source, ctx, f"{key_path}.from")
    elif source.is_seq:
        for i, item in enumerate(source.value):
            where = f"{key_path}.from[{i}]"
            if item.is_map:
                _MESSAGE.check(item, ctx, where)
            elif not (item.is_scalar and is_template_text(item.value)):
                ctx.error(item, where, "expected a message {data, headers, ...}", "type")
    elif source.is_scalar and not _json_or_uri(source.value):
        message = "expected a message, a list of messages or a kestra:// URI"
        ctx.error(source, f"{key_path}.from", message, "type")


def _json_or_uri(value: Any) -> bool:
    """A scalar ``from`` Publish can read: a template, a kestra:// URI or JSON messages."""
    if not isinstance(value, str):
        return False
    if is_template_text(value) or value.startswith("kestra://"):
        return True
    import json

    try:
        parsed = json.loads(value)
    except ValueError:
        return False
    return isinstance(parsed, dict | list)


REALTIME_TRIGGER = TypeSpec(
    name=f"{AMQP}.RealtimeTrigger",
    kind="trigger",
    runner="kflow.plugins.amqp_trigger:RealtimeTrigger",
    description="Start one execution per RabbitMQ message, as it arrives.",
    properties=_CONSUMER,
    check=check_connection,
)

TRIGGER = TypeSpec(
    name=f"{AMQP}.Trigger",
    kind="trigger",
    runner=None,
    description="Poll a RabbitMQ queue on an interval and start one execution per batch.",
    properties={
        **_CONSUMER,
        **_POLLING,
        "interval": duration(default="PT1M", description="Time between polls."),
    },
    check=check_connection,
)

CONSUME = TypeSpec(
    name=f"{AMQP}.Consume",
    kind="task",
    runner=None,
    description="Consume messages of a queue into a file.",
    properties={**_CONSUMER, **_POLLING},
    check=check_connection,
)

PUBLISH = TypeSpec(
    name=f"{AMQP}.Publish",
    kind="task",
    runner="kflow.plugins.amqp_tasks:Publish",
    description="Publish messages to an exchange (outputs messagesCount).",
    properties={
        **_CONNECTION,
        "exchange": string(
            required=True, templated=True, description='The exchange ("" is the default one).'
        ),
        "routingKey": string(templated=True, default="", description="The routing key."),
        "from": any_value(
            required=True,
            templated=True,
            description="A message {data, headers, contentType, deliveryMode, priority, "
            "messageId, correlationId, replyTo, expiration, timestamp, type, userId, appId}, "
            "a list of messages, or a file URI.",
        ),
        "serdeType": _SERDE,
    },
    check=check_publish,
)

CREATE_QUEUE = TypeSpec(
    name=f"{AMQP}.CreateQueue",
    kind="task",
    runner="kflow.plugins.amqp_tasks:CreateQueue",
    description="Declare a queue (outputs queue).",
    properties={
        **_CONNECTION,
        "name": string(required=True, templated=True, description="The queue name."),
        "durability": boolean(default=True, description="The queue survives a broker restart."),
        "exclusive": boolean(default=False, description="Only this connection may use it."),
        "autoDelete": boolean(default=False, description="Deleted once its last consumer left."),
        "args": map_of(templated=True, description="Queue arguments (x-message-ttl, ...)."),
    },
    check=check_connection,
)

DECLARE_EXCHANGE = TypeSpec(
    name=f"{AMQP}.DeclareExchange",
    kind="task",
    runner="kflow.plugins.amqp_tasks:DeclareExchange",
    description="Declare an exchange (outputs exchange).",
    properties={
        **_CONNECTION,
        "name": string(required=True, templated=True, description="The exchange name."),
        "exchangeType": enum(*EXCHANGE_TYPES, default="DIRECT", description="The exchange type."),
        "durability": boolean(default=True, description="It survives a broker restart."),
        "autoDelete": boolean(default=False, description="Deleted once its last binding went."),
        "internal": boolean(default=False, description="Clients cannot publish to it directly."),
        "args": map_of(templated=True, description="Exchange arguments."),
    },
    check=check_connection,
)

QUEUE_BIND = TypeSpec(
    name=f"{AMQP}.QueueBind",
    kind="task",
    runner="kflow.plugins.amqp_tasks:QueueBind",
    description="Bind a queue to an exchange (outputs queue, exchange).",
    properties={
        **_CONNECTION,
        "exchange": string(required=True, templated=True, description="The exchange."),
        "queue": string(required=True, templated=True, description="The queue."),
        "routingKey": string(templated=True, default="", description="The binding key."),
        "args": map_of(templated=True, description="Binding arguments."),
    },
    check=check_connection,
)

SPECS = (REALTIME_TRIGGER, TRIGGER, CONSUME, PUBLISH, CREATE_QUEUE, DECLARE_EXCHANGE, QUEUE_BIND)
