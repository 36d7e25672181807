"""Redis: the list RealtimeTrigger (one execution per element, a reliable queue), ListPush,
pubsub Publish, string Get / Set / Delete (runnable); ListPop and the polling list Trigger
(declared)."""

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
    list_of,
    obj,
    one_of,
    string,
)
from kflow.flow.registry import TypeSpec
from kflow.flow.yamltree import YNode

REDIS = "io.kestra.plugin.redis"
REALTIME = f"{REDIS}.list.RealtimeTrigger"
DOCS_NAME = f"{REDIS}.RealtimeTrigger"
"""The name Kestra's own example of the trigger uses; Kestra itself has no such type."""

SERDE_TYPES = ("STRING", "JSON")
PUSH_POSITIONS = ("HEAD", "TAIL")

_URL = string(
    required=True,
    templated=True,
    description="redis://[[user]:password@]host:port/db (rediss:// for TLS).",
)
_SERDE = enum(*SERDE_TYPES, default="STRING", description="How values are (de)coded.")
_KEY = string(required=True, templated=True, description="The key of the list.")

_POP: dict[str, Prop] = {
    "url": _URL,
    "key": _KEY,
    "serdeType": _SERDE,
    "maxRecords": integer(minimum=1, description="Stop after this many elements."),
    "maxDuration": duration(description="Stop after this long."),
    "count": integer(minimum=1, default=100, description="Elements popped per LPOP."),
}


def check_url(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    """A literal ``url`` is a usable redis:// URL."""
    url = props.get("url")
    if isinstance(url, str) and not is_template_text(url):
        from kflow.connectors.redis import url_problem

        problem = url_problem(url)
        if problem is not None:
            ctx.error(node.value["url"], f"{key_path}.url", problem, "invalid")


def check_realtime(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    """The URL, and a warning for the type name of Kestra's docs."""
    check_url(props, node, ctx, key_path)
    type_node = node.value.get("type")
    if type_node is not None and type_node.value == DOCS_NAME:
        message = (
            f"{DOCS_NAME} is the name in Kestra's docs, not a type Kestra knows; "
            f"kflow runs it as {REALTIME}: write that so Kestra accepts the flow too"
        )
        ctx.warning(type_node, f"{key_path}.type", message, "docs-type-name")


def check_pop(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    """As Kestra's ListPop: maxRecords or maxDuration, or it would never end."""
    check_url(props, node, ctx, key_path)
    if "maxRecords" not in node.value and "maxDuration" not in node.value:
        message = "set maxRecords or maxDuration (or both): without them it never ends"
        ctx.error(node, key_path, message, "missing-property")


REALTIME_TRIGGER = TypeSpec(
    name=REALTIME,
    kind="trigger",
    runner="kflow.plugins.redis_trigger:RealtimeTrigger",
    aliases=(DOCS_NAME,),
    description="Start one execution per element of a Redis list, as it arrives (a reliable "
    "queue: an element leaves its processing list once its execution finished).",
    properties={
        "url": _URL,
        "key": _KEY,
        "serdeType": _SERDE,
        "processingList": string(
            templated=True,
            description="(kflow) This consumer's processing list. Default: "
            "<key>:kflow:<namespace>.<flowId>.<triggerId>:<n>, n the first one no running "
            "kflow holds.",
        ),
    },
    check=check_realtime,
)

LIST_TRIGGER = TypeSpec(
    name=f"{REDIS}.list.Trigger",
    kind="trigger",
    runner=None,
    aliases=(f"{REDIS}.TriggerList",),
    description="Pop a Redis list on an interval and start one execution per batch.",
    properties={**_POP, "interval": duration(default="PT1M", description="Time between polls.")},
    check=check_pop,
)

LIST_POP = TypeSpec(
    name=f"{REDIS}.list.ListPop",
    kind="task",
    runner=None,
    aliases=(f"{REDIS}.ListPop",),
    description="Pop elements of a Redis list into a file (outputs uri, count).",
    properties=_POP,
    check=check_pop,
)

LIST_PUSH = TypeSpec(
    name=f"{REDIS}.list.ListPush",
    kind="task",
    runner="kflow.plugins.redis_tasks:ListPush",
    aliases=(f"{REDIS}.ListPush",),
    description="Push values to a Redis list (outputs count).",
    properties={
        "url": _URL,
        "key": _KEY,
        "from": any_value(
            required=True,
            templated=True,
            description="A value, a list of values, a JSON array, or a kestra:// file URI.",
        ),
        "serdeType": _SERDE,
        "position": enum(
            *PUSH_POSITIONS,
            default="HEAD",
            description="(kflow) HEAD: LPUSH, as Kestra; TAIL: RPUSH, so that the "
            "RealtimeTrigger (which pops the head) runs them first in, first out.",
        ),
    },
    check=check_url,
)

_SET_OPTIONS = obj(
    {
        "expirationDuration": duration(templated=True, description="Time to live."),
        "expirationDate": string(templated=True, description="Expire at this ISO-8601 instant."),
        "mustNotExist": boolean(default=False, description="Only set a key that is missing (NX)."),
        "mustExist": boolean(default=False, description="Only set a key that exists (XX)."),
        "keepTtl": boolean(default=False, description="Keep the key's time to live (KEEPTTL)."),
    },
    description="SET options.",
)

STRING_GET = TypeSpec(
    name=f"{REDIS}.string.Get",
    kind="task",
    runner="kflow.plugins.redis_tasks:Get",
    aliases=(f"{REDIS}.Get",),
    description="Get the value of a key (outputs data, key).",
    properties={"url": _URL, "key": _KEY, "serdeType": _SERDE},
    check=check_url,
)

STRING_SET = TypeSpec(
    name=f"{REDIS}.string.Set",
    kind="task",
    runner="kflow.plugins.redis_tasks:Set",
    aliases=(f"{REDIS}.Set",),
    description="Set the value of a key (outputs oldValue when get is true).",
    properties={
        "url": _URL,
        "key": string(required=True, templated=True, description="The key."),
        "value": any_value(required=True, templated=True, description="The value."),
        "options": _SET_OPTIONS,
        "get": boolean(default=False, description="Return the value the key held (oldValue)."),
        "serdeType": _SERDE,
    },
    check=check_url,
)

STRING_DELETE = TypeSpec(
    name=f"{REDIS}.string.Delete",
    kind="task",
    runner="kflow.plugins.redis_tasks:Delete",
    aliases=(f"{REDIS}.Delete",),
    description="Delete keys (outputs count).",
    properties={
        "url": _URL,
        "keys": one_of(
            list_of(string()), string(), required=True, templated=True, description="The keys."
        ),
        "failedOnMissing": boolean(default=False, description="Fail when a key did not exist."),
    },
    check=check_url,
)

PUBLISH = TypeSpec(
    name=f"{REDIS}.pubsub.Publish",
    kind="task",
    runner="kflow.plugins.redis_tasks:Publish",
    aliases=(f"{REDIS}.Publish",),
    description="Publish values to a Redis channel (outputs count).",
    properties={
        "url": _URL,
        "channel": string(required=True, templated=True, description="The channel."),
        "from": any_value(
            required=True,
            templated=True,
            description="A value, a list of values, a JSON array, or a kestra:// file URI.",
        ),
        "serdeType": _SERDE,
    },
    check=check_url,
)

SPECS = (
    REALTIME_TRIGGER,
    LIST_TRIGGER,
    LIST_POP,
    LIST_PUSH,
    STRING_GET,
    STRING_SET,
    STRING_DELETE,
    PUBLISH,
)
