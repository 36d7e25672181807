"""Kafka: RealtimeTrigger (one execution per record), Trigger, Consume, Produce."""

from __future__ import annotations

import functools
from typing import Any

from kflow.flow.properties import (
    CheckContext,
    EnumProp,
    any_value,
    boolean,
    duration,
    enum,
    integer,
    list_of,
    map_of,
    obj,
    string,
    string_or_list,
)
from kflow.flow.registry import TypeSpec
from kflow.flow.yamltree import YNode

KAFKA = "io.kestra.plugin.kafka"

SERDE_TYPES = (
    "STRING",
    "INTEGER",
    "FLOAT",
    "DOUBLE",
    "LONG",
    "SHORT",
    "BYTE_ARRAY",
    "BYTE_BUFFER",
    "BYTES",
    "UUID",
    "VOID",
    "JSON",
    "AVRO",
    "PROTOBUF",
)
_UNSUPPORTED_SERDES = ("AVRO", "PROTOBUF")
_SCHEMA_REGISTRY = "schema registry formats"


def _serde(what: str) -> EnumProp:
    return enum(
        *SERDE_TYPES,
        default="STRING",
        unsupported=_UNSUPPORTED_SERDES,
        unsupported_reason=_SCHEMA_REGISTRY,
        description=f"How the {what} is (de)serialized.",
    )


_CONNECTION = {
    "properties": map_of(
        string(templated=True),
        required=True,
        description="Kafka client configuration; must hold bootstrap.servers.",
    ),
    "serdeProperties": map_of(
        templated=True,
        default={},
        description="Configuration of the (de)serializers (e.g. schema.registry.url).",
    ),
}

_CONSUMER = {
    **_CONNECTION,
    "topic": string_or_list(templated=True, description="A topic or a list of topics."),
    "topicPattern": string(templated=True, description="A regex of topics; needs groupId."),
    "partitions": list_of(
        integer(minimum=0), description="Partitions to assign manually (no group rebalancing)."
    ),
    "groupId": string(templated=True, description="The consumer group."),
    "keyDeserializer": _serde("key"),
    "valueDeserializer": _serde("value"),
    "since": string(
        templated=True, description="ISO-8601 timestamp to start from (manual assignment only)."
    ),
    "headerFilters": map_of(
        string(templated=True), description="Only records whose headers match these values."
    ),
    "onSerdeError": obj(
        {
            "type": enum("SKIPPED", "STORE", "DLQ", default="SKIPPED"),
            "topic": string(templated=True, description="Dead-letter topic (type DLQ)."),
        },
        description="What to do with a record that cannot be deserialized.",
    ),
    "groupType": enum(
        "CONSUMER",
        "SHARE",
        default="CONSUMER",
        unsupported=("SHARE",),
        unsupported_reason="Kafka share groups",
        description="Consumer group protocol.",
    ),
    "acknowledgeType": enum(
        "ACCEPT", "RELEASE", "REJECT", description="Share groups only: how records are acked."
    ),
}

_POLLING = {
    "pollDuration": duration(default="PT5S", description="How long one poll waits."),
    "maxRecords": integer(minimum=1, description="Stop after this many records."),
    "maxDuration": duration(description="Stop after this long."),
}


def check_consumer(
    props: dict[str, Any],
    node: YNode,
    ctx: CheckContext,
    key_path: str,
    *,
    group_required: bool = False,
) -> None:
    """Cross-property rules shared by RealtimeTrigger, Trigger and Consume."""
    values = node.value
    has_topic, has_pattern = "topic" in values, "topicPattern" in values
    if has_topic and has_pattern:
        ctx.error(
            node.key_node("topicPattern"),
            f"{key_path}.topicPattern",
            "set either topic or topicPattern, not both",
            "topic-xor-pattern",
        )
    elif not has_topic and not has_pattern:
        ctx.error(node, key_path, "missing topic: set topic or topicPattern", "topic-xor-pattern")
    if has_pattern and "groupId" not in values and not group_required:
        ctx.error(
            node.key_node("topicPattern"),
            f"{key_path}.topicPattern",
            "topicPattern needs a groupId",
            "missing-property",
        )
    _check_bootstrap(props, node, ctx, key_path)
    _move_misplaced_deserializers(props, node, ctx, key_path)


def _check_bootstrap(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    config = props.get("properties")
    if isinstance(config, dict) and "bootstrap.servers" not in config:
        ctx.error(
            node.key_node("properties"),
            f"{key_path}.properties",
            "properties must hold bootstrap.servers",
            "missing-property",
        )


def _move_misplaced_deserializers(
    props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str
) -> None:
    """``valueDeserializer`` inside ``serdeProperties``: Kestra ignores it, kflow honours it."""
    serde_node = node.value.get("serdeProperties")
    serde = props.get("serdeProperties")
    if serde_node is None or not serde_node.is_map or not isinstance(serde, dict):
        return
    for name in ("keyDeserializer", "valueDeserializer"):
        child = serde_node.value.get(name)
        if child is None:
            continue
        path = f"{key_path}.serdeProperties.{name}"
        if name in node.value:
            message = (
                f"{name} under serdeProperties is ignored (Kestra ignores it there too); "
                f"the top-level {name} applies"
            )
            ctx.warning(serde_node.key_node(name), path, message, "misplaced-deserializer")
            continue
        value = _serde("value").check(child, ctx, path)
        message = (
            f"{name} belongs at the top level, not under serdeProperties: Kestra ignores it "
            f"there (the {name[:-12]} stays a string); kflow honours it ({value})"
        )
        ctx.warning(serde_node.key_node(name), path, message, "misplaced-deserializer")
        props[name] = value
        del serde[name]


def check_producer(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    _check_bootstrap(props, node, ctx, key_path)


REALTIME_TRIGGER = TypeSpec(
    name=f"{KAFKA}.RealtimeTrigger",
    kind="trigger",
    runner="kflow.plugins.kafka_trigger:RealtimeTrigger",
    description="Start one execution per Kafka record, as it arrives.",
    properties={**_CONSUMER, "groupId": string(required=True, templated=True)},
    check=functools.partial(check_consumer, group_required=True),
)

TRIGGER = TypeSpec(
    name=f"{KAFKA}.Trigger",
    kind="trigger",
    runner="kflow.plugins.kafka_polling:PollingTrigger",
    description="Poll Kafka on an interval and start one execution per batch.",
    properties={
        **_CONSUMER,
        **_POLLING,
        "interval": duration(default="PT1M", description="Time between polls."),
    },
    check=check_consumer,
)

CONSUME = TypeSpec(
    name=f"{KAFKA}.Consume",
    kind="task",
    runner="kflow.plugins.kafka_consume:Consume",
    description="Consume records into an ION file (outputs messagesCount, uri).",
    properties={**_CONSUMER, **_POLLING},
    check=check_consumer,
)

PRODUCE = TypeSpec(
    name=f"{KAFKA}.Produce",
    kind="task",
    runner="kflow.plugins.kafka:Produce",
    description="Send records to Kafka.",
    properties={
        **_CONNECTION,
        "topic": string(templated=True, description="Default topic of the records."),
        "from": any_value(
            required=True,
            templated=True,
            description="A record {key, value, topic, partition, timestamp, headers}, "
            "a list of records, or a file URI.",
        ),
        "keySerializer": _serde("key"),
        "valueSerializer": _serde("value"),
        "keyAvroSchema": string(templated=True),
        "valueAvroSchema": string(templated=True),
        "transactional": boolean(default=True),
    },
    check=check_producer,
)

SPECS = (REALTIME_TRIGGER, TRIGGER, CONSUME, PRODUCE)
