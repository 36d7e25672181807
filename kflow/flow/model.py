"""The validated, typed form of a flow that the engine runs.

``kflow.flow.load`` turns a YAML file into a :class:`Flow` only when it has
no errors; every value here is plain Python (no YAML node types), defaults
and ``pluginDefaults`` already applied. Templated strings stay strings: the
engine compiles them once per flow with ``kflow.expr``.

The classes are records (:mod:`kflow.records`: the behaviour of dataclasses, without
generating their methods at every start of ``kflow validate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from kflow.records import FrozenRecord, Record

if TYPE_CHECKING:
    from kflow.flow.registry import TypeSpec


class RetryType(StrEnum):
    CONSTANT = "constant"
    EXPONENTIAL = "exponential"
    RANDOM = "random"


class RetryPolicy(FrozenRecord):
    """Kestra's task/flow ``retry``; durations in seconds."""

    __slots__ = ("delay_factor", "interval", "max_attempts", "max_duration", "max_interval",
                 "min_interval", "type", "warning_on_retry")  # fmt: skip

    type: RetryType
    max_attempts: int | None  # total attempts, first one included
    max_duration: float | None
    interval: float | None  # constant, exponential
    max_interval: float | None  # exponential, random
    delay_factor: float | None  # exponential
    min_interval: float | None  # random
    warning_on_retry: bool

    def __init__(
        self,
        type: RetryType,
        max_attempts: int | None = None,
        max_duration: float | None = None,
        interval: float | None = None,
        max_interval: float | None = None,
        delay_factor: float | None = None,
        min_interval: float | None = None,
        warning_on_retry: bool = False,
    ) -> None:
        self._set(type, max_attempts, max_duration, interval, max_interval, delay_factor,
                  min_interval, warning_on_retry)  # fmt: skip


class ConcurrencyBehavior(StrEnum):
    """What happens to an execution that arrives while ``limit`` of its flow are running."""

    QUEUE = "QUEUE"  # it waits for one of them to end
    CANCEL = "CANCEL"  # it ends CANCELLED, no task run
    FAIL = "FAIL"  # it ends FAILED, no task run


class Concurrency(FrozenRecord):
    """The flow's ``concurrency``: at most ``limit`` executions of the flow at once."""

    __slots__ = ("behavior", "limit")

    limit: int
    behavior: ConcurrencyBehavior

    def __init__(self, limit: int, behavior: ConcurrencyBehavior = ConcurrencyBehavior.QUEUE):
        self._set(limit, behavior)

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


class FlowOutput(FrozenRecord):
    """One of the flow's ``outputs``: ``value`` (templated) rendered at the end, typed."""

    __slots__ = ("description", "id", "type", "value")

    id: str
    type: str
    value: Any
    description: str | None

    def __init__(self, id: str, type: str, value: Any, description: str | None = None) -> None:
        self._set(id, type, value, description)

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any]) -> FlowOutput:
        return cls(
            id=str(value.get("id")),
            type=str(value.get("type") or "STRING").upper(),
            value=value.get("value"),
            description=value.get("description"),
        )


class TaskDef(Record):
    """One task of a flow (or nested inside a flowable task).

    ``props`` holds the type's own properties, validated and with defaults
    applied. Properties whose kind is a task list (``then``, ``tasks``,
    ``cases`` values ...) hold ``list[TaskDef]`` (``cases``: ``dict[str,
    list[TaskDef]]``). ``type`` is the canonical type name (aliases resolved),
    ``timeout`` in seconds per attempt, ``run_if`` a template (None: always), ``line``
    the 1-based line of the task in its file.
    """

    def __init__(
        self,
        id: str,
        type: str,
        spec: TypeSpec,
        props: dict[str, Any],
        description: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        disabled: bool = False,
        allow_failure: bool = False,
        allow_warning: bool = False,
        log_level: str | None = None,
        run_if: str | None = None,
        line: int = 0,
    ) -> None:
        self.id = id
        self.type = type
        self.spec = spec
        self.props = props
        self.description = description
        self.retry = retry
        self.timeout = timeout
        self.disabled = disabled
        self.allow_failure = allow_failure
        self.allow_warning = allow_warning
        self.log_level = log_level
        self.run_if = run_if
        self.line = line


class TriggerDef(Record):
    """One trigger of a flow; ``props`` as for :class:`TaskDef`."""

    def __init__(
        self,
        id: str,
        type: str,
        spec: TypeSpec,
        props: dict[str, Any],
        description: str | None = None,
        disabled: bool = False,
        line: int = 0,
    ) -> None:
        self.id = id
        self.type = type
        self.spec = spec
        self.props = props
        self.description = description
        self.disabled = disabled
        self.line = line


class Flow(Record):
    """A valid flow. ``concurrency``: ``{"limit": int, "behavior": QUEUE|CANCEL|FAIL}``."""

    def __init__(
        self,
        id: str,
        namespace: str,
        tasks: list[TaskDef],
        triggers: list[TriggerDef] | None = None,
        errors: list[TaskDef] | None = None,
        finally_: list[TaskDef] | None = None,
        after_execution: list[TaskDef] | None = None,
        description: str | None = None,
        labels: dict[str, str] | None = None,
        inputs: list[dict[str, Any]] | None = None,
        variables: dict[str, Any] | None = None,
        outputs: list[dict[str, Any]] | None = None,
        retry: RetryPolicy | None = None,
        disabled: bool = False,
        revision: int | None = None,
        source_path: str | None = None,
        concurrency: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.namespace = namespace
        self.tasks = tasks
        self.triggers: list[TriggerDef] = [] if triggers is None else triggers
        self.errors: list[TaskDef] = [] if errors is None else errors
        self.finally_: list[TaskDef] = [] if finally_ is None else finally_
        self.after_execution: list[TaskDef] = [] if after_execution is None else after_execution
        self.description = description
        self.labels: dict[str, str] = {} if labels is None else labels
        self.inputs: list[dict[str, Any]] = [] if inputs is None else inputs
        self.variables: dict[str, Any] = {} if variables is None else variables
        self.outputs: list[dict[str, Any]] = [] if outputs is None else outputs
        self.retry = retry
        self.disabled = disabled
        self.revision = revision
        self.source_path = source_path
        self.concurrency = concurrency

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
