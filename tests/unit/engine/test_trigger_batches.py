"""The Kafka trigger's hand-over of records, without a broker: records of a revoked epoch are
not admitted; an admitted offset is acknowledged into the commit watermark."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from kflow.engine.source import Outcome
from kflow.errors import DataError
from kflow.flow import load_flow_text
from kflow.plugins.kafka_record import KafkaRecord
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


def rec(partition: int, offset: int, epoch: int) -> KafkaRecord:
    return KafkaRecord(value=None, topic="orders", partition=partition, offset=offset, epoch=epoch)


def test_records_fetched_before_a_revoke_are_dropped_even_if_the_partition_returns() -> None:
    async def main() -> list[tuple[int, int]]:
        t = trigger()
        t._ledger.assign({("orders", 0), ("orders", 1)}, ())
        t._deliver([rec(0, 10, 0), rec(1, 5, 0)])  # fetched in epoch 0
        t._ledger.stop_starting([("orders", 0)])  # partition 0 was revoked...
        t._ledger.assign({("orders", 0), ("orders", 1)}, [("orders", 0)])  # ...and came back
        t._deliver([rec(0, 7, 1)])  # refetched from the committed offset
        first, second = await t.next_batch(0.01), await t.next_batch(0.01)  # a batch per call
        return [(r.partition, r.offset) for r in first + second if t.admit(r)]  # type: ignore[misc]

    assert asyncio.run(main()) == [(1, 5), (0, 7)]


def test_records_of_partitions_no_longer_assigned_are_dropped() -> None:
    async def main() -> list[KafkaRecord]:
        t = trigger()
        t._ledger.assign({("orders", 1)}, ())
        t._deliver([rec(0, 1, 0)])
        return [r for r in await t.next_batch(0.01) if t.admit(r)]

    assert asyncio.run(main()) == []


def test_acknowledged_offsets_become_the_commit_watermark_and_a_redelivery_is_refused() -> None:
    t = trigger()
    t._ledger.assign({("orders", 0)}, ())
    recs = [rec(0, offset, 0) for offset in range(3)]
    assert all(t.admit(r) for r in recs)
    assert not t.admit(rec(0, 1, 0))  # already started here: never run twice
    t.ack(recs[1], Outcome.SUCCESS)
    t.ack(recs[2], Outcome.FAILED)  # a failure is finished work too
    t._take_committable()
    assert t._commit_request == {("orders", 0): 0}  # offset 0 is still running
    t.ack(recs[0], Outcome.SUCCESS)
    t._take_committable()
    assert t._commit_request == {("orders", 0): 3}
    revoked = t._revoked([("orders", 0)])
    assert not t.wanted(recs[0]) and revoked == {("orders", 0): 3}


def test_json_nested_past_the_recursion_limit_is_a_data_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(DataError, match="nested too deeply"):
        decoder("JSON")(deep)
