"""``/readyz``: every trigger connected and reading (Kafka: with partitions assigned)."""

from __future__ import annotations

from collections.abc import Sequence

from kflow.connectors.masking import mask
from kflow.observe.snapshot import FlowSnapshot


def not_ready_reason(snapshot: FlowSnapshot) -> str | None:
    """Why this flow's trigger is not reading yet, or None when it is."""
    status = snapshot.status
    if status.state != "running":
        detail = f" ({status.detail})" if status.detail else ""
        return mask(f"flow {snapshot.ref}: trigger {status.state}{detail}")
    if snapshot.service == "kafka" and not status.streams:
        return f"flow {snapshot.ref}: no Kafka partitions assigned yet"
    return None


def readiness(snapshots: Sequence[FlowSnapshot]) -> tuple[bool, str]:
    """(ready, one short line): ready when there is a trigger and every one is reading."""
    if not snapshots:
        return False, "starting: no trigger yet"
    reasons = [r for r in map(not_ready_reason, snapshots) if r is not None]
    if reasons:
        return False, "; ".join(reasons)
    return True, "ready"
