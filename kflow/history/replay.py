"""What ``kflow executions replay`` runs: the stored execution's flow file, value and key.

The run itself is ``kflow run --event`` (:func:`kflow.run.session.run_event`) with
``replayOf`` set, so the new execution is recorded in the history like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kflow.history.store import HistoryError, HistoryStore


@dataclass(frozen=True)
class ReplayPlan:
    execution_id: str
    state: str
    flow_ref: str
    flow_path: Path
    event: str
    key: str | None

    def describe(self) -> str:
        key = "" if self.key is None else f" --key {self.key!r}"
        return (
            f"replay {self.execution_id} ({self.state}, {self.flow_ref}): "
            f"kflow run {self.flow_path} --event {self.event!r}{key}"
        )


def plan_replay(store: HistoryStore, execution_id: str, flow: Path | None) -> ReplayPlan:
    """The replay of one stored execution; a HistoryError says why it cannot be replayed."""
    row = store.get(execution_id)
    record = json.loads(row.record)
    replay = record.get("replay") or {}
    path = flow
    if path is None:
        if not row.flow_path:
            raise HistoryError(f"execution {row.id}: no flow file recorded; give --flow FILE")
        path = Path(row.flow_path)
        if not path.is_file():
            raise HistoryError(
                f"execution {row.id}: its flow file {path} no longer exists; give --flow FILE"
            )
    if replay.get("event") is None:
        raise HistoryError(
            f"execution {row.id}: its trigger value was not kept as text "
            "(not UTF-8, or a --event value that could not be decoded); it cannot be replayed"
        )
    return ReplayPlan(
        row.id,
        row.state,
        f"{row.namespace}.{row.flow_id}",
        path,
        str(replay["event"]),
        replay.get("key"),
    )
