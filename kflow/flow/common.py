"""Property models shared by every task, every trigger and the flow itself."""

from __future__ import annotations

from kflow.flow.properties import (
    Prop,
    any_value,
    boolean,
    duration,
    enum,
    integer,
    list_of,
    number,
    obj,
    string,
)

TASK_ID_PATTERN = r"[a-zA-Z0-9][a-zA-Z0-9_-]*"
FLOW_ID_PATTERN = r"[a-zA-Z0-9][a-zA-Z0-9._-]*"
NAMESPACE_PATTERN = r"[a-z0-9][a-z0-9._-]*"

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")

RETRY = obj(
    {
        "type": enum("constant", "exponential", "random", required=True),
        "maxAttempts": integer(
            minimum=1, aliases=("maxAttempt",), description="Total attempts, the first included."
        ),
        "maxDuration": duration(description="Stop retrying after this long."),
        "interval": duration(description="constant, exponential: time between attempts."),
        "maxInterval": duration(description="exponential, random: the longest wait."),
        "minInterval": duration(description="random: the shortest wait."),
        "delayFactor": number(description="exponential: growth factor of the wait."),
        "warningOnRetry": boolean(default=False, description="End in WARNING after a retry."),
        "behavior": enum("RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"),
    },
    description="Retry policy.",
)

#: Which retry type needs which intervals.
RETRY_NEEDS = {
    "constant": ("interval",),
    "exponential": ("interval", "maxInterval"),
    "random": ("minInterval", "maxInterval"),
}

TASK_PROPS: dict[str, Prop] = {
    "description": string(description="What the task does."),
    "retry": RETRY,
    "timeout": duration(description="Longest time one attempt may take."),
    "disabled": boolean(default=False),
    "allowFailure": boolean(default=False, description="A failure does not fail the flow."),
    "allowWarning": boolean(default=False, description="A warning counts as success."),
    "logLevel": enum(*LOG_LEVELS),
    "runIf": string(templated=True, description="Run the task only when this renders true."),
    "logToFile": boolean(default=False, description="Accepted for Kestra compatibility."),
    "workerGroup": any_value(description="Accepted for Kestra compatibility; ignored."),
}

TRIGGER_PROPS: dict[str, Prop] = {
    "description": string(),
    "disabled": boolean(default=False),
    "conditions": list_of(any_value(), description="Accepted; kflow does not evaluate them."),
    "stopAfter": list_of(string()),
    "logToFile": boolean(default=False),
    "minLogLevel": enum(*LOG_LEVELS),
    "workerGroup": any_value(),
}

CONCURRENCY = obj(
    {
        "limit": integer(required=True, minimum=1),
        "behavior": enum("QUEUE", "CANCEL", "FAIL", default="QUEUE"),
    }
)

INPUT = obj(
    {
        "id": string(required=True, aliases=("name",), description="Input id (old name: name)."),
        "type": string(required=True),
    },
)

#: Kestra's ``Type`` of flow outputs (``BOOL`` as kflow's inputs accept it too).
OUTPUT_TYPES = (
    "STRING",
    "ENUM",
    "SELECT",
    "INT",
    "FLOAT",
    "BOOLEAN",
    "BOOL",
    "DATETIME",
    "DATE",
    "TIME",
    "DURATION",
    "FILE",
    "JSON",
    "URI",
    "SECRET",
    "ARRAY",
    "MULTISELECT",
    "YAML",
    "EMAIL",
)
OUTPUT_ID_PATTERN = r"[a-zA-Z0-9][.a-zA-Z0-9_-]*"

#: One item of the flow's ``outputs`` (Kestra's ``Output``). ``value`` is templated; its
#: expressions are checked with the flow's other templates.
FLOW_OUTPUT = obj(
    {
        "id": string(required=True, pattern=OUTPUT_ID_PATTERN, description="The output's id."),
        "type": enum(*OUTPUT_TYPES, required=True, description="How the value is typed."),
        "value": any_value(required=True, description="Rendered after the execution's tasks."),
        "description": string(),
        "displayName": string(),
    },
    description="A flow output.",
)

#: Label keys only Kestra itself may set (``system.readOnly`` excepted).
SYSTEM_LABEL_PREFIX = "system."
SYSTEM_LABELS_ALLOWED = frozenset({"system.readOnly"})

PLUGIN_DEFAULT = obj(
    {
        "type": string(required=True, description="A type name or a prefix of type names."),
        "values": any_value(required=True),
        "forced": boolean(default=False, description="Override the task's own values."),
    }
)

FLOW_KEYS = (
    "id",
    "namespace",
    "description",
    "labels",
    "inputs",
    "variables",
    "tasks",
    "triggers",
    "errors",
    "finally",
    "afterExecution",
    "retry",
    "concurrency",
    "pluginDefaults",
    "taskDefaults",
    "outputs",
    "disabled",
    "revision",
)
