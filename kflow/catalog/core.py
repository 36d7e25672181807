"""Kestra's core tasks: logging, outputs, failure and flow control."""

from __future__ import annotations

from typing import Any

from kflow.flow.properties import (
    CheckContext,
    any_value,
    cases,
    duration,
    enum,
    integer,
    string,
    string_or_list,
    tasks,
)
from kflow.flow.registry import TypeSpec
from kflow.flow.yamltree import YNode

CORE = "io.kestra.plugin.core"

#: Values of Pause's ``behavior`` (Kestra's ``Pause.Behavior``).
PAUSE_BEHAVIORS = ("RESUME", "WARN", "FAIL", "CANCEL")

#: Why a Pause must say how long it lasts.
MANUAL_RESUME = (
    "Pause without delay needs a manual resume, which kflow cannot do: set pauseDuration "
    "(or delay) to resume after that long, or timeout to fail after that long"
)
OLD = "io.kestra.core.tasks"

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")

_errors = tasks(
    after=True,
    min_items=0,
    description="Tasks run when one of the tasks of this task fails.",
)

_finally = tasks(
    after=True,
    min_items=0,
    description="Tasks run once the tasks of this task (and their errors) ended, whatever "
    "their state.",
)

#: Every flowable's ``errors`` and ``finally``.
_after = {"errors": _errors, "finally": _finally}

LOG = TypeSpec(
    name=f"{CORE}.log.Log",
    aliases=(f"{OLD}.log.Log",),
    kind="task",
    runner="kflow.plugins.core:Log",
    description="Log one or more messages.",
    properties={
        "message": string_or_list(
            required=True, templated=True, description="A message or a list of messages."
        ),
        "level": enum(*LOG_LEVELS, default="INFO", description="The log level."),
    },
)

OUTPUT_VALUES = TypeSpec(
    name=f"{CORE}.output.OutputValues",
    aliases=(f"{OLD}.outputs.OutputValues",),
    kind="task",
    runner="kflow.plugins.core:OutputValues",
    description="Expose values as task outputs (outputs.<id>.values).",
    properties={
        "values": any_value(
            templated=True, default={}, description="Values to output (any structure)."
        ),
    },
)

RETURN = TypeSpec(
    name=f"{CORE}.debug.Return",
    aliases=(f"{OLD}.debugs.Return",),
    kind="task",
    runner="kflow.plugins.core:Return",
    description="Render a template and return it as outputs.<id>.value.",
    properties={"format": string(templated=True, description="The template to render.")},
)

FAIL = TypeSpec(
    name=f"{CORE}.execution.Fail",
    aliases=(f"{OLD}.executions.Fail",),
    kind="task",
    runner="kflow.plugins.core:Fail",
    description="Fail the execution, optionally only when a condition is true.",
    properties={
        "condition": string(templated=True, description="Fail only when this renders true."),
        "errorMessage": string(
            templated=True, default="Task failure", description="The error message."
        ),
    },
)

LABELS = TypeSpec(
    name=f"{CORE}.execution.Labels",
    aliases=(f"{OLD}.executions.Labels",),
    kind="task",
    runner=None,
    description="Add or update labels of the current execution.",
    properties={
        "labels": any_value(
            required=True,
            templated=True,
            description="A map, a list of {key, value}, or a template rendering to a map.",
        ),
    },
)

IF = TypeSpec(
    name=f"{CORE}.flow.If",
    aliases=(f"{OLD}.flows.If",),
    kind="task",
    runner="kflow.plugins.flowable:If",
    flowable=True,
    description="Run `then` when the condition is true, else `else`.",
    properties={
        "condition": string(required=True, templated=True, description="The condition."),
        "then": tasks(required=True, description="Tasks run when the condition is true."),
        "else": tasks(min_items=0, description="Tasks run when the condition is false."),
        **_after,
    },
)

SWITCH = TypeSpec(
    name=f"{CORE}.flow.Switch",
    aliases=(f"{OLD}.flows.Switch",),
    kind="task",
    runner="kflow.plugins.flowable:Switch",
    flowable=True,
    description="Run the task list of the case matching `value`, else `defaults`.",
    properties={
        "value": string(required=True, templated=True, description="The value to match."),
        "cases": cases(description="Task lists by value."),
        "defaults": tasks(min_items=0, description="Tasks run when no case matches."),
        **_after,
    },
)

SEQUENTIAL = TypeSpec(
    name=f"{CORE}.flow.Sequential",
    aliases=(f"{OLD}.flows.Sequential",),
    kind="task",
    runner="kflow.plugins.flowable:Sequential",
    flowable=True,
    description="Run tasks one after the other.",
    properties={"tasks": tasks(required=True), **_after},
)

PARALLEL = TypeSpec(
    name=f"{CORE}.flow.Parallel",
    aliases=(f"{OLD}.flows.Parallel",),
    kind="task",
    runner="kflow.plugins.flowable:Parallel",
    flowable=True,
    description="Run tasks at the same time.",
    properties={
        "tasks": tasks(required=True, concurrent=True),
        "concurrent": integer(
            minimum=0, default=0, description="How many tasks run at once (0: no limit)."
        ),
        **_after,
    },
)

FOR_EACH = TypeSpec(
    name=f"{CORE}.flow.ForEach",
    kind="task",
    runner="kflow.plugins.flowable:ForEach",
    flowable=True,
    description="Run the tasks once per value (taskrun.value).",
    properties={
        "values": any_value(
            required=True,
            templated=True,
            description="A list, or a string holding a JSON array (may be a template).",
        ),
        "concurrencyLimit": integer(
            minimum=0, default=1, description="Iterations run at once (0: no limit)."
        ),
        "tasks": tasks(required=True),
        **_after,
    },
)

_each_value = any_value(
    required=True,
    templated=True,
    description="A list, or a string holding a JSON array (may be a template).",
)

EACH_SEQUENTIAL = TypeSpec(
    name=f"{CORE}.flow.EachSequential",
    aliases=(f"{OLD}.flows.EachSequential",),
    kind="task",
    runner="kflow.plugins.flowable:EachSequential",
    flowable=True,
    description="Deprecated in Kestra (use ForEach): run the tasks once per value, in order.",
    properties={"value": _each_value, "tasks": tasks(required=True), **_after},
)

EACH_PARALLEL = TypeSpec(
    name=f"{CORE}.flow.EachParallel",
    aliases=(f"{OLD}.flows.EachParallel",),
    kind="task",
    runner="kflow.plugins.flowable:EachParallel",
    flowable=True,
    description="Deprecated in Kestra (use ForEach): run the tasks of every value at once.",
    properties={
        "value": _each_value,
        "concurrent": integer(
            minimum=0, default=0, description="How many task runs run at once (0: no limit)."
        ),
        "tasks": tasks(required=True, concurrent=True),
        **_after,
    },
)

ALLOW_FAILURE = TypeSpec(
    name=f"{CORE}.flow.AllowFailure",
    aliases=(f"{OLD}.flows.AllowFailure",),
    kind="task",
    runner="kflow.plugins.flowable:AllowFailure",
    flowable=True,
    description="Run tasks one after the other; a failure among them ends this task in "
    "WARNING and the flow goes on.",
    properties={"tasks": tasks(required=True), **_after},
)

SLEEP = TypeSpec(
    name=f"{CORE}.flow.Sleep",
    kind="task",
    runner="kflow.plugins.core:Sleep",
    description="Wait for a duration, then go on.",
    properties={
        "duration": duration(
            required=True,
            templated=True,
            description="How long to wait, ISO-8601 (PT5S); may be a template.",
        ),
    },
)


def check_pause(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    """A Pause must end by itself: kflow cannot resume one by hand."""
    if all(props.get(name) is None for name in ("pauseDuration", "delay", "timeout")):
        ctx.error(node, key_path, MANUAL_RESUME, "unsupported")


PAUSE = TypeSpec(
    name=f"{CORE}.flow.Pause",
    aliases=(f"{OLD}.flows.Pause",),
    kind="task",
    runner="kflow.plugins.flowable:Pause",
    flowable=True,
    description="Pause for pauseDuration, then go on (kflow has no manual resume).",
    properties={
        "pauseDuration": duration(
            templated=True,
            description="How long to pause, ISO-8601 (PT5S); may be a template.",
        ),
        "delay": duration(
            templated=True,
            deprecated="'delay' is deprecated: use pauseDuration",
            description="Older name of pauseDuration.",
        ),
        "behavior": enum(
            *PAUSE_BEHAVIORS,
            default="RESUME",
            unsupported=("CANCEL",),
            unsupported_reason="kflow has no CANCELLED state",
            description="What happens once pauseDuration has passed.",
        ),
        "onResume": any_value(
            description="Inputs asked on a manual resume (kflow never resumes by hand).",
        ),
        "tasks": tasks(min_items=0, description="Deprecated in Kestra: tasks run after the pause."),
        **_after,
    },
    check=check_pause,
)

SPECS = (
    LOG,
    OUTPUT_VALUES,
    RETURN,
    FAIL,
    LABELS,
    IF,
    SWITCH,
    SEQUENTIAL,
    PARALLEL,
    FOR_EACH,
    EACH_SEQUENTIAL,
    EACH_PARALLEL,
    ALLOW_FAILURE,
    SLEEP,
    PAUSE,
)
