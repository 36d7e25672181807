"""The validated, typed form of a flow that the engine runs.

``kflow.flow.load`` turns a YAML file into a :class:`Flow` only when it has
no errors; every value here is plain Python (no YAML node types), defaults
and ``pluginDefaults`` already applied. Templated strings stay strings: the
engine compiles them once per flow with ``kflow.expr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kflow.flow.registry import TypeSpec


class RetryType(StrEnum):
    CONSTANT = "constant"
    EXPONENTIAL = "exponential"
    RANDOM = "random"


@dataclass(frozen=True)
class RetryPolicy:
    """Kestra's task/flow ``retry``; durations in seconds."""

    type: RetryType
    max_attempts: int | None = None  # total attempts, first one included
    max_duration: float | None = None
    interval: float | None = None  # constant, exponential
    max_interval: float | None = None  # exponential, random
    delay_factor: float | None = None  # exponential
    min_interval: float | None = None  # random
    warning_on_retry: bool = False


@dataclass
class TaskDef:
    """One task of a flow (or nested inside a flowable task).

    ``props`` holds the type's own properties, validated and with defaults
    applied. Properties whose kind is a task list (``then``, ``tasks``,
    ``cases`` values ...) hold ``list[TaskDef]`` (``cases``: ``dict[str,
    list[TaskDef]]``).
    """

    id: str
    type: str  # the canonical type name (aliases resolved)
    spec: TypeSpec
    props: dict[str, Any]
    description: str | None = None
    retry: RetryPolicy | None = None
    timeout: float | None = None  # seconds, per attempt
    disabled: bool = False
    allow_failure: bool = False
    allow_warning: bool = False
    log_level: str | None = None
    run_if: str | None = None  # template; None means always
    line: int = 0  # 1-based line of the task in its file


@dataclass
class TriggerDef:
    """One trigger of a flow; ``props`` as for :class:`TaskDef`."""

    id: str
    type: str
    spec: TypeSpec
    props: dict[str, Any]
    description: str | None = None
    disabled: bool = False
    line: int = 0


@dataclass
class Flow:
    id: str
    namespace: str
    tasks: list[TaskDef]
    triggers: list[TriggerDef] = field(default_factory=list)
    errors: list[TaskDef] = field(default_factory=list)
    finally_: list[TaskDef] = field(default_factory=list)
    after_execution: list[TaskDef] = field(default_factory=list)
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    retry: RetryPolicy | None = None
    disabled: bool = False
    revision: int | None = None
    source_path: str | None = None
    concurrency: dict[str, Any] | None = None  # {"limit": int, "behavior": QUEUE|CANCEL|FAIL}

    @property
    def ref(self) -> str:
        return f"{self.namespace}.{self.id}"
