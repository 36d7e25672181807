"""What a scrape or a readiness probe reads of one running flow, taken on the event loop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kflow.engine.events import TriggerStatus


@dataclass(frozen=True)
class FlowSnapshot:
    """One flow's service at one moment: its trigger's status and its running totals."""

    namespace: str
    flow_id: str
    service: str  # the source's kind: "kafka", "amqp", "mqtt"...
    status: TriggerStatus
    in_flight: int = 0  # records taken on and not finished (running or waiting on their key)
    started: int = 0  # executions started
    by_state: Mapping[str, int] = field(default_factory=dict)  # executions finished, by state
    dead_lettered: int = 0
    reconnects: int = 0  # the source's connection errors it carried on after

    @property
    def ref(self) -> str:
        return f"{self.namespace}.{self.flow_id}"
