"""NATS: core.RealtimeTrigger (one execution per JetStream message), core.Produce,
core.Request and the kv tasks (runnable); core.Trigger and core.Consume (declared).

Property names and defaults are those of Kestra's ``plugin-nats``: ``url`` is
``[nats://]host:port`` (a comma list for a cluster), ``username``/``password``, ``token`` or
``creds`` (the content of a ``.creds`` file), ``subject``, ``durableId``, ``since``,
``batchSize`` (10) and ``deliverPolicy`` (All). Every type also answers to its older name
without ``core.`` (``io.kestra.plugin.nats.RealtimeTrigger``).
"""

from __future__ import annotations

from typing import Any

from kflow.flow.properties import (
    CheckContext,
    Prop,
    any_value,
    duration,
    enum,
    integer,
    is_template_text,
    list_of,
    map_of,
    obj,
    string,
)
from kflow.flow.registry import TypeSpec
from kflow.flow.yamltree import YNode

NATS = "io.kestra.plugin.nats"

DELIVER_POLICY_NAMES = ("All", "Last", "New", "ByStartSequence", "ByStartTime", "LastPerSubject")

_CONNECTION: dict[str, Prop] = {
    "url": string(
        required=True,
        templated=True,
        description="The server: [nats://]host:port, nats://token@host:port, or a comma list.",
    ),
    "username": string(templated=True, description="User name (with password)."),
    "password": string(templated=True, description="Password (masked in output)."),
    "token": string(templated=True, description="Authentication token (masked in output)."),
    "creds": string(
        templated=True,
        description="The content of a .creds file: user JWT and NKey seed (masked).",
    ),
}

_SUBSCRIPTION: dict[str, Prop] = {
    **_CONNECTION,
    "subject": string(
        required=True,
        templated=True,
        description="The subject to consume (* and > wildcards); a JetStream stream must hold it.",
    ),
    "durableId": string(
        templated=True,
        description="The durable consumer: the server keeps its position between runs. kflow "
        "derives a stable one from the flow and trigger ids when it is not set.",
    ),
    "since": string(
        templated=True,
        description="ByStartTime: the ISO-8601 instant to start at (kflow: a whole number is "
        "the stream sequence of ByStartSequence); applies when the consumer is created.",
    ),
    "batchSize": integer(minimum=1, default=10, description="Messages fetched per pull."),
    "deliverPolicy": enum(
        *DELIVER_POLICY_NAMES,
        templated=True,
        description="Where a new consumer starts: All (the default), Last, New, "
        "ByStartSequence, ByStartTime (needs since) or LastPerSubject.",
    ),
}

_POLLING: dict[str, Prop] = {
    "pollDuration": duration(default="PT2S", description="How long one fetch waits."),
    "maxRecords": integer(minimum=1, description="Stop after this many messages."),
    "maxDuration": duration(description="Stop after this long."),
}

_MESSAGES = any_value(
    required=True,
    templated=True,
    description="A message {headers, data}, a list of messages, or a kestra:// file URI "
    "(one message a line).",
)


MESSAGE_FIELDS: dict[str, Prop] = {
    "headers": map_of(templated=True, description="Header name to a value or a list of them."),
    "data": any_value(templated=True, description="The data: a string, else sent as JSON."),
}
"""The fields of one message of ``Produce.from`` and ``Request.from``."""

_MESSAGE = obj(MESSAGE_FIELDS)


def _located(node: YNode, name: str) -> YNode:
    child = node.value.get(name)
    return child if child is not None else node


def check_connection(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    """A literal ``url`` is a server list; ``username`` and ``password`` go together."""
    from kflow.connectors.nats import url_problem

    url = props.get("url")
    if isinstance(url, str) and not is_template_text(url):
        problem = url_problem(url)
        if problem is not None:
            ctx.error(_located(node, "url"), f"{key_path}.url", problem, "invalid")
    values = node.value
    if ("username" in values) != ("password" in values):
        present, missing = ("username", "password")
        if "password" in values:
            present, missing = missing, present
        ctx.error(
            node.key_node(present),
            f"{key_path}.{present}",
            f"{present} needs {missing}: Kestra ignores one without the other",
            "missing-property",
        )


def check_subscription(
    props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str
) -> None:
    """The connection, the subject and durable name, and ``deliverPolicy`` with ``since``."""
    from kflow.plugins.nats_consumer import (
        ConsumerConfigError,
        durable_problem,
        start_position,
        subject_problem,
    )

    check_connection(props, node, ctx, key_path)
    subject = props.get("subject")
    if isinstance(subject, str) and not is_template_text(subject):
        problem = subject_problem(subject, wildcards=True)
        if problem is not None:
            ctx.error(_located(node, "subject"), f"{key_path}.subject", problem, "subject")
    durable = props.get("durableId")
    if isinstance(durable, str) and not is_template_text(durable):
        problem = durable_problem(durable)
        if problem is not None:
            ctx.error(_located(node, "durableId"), f"{key_path}.durableId", problem, "invalid")
    policy, since = props.get("deliverPolicy"), props.get("since")
    if is_template_text(policy) or is_template_text(since):
        return
    try:
        start_position(policy if isinstance(policy, str) else None, since)
    except ConsumerConfigError as exc:
        where = "since" if "since" in node.value else "deliverPolicy"
        ctx.error(_located(node, where), f"{key_path}.{where}", str(exc), "invalid")


def check_publish(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    from kflow.plugins.nats_consumer import subject_problem

    check_connection(props, node, ctx, key_path)
    subject = props.get("subject")
    if isinstance(subject, str) and not is_template_text(subject):
        problem = subject_problem(subject, wildcards=False)
        if problem is not None:
            ctx.error(_located(node, "subject"), f"{key_path}.subject", problem, "subject")
    source = node.value.get("from")
    if source is not None and source.is_map:
        _MESSAGE.check(source, ctx, f"{key_path}.from")
    elif source is not None and source.is_seq:
        for i, item in enumerate(source.value):
            if item.is_map:
                _MESSAGE.check(item, ctx, f"{key_path}.from[{i}]")


def check_kv_get(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    """The connection, and ``keys`` or ``keyRevisions``."""
    check_connection(props, node, ctx, key_path)
    if "keys" not in node.value and "keyRevisions" not in node.value:
        ctx.error(node, key_path, "missing required property 'keys'", "missing-property")


REALTIME_TRIGGER = TypeSpec(
    name=f"{NATS}.core.RealtimeTrigger",
    aliases=(f"{NATS}.RealtimeTrigger",),
    kind="trigger",
    runner="kflow.plugins.nats_trigger:RealtimeTrigger",
    description="Start one execution per JetStream message, acknowledged when it finished.",
    properties={
        **_SUBSCRIPTION,
        "ackWait": duration(
            description="kflow: the ack wait of the durable consumer kflow creates (PT10S "
            "unless set): a message fetched by a process that died comes again this long "
            "after its last sign of progress (an existing consumer keeps its own).",
        ),
    },
    check=check_subscription,
)

TRIGGER = TypeSpec(
    name=f"{NATS}.core.Trigger",
    aliases=(f"{NATS}.Trigger",),
    kind="trigger",
    runner=None,
    description="Poll a JetStream subject on an interval and start one execution per batch.",
    properties={
        **_SUBSCRIPTION,
        **_POLLING,
        "interval": duration(default="PT1M", description="Time between polls."),
    },
    check=check_subscription,
)

CONSUME = TypeSpec(
    name=f"{NATS}.core.Consume",
    aliases=(f"{NATS}.Consume",),
    kind="task",
    runner=None,
    description="Consume JetStream messages into a file (outputs messagesCount, uri).",
    properties={**_SUBSCRIPTION, **_POLLING},
    check=check_subscription,
)

PRODUCE = TypeSpec(
    name=f"{NATS}.core.Produce",
    aliases=(f"{NATS}.Produce",),
    kind="task",
    runner="kflow.plugins.nats_tasks:Produce",
    description="Publish messages to a subject; JetStream acknowledges each when a stream "
    "holds the subject (outputs messagesCount).",
    properties={
        **_CONNECTION,
        "subject": string(required=True, templated=True, description="The subject."),
        "from": _MESSAGES,
    },
    check=check_publish,
)

REQUEST = TypeSpec(
    name=f"{NATS}.core.Request",
    aliases=(f"{NATS}.Request",),
    kind="task",
    runner="kflow.plugins.nats_tasks:Request",
    description="Send one request and wait for the reply (outputs response).",
    properties={
        **_CONNECTION,
        "subject": string(required=True, templated=True, description="The subject."),
        "from": any_value(
            required=True,
            templated=True,
            description="The request {headers, data}; data that is not a string is sent as JSON.",
        ),
        "requestTimeout": duration(default="PT5S", description="How long to wait for a reply."),
    },
    check=check_publish,
)

_BUCKET = string(required=True, templated=True, description="The key/value bucket.")

KV_CREATE_BUCKET = TypeSpec(
    name=f"{NATS}.kv.CreateBucket",
    kind="task",
    runner="kflow.plugins.nats_tasks:CreateBucket",
    description="Create a key/value bucket (outputs bucket, description, history, "
    "entryCount, bucketSize, valueSize, metadata).",
    properties={
        **_CONNECTION,
        "name": string(required=True, templated=True, description="The bucket name."),
        "description": string(templated=True, description="What the bucket is for."),
        "metadata": map_of(templated=True, description="String metadata of the bucket."),
        "historyPerKey": integer(
            minimum=1, default=1, templated=True, description="Revisions kept per key."
        ),
        "bucketSize": integer(minimum=1, templated=True, description="Most bytes it holds."),
        "valueSize": integer(minimum=1, templated=True, description="Largest value, in bytes."),
    },
    check=check_connection,
)

KV_GET = TypeSpec(
    name=f"{NATS}.kv.Get",
    kind="task",
    runner="kflow.plugins.nats_tasks:KvGet",
    description="Read keys of a bucket, values parsed as JSON (outputs output).",
    properties={
        **_CONNECTION,
        "bucketName": _BUCKET,
        "keys": list_of(string(), templated=True, description="The keys to read."),
        "keyRevisions": map_of(
            templated=True, description="Key to revision; when set, read instead of keys."
        ),
    },
    check=check_kv_get,
)

KV_PUT = TypeSpec(
    name=f"{NATS}.kv.Put",
    kind="task",
    runner="kflow.plugins.nats_tasks:KvPut",
    description="Write values (as JSON) to a bucket (outputs revisions).",
    properties={
        **_CONNECTION,
        "bucketName": _BUCKET,
        "values": map_of(required=True, templated=True, description="Key to value."),
    },
    check=check_connection,
)

KV_DELETE = TypeSpec(
    name=f"{NATS}.kv.Delete",
    kind="task",
    runner="kflow.plugins.nats_tasks:KvDelete",
    description="Delete keys of a bucket (outputs deletedCount).",
    properties={
        **_CONNECTION,
        "bucketName": _BUCKET,
        "keys": list_of(string(), required=True, templated=True, description="The keys to delete."),
    },
    check=check_connection,
)

SPECS = (
    REALTIME_TRIGGER,
    TRIGGER,
    CONSUME,
    PRODUCE,
    REQUEST,
    KV_CREATE_BUCKET,
    KV_GET,
    KV_PUT,
    KV_DELETE,
)
