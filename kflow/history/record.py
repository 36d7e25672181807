"""The stored record of an execution: the ``--json`` record of ``kflow run`` and more.

Added to :func:`kflow.console.records.execution_record`:

- ``trigger.value``, ``trigger.headers``, ``trigger.error``: the value, headers and
  decoding error as the trigger decoded them (``trigger.key`` is there already);
- ``replay``: ``{"event": TEXT, "key": TEXT}``, the value and key as text for
  ``kflow run --event`` (``event`` is null when the value was not UTF-8 text);
- ``flowPath``: the flow file the execution ran; ``replayOf``: the execution it replays;
- ``taskRuns[].startMs``: when each task run started, in ms after the execution started.

:func:`pending_record` runs on the event loop and only keeps a reference to the finished
execution (nothing reads or changes it once it has finished); :func:`history_row` builds
the record, encodes it (JSON, masking) and runs in the history thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kflow import json_codec
from kflow.connectors.masking import mask
from kflow.console.records import execution_record, json_default
from kflow.engine.execution import Execution, TriggerRecord
from kflow.history.store import HistoryRow


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """A finished execution waiting for the history thread."""

    execution: Execution
    flow_path: str | None
    replay_of: str | None


def pending_record(
    execution: Execution, *, flow_path: str | None = None, replay_of: str | None = None
) -> PendingRecord:
    return PendingRecord(execution, flow_path, replay_of)


def stored_record(
    execution: Execution, *, flow_path: str | None = None, replay_of: str | None = None
) -> dict[str, Any]:
    """The record kept for ``execution`` (see the module docstring)."""
    record = execution_record(execution)
    trigger = execution.trigger
    record["trigger"] = {
        **record["trigger"],
        "value": trigger.value,
        "headers": trigger.headers,
        "error": trigger.error,
    }
    for entry, run in zip(record["taskRuns"], execution.task_runs, strict=True):
        entry["startMs"] = round((run.start - execution.start) * 1000, 3) if run.start else None
    record["flowPath"] = flow_path
    record["replayOf"] = replay_of
    record["replay"] = replay_input(trigger)
    return record


def _encode(value: Any) -> str:
    return json_codec.dumps(value, json_default)


def replay_input(trigger: TriggerRecord) -> dict[str, str | None]:
    """The value and key as ``kflow run --event`` and ``--key`` take them."""
    event: str | None
    if trigger.raw_value is not None:
        try:
            event = trigger.raw_value.decode("utf-8")
        except UnicodeDecodeError:
            event = None
    elif trigger.value is None or isinstance(trigger.value, str):
        event = trigger.value
    else:
        event = _encode(trigger.value)
    raw_key = getattr(trigger, "raw_key", None)
    key: str | None
    if isinstance(raw_key, bytes):
        key = raw_key.decode("utf-8", "replace")
    elif trigger.key is None:
        key = None
    else:
        key = trigger.key if isinstance(trigger.key, str) else _encode(trigger.key)
    return {"event": event, "key": key}


def history_row(pending: PendingRecord) -> HistoryRow:
    """Build and encode a pending record (in the history thread); secrets masked as in
    ``--json``."""
    execution = pending.execution
    record = stored_record(execution, flow_path=pending.flow_path, replay_of=pending.replay_of)
    end = execution.end_date or execution.start_date
    return HistoryRow(
        id=record["id"],
        namespace=record["namespace"],
        flow_id=record["flowId"],
        flow_path=record["flowPath"],
        state=record["state"],
        start_ms=int(execution.start_date.timestamp() * 1000),
        end_ms=int(end.timestamp() * 1000),
        duration_ms=record["durationMs"],
        replay_of=record["replayOf"],
        record=mask(_encode(record)),
    )
