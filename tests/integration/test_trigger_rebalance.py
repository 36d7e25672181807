"""The Kafka trigger across rebalances, against the real broker.

- Records read but not yet run when a rebalance takes their partition away are read again:
kafka-python keeps the fetch position of a partition that stays with the same consumer across
a rebalance; the trigger drops what it read before the revoke, so it must seek back to where
that partition's work resumes, or those records would never run.
- A member without partitions because there are more members than partitions is left alone
  (only a member whose membership is stuck is replaced).
"""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time
from collections.abc import Callable

import pytest
from kafka import KafkaConsumer

from kflow.connectors import kafka_group
from kflow.flow import load_flow_text
from kflow.plugins import kafka_trigger
from kflow.plugins.kafka_record import KafkaRecord
from kflow.plugins.kafka_trigger import RealtimeTrigger
from testkit.kafka import committed_offsets, create_topic, send_all

PARTITIONS = 2
PER_PARTITION = 50


def trigger(bootstrap: str, topic: str, group: str) -> RealtimeTrigger:
    flow = load_flow_text(
        textwrap.dedent(f"""
        id: f
        namespace: t
        tasks:
          - {{id: log, type: io.kestra.plugin.core.log.Log, message: hi}}
        triggers:
          - id: t
            type: io.kestra.plugin.kafka.RealtimeTrigger
            topic: {topic}
            groupId: {group}
            properties:
              bootstrap.servers: {bootstrap}
              auto.offset.reset: earliest
    """)
    ).flow
    assert flow is not None
    return RealtimeTrigger(flow.triggers[0])


async def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        await asyncio.sleep(0.05)


def test_records_dropped_at_a_revoke_are_read_again_when_the_partition_stays(
    kafka_bootstrap: str, topic_name: str, unique_name: Callable[[str], str]
) -> None:
    create_topic(kafka_bootstrap, topic_name, partitions=PARTITIONS)
    send_all(
        kafka_bootstrap,
        topic_name,
        [
            (f"k{p}-{i}".encode(), b'{"n": 1}')
            for p in range(PARTITIONS)
            for i in range(PER_PARTITION)
        ],
    )
    group = unique_name("g")
    wanted = {(p, o) for p in range(PARTITIONS) for o in range(PER_PARTITION)}

    async def main() -> set[tuple[int, int]]:
        source = trigger(kafka_bootstrap, topic_name, group)
        await source.start()
        other_done = threading.Event()
        try:
            # the trigger reads records that nobody takes yet
            await until(lambda: len(source._batches) > 0, 60, "the trigger to read a batch")
            first_read = sum(len(b) for b in source._batches)
            assert first_read > 0

            # a second member joins (everything is revoked, a partition stays), then leaves
            def other_member() -> None:
                consumer = KafkaConsumer(
                    topic_name,
                    bootstrap_servers=kafka_bootstrap,
                    group_id=group,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                )
                try:
                    while not other_done.is_set():
                        consumer.poll(timeout_ms=100, max_records=1)
                        consumer.pause(*consumer.assignment())  # reads nothing more
                finally:
                    consumer.close(autocommit=False)

            thread = threading.Thread(target=other_member, daemon=True)
            rebalances = source.rebalances
            thread.start()
            await until(lambda: source.rebalances > rebalances, 60, "the second member's join")
            # what it had read was committed as its resume point while it still owned it
            assert committed_offsets(kafka_bootstrap, group), "no commit at the revoke"
            other_done.set()
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 30)
            await until(lambda: len(source.assigned) == PARTITIONS, 60, "the partitions back")

            seen: set[tuple[int, int]] = set()
            deadline = time.monotonic() + 60
            while not wanted <= seen and time.monotonic() < deadline:
                batch: list[KafkaRecord] = await source.next_batch(0.2)
                seen.update(
                    (int(r.partition or 0), int(r.offset or 0)) for r in batch if source.admit(r)
                )
            return seen
        finally:
            other_done.set()
            await source.stop()

    seen = asyncio.run(main())
    missing = sorted(wanted - seen)
    assert not missing, f"{len(missing)} records never delivered, first: {missing[:5]}"


async def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return condition()


def test_an_idle_member_is_left_alone_and_the_group_stays_settled(
    kafka_bootstrap: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One partition, two members: one of them has nothing to do. It is a stable member, not a
    # stuck one, so it is not replaced (which would rebalance the group over and over).
    # (above the 2 s heartbeat interval, so the busy member hears from its coordinator in time)
    monkeypatch.setattr(kafka_trigger, "STALLED_AFTER_S", 5.0)
    create_topic(kafka_bootstrap, topic_name, partitions=1)
    group = unique_name("g")

    async def main() -> tuple[int, int, int]:
        a, b = (
            trigger(kafka_bootstrap, topic_name, group),
            trigger(kafka_bootstrap, topic_name, group),
        )
        await a.start()
        await b.start()
        try:
            assert await wait_for(lambda: len(a.assigned) + len(b.assigned) == 1, 60)
            idle = b if a.assigned else a
            assert await wait_for(lambda: kafka_group.member_is_stable(idle._consumer), 60)
            settled = a.rebalances + b.rebalances
            # over twice the stall threshold: a replacement would have happened by now
            await wait_for(lambda: a.replaced + b.replaced > 0, 12.0)
            owned = len(a.assigned) + len(b.assigned)
            return a.replaced + b.replaced, a.rebalances + b.rebalances - settled, owned
        finally:
            await a.stop()
            await b.stop()

    replaced, rebalances, owned = asyncio.run(main())
    assert replaced == 0
    assert rebalances == 0
    assert owned == 1
