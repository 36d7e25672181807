"""/readyz: ready only while every trigger is running (Kafka: with partitions assigned)."""

from __future__ import annotations

from kflow.engine.events import StreamStatus, TriggerStatus
from kflow.observe.readiness import readiness
from kflow.observe.snapshot import FlowSnapshot


def flow(state: str, streams: int = 0, service: str = "kafka", detail: str | None = None):  # type: ignore[no-untyped-def]
    parts = tuple(StreamStatus(f"t[{i}]", 0) for i in range(streams))
    return FlowSnapshot("ns", "f", service, TriggerStatus("d", state, parts, detail=detail))


def test_nothing_watched_yet_is_not_ready() -> None:
    assert readiness([]) == (False, "starting: no trigger yet")


def test_a_kafka_trigger_is_ready_once_running_with_partitions() -> None:
    assert readiness([flow("connecting")]) == (False, "flow ns.f: trigger connecting")
    assert readiness([flow("running")]) == (False, "flow ns.f: no Kafka partitions assigned yet")
    assert readiness([flow("running", streams=2)]) == (True, "ready")


def test_other_sources_are_ready_when_running() -> None:
    assert readiness([flow("running", service="amqp")]) == (True, "ready")
    assert readiness([flow("reconnecting", service="mqtt", detail="cannot reach x")]) == (
        False,
        "flow ns.f: trigger reconnecting (cannot reach x)",
    )


def test_every_flow_must_be_ready_and_every_reason_is_given() -> None:
    ready, reason = readiness([flow("running", 1), flow("stopped"), flow("connecting")])
    assert not ready
    assert reason == "flow ns.f: trigger stopped; flow ns.f: trigger connecting"
