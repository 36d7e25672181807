"""The validated, typed form of a flow that the engine runs.

``kflow.flow.load`` turns a YAML file into a :class:`Flow` only when it has
no errors; every value here is plain Python (no YAML node types), defaults
and ``pluginDefaults`` already applied. Templated strings stay strings: the
engine compiles them once per flow with ``kflow.expr``.
"""

from __future__ import annotations

from collections.abc import Mapping
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


class ConcurrencyBehavior(StrEnum):
    """What happens to an execution that arrives while ``limit`` of its flow are running."""

    QUEUE = "QUEUE"  # it waits for one of them to end
    CANCEL = "CANCEL"  # it ends CANCELLED, no task run
    FAIL = "FAIL"  # it ends FAILED, no task run


@dataclass(frozen=True)
class Concurrency:
    """The flow's ``concurrency``: at most ``limit`` executions of the flow at once."""

    limit: int
    behavior: ConcurrencyBehavior = ConcurrencyBehavior.QUEUE

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any] | None) -> Concurrency | None:
        """The validated ``{limit, behavior}`` mapping as a value (None when absent or broken)."""
        if not value:
            return None
        limit = value.get("limit")
        behavior = value.get("behavior") or "QUEUE"
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            return None
        if behavior not in ConcurrencyBehavior.__members__:
            return None
        return cls(limit, ConcurrencyBehavior(behavior))


@dataclass(frozen=True)
class FlowOutput:
    """One of the flow's ``outputs``: ``value`` (templated) rendered at the end, typed."""

    id: str
    type: str
    value: Any
    description: str | None = None

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any]) -> FlowOutput:
        return cls(
            id=str(value.get("id")),
            type=str(value.get("type") or "STRING").upper(),
            value=value.get("value"),
            description=value.get("description"),
        )


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

    @property
    def concurrency_limit(self) -> Concurrency | None:
        """``concurrency`` as a value; None when the flow sets no limit."""
        return Concurrency.from_mapping(self.concurrency)

    @property
    def output_definitions(self) -> list[FlowOutput]:
        """``outputs`` as values, in the flow's order."""
        return [FlowOutput.from_mapping(item) for item in self.outputs if isinstance(item, Mapping)]
