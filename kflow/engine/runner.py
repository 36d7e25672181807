"""Runs executions of one flow: task order, retries, timeouts, errors and finally.

A :class:`FlowRunner` is built once per flow. Building it imports each task
type's runtime and compiles every template; :meth:`FlowRunner.execute` then
runs one execution per trigger record and records everything on the
:class:`Execution` value. A task whose template does not compile is kept, as
Kestra keeps it: it fails each time it runs, with the compile error (its
``runIf`` is evaluated first, so a skipped task does not fail).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar, overload

from kflow.engine.events import (
    EventBus,
    ExecutionFinished,
    ExecutionStarted,
    LogEmitted,
    TaskRunFinished,
)
from kflow.engine.execution import Execution, LogEntry, TaskRun, TriggerRecord, utc_now
from kflow.engine.flow_outputs import FlowOutputs
from kflow.engine.ids import new_id
from kflow.engine.retry import next_delay
from kflow.engine.states import State, worst
from kflow.engine.task import TaskContext, TaskRunner, gather_limited
from kflow.errors import ExpressionError, KflowError, NotSupportedError, TaskTimeout
from kflow.flow.model import Flow, RetryPolicy, TaskDef

if TYPE_CHECKING:
    from kflow.expr.templates import BrokenTemplate, Template

R = TypeVar("R")


def load_runner_class(task: TaskDef) -> type[TaskRunner]:
    """Import the runtime named by the task type's spec, or say it is not supported yet."""
    target = task.spec.runner
    if not target:
        raise NotSupportedError(
            f"task '{task.id}': type {task.type} is not supported yet by kflow run"
        )
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, TaskRunner)):
        raise TypeError(f"{target} is not a TaskRunner")
    return cls


class UncompiledTask(TaskRunner):
    """Stands in for a task runner whose templates did not compile: each run fails with
    the compile error (Kestra renders a task's properties when it runs, so the flow is
    saved and that task fails then). It keeps the runner class's engine flags."""

    def __init__(self, task: TaskDef, engine: Any, cls: type[TaskRunner], message: str) -> None:
        super().__init__(task, engine)
        self.flowable = cls.flowable
        self.own_timeout = cls.own_timeout
        self.absorbs_failure = cls.absorbs_failure
        self.message = message

    async def run(self, ctx: TaskContext) -> None:
        raise ExpressionError(self.message)


def build_runner(task: TaskDef, engine: Any) -> TaskRunner:
    """The task's runner; an :class:`UncompiledTask` when one of its templates does not compile."""
    cls = load_runner_class(task)
    try:
        return cls(task, engine)
    except ExpressionError as exc:
        if getattr(exc, "kflow_named", False):
            raise  # a run-wide value that did not render: the run stops before it starts
        message = str(exc)
        prop = _failing_property(task.props, message)
        return UncompiledTask(task, engine, cls, f"{prop}: {message}" if prop else message)


def _failing_property(value: Any, message: str, path: str = "") -> str | None:
    """The key path of the templated string of ``value`` whose compile error is ``message``."""
    from kflow.expr.templates import BrokenTemplate, compile_or_broken, is_templated

    if isinstance(value, str):
        if not is_templated(value):
            return None
        compiled = compile_or_broken(value)
        broken = isinstance(compiled, BrokenTemplate) and compiled.message == message
        return path if broken else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        items = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    for where, item in items:
        found = _failing_property(item, message, where)
        if found is not None:
            return found
    return None


def error_message(exc: BaseException) -> str:
    if isinstance(exc, KflowError):
        return str(exc)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class FlowRunner:
    """Compiles a flow once and runs its executions."""

    def __init__(
        self,
        flow: Flow,
        bus: EventBus | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        threads: int = 16,
        inputs: Mapping[str, Any] | None = None,
        pool: ThreadPoolExecutor | None = None,
    ) -> None:
        from kflow.expr import envs_from_environ
        from kflow.expr.templates import compile_or_broken

        self.flow = flow
        self.bus = bus or EventBus()
        # ``pool``: threads shared with other runners (many flows, one process); not closed here
        self._owns_pool = pool is None
        self._pool = pool or ThreadPoolExecutor(threads, thread_name_prefix="kflow-task")
        self._runners: dict[int, TaskRunner] = {}
        self._run_if: dict[int, Template | BrokenTemplate] = {}
        # The retry of the nearest enclosing task that has one, by task (see _attempts).
        self._inherited_retry: dict[int, RetryPolicy | None] = {}
        self._environ = environ
        envs = envs_from_environ(os.environ if environ is None else environ)
        self._base: dict[str, Any] = {
            "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
            "vars": flow.variables,
            # typed by kflow.flow.inputs when given, else each input's default (or null)
            "inputs": dict(inputs) if inputs is not None else _input_defaults(flow),
            "envs": envs,
            "labels": flow.labels,
        }
        self._flow_outputs = FlowOutputs(flow.output_definitions)  # rendered in execute()
        # Tasks with their own ``finally`` block (flowables): the others skip that step.
        self._with_finally: set[int] = set()
        for task in self._all_tasks():
            self._runners[id(task)] = build_runner(task, self)
            final = task.props.get("finally")
            if isinstance(final, list) and final and isinstance(final[0], TaskDef):
                self._with_finally.add(id(task))
            if task.run_if is not None:
                self._run_if[id(task)] = compile_or_broken(task.run_if)

    def _all_tasks(self) -> list[TaskDef]:
        out: list[TaskDef] = []

        def walk(tasks: list[TaskDef], inherited: RetryPolicy | None) -> None:
            for t in tasks:
                out.append(t)
                self._inherited_retry[id(t)] = inherited
                below = t.retry or inherited
                for value in t.props.values():
                    if isinstance(value, list) and value and isinstance(value[0], TaskDef):
                        walk(value, below)
                    elif isinstance(value, dict) and any(
                        isinstance(v, list) and v and isinstance(v[0], TaskDef)
                        for v in value.values()
                    ):
                        for v in value.values():
                            walk(v, below)

        flow = self.flow
        walk(flow.tasks, None)
        walk(flow.errors, None)
        walk(flow.finally_, None)
        walk(flow.after_execution, None)
        return out

    @property
    def flow_variables(self) -> dict[str, Any]:
        """What expressions outside an execution may read: flow, vars, inputs, envs, labels."""
        return dict(self._base)

    # services offered to tasks -------------------------------------------------

    async def in_thread(self, fn: Callable[..., R], *args: Any) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def log(self, execution: Execution, entry: LogEntry) -> None:
        execution.logs.append(entry)
        self.bus.emit(LogEmitted(execution, entry))

    async def close(self) -> None:
        for runner in self._runners.values():
            await runner.close()
        if self._owns_pool:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # executions -------------------------------------------------------------

    async def execute(self, record: TriggerRecord) -> Execution:
        flow = self.flow
        execution = Execution(
            record.execution_id or new_id(),
            flow.namespace,
            flow.id,
            record,
            labels=dict(flow.labels),
        )
        execution.state = State.RUNNING
        self.bus.emit(ExecutionStarted(execution))
        variables: dict[str, Any] = dict(self._base)
        variables["execution"] = {
            "id": execution.id,
            "startDate": execution.start_date,
            "state": "RUNNING",
        }
        variables["trigger"] = record.variables()
        variables["outputs"] = execution.outputs
        variables["_error_logs"] = _ErrorLogs(execution)
        if self._environ is not None:
            variables["_environ"] = self._environ  # secret('X') reads SECRET_X from here

        if record.error is not None:
            state = State.FAILED
            execution.error = record.error
        else:
            state = await self._run_sequence(execution, flow.tasks, variables, None, None)
        if state is State.FAILED:
            variables["execution"] = {**variables["execution"], "state": "FAILED"}
            if flow.errors:
                await self._run_sequence(execution, flow.errors, variables, None, None)
        if flow.finally_:
            final = await self._run_sequence(execution, flow.finally_, variables, None, None)
            if final is State.FAILED and state is not State.FAILED:
                state = State.FAILED
        state = self._flow_outputs.finish(execution, variables, state, self.log)  # flow outputs
        execution.state = state
        execution.end = time.monotonic()
        execution.end_date = utc_now()
        if flow.after_execution:
            variables["execution"] = {**variables["execution"], "state": state.value}
            await self._run_sequence(execution, flow.after_execution, variables, None, None)
        self.bus.emit(ExecutionFinished(execution))
        return execution

    async def _run_sequence(
        self,
        execution: Execution,
        tasks: list[TaskDef],
        variables: dict[str, Any],
        parent: TaskRun | None,
        value: Any,
    ) -> State:
        states: list[State] = []
        for task in tasks:
            if task.disabled:
                continue
            state = await self._run_task(execution, task, variables, parent, value)
            states.append(state)
            if state is State.FAILED:
                return State.FAILED
        return worst(states)

    async def run_children(
        self,
        ctx: TaskContext,
        tasks: list[TaskDef],
        *,
        value: Any,
        sequential: bool,
        limit: int,
    ) -> State:
        variables = {**ctx.variables, **_parent_variables(ctx)}
        if not variables["parents"]:
            variables.pop("parent", None)
        if sequential:
            return await self._run_sequence(ctx.execution, tasks, variables, ctx.task_run, value)
        runs = [
            self._run_task(ctx.execution, t, variables, ctx.task_run, value)
            for t in tasks
            if not t.disabled
        ]
        return worst(await gather_limited(runs, limit))

    async def _run_task(
        self,
        execution: Execution,
        task: TaskDef,
        variables: dict[str, Any],
        parent: TaskRun | None,
        value: Any,
    ) -> State:
        """Run one task with its retries; returns the state its caller should see."""
        run = TaskRun(
            new_id(), task.id, task.type, parent.id if parent else None, value, State.RUNNING
        )
        run.start = time.monotonic()
        run.start_date = utc_now()
        execution.task_runs.append(run)
        task_vars = dict(variables)
        # The iteration values of the enclosing loops, outermost first, then this run's own:
        # Kestra keys loop outputs by all of them (Execution.outputs, one level per value).
        chain: tuple[Any, ...] = variables.get("_loop_values") or ()
        if value is not None and parent is not None:
            chain = (*chain, value)
        task_vars["_loop_values"] = chain
        task_vars["task"] = {"id": task.id, "type": task.type}
        task_vars["taskrun"] = {
            "id": run.id,
            "startDate": run.start_date,
            "attemptsCount": 0,
            "value": value,
            "parentId": run.parent_id,
        }
        runner = self._runners[id(task)]
        ctx = TaskContext(self, execution, task, run, task_vars)
        condition = self._run_if.get(id(task))
        try:
            skip = condition is not None and not _truthy(condition.render(task_vars))
        except Exception as exc:  # as Kestra's executor: a runIf that cannot render fails the task
            run.state = State.FAILED
            run.error = f"runIf: {error_message(exc)}"
        else:
            try:
                if skip:
                    run.state = State.SKIPPED
                else:
                    await self._attempts(runner, ctx)
            except Exception as exc:
                run.state = State.FAILED
                run.error = error_message(exc)
        run.end = time.monotonic()
        if run.outputs is not None:
            _store_outputs(execution.outputs, task.id, chain, run.outputs)
        if run.state is State.FAILED and execution.error is None and not task.allow_failure:
            execution.error = f"task {task.id}: {run.error}"
            execution.failed_task = task.id
        # As Kestra's worker and FlowableUtils.resolveState: an allowed failure ends the task
        # run in WARNING (SUCCESS when warnings are allowed too); an allowed warning in SUCCESS.
        if run.state is State.FAILED and task.allow_failure:
            run.state = State.SUCCESS if task.allow_warning else State.WARNING
        elif run.state is State.WARNING and task.allow_warning:
            run.state = State.SUCCESS
        self.bus.emit(TaskRunFinished(execution, run))
        if run.state is State.SKIPPED:
            return State.SUCCESS
        return run.state

    async def _attempts(self, runner: TaskRunner, ctx: TaskContext) -> None:
        task, run = ctx.task, ctx.task_run
        # Kestra retries runnable tasks only: with their own retry, else the retry of the
        # nearest enclosing flowable that has one, else the flow's (ExecutorService).
        policy = (
            None
            if runner.flowable
            else task.retry or self._inherited_retry.get(id(task)) or self.flow.retry
        )
        warning_on_retry = task.retry is not None and task.retry.warning_on_retry
        first = time.monotonic()
        while True:
            run.attempts += 1
            ctx.variables["taskrun"]["attemptsCount"] = run.attempts - 1
            ctx.child_state = None
            try:
                if task.timeout is not None and not runner.own_timeout:
                    try:
                        outputs = await asyncio.wait_for(runner.run(ctx), task.timeout)
                    except TimeoutError as exc:
                        raise TaskTimeout(
                            f"attempt {run.attempts} timed out after {task.timeout:g} s"
                        ) from exc
                else:
                    outputs = await runner.run(ctx)
            except Exception as exc:
                run.error = error_message(exc)
                delay = (
                    None
                    if policy is None
                    else next_delay(policy, run.attempts, time.monotonic() - first)
                )
                if delay is None:
                    run.state = State.FAILED
                    if id(task) in self._with_finally:
                        await self._run_local_finally(ctx)
                    return
                run.state = State.RETRYING
                await asyncio.sleep(delay)
                continue
            run.outputs = dict(outputs) if outputs is not None else None
            child = ctx.child_state
            if child is State.FAILED or child is State.KILLED:
                run.state = State.FAILED
                run.error = run.error or "a child task failed"
                await self._run_local_errors(ctx)
                if runner.absorbs_failure:  # AllowFailure: its failed block ends in WARNING
                    run.state = State.WARNING
            elif child is State.WARNING or (run.attempts > 1 and warning_on_retry):
                run.state = State.WARNING
                run.error = None
            else:
                run.state = State.SUCCESS
                run.error = None
            if id(task) in self._with_finally:
                await self._run_local_finally(ctx)
            return

    async def _run_local_errors(self, ctx: TaskContext) -> None:
        """A flowable's own ``errors`` run, as its children, once one of its children failed.

        They do not change the flowable's state: it stays FAILED (Kestra's
        ``Execution.findTaskDependingFlowState`` and ``guessFinalState``).
        """
        errors = ctx.task.props.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], TaskDef):
            await self.run_children(ctx, errors, value=None, sequential=True, limit=0)

    async def _run_local_finally(self, ctx: TaskContext) -> None:
        """A flowable's own ``finally`` runs, as its children, once its tasks (and their
        ``errors``) ended, whatever their state (Kestra's ``FlowableUtils.resolveSequentialNexts``
        with ``_finally``). A failure there fails the flowable; the rest leave its state as is.
        """
        final = ctx.task.props.get("finally")
        if not (isinstance(final, list) and final and isinstance(final[0], TaskDef)):
            return
        state = await self.run_children(ctx, final, value=None, sequential=True, limit=0)
        run = ctx.task_run
        if state is State.FAILED and run.state is not State.FAILED:
            run.state = State.FAILED
            run.error = run.error or "a finally task failed"


def _parent_variables(ctx: TaskContext) -> dict[str, Any]:
    """``parent`` and ``parents`` for the children of the flowable task of ``ctx``.

    As Kestra's ``Execution.parents``: the enclosing task runs, nearest first,
    that carry an iteration value (``taskrun.value``) or outputs; the others
    are left out. ``parent`` is the first of them (absent when there is none).
    """
    entry: dict[str, Any] = {}
    run = ctx.task_run
    if run.value is not None:
        entry["taskrun"] = {"value": run.value}
    if run.outputs:
        entry["outputs"] = run.outputs
    above = list(ctx.variables.get("parents") or [])
    parents = [entry, *above] if entry else above
    out: dict[str, Any] = {"parents": parents}
    if parents:
        out["parent"] = parents[0]
    return out


def _input_defaults(flow: Flow) -> dict[str, Any]:
    """``inputs.*``: flows run by a trigger get each input's default (or null)."""
    out: dict[str, Any] = {}
    for item in flow.inputs:
        name = item.get("id") or item.get("name")
        if name:
            out[str(name)] = item.get("defaults")
    return out


def _truthy(text: str) -> bool:
    return text.strip().lower() not in ("", "false", "0", "null", "none")


def _store_outputs(
    outputs: dict[str, Any], task_id: str, chain: tuple[Any, ...], values: dict[str, Any]
) -> None:
    """Record a task run's outputs as Kestra's ``Execution.outputs`` does.

    Outside loops ``outputs[task_id]``; inside loops one level per enclosing
    iteration value, outermost first: ``outputs[task_id][v1][v2]...`` (a task of
    a Sequential inside a loop is keyed by the loop's value too).
    """
    if not chain:
        outputs[task_id] = values
        return
    node = outputs.get(task_id)
    if not isinstance(node, dict):
        node = outputs[task_id] = {}
    for v in chain[:-1]:
        key = _value_key(v)
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[_value_key(chain[-1])] = values


def _value_key(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, separators=(",", ":"))


class _ErrorLogs(Sequence[dict[str, Any]]):
    """``errorLogs()``: the ERROR logs and task failures of an execution, read when asked."""

    __slots__ = ("_execution",)

    def __init__(self, execution: Execution) -> None:
        self._execution = execution

    def _entries(self) -> list[dict[str, Any]]:
        ex = self._execution
        out = [
            {"taskId": e.task_id, "level": e.level, "message": e.message, "timestamp": e.timestamp}
            for e in ex.logs
            if e.level == "ERROR"
        ]
        out += [
            {"taskId": r.task_id, "level": "ERROR", "message": r.error, "timestamp": r.start_date}
            for r in ex.task_runs
            if r.error and r.state.terminated  # allowed failures keep their error
        ]
        return out

    def __len__(self) -> int:
        return len(self._entries())

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self._entries()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._entries())
