"""A consumer left without partitions for too long joins again with a new consumer."""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Callable

import pytest
from testkit.kafka import create_topic

from kflow.flow import load_flow_text
from kflow.plugins import kafka_trigger
from kflow.plugins.kafka_trigger import RealtimeTrigger


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
    """)
    ).flow
    assert flow is not None
    return RealtimeTrigger(flow.triggers[0])


async def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return condition()


def test_an_unassigned_member_rejoins_and_the_group_keeps_its_partition(
    kafka_bootstrap: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka_trigger, "STALLED_AFTER_S", 2.0)
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
            # one partition, two members: one of them has nothing and rejoins after 2 s
            assert await wait_for(lambda: a.replaced + b.replaced >= 1, 60)
            assert await wait_for(lambda: len(a._assigned) + len(b._assigned) == 1, 60)
            return a.replaced, b.replaced, len(a._assigned) + len(b._assigned)
        finally:
            await a.stop({})
            await b.stop({})

    replaced_a, replaced_b, owned = asyncio.run(main())
    assert replaced_a + replaced_b >= 1
    assert owned == 1
