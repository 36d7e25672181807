"""Executions as plain data: the JSON object of ``kflow run --json``."""

from __future__ import annotations

import base64
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from kflow import json_codec
from kflow.connectors.masking import mask
from kflow.engine.execution import Execution


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def json_default(value: Any) -> Any:
    """What JSON has no type for, as executions are written (``--json``, the history)."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def execution_record(execution: Execution) -> dict[str, Any]:
    """The fields scripts read: id, state, trigger coordinates, timings, task runs, task
    outputs (``outputs``, by task id), the flow's ``outputs`` (``flowOutputs``), labels, error."""
    return {
        "id": execution.id,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "state": execution.state.value,
        "trigger": execution.trigger.coordinates(),
        "startDate": _iso(execution.start_date),
        "endDate": _iso(execution.end_date),
        "durationMs": round(execution.duration_ms, 3),
        "latencyMs": _round(execution.latency_ms()),
        "taskRuns": [
            {
                "id": run.id,
                "taskId": run.task_id,
                "type": run.type,
                "parentId": run.parent_id,
                "value": run.value,
                "state": run.state.value,
                "attempts": run.attempts,
                "durationMs": round(run.duration_ms, 3),
                "error": mask(run.error) if run.error else None,
            }
            for run in execution.task_runs
        ],
        "outputs": execution.outputs,
        "flowOutputs": execution.flow_outputs,
        "labels": execution.labels,
        "error": mask(execution.error) if execution.error else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def execution_json(execution: Execution) -> str:
    return mask(json_codec.dumps(execution_record(execution), json_default))
