"""Kestra's core tasks: logging, outputs, failure and flow control."""

from __future__ import annotations

from kflow.flow.properties import (
    any_value,
    cases,
    enum,
    integer,
    string,
    string_or_list,
    tasks,
)
from kflow.flow.registry import TypeSpec

CORE = "io.kestra.plugin.core"
OLD = "io.kestra.core.tasks"

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")

_errors = tasks(
    after=True,
    min_items=0,
    description="Tasks run when one of the tasks of this task fails.",
)

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
        "errors": _errors,
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
        "errors": _errors,
    },
)

SEQUENTIAL = TypeSpec(
    name=f"{CORE}.flow.Sequential",
    aliases=(f"{OLD}.flows.Sequential",),
    kind="task",
    runner="kflow.plugins.flowable:Sequential",
    flowable=True,
    description="Run tasks one after the other.",
    properties={"tasks": tasks(required=True), "errors": _errors},
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
        "errors": _errors,
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
        "errors": _errors,
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
    properties={"value": _each_value, "tasks": tasks(required=True), "errors": _errors},
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
        "errors": _errors,
    },
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
)
