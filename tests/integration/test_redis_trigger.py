"""The Redis list ``RealtimeTrigger`` and tasks against the real server.

The trigger runs through ``FlowService`` with a real flow (in-process), and as ``kflow run``
in a subprocess for the kill -9 case and the blog sample. What the list and the processing
lists hold is read from Redis itself.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kflow.connectors.redis import RedisError
from kflow.engine.events import EventBus, ExecutionFinished
from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService, RunSummary
from kflow.engine.source import SourceOptions
from kflow.flow import Flow, load_flow_text
from kflow.plugins.redis_trigger import RealtimeTrigger
from testkit import redis as rkit
from testkit import stack
from testkit.processes import kflow_run, running, sample_flow
from testkit.waiting import wait_until

pytestmark = pytest.mark.integration

FLOW = """
id: redis_orders
namespace: test
tasks:
  - id: refuse
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ trigger.value.fail ?? false }}}}"
    errorMessage: "order {{{{ trigger.value.i }}}} refused"
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{{{ trigger.value.sleep ?? 'PT0S' }}}}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      i: "{{{{ trigger.value.i }}}}"
triggers:
  - id: watch
    type: io.kestra.plugin.redis.list.RealtimeTrigger
    url: {url}
    key: {key}
    serdeType: JSON
{extra}"""


def flow_text(url: str, key: str, extra: str = "") -> str:
    return FLOW.format(url=url, key=key, extra=textwrap.indent(extra, "    "))


def load(text: str) -> Flow:
    result = load_flow_text(text, "flow.yaml", for_run=True)
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    return result.flow


def orders(n: int, start: int = 0, **extra: Any) -> list[bytes]:
    return [json.dumps({"i": i, **extra}).encode() for i in range(start, start + n)]


@dataclass
class Running:
    """A FlowService reading a list, in the test's event loop."""

    service: FlowService
    source: RealtimeTrigger
    runner: FlowRunner
    task: asyncio.Task[RunSummary]
    finished: list[Execution] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def values(self, state: str | None = None) -> list[Any]:
        return [
            e.trigger.value["i"]
            for e in self.finished
            if isinstance(e.trigger.value, dict) and (state is None or e.state.value == state)
        ]

    async def until(self, probe: Callable[[], Any], *, timeout: float, what: str) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.task.done():
                self.task.result()
                raise AssertionError(f"the service ended while waiting for {what}")
            value = probe()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for {what}; "
                    f"{len(self.finished)} executions, notes: {self.notes}"
                )
            await asyncio.sleep(0.05)

    async def stop(self) -> RunSummary:
        self.service.request_stop("test")
        try:
            return await asyncio.wait_for(self.task, 60)
        finally:
            await self.runner.close()


async def start(
    text: str, *, concurrency: int = 8, dead_letter: str | None = None, **options: Any
) -> Running:
    flow = load(text)
    bus = EventBus()
    runner = FlowRunner(flow, bus, environ={})
    source = RealtimeTrigger.from_trigger(
        flow.triggers[0], runner.flow_variables, SourceOptions(prefetch=concurrency, **options)
    )
    notes: list[str] = []
    source.notify = notes.append
    svc = FlowService(
        runner, source, concurrency=concurrency, dead_letter=source.dead_letter(dead_letter)
    )
    run = Running(svc, source, runner, asyncio.create_task(svc.run(timeout=300)), notes=notes)

    def on_event(event: object) -> None:
        if isinstance(event, ExecutionFinished):
            run.finished.append(event.execution)

    bus.subscribe(on_event)  # type: ignore[arg-type]
    await run.until(lambda: source.status().state == "running", timeout=20, what="the reader")
    return run


@pytest.fixture
def key(redis_url: str, unique_name: Callable[[str], str]) -> Iterator[str]:
    name = unique_name("orders")
    rkit.delete_all(name)
    yield name
    rkit.delete_all(name)
    rkit.delete_all(f"{name}.dead")


def in_loop(coro: Any) -> Any:
    return asyncio.run(coro)


def settled(key: str) -> tuple[int, dict[str, list[bytes]]]:
    return rkit.length(key), rkit.processing_lists(key)


def test_elements_run_first_in_first_out_and_nothing_is_left(redis_url: str, key: str) -> None:
    async def scenario() -> None:
        rkit.push(key, orders(50))
        run = await start(flow_text(redis_url, key), concurrency=1)
        await run.until(lambda: len(run.finished) >= 50, timeout=60, what="50 executions")
        summary = await run.stop()
        assert run.values("SUCCESS") == list(range(50))  # one at a time, in list order
        assert summary.by_state == {"SUCCESS": 50}
        assert [e.trigger.label() for e in run.finished] == [
            f"list {key} #{n}" for n in range(1, 51)
        ]
        assert run.source.processing == f"{key}:kflow:test.redis_orders.watch:1"
        assert run.source.removed == 50

    in_loop(scenario())
    assert settled(key) == (0, {})  # an empty processing list no longer exists


def test_concurrent_executions_start_in_list_order(redis_url: str, key: str) -> None:
    async def scenario() -> None:
        rkit.push(key, orders(200))
        run = await start(flow_text(redis_url, key), concurrency=16)
        await run.until(lambda: len(run.finished) >= 200, timeout=60, what="200 executions")
        await run.stop()
        by_seq = sorted(run.finished, key=lambda e: e.trigger.seq)  # type: ignore[attr-defined]
        assert [e.trigger.value["i"] for e in by_seq] == list(range(200))
        assert run.source.peak_in_flight <= 16

    in_loop(scenario())
    assert rkit.length(key) == 0


def test_a_clean_stop_empties_the_processing_list_and_the_rest_runs_next_time(
    redis_url: str, key: str
) -> None:
    async def scenario() -> None:
        rkit.push(key, orders(100, sleep="PT0.05S"))
        first = await start(flow_text(redis_url, key), concurrency=10)
        await first.until(lambda: len(first.finished) >= 20, timeout=30, what="20 executions")
        await first.stop()
        done = first.values()
        assert all(not v for v in rkit.processing_lists(key).values())
        assert rkit.length(key) == 100 - len(done)  # what never ran went back to the list
        second = await start(flow_text(redis_url, key), concurrency=10)
        await second.until(lambda: len(second.finished) >= 100 - len(done), timeout=30, what="rest")
        await second.stop()
        assert second.source.recovered == 0
        assert sorted(done + second.values()) == list(range(100))  # nothing lost or run twice
        # what went back went to the head, in order: the second run started where the first
        # stopped
        seconds = sorted(second.finished, key=lambda e: e.trigger.seq)  # type: ignore[attr-defined]
        assert [e.trigger.value["i"] for e in seconds] == sorted(set(range(100)) - set(done))

    in_loop(scenario())
    length, lists = settled(key)
    assert length == 0 and all(not v for v in lists.values()), lists


def test_a_bad_json_element_fails_one_execution_and_goes_to_the_dead_letter_list(
    redis_url: str, key: str
) -> None:
    dead = f"{key}.dead"

    async def scenario() -> None:
        bodies = orders(6)
        bodies[3] = b"{not json"
        bodies[5] = json.dumps({"i": 5, "fail": True}).encode()
        rkit.push(key, bodies)
        run = await start(flow_text(redis_url, key), concurrency=1, dead_letter=dead)
        await run.until(lambda: len(run.finished) >= 6, timeout=30, what="6 executions")
        summary = await run.stop()
        assert run.values("SUCCESS") == [0, 1, 2, 4]
        assert summary.dead_lettered == 2
        bad = next(e for e in run.finished if e.trigger.value is None)
        assert bad.state.value == "FAILED"
        assert bad.error == (
            f"cannot decode element #4 of list {key} as JSON: not JSON "
            "(line 1 column 2: Expecting property name enclosed in double quotes): '{not json'"
        )

    in_loop(scenario())
    client = rkit.connect(redis_url)
    try:
        assert client.lrange(dead, 0, -1) == [b"{not json", b'{"i": 5, "fail": true}']
    finally:
        client.close()
    length, lists = settled(key)
    assert length == 0 and all(not v for v in lists.values()), lists


def test_kill_9_mid_stream_then_a_restart_recovers_the_processing_list_first(
    redis_url: str, key: str, mongo_uri: str, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    from testkit.redis import RedisKit
    from testkit.sources import flow_yaml, messages

    kit = RedisKit(key)
    batch = messages(key, 300)
    kit.publish(batch)
    database = unique_name("db")
    flow = tmp_path / "flow.yaml"
    flow.write_text(flow_yaml(kit, mongo_uri, database, "docs", "PT0.05S"), encoding="utf-8")
    with stack.fresh_database(mongo_uri, database) as db:
        docs = db["docs"]
        with running(flow, ["--concurrency", "8"], tmp_path / "a", {}) as first:
            wait_until(lambda: docs.count_documents({}), lambda n: n >= 40, timeout=60, what="40")
            first.kill9()
        (in_flight,) = rkit.processing_lists(key).values()
        assert 1 <= len(in_flight) <= 8 + 256  # moved and unfinished: at most prefetch + a burst
        with running(flow, ["--concurrency", "8", "--timeout", "20"], tmp_path / "b", {}) as second:
            assert second.wait(120) == 0, second.stderr()[-2000:]
            assert f"moved {len(in_flight)} unfinished element(s)" in second.stderr()
        first_ids = [json.loads(v)["id"] for v in in_flight]
        stored = [d["mid"] for d in docs.find({}, {"mid": 1, "_id": 0})]
    assert {m.id for m in batch} <= set(stored)
    twice = {i for i, n in Counter(stored).items() if n > 1}
    assert twice <= set(first_ids)  # only what was in flight ran twice
    length, lists = settled(key)
    assert length == 0 and all(not v for v in lists.values()), lists


def test_a_start_recovers_its_processing_list_first_once_a_dead_owners_lease_lapsed(
    redis_url: str, key: str
) -> None:
    processing = f"{key}:kflow:test.redis_orders.watch:1"
    client = rkit.connect(redis_url)
    try:
        client.rpush(key, *orders(5, start=10))
        client.rpush(processing, *orders(3))  # what a killed process had in flight
        client.set(f"{processing}:owner", "a killed kflow", px=2500)  # no longer renewed
    finally:
        client.close()

    async def scenario() -> None:
        run = await start(flow_text(redis_url, key), concurrency=1)
        await run.until(lambda: len(run.finished) >= 8, timeout=30, what="8 executions")
        await run.stop()
        assert run.source.processing == processing
        assert run.source.recovered == 3
        assert run.values() == [0, 1, 2, 10, 11, 12, 13, 14]  # the recovered ones first
        assert any("waiting for the lease" in n for n in run.notes), run.notes
        assert any("moved 3 unfinished element(s)" in n for n in run.notes), run.notes

    in_loop(scenario())
    length, lists = settled(key)
    assert length == 0 and all(not v for v in lists.values()), lists


def test_a_named_processing_list_in_use_is_refused_with_one_line(redis_url: str, key: str) -> None:
    text = flow_text(redis_url, key, f"processingList: {key}.mine\n")

    async def scenario() -> None:
        one = await start(text)
        try:
            other = RealtimeTrigger.from_trigger(load(text).triggers[0], {}, SourceOptions())
            with pytest.raises(RedisError) as info:
                await other.start()
            assert str(info.value) == (
                f"trigger 'watch': processing list {key}.mine is in use by another running "
                "kflow; give this one another processingList"
            )
        finally:
            await one.stop()
        assert one.source.processing == f"{key}.mine"

    in_loop(scenario())
    rkit.delete_all(f"{key}.mine")


def test_two_consumers_on_one_list_compete_each_with_its_own_processing_list(
    redis_url: str, key: str
) -> None:
    async def scenario() -> None:
        rkit.push(key, orders(400, sleep="PT0.05S"))
        one = await start(flow_text(redis_url, key), concurrency=4)
        two = await start(flow_text(redis_url, key), concurrency=4)  # one still has ~4 s of work
        await one.until(
            lambda: len(one.finished) + len(two.finished) >= 400, timeout=60, what="400"
        )
        assert (one.source.processing, two.source.processing) == (
            f"{key}:kflow:test.redis_orders.watch:1",
            f"{key}:kflow:test.redis_orders.watch:2",
        )
        await one.stop()
        await two.stop()
        assert sorted(one.values() + two.values()) == list(range(400))
        assert one.values() and two.values()

    in_loop(scenario())
    length, lists = settled(key)
    assert length == 0 and all(not v for v in lists.values()), lists


def test_a_dropped_connection_loses_nothing_and_runs_nothing_twice(
    redis_url: str, key: str
) -> None:
    async def scenario() -> None:
        rkit.push(key, orders(60, sleep="PT0.05S"))
        run = await start(flow_text(redis_url, key), concurrency=8)
        await run.until(lambda: run.source.peak_in_flight == 8, timeout=10, what="8 moved")
        client = rkit.connect(redis_url)
        try:
            killed = 0
            for entry in client.client_list():
                if entry.get("name", "").endswith(f"list-{key}"):
                    client.client_kill_filter(_id=entry["id"])
                    killed += 1
        finally:
            client.close()
        assert killed >= 1
        await run.until(lambda: len(run.finished) >= 60, timeout=60, what="every element")
        await run.until(lambda: run.source.in_flight == 0, timeout=10, what="removals")
        await run.stop()
        assert sorted(run.values()) == list(range(60))  # nothing lost, nothing twice
        assert run.source.reconnects >= 1
        assert any("reconnected to Redis" in n for n in run.notes), run.notes

    in_loop(scenario())
    length, lists = settled(key)
    assert length == 0 and all(not v for v in lists.values()), lists


@pytest.mark.slow
def test_a_redis_restart_mid_stream_loses_nothing(redis_url: str, key: str) -> None:
    total = 600

    async def scenario() -> None:
        rkit.push(key, orders(total, sleep="PT0.02S"))
        run = await start(flow_text(redis_url, key), concurrency=8)
        await run.until(lambda: len(run.finished) >= 60, timeout=60, what="60 executions")
        states: list[str] = []

        async def watch() -> None:
            while True:
                states.append(run.source.status().state)
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        await asyncio.to_thread(stack.restart, "redis")
        await run.until(
            lambda: set(run.values()) == set(range(total)), timeout=180, what="every element"
        )
        await run.until(lambda: run.source.in_flight == 0, timeout=30, what="removals")
        watcher.cancel()
        await run.stop()
        runs = Counter(run.values())
        assert sum(n - 1 for n in runs.values()) == 0, runs.most_common(3)  # nothing twice
        assert run.source.reconnects >= 1
        assert "reconnecting" in states and states[-1] == "running"

    in_loop(scenario())
    length, lists = settled(key)
    assert length == 0 and all(not v for v in lists.values()), lists


def test_start_errors_are_one_line_naming_redis_and_the_address(redis_url: str, key: str) -> None:
    async def failure(url: str) -> str:
        source = RealtimeTrigger.from_trigger(
            load(flow_text(url, key)).triggers[0], {}, SourceOptions()
        )
        with pytest.raises(RedisError) as info:
            await source.start()
        return str(info.value)

    async def scenario() -> None:
        refused = await failure("redis://127.0.0.1:1/0")
        assert refused == (
            f"trigger 'watch': list {key}: cannot reach Redis at 127.0.0.1:1: connection refused"
        )
        host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
        login = await failure(f"redis://nobody:s3cret-pw@{host}:{port}/0")
        assert login.startswith(f"trigger 'watch': list {key}: Redis at {host}:{port} ")
        assert "refused the login" in login and "s3cret-pw" not in login, login

    in_loop(scenario())


TASKS = """
id: redis_tasks
namespace: test
tasks:
  - id: push_head
    type: io.kestra.plugin.redis.list.ListPush
    url: {url}
    key: {key}.head
    from: ["a", "b", "c"]
  - id: push_tail
    type: io.kestra.plugin.redis.ListPush
    url: {url}
    key: {key}
    serdeType: JSON
    position: TAIL
    from: '[{{"i": 0}}, {{"i": 1}}, {{"i": 2}}]'
  - id: push_one
    type: io.kestra.plugin.redis.list.ListPush
    url: {url}
    key: {key}
    serdeType: JSON
    position: TAIL
    from: {{i: 3, name: "O'Brien \\"Bob\\""}}
  - id: set
    type: io.kestra.plugin.redis.string.Set
    url: {url}
    key: {key}.s
    value: '{{"total": 12.5}}'
    serdeType: JSON
    options:
      expirationDuration: PT1H
  - id: set_again
    type: io.kestra.plugin.redis.Set
    url: {url}
    key: {key}.s
    value: replaced
    get: true
  - id: get
    type: io.kestra.plugin.redis.string.Get
    url: {url}
    key: {key}.s
  - id: delete
    type: io.kestra.plugin.redis.string.Delete
    url: {url}
    keys: ["{key}.s", "{key}.missing"]
  - id: publish
    type: io.kestra.plugin.redis.pubsub.Publish
    url: {url}
    channel: {key}.news
    serdeType: JSON
    from: ["first", {{n: 2}}]
"""


def test_list_push_round_trip_and_string_tasks(redis_url: str, key: str) -> None:
    async def scenario() -> tuple[Execution, Running]:
        runner = FlowRunner(load(TASKS.format(url=redis_url, key=key)), EventBus(), environ={})
        try:
            execution = await runner.execute(TriggerRecord(value=None))
        finally:
            await runner.close()
        run = await start(flow_text(redis_url, key), concurrency=1)
        await run.until(lambda: len(run.finished) >= 4, timeout=30, what="4 executions")
        await run.stop()
        return execution, run

    listener = rkit.connect(redis_url).pubsub()
    listener.subscribe(f"{key}.news")
    assert listener.get_message(timeout=5)["type"] == "subscribe"
    execution, run = in_loop(scenario())
    heard = [listener.get_message(timeout=5) for _ in range(2)]
    listener.close()
    assert [m["data"] for m in heard if m] == [b'"first"', b'{"n":2}']
    assert execution.outputs["publish"] == {"count": 2}
    assert execution.state.value == "SUCCESS", execution.error
    outputs = execution.outputs
    assert outputs["push_head"] == {"count": 3}
    assert outputs["push_tail"] == {"count": 3} and outputs["push_one"] == {"count": 1}
    assert outputs["set_again"] == {"oldValue": '{"total":12.5}'}
    assert outputs["get"] == {"data": "replaced", "key": f"{key}.s"}
    assert outputs["delete"] == {"count": 1}
    assert run.values() == [0, 1, 2, 3]  # TAIL: first in, first out
    assert run.finished[3].trigger.value == {"i": 3, "name": 'O\'Brien "Bob"'}
    client = rkit.connect(redis_url)
    try:
        assert client.lrange(f"{key}.head", 0, -1) == [b"c", b"b", b"a"]  # LPUSH, as Kestra
        client.delete(f"{key}.head")
    finally:
        client.close()


def test_blog_flow_sample_enriches_orders_from_a_redis_list(
    redis_url: str,
    key: str,
    mongo_uri: str,
    seeded_products: None,
    collection_name: str,
    tmp_path: Path,
) -> None:
    from testkit.orders import csv_orders, csv_products

    rows = csv_orders()[:30]
    rkit.push(key, [json.dumps(r).encode() for r in rows])
    flow = sample_flow(
        tmp_path, "blog-flow-redis.yaml", {'"detailed_orders"': f'"{collection_name}"'}
    )
    validated = load_flow_text(flow.read_text(encoding="utf-8"), str(flow))
    assert validated.flow is not None and not validated.diagnostics
    with stack.fresh_database(mongo_uri, "kestra") as db:
        try:
            args = ("--max-executions", "30", "--timeout", "90", "--set", f"key={key}")
            result = kflow_run(flow, *args, mongo_uri=mongo_uri, ENV_REDIS_URL=redis_url)
            assert result.code == 0, result.stderr
            assert [e["state"] for e in result.executions] == ["SUCCESS"] * 30
            docs = {d["order_id"]: d for d in db[collection_name].find({}, {"_id": 0})}
        finally:
            db.drop_collection(collection_name)
    catalog = csv_products()
    assert len(docs) == 30
    for row in rows:
        product = catalog[int(row["product_id"])]
        assert {k: docs[row["order_id"]][k] for k in row} == row
        assert docs[row["order_id"]]["product"]["name"] == product["product_name"]
    length, lists = settled(key)
    assert length == 0 and all(not v for v in lists.values()), lists
