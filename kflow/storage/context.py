"""The storage prefix of a running task, from what the engine gives it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kflow.storage.uris import task_prefix

if TYPE_CHECKING:
    from kflow.engine.task import TaskContext

__all__ = ["task_run_prefix"]


def task_run_prefix(ctx: TaskContext) -> str:
    """``kestra:///<ns>/<flow>/executions/<execution>/tasks/<task>/<taskrun>``."""
    execution = ctx.execution
    return task_prefix(
        execution.namespace, execution.flow_id, execution.id, ctx.task.id, ctx.task_run.id
    )
