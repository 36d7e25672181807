"""The interface every task runtime implements.

A task type's runtime is a :class:`TaskRunner` subclass, named in the type's
``TypeSpec.runner`` as ``"module:Class"`` and imported only when a flow that
uses it is run. One runner is built per task of a flow, once: its
``__init__`` compiles the task's templates so that ``run`` does no parsing.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from kflow.engine.execution import Execution, LogEntry, TaskRun, utc_now
from kflow.engine.states import State
from kflow.flow.model import TaskDef

if TYPE_CHECKING:
    from kflow.engine.runner import FlowRunner

R = TypeVar("R")


class TaskContext:
    """What a running task sees: its variables, its execution, and the engine's services."""

    __slots__ = ("_engine", "child_state", "execution", "task", "task_run", "variables")

    def __init__(
        self,
        engine: FlowRunner,
        execution: Execution,
        task: TaskDef,
        task_run: TaskRun,
        variables: dict[str, Any],
    ) -> None:
        self._engine = engine
        self.execution = execution
        self.task = task
        self.task_run = task_run
        self.variables = variables
        self.child_state: State | None = None

    def log(self, level: str, message: str) -> None:
        entry = LogEntry(utc_now(), level.upper(), message, self.task.id)
        self._engine.log(self.execution, entry)

    async def in_thread(self, fn: Callable[..., R], *args: Any) -> R:
        """Run a blocking driver call on the engine's worker threads."""
        return await self._engine.in_thread(fn, *args)

    async def run_children(
        self, tasks: list[TaskDef], *, value: Any = None, sequential: bool = True, limit: int = 0
    ) -> State:
        """Run nested tasks of a flowable task; records and returns their combined state."""
        state = await self._engine.run_children(
            self, tasks, value=value, sequential=sequential, limit=limit
        )
        self.child_state = state if self.child_state is None else _worse(self.child_state, state)
        return state


def _worse(a: State, b: State) -> State:
    order = (State.SUCCESS, State.SKIPPED, State.WARNING, State.FAILED, State.KILLED)
    return a if order.index(a) >= order.index(b) else b


class TaskRunner(ABC):
    """Runtime of one task. Subclasses compile templates in ``__init__``.

    ``run`` returns the task's outputs (``outputs.<taskId>.*``) or None. It
    raises to fail the attempt: ``kflow.errors.TaskError`` (or any
    ``KflowError``) for a clear message; any other exception is reported with
    its type. Flowable tasks run their children with ``ctx.run_children``.
    """

    flowable = False
    #: The runner applies the task's ``timeout`` itself (Pause), instead of the engine
    #: bounding each attempt with it.
    own_timeout = False
    #: A failed child ends this flowable in WARNING instead of FAILED (AllowFailure).
    absorbs_failure = False

    def __init__(self, task: TaskDef, engine: FlowRunner) -> None:
        self.task = task

    @abstractmethod
    async def run(self, ctx: TaskContext) -> Mapping[str, Any] | None: ...

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release what the runner holds (called once when the flow stops)."""


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    """Await coroutines with at most ``limit`` at once (0: all at once)."""
    if limit <= 0 or limit >= len(coros):
        return list(await asyncio.gather(*coros))
    sem = asyncio.Semaphore(limit)

    async def bounded(c: Any) -> Any:
        async with sem:
            return await c

    return list(await asyncio.gather(*(bounded(c) for c in coros)))
