"""Flowable tasks: If, Switch, Sequential, Parallel, ForEach, EachSequential, EachParallel,
AllowFailure and Pause.

They run nested tasks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from kflow.catalog.core import MANUAL_RESUME, PAUSE_BEHAVIORS
from kflow.engine.states import State
from kflow.engine.task import TaskContext, TaskRunner, gather_limited
from kflow.errors import NotSupportedError, TaskError
from kflow.expr import compile_template, compile_value
from kflow.expr.printing import to_json
from kflow.flow.model import TaskDef
from kflow.plugins.core import DurationValue, iso_duration, truthy


class _Flowable(TaskRunner):
    flowable = True


class If(_Flowable):
    """Runs ``then`` when ``condition`` renders true, else ``else``."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.condition = compile_template(str(task.props["condition"]))
        self.then: list[TaskDef] = task.props.get("then") or []
        self.otherwise: list[TaskDef] = task.props.get("else") or []

    async def run(self, ctx: TaskContext) -> None:
        branch = self.then if truthy(self.condition.render(ctx.variables)) else self.otherwise
        if branch:
            await ctx.run_children(branch)
        return None


class Switch(_Flowable):
    """Runs the tasks of the case matching the rendered ``value``, else ``defaults``."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.value = compile_template(str(task.props["value"]))
        self.cases: dict[str, list[TaskDef]] = task.props.get("cases") or {}
        self.defaults: list[TaskDef] = task.props.get("defaults") or []

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        value = self.value.render(ctx.variables)
        branch = self.cases.get(value, self.defaults)
        if branch:
            await ctx.run_children(branch)
        return {"value": value, "defaults": value not in self.cases}


class Sequential(_Flowable):
    """Runs ``tasks`` one after another."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.tasks: list[TaskDef] = task.props.get("tasks") or []

    async def run(self, ctx: TaskContext) -> None:
        await ctx.run_children(self.tasks)
        return None


class AllowFailure(Sequential):
    """Runs ``tasks`` one after another; a failure among them (after the block's own
    ``errors``) ends the block in WARNING and the flow goes on (Kestra's ``AllowFailure``)."""

    absorbs_failure = True


class Pause(_Flowable):
    """Kestra's ``Pause``, without its manual resume (kflow has no UI or API to resume).

    With ``pauseDuration`` (``delay`` in older Kestra) it waits that long, then
    applies ``behavior``: RESUME runs its (deprecated) ``tasks`` and goes on, WARN
    does the same but ends in WARNING, FAIL fails the task. With only a
    ``timeout`` it waits that long and fails, as a Pause nobody resumed does in
    Kestra. Without either it fails at once (validation refuses it first).
    """

    own_timeout = True

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        raw = task.props.get("pauseDuration")
        name = "pauseDuration"
        if raw is None:
            raw, name = task.props.get("delay"), "delay"
        self.duration = DurationValue(name, raw) if raw is not None else None
        self.behavior = compile_template(str(task.props.get("behavior") or "RESUME"))
        self.tasks: list[TaskDef] = task.props.get("tasks") or []

    async def run(self, ctx: TaskContext) -> None:
        if self.duration is None:
            timeout = self.task.timeout
            if timeout is None:
                raise TaskError(MANUAL_RESUME)
            await asyncio.sleep(timeout)
            raise TaskError(
                f"paused and not resumed within its timeout of {iso_duration(timeout)} "
                "(kflow cannot resume a Pause by hand)"
            )
        seconds = self.duration.seconds(ctx.variables)
        behavior = self.behavior.render(ctx.variables).strip().upper()
        if behavior not in PAUSE_BEHAVIORS:
            raise TaskError(
                f"behavior: {behavior!r} is not allowed; expected one of "
                + ", ".join(PAUSE_BEHAVIORS)
            )
        if behavior == "CANCEL":
            raise NotSupportedError(
                "Pause behavior CANCEL is not supported yet by kflow (no CANCELLED state)"
            )
        await asyncio.sleep(seconds)
        if behavior == "FAIL":
            raise TaskError(f"paused for {iso_duration(seconds)}; behavior FAIL fails the task")
        if self.tasks:
            await ctx.run_children(self.tasks)
        if behavior == "WARN" and ctx.child_state in (None, State.SUCCESS):
            ctx.child_state = State.WARNING
        return None


class Parallel(_Flowable):
    """Runs ``tasks`` concurrently, at most ``concurrent`` at once (0: no limit)."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.tasks: list[TaskDef] = task.props.get("tasks") or []
        self.limit = int(task.props.get("concurrent") or 0)

    async def run(self, ctx: TaskContext) -> None:
        await ctx.run_children(self.tasks, sequential=False, limit=self.limit)
        return None


def each_values(values: Any) -> list[str]:
    """The iteration values of ForEach / EachSequential / EachParallel, as Kestra resolves them.

    ``values`` is a list or a string holding a JSON array (already rendered).
    A null among them fails the task before any child runs; repeated values
    run once; values that are not strings become compact JSON
    (Kestra's ``FlowableUtils.resolveEachTasks``).
    """
    if isinstance(values, str):
        try:
            values = json.loads(values)
        except ValueError as exc:
            raise TaskError(f"values is not a JSON list: {values[:80]!r}") from exc
    if not isinstance(values, list):
        raise TaskError(f"values must be a list, got {type(values).__name__}")
    nulls = sum(1 for v in values if v is None)
    if nulls:
        raise TaskError(
            f"values holds {nulls} null value{'s' if nulls > 1 else ''}, which cannot be "
            f"iterated: {to_json(values)}"
        )
    items: list[str] = []
    for v in values:
        item = v if isinstance(v, str) else to_json(v)
        if item not in items:
            items.append(item)
    return items


class ForEach(_Flowable):
    """Runs ``tasks`` once per item of ``values`` (a list, or a JSON string of one).

    ``taskrun.value`` holds the item; ``concurrencyLimit`` iterations run at
    once (default 1, 0 for no limit); the tasks of one iteration run one after
    another.
    """

    values_property = "values"

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.values = compile_value(task.props.get(self.values_property))
        self.tasks: list[TaskDef] = task.props.get("tasks") or []
        limit = task.props.get("concurrencyLimit")
        self.limit = 1 if limit is None else int(limit)

    async def run(self, ctx: TaskContext) -> None:
        items = each_values(self.values.render(ctx.variables))
        if self.limit == 1:
            for item in items:
                if await ctx.run_children(self.tasks, value=item) is State.FAILED:
                    break  # later iterations do not run after a failed one
        else:
            runs = [ctx.run_children(self.tasks, value=item) for item in items]
            await gather_limited(runs, self.limit)
        return None


class EachSequential(ForEach):
    """Kestra's deprecated ``EachSequential``: ForEach over ``value``, one iteration at a time."""

    values_property = "value"

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.limit = 1


class EachParallel(ForEach):
    """Kestra's deprecated ``EachParallel``: every task of every ``value`` at once.

    Unlike ForEach, the tasks of one iteration run concurrently too; at most
    ``concurrent`` task runs at once (0: no limit).
    """

    values_property = "value"

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.limit = int(task.props.get("concurrent") or 0)

    async def run(self, ctx: TaskContext) -> None:
        items = each_values(self.values.render(ctx.variables))
        runs = [
            ctx.run_children([t], value=item)
            for item in items
            for t in self.tasks
            if not t.disabled
        ]
        await gather_limited(runs, self.limit)
        return None
