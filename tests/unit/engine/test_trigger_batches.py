"""The Kafka trigger's hand-over of records, without a broker: revoked epochs are dropped."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from kflow.engine.execution import TriggerRecord
from kflow.errors import DataError
from kflow.flow import load_flow_text
from kflow.plugins.kafka_serde import decoder
from kflow.plugins.kafka_trigger import RealtimeTrigger

FLOW = textwrap.dedent("""
    id: f
    namespace: t
    tasks:
      - {id: log, type: io.kestra.plugin.core.log.Log, message: hi}
    triggers:
      - id: t
        type: io.kestra.plugin.kafka.RealtimeTrigger
        topic: orders
        groupId: g
        properties:
          bootstrap.servers: 127.0.0.1:9092
""")


def trigger() -> RealtimeTrigger:
    flow = load_flow_text(FLOW).flow
    assert flow is not None
    return RealtimeTrigger(flow.triggers[0])


def rec(partition: int, offset: int, epoch: int) -> TriggerRecord:
    return TriggerRecord(
        value=None, topic="orders", partition=partition, offset=offset, epoch=epoch
    )


def test_records_fetched_before_a_revoke_are_dropped_even_if_the_partition_returns() -> None:
    async def main() -> list[tuple[int, int]]:
        t = trigger()
        t._ledger.assign({("orders", 0), ("orders", 1)}, ())
        t._deliver([rec(0, 10, 0), rec(1, 5, 0)])  # fetched in epoch 0
        t._ledger.stop_starting([("orders", 0)])  # partition 0 was revoked...
        t._ledger.assign({("orders", 0), ("orders", 1)}, [("orders", 0)])  # ...and came back
        t._deliver([rec(0, 7, 1)])  # refetched from the committed offset
        first, second = await t.next_batch(0.01), await t.next_batch(0.01)  # a batch per call
        return [(r.partition, r.offset) for r in first + second]  # type: ignore[misc]

    assert asyncio.run(main()) == [(1, 5), (0, 7)]


def test_records_of_partitions_no_longer_assigned_are_dropped() -> None:
    async def main() -> list[TriggerRecord]:
        t = trigger()
        t._ledger.assign({("orders", 1)}, ())
        t._deliver([rec(0, 1, 0)])
        return await t.next_batch(0.01)

    assert asyncio.run(main()) == []


def test_json_nested_past_the_recursion_limit_is_a_data_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(DataError, match="nested too deeply"):
        decoder("JSON")(deep)
