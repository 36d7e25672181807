"""JSON Schema (draft 2020-12) of flow files, generated from the property models.

Editors that use the YAML language server pick it up with a first line::

    # yaml-language-server: $schema=./kflow-flow.schema.json

Tasks and triggers are described by ``if``/``then`` branches keyed on the
``type`` constant, so an editor completes and checks the properties of the
type a task names.
"""

from __future__ import annotations

from typing import Any

from kflow.flow.common import (
    CONCURRENCY,
    FLOW_ID_PATTERN,
    INPUT,
    NAMESPACE_PATTERN,
    PLUGIN_DEFAULT,
    RETRY,
    TASK_ID_PATTERN,
    TASK_PROPS,
    TRIGGER_PROPS,
)
from kflow.flow.properties import Prop, object_schema
from kflow.flow.registry import TypeRegistry, TypeSpec, default_registry

SCHEMA_ID = "https://kflow.dev/schemas/flow.json"


def flow_schema(registry: TypeRegistry | None = None) -> dict[str, Any]:
    """The JSON Schema of a flow file."""
    registry = registry or default_registry()
    specs = list(registry)
    task_list = {"type": "array", "items": {"$ref": "#/$defs/task"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "kflow flow",
        "description": "A Kestra-style flow run by kflow.",
        "type": "object",
        "required": ["id", "namespace", "tasks"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": f"^{FLOW_ID_PATTERN}$", "maxLength": 100},
            "namespace": {
                "type": "string",
                "pattern": f"^{NAMESPACE_PATTERN}$",
                "maxLength": 150,
            },
            "description": {"type": "string"},
            "labels": {
                "anyOf": [
                    {"type": "object", "additionalProperties": {"type": "string"}},
                    {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["key", "value"],
                            "properties": {"key": {"type": "string"}, "value": {}},
                        },
                    },
                ]
            },
            "inputs": {"type": "array", "items": {**INPUT.schema(), "additionalProperties": True}},
            "variables": {"type": "object"},
            "tasks": {**task_list, "minItems": 1},
            "triggers": {"type": "array", "items": {"$ref": "#/$defs/trigger"}},
            "errors": task_list,
            "finally": task_list,
            "afterExecution": task_list,
            "retry": RETRY.schema(),
            "concurrency": CONCURRENCY.schema(),
            "pluginDefaults": {"type": "array", "items": PLUGIN_DEFAULT.schema()},
            "taskDefaults": {
                "type": "array",
                "items": PLUGIN_DEFAULT.schema(),
                "deprecated": True,
            },
            "outputs": {"type": "array", "items": {"type": "object"}},
            "disabled": {"type": "boolean"},
            "revision": {"type": "integer", "minimum": 1},
        },
        "$defs": {
            "task": _kind_schema([s for s in specs if s.kind == "task"], TASK_PROPS),
            "trigger": _kind_schema([s for s in specs if s.kind == "trigger"], TRIGGER_PROPS),
        },
    }


def _kind_schema(specs: list[TypeSpec], common: dict[str, Prop]) -> dict[str, Any]:
    names = [name for spec in specs for name in (spec.name, *spec.aliases)]
    branches = []
    for spec in specs:
        type_names = [spec.name, *spec.aliases]
        then = object_schema(
            {**spec.properties, **common},
            extra={
                "id": {"type": "string", "pattern": f"^{TASK_ID_PATTERN}$"},
                "type": {"enum": type_names},
            },
        )
        then["required"] = ["id", "type", *then.get("required", [])]
        if spec.description:
            then["description"] = spec.description
        branches.append(
            {
                "if": {"properties": {"type": {"enum": type_names}}, "required": ["type"]},
                "then": then,
            }
        )
    return {
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": {"type": "string", "pattern": f"^{TASK_ID_PATTERN}$"},
            "type": {"enum": names},
        },
        "allOf": branches,
    }
