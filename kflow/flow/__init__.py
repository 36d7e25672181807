"""Flows: load Kestra-style YAML, validate it against the type registry, build the model.

Public API::

    from kflow.flow import load_flow, load_flow_text, Diagnostic, default_registry

``load_flow(path)`` returns a :class:`LoadResult` whose ``flow`` is a
:class:`~kflow.flow.model.Flow` when the file has no error, and whose
``diagnostics`` list every problem (errors and warnings) with its position.
"""

from kflow.flow.diagnostics import Diagnostic
from kflow.flow.loader import LoadResult, load_flow, load_flow_text
from kflow.flow.model import Flow, RetryPolicy, RetryType, TaskDef, TriggerDef
from kflow.flow.registry import TypeRegistry, TypeSpec, default_registry

__all__ = [
    "Diagnostic",
    "Flow",
    "LoadResult",
    "RetryPolicy",
    "RetryType",
    "TaskDef",
    "TriggerDef",
    "TypeRegistry",
    "TypeSpec",
    "default_registry",
    "load_flow",
    "load_flow_text",
]
