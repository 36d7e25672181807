"""MQTT: RealtimeTrigger (one execution per message) and Publish (runnable); Trigger and
Subscribe (declared).

The property names and defaults are those of Kestra's ``plugin-mqtt``: ``server`` is a
``tcp://`` or ``ssl://`` URI, ``mqttVersion`` V3 (3.1.1) or V5 (the default), ``qos`` 0, 1 or
2 (default 1), ``serdeType`` STRING, JSON (the default for subscriptions) or BYTES.
"""

from __future__ import annotations

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
    string,
    string_or_list,
)
from kflow.flow.registry import TypeSpec
from kflow.flow.yamltree import YNode

MQTT = "io.kestra.plugin.mqtt"

SCHEMES = ("tcp", "ssl")
SERDE_TYPES = ("STRING", "JSON", "BYTES")
SHARED_PREFIX = "$share/"

_CONNECTION: dict[str, Prop] = {
    "server": string(
        required=True,
        templated=True,
        description="The broker, as tcp://host[:1883] or ssl://host[:8883].",
    ),
    "clientId": string(
        templated=True,
        description="The client identifier; the broker keeps the session under it. "
        "kflow derives a stable one from the flow and trigger ids when it is not set.",
    ),
    "mqttVersion": enum("V3", "V5", default="V5", description="MQTT 3.1.1 (V3) or 5 (V5)."),
    "connectionTimeout": duration(
        description="How long to wait for the connection to be accepted (default PT30S)."
    ),
    "httpsHostnameVerificationEnabled": boolean(
        description="ssl:// only: false accepts a certificate issued for another host name."
    ),
    "authMethod": string(
        templated=True, description="MQTT 5 enhanced authentication method (not supported)."
    ),
    "username": string(templated=True, description="The user name."),
    "password": string(templated=True, description="The password (masked in output)."),
    "crt": string(
        templated=True,
        description="ssl:// only: the CA certificate to trust, as PEM text or a file path.",
    ),
}

_QOS = integer(minimum=0, default=1, description="Quality of service: 0, 1 or 2.")

_SUBSCRIPTION: dict[str, Prop] = {
    **_CONNECTION,
    "topic": string_or_list(
        required=True,
        templated=True,
        description="A topic filter or a list of them (+ and # wildcards, $share/group/...).",
    ),
    "qos": _QOS,
    "serdeType": enum(*SERDE_TYPES, default="JSON", description="How payloads are decoded."),
}

_SHARE_GROUP = string(
    templated=True,
    description="kflow: subscribe to every topic as the shared subscription "
    "$share/GROUP/topic, so the broker spreads the messages over the processes of that "
    "group; each process needs a clientId of its own.",
)

_POLLING: dict[str, Prop] = {
    "maxRecords": integer(minimum=1, description="Stop after this many messages."),
    "maxDuration": duration(description="Stop after this long."),
}


def topic_filter_problem(text: str) -> str | None:
    """Why ``text`` is not a valid MQTT topic filter (MQTT 3.1.1 §4.7), or None.

    ``$share/GROUP/FILTER`` (a shared subscription) checks GROUP and FILTER.
    """
    if text == "":
        return "a topic filter cannot be empty"
    if "\x00" in text:
        return "a topic filter cannot hold the NUL character"
    if len(text.encode("utf-8")) > 65535:
        return "a topic filter is at most 65535 bytes"
    if text.startswith(SHARED_PREFIX):
        group, sep, rest = text[len(SHARED_PREFIX) :].partition("/")
        if not sep or not group or not rest:
            return "a shared subscription is $share/GROUP/FILTER"
        if "+" in group or "#" in group:
            return "the group of a shared subscription cannot hold + or #"
        text = rest
    levels = text.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "# must be a whole level, the last one (sensors/#)"
        if "+" in level and level != "+":
            return "+ must be a whole level (sensors/+/temperature)"
    return None


def share_group_problem(text: str) -> str | None:
    """Why ``text`` cannot name the group of a shared subscription, or None."""
    if text == "":
        return "a share group cannot be empty"
    if any(c in text for c in "/+#"):
        return "a share group cannot hold /, + or #"
    return None


def topic_name_problem(text: str) -> str | None:
    """Why ``text`` cannot be published to (no wildcards, not empty), or None."""
    if text == "":
        return "a topic cannot be empty"
    if "+" in text or "#" in text:
        return "a topic to publish to cannot hold the wildcards + or #"
    if "\x00" in text:
        return "a topic cannot hold the NUL character"
    return None


def server_problem(text: str) -> str | None:
    """Why ``text`` is not a server URI kflow can connect to, or None."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        return f"server must be tcp://host[:port] or ssl://host[:port], got {text!r}"
    if scheme.lower() not in SCHEMES:
        return f"server scheme {scheme}:// is not supported; use tcp:// or ssl://"
    host = rest.split("/", 1)[0]
    if host.startswith("["):  # [::1]:1883
        name, _, port = host[1:].partition("]")
        port = port.removeprefix(":")
    else:
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
    if not name:
        return f"server {text!r} names no host"
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return f"server {text!r} has an invalid port {port!r}"
    return None


def _check_value(
    node: YNode | None,
    ctx: CheckContext,
    key_path: str,
    problem: str | None,
    code: str = "invalid",
) -> None:
    if node is not None and problem is not None:
        ctx.error(node, key_path, problem, code)


def check_connection(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    """``server`` scheme and port, ``qos`` range, ``authMethod`` refused."""
    values = node.value
    server = props.get("server")
    if isinstance(server, str) and not is_template_text(server):
        _check_value(values.get("server"), ctx, f"{key_path}.server", server_problem(server))
    qos = props.get("qos")
    if isinstance(qos, int) and not isinstance(qos, bool) and qos > 2:
        _check_value(values.get("qos"), ctx, f"{key_path}.qos", f"qos is 0, 1 or 2, not {qos}")
    if "authMethod" in values:
        ctx.error(
            node.key_node("authMethod"),
            f"{key_path}.authMethod",
            "authMethod (MQTT 5 enhanced authentication) is not supported yet by kflow; "
            "use username and password",
            "unsupported",
        )


def check_subscription(
    props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str
) -> None:
    check_connection(props, node, ctx, key_path)
    topic_node = node.value.get("topic")
    topic = props.get("topic")
    if topic_node is None or topic is None:
        return
    if isinstance(topic, str):
        items = [(topic_node, f"{key_path}.topic", topic)]
    elif topic_node.is_seq and isinstance(topic, list):
        if not topic:
            ctx.error(topic_node, f"{key_path}.topic", "needs at least one topic filter", "empty")
        items = [
            (child, f"{key_path}.topic[{i}]", value)
            for i, (child, value) in enumerate(zip(topic_node.value, topic, strict=False))
        ]
    else:
        return
    for child, path, value in items:
        if isinstance(value, str) and not is_template_text(value):
            _check_value(child, ctx, path, topic_filter_problem(value), "topic")
    group = props.get("shareGroup")
    if isinstance(group, str) and not is_template_text(group):
        problem = share_group_problem(group)
        _check_value(node.value.get("shareGroup"), ctx, f"{key_path}.shareGroup", problem)


def check_publish(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    check_connection(props, node, ctx, key_path)
    topic = props.get("topic")
    if isinstance(topic, str) and not is_template_text(topic):
        _check_value(
            node.value.get("topic"), ctx, f"{key_path}.topic", topic_name_problem(topic), "topic"
        )


REALTIME_TRIGGER = TypeSpec(
    name=f"{MQTT}.RealtimeTrigger",
    kind="trigger",
    runner="kflow.plugins.mqtt_trigger:RealtimeTrigger",
    description="Start one execution per MQTT message, as it arrives.",
    properties={**_SUBSCRIPTION, "shareGroup": _SHARE_GROUP},
    check=check_subscription,
)

TRIGGER = TypeSpec(
    name=f"{MQTT}.Trigger",
    kind="trigger",
    runner=None,
    description="Subscribe on an interval and start one execution per batch of messages.",
    properties={
        **_SUBSCRIPTION,
        **_POLLING,
        "interval": duration(default="PT1M", description="Time between polls."),
    },
    check=check_subscription,
)

SUBSCRIBE = TypeSpec(
    name=f"{MQTT}.Subscribe",
    kind="task",
    runner=None,
    description="Subscribe and collect messages into a file (outputs uri, messagesCount).",
    properties={**_SUBSCRIPTION, **_POLLING},
    check=check_subscription,
)

PUBLISH = TypeSpec(
    name=f"{MQTT}.Publish",
    kind="task",
    runner="kflow.plugins.mqtt_tasks:Publish",
    description="Publish messages to an MQTT topic (outputs messagesCount).",
    properties={
        **_CONNECTION,
        "topic": string(required=True, templated=True, description="The topic to publish to."),
        "from": any_value(
            required=True,
            templated=True,
            description="A message, a list of messages (one PUBLISH each), or JSON of them.",
        ),
        "serdeType": enum(*SERDE_TYPES, required=True, description="How each message is encoded."),
        "qos": _QOS,
        "retain": boolean(default=False, description="The broker keeps the last message."),
        "responseTopic": string(templated=True, description="MQTT 5: where replies go."),
        "correlationData": string(
            templated=True, description="MQTT 5: Base64 data a responder echoes back."
        ),
    },
    check=check_publish,
)

SPECS = (REALTIME_TRIGGER, TRIGGER, SUBSCRIBE, PUBLISH)
