"""Running one execution of an inline flow, for the flow conformance cases."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Mapping
from typing import Any

from kflow.engine.events import EventBus, LogEmitted
from kflow.engine.execution import Execution, TaskRun, TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.flow import load_flow_text


def run(
    yaml_text: str,
    *,
    value: Any = None,
    environ: Mapping[str, str] | None = None,
    record: TriggerRecord | None = None,
) -> tuple[Execution, list[str]]:
    """Validate an inline flow, run one execution of it; return it with its log messages."""
    result = load_flow_text(textwrap.dedent(yaml_text), for_run=True)
    flow = result.flow
    assert flow is not None, [d.format() for d in result.diagnostics]
    logs: list[str] = []
    bus = EventBus()
    bus.subscribe(lambda e: logs.append(e.entry.message) if isinstance(e, LogEmitted) else None)

    async def main() -> Execution:
        runner = FlowRunner(flow, bus, environ=dict(environ or {}))
        try:
            return await runner.execute(record or TriggerRecord(value=value))
        finally:
            await runner.close()

    return asyncio.run(main()), logs


def runs(ex: Execution, task_id: str) -> list[TaskRun]:
    return [r for r in ex.task_runs if r.task_id == task_id]


def state(ex: Execution, task_id: str) -> str:
    (only,) = runs(ex, task_id)
    return only.state.value


def run_by_id(ex: Execution, run_id: str | None) -> TaskRun:
    (found,) = [r for r in ex.task_runs if r.id == run_id]
    return found
