"""The RabbitMQ ``RealtimeTrigger`` and tasks against the real broker.

The trigger is driven through ``FlowService`` with a real flow (in-process), and once as
``kflow run`` in a subprocess. Counts of ready and unacknowledged messages come from the
broker itself (``rabbitmqctl``), while the consumer is still connected: an ack kflow meant to
send and did not would show there. Every message is published with confirms.
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
from pamqp.commands import Basic

from kflow.engine.events import EventBus, ExecutionFinished
from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService, RunSummary
from kflow.engine.source import SourceOptions
from kflow.errors import AmqpError
from kflow.flow import Flow, load_flow_text
from kflow.plugins.amqp_trigger import RealtimeTrigger
from testkit import amqp, stack
from testkit.processes import kflow_run, sample_flow

pytestmark = pytest.mark.integration

HOST, PORT = stack.amqp_address()

FLOW = """
id: amqp_orders
namespace: test
tasks:
  - id: refuse
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ trigger.data.fail ?? false }}}}"
    errorMessage: "order {{{{ trigger.data.i }}}} refused"
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{{{ trigger.data.sleep ?? 'PT0S' }}}}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      i: "{{{{ trigger.data.i }}}}"
      priority: "{{{{ trigger.priority }}}}"
triggers:
  - id: watch
    type: io.kestra.plugin.amqp.RealtimeTrigger
    host: {host}
    port: "{port}"
    username: guest
    password: guest
    queue: {queue}
    serdeType: JSON
{extra}"""


def flow_text(queue: str, extra: str = "") -> str:
    return FLOW.format(host=HOST, port=PORT, queue=queue, extra=textwrap.indent(extra, "    "))


def load(text: str) -> Flow:
    result = load_flow_text(text, "flow.yaml", for_run=True)
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    return result.flow


def orders(n: int, **extra: Any) -> list[bytes]:
    return [amqp.json_body({"i": i, **extra}) for i in range(n)]


@dataclass
class Running:
    """A FlowService consuming a queue, in the test's event loop."""

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
        """Poll ``probe`` until it is truthy; fail on timeout or if the service ended."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.task.done():
                self.task.result()  # raises what ended it
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

    async def broker_settled(self, queue: str, ready: int = 0, timeout: float = 30) -> None:
        """Wait until RabbitMQ holds ``ready`` ready and no unacknowledged message."""
        deadline = asyncio.get_running_loop().time() + timeout
        counts = None
        while asyncio.get_running_loop().time() < deadline:
            counts = await asyncio.to_thread(amqp.broker_counts, queue)
            if counts == (ready, 0):
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"queue {queue} holds (ready, unacked) {counts}, want ({ready}, 0)")

    async def stop(self) -> RunSummary:
        self.service.request_stop("test")
        try:
            return await asyncio.wait_for(self.task, 60)
        finally:
            await self.runner.close()


async def start(
    text: str, *, concurrency: int = 8, dead_letter: str | None = None, **service: Any
) -> Running:
    flow = load(text)
    bus = EventBus()
    runner = FlowRunner(flow, bus, environ={})
    source = RealtimeTrigger.from_trigger(
        flow.triggers[0], runner.flow_variables, SourceOptions(prefetch=concurrency)
    )
    notes: list[str] = []
    source.notify = notes.append
    svc = FlowService(
        runner,
        source,
        concurrency=concurrency,
        dead_letter=source.dead_letter(dead_letter),
        **service,
    )
    run = Running(svc, source, runner, asyncio.create_task(svc.run(timeout=300)), notes=notes)

    def on_event(event: object) -> None:
        if isinstance(event, ExecutionFinished):
            run.finished.append(event.execution)

    bus.subscribe(on_event)  # type: ignore[arg-type]
    await run.until(lambda: source.status().state == "running", timeout=15, what="the consumer")
    return run


@pytest.fixture
def queue(amqp_url: str, unique_name: Callable[[str], str]) -> Iterator[str]:
    name = unique_name("q")
    yield name
    dead = [f"{name}.dead", f"{name}.dlq"]
    amqp.run(amqp.delete(amqp_url, name, *dead, exchanges=[f"{name}.dead.dlx"]))


def in_loop(coro: Any) -> Any:
    return amqp.run(coro)


def test_every_message_runs_once_and_the_queue_ends_empty(amqp_url: str, queue: str) -> None:
    async def scenario() -> None:
        await amqp.declare_queue(amqp_url, queue)
        await amqp.publish(amqp_url, queue, orders(300))
        run = await start(flow_text(queue), concurrency=16)
        await run.until(lambda: len(run.finished) >= 300, timeout=60, what="300 executions")
        await run.broker_settled(queue)
        summary = await run.stop()
        assert Counter(run.values("SUCCESS")) == Counter(range(300))
        assert summary.by_state == {"SUCCESS": 300}
        assert (run.source.acked, run.source.nacked, run.source.dropped_acks) == (300, 0, 0)
        labels = {e.trigger.label() for e in run.finished}
        assert labels == {f"queue {queue} #{n}" for n in range(1, 301)}

    in_loop(scenario())


def test_a_failed_execution_is_nacked_into_the_queues_dead_letter_exchange_once(
    amqp_url: str, queue: str
) -> None:
    dead = f"{queue}.dead"

    async def scenario() -> None:
        await amqp.declare_dead_letter_pair(amqp_url, queue, dead)
        bodies = [amqp.json_body({"i": i, "fail": i % 3 == 0}) for i in range(10)]
        await amqp.publish(amqp_url, queue, bodies)
        run = await start(flow_text(queue))
        await run.until(lambda: len(run.finished) >= 10, timeout=30, what="10 executions")
        await run.broker_settled(queue)
        await run.broker_settled(dead, ready=4)
        # Nothing is left to deliver again: no message loops back into the queue.
        assert len(run.finished) == 10
        await run.stop()
        assert sorted(run.values("FAILED")) == [0, 3, 6, 9]
        assert run.source.nacked == 4
        dead_letters = await amqp.read_all(amqp_url, dead)
        assert sorted(json.loads(m.body)["i"] for m in dead_letters) == [0, 3, 6, 9]
        death = dead_letters[0].header.properties.headers["x-death"][0]
        assert (death["reason"], death["queue"]) == ("rejected", queue)

    in_loop(scenario())


def test_dead_letter_option_copies_failed_messages_then_acks_them(
    amqp_url: str, queue: str
) -> None:
    target = f"{queue}.dlq"  # not declared: kflow declares it durable

    async def scenario() -> None:
        await amqp.declare_queue(amqp_url, queue)
        bodies = [amqp.json_body({"i": i, "fail": i in (2, 5, 7)}) for i in range(10)]
        await amqp.publish(amqp_url, queue, bodies, headers={"trace": "t-1"})
        run = await start(flow_text(queue), dead_letter=target)
        await run.until(lambda: len(run.finished) >= 10, timeout=30, what="10 executions")
        await run.broker_settled(queue)
        summary = await run.stop()
        assert summary.dead_lettered == 3
        assert (run.source.acked, run.source.nacked) == (10, 0)
        copies = {json.loads(m.body)["i"]: m for m in await amqp.read_all(amqp_url, target)}
        assert sorted(copies) == [2, 5, 7]
        copy = copies[5]
        assert copy.body == bodies[5]  # unchanged
        headers = copy.header.properties.headers
        assert copy.header.properties.delivery_mode == 2
        assert headers["trace"] == "t-1"
        assert headers["kflow.flow"] == "test.amqp_orders"
        assert headers["kflow.failed.task"] == "refuse"
        assert headers["kflow.error"] == "task refuse: order 5 refused"
        assert headers["kflow.source.queue"] == queue
        executions = {e.trigger.value["i"]: e.id for e in run.finished}
        assert headers["kflow.execution.id"] == executions[5]

    in_loop(scenario())


def test_a_bad_json_message_fails_one_execution_and_the_rest_go_on(
    amqp_url: str, queue: str
) -> None:
    async def scenario() -> None:
        await amqp.declare_queue(amqp_url, queue)
        bodies = orders(6)
        bodies[3] = b"{not json"
        await amqp.publish(amqp_url, queue, bodies)
        run = await start(flow_text(queue), concurrency=1)
        await run.until(lambda: len(run.finished) >= 6, timeout=30, what="6 executions")
        await run.broker_settled(queue)
        await run.stop()
        assert sorted(run.values("SUCCESS")) == [0, 1, 2, 4, 5]
        (bad,) = [e for e in run.finished if e.state.value == "FAILED"]
        assert bad.error == (
            f"cannot decode message #4 of queue {queue} as JSON: not JSON "
            "(line 1 column 2: Expecting property name enclosed in double quotes): '{not json'"
        )

    in_loop(scenario())


def test_unacknowledged_messages_never_exceed_the_prefetch(amqp_url: str, queue: str) -> None:
    async def scenario() -> None:
        await amqp.declare_queue(amqp_url, queue)
        await amqp.publish(amqp_url, queue, orders(120, sleep="PT0.05S"))
        run = await start(flow_text(queue), concurrency=4)  # the service holds up to 16
        seen: list[int] = []
        while len(run.finished) < 100:  # the broker's own count, while work goes on
            counts = await asyncio.to_thread(amqp.broker_counts, queue)
            assert counts is not None
            seen.append(counts[1])
        await run.until(lambda: len(run.finished) >= 120, timeout=60, what="120 executions")
        await run.stop()
        assert max(seen) <= 4, seen
        assert run.source.peak_unacked == 4  # reached, never passed

    in_loop(scenario())


def test_graceful_stop_acks_what_finished_and_the_rest_goes_to_the_next_consumer(
    amqp_url: str, queue: str
) -> None:
    async def scenario() -> None:
        await amqp.declare_queue(amqp_url, queue)
        await amqp.publish(amqp_url, queue, orders(100, sleep="PT0.05S"))
        first = await start(flow_text(queue), concurrency=10)
        await first.until(lambda: len(first.finished) >= 20, timeout=30, what="20 executions")
        await first.stop()
        done = first.values()
        assert (first.source.acked, first.source.dropped_acks) == (len(done), 0)
        await first.broker_settled(queue, ready=100 - len(done))
        second = await start(flow_text(queue), concurrency=10)
        await second.until(lambda: len(second.finished) >= 100 - len(done), timeout=30, what="rest")
        await second.broker_settled(queue)
        await second.stop()
        assert sorted(done + second.values()) == list(range(100))  # nothing lost or run twice

    in_loop(scenario())


@pytest.mark.slow
def test_a_broker_restart_mid_stream_loses_nothing(amqp_url: str, queue: str) -> None:
    total, concurrency = 1000, 8

    async def scenario() -> None:
        await amqp.declare_queue(amqp_url, queue, durable=True)
        await amqp.publish(amqp_url, queue, orders(total, sleep="PT0.05S"), persistent=True)
        run = await start(flow_text(queue), concurrency=concurrency)
        await run.until(lambda: len(run.finished) >= 100, timeout=60, what="100 executions")
        states: list[str] = []

        async def watch() -> None:
            while True:
                states.append(run.source.status().state)
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        await asyncio.to_thread(stack.restart, "rabbitmq")
        await run.until(
            lambda: set(run.values()) == set(range(total)), timeout=180, what="every message"
        )
        await run.broker_settled(queue)
        watcher.cancel()
        await run.stop()
        runs = Counter(run.values())
        duplicates = sum(n - 1 for n in runs.values())
        # At most what was delivered and unacknowledged when the connection died runs again.
        assert duplicates <= concurrency * run.source.reconnects, runs.most_common(3)
        assert run.source.reconnects >= 1
        assert "reconnecting" in states and states[-1] == "running"
        assert any("reconnecting" in n for n in run.notes), run.notes
        assert any("reconnected to RabbitMQ" in n for n in run.notes), run.notes
        print(f"restart: {duplicates} duplicates, {run.source.dropped_acks} dropped acks")

    in_loop(scenario())


def test_acks_of_a_lost_connection_are_dropped_and_the_broker_redelivers(
    amqp_url: str, queue: str
) -> None:
    """Executions of a dead channel finish after the reconnect: their delivery tags name other
    messages on the new channel, so their acks must not be sent there."""

    async def scenario() -> None:
        await amqp.declare_queue(amqp_url, queue)
        # The first 8 deliveries run long enough to outlast closing the connection, which
        # takes two rabbitmqctl calls (seconds on a loaded machine); the rest are short.
        bodies = [
            amqp.json_body({"i": i, "sleep": "PT12S" if i < 8 else "PT0.5S"}) for i in range(16)
        ]
        await amqp.publish(amqp_url, queue, bodies)
        run = await start(flow_text(queue), concurrency=8)
        await run.until(lambda: run.source.peak_unacked == 8, timeout=10, what="8 deliveries")
        assert await asyncio.to_thread(amqp.close_connections, f"queue {queue}") == 1
        assert not run.finished, "the connection closed only after its executions finished"
        await run.until(
            lambda: set(run.values()) == set(range(16)), timeout=60, what="every message"
        )
        await run.broker_settled(queue)
        await run.stop()
        duplicates = len(run.values()) - 16
        assert run.source.reconnects == 1  # a stale ack on the new channel would close it again
        assert 1 <= run.source.dropped_acks == duplicates <= 8
        assert any(f"lost the queue {queue}" in n for n in run.notes), run.notes

    in_loop(scenario())


def test_auto_ack_is_honoured_and_a_saturated_service_cancels_the_consumer(
    amqp_url: str, queue: str
) -> None:
    async def scenario() -> None:
        await amqp.declare_queue(amqp_url, queue)
        await amqp.publish(amqp_url, queue, orders(200, sleep="PT0.01S"))
        # The broker ignores the prefetch of an autoAck consumer: the service (2 running,
        # 8 pending at most) pauses the source, which cancels the consumer, then resumes it.
        run = await start(flow_text(queue, "autoAck: true\n"), concurrency=2)
        await run.until(lambda: len(run.finished) >= 200, timeout=60, what="200 executions")
        await run.broker_settled(queue)
        await run.stop()
        assert sorted(run.values()) == list(range(200))
        assert (run.source.acked, run.source.nacked) == (0, 0)  # the broker acked at delivery
        assert run.source.cancels >= 1

    in_loop(scenario())


def test_status_shows_the_queue_backlog(amqp_url: str, queue: str) -> None:
    async def scenario() -> None:
        await amqp.declare_queue(amqp_url, queue)
        await amqp.publish(amqp_url, queue, orders(10))
        source = RealtimeTrigger.from_trigger(
            load(flow_text(queue)).triggers[0], {}, SourceOptions(prefetch=2)
        )
        await source.start()
        try:
            deadline = asyncio.get_running_loop().time() + 10
            while source.status().streams[0].backlog != 8:  # 2 delivered, 8 ready
                assert asyncio.get_running_loop().time() < deadline, source.status()
                await asyncio.sleep(0.05)
            status = source.status()
            assert status.description == f"amqp queue {queue} @ {HOST}:{PORT}"
            assert (status.state, status.label, status.in_flight) == ("running", "queues", 2)
            assert status.streams[0].name == f"queue {queue}"
        finally:
            await source.stop()
        assert source.status().state == "stopped"
        assert await amqp.ready_count(amqp_url, queue) == 10  # none was acknowledged

    in_loop(scenario())


def test_start_errors_are_one_line_naming_trigger_queue_and_address(
    amqp_url: str, queue: str
) -> None:
    async def failure(text: str) -> str:
        source = RealtimeTrigger.from_trigger(load(text).triggers[0], {}, SourceOptions())
        with pytest.raises(AmqpError) as info:
            await source.start()
        return str(info.value)

    async def scenario() -> None:
        missing = await failure(flow_text(queue))
        assert missing == (
            f"trigger 'watch': queue {queue}: RabbitMQ at {HOST}:{PORT}: "
            f"NOT_FOUND - no queue '{queue}' in vhost '/'"
        )
        closed = await failure(flow_text(queue).replace(f'port: "{PORT}"', 'port: "1"'))
        assert closed.startswith(f"trigger 'watch': queue {queue}: cannot reach RabbitMQ at ")
        login = await failure(flow_text(queue).replace("password: guest", "password: wrong"))
        assert login.startswith(f"trigger 'watch': queue {queue}: RabbitMQ at {HOST}:{PORT} ")
        assert "refused the login" in login and "wrong" not in login

    in_loop(scenario())


def test_kflow_run_end_to_end_with_a_dead_letter_queue(
    amqp_url: str, queue: str, tmp_path: Path
) -> None:
    target = f"{queue}.dlq"
    bodies = [amqp.json_body({"i": i, "fail": i == 4}) for i in range(25)]
    in_loop(amqp.declare_queue(amqp_url, queue))
    in_loop(amqp.publish(amqp_url, queue, bodies))
    path = tmp_path / "flow.yaml"
    path.write_text(flow_text(queue), encoding="utf-8")
    result = kflow_run(
        path,
        "--max-executions",
        "25",
        "--timeout",
        "60",
        "--dead-letter",
        target,
        mongo_uri="",
    )
    assert result.code == 0, result.stderr
    states = Counter(e["state"] for e in result.executions)
    assert states == {"SUCCESS": 24, "FAILED": 1}
    assert {e["trigger"]["queue"] for e in result.executions} == {queue}
    done = [e["outputs"]["out"]["values"]["i"] for e in result.executions if e["outputs"]]
    assert sorted(int(i) for i in done) == [i for i in range(25) if i != 4]
    assert "25 executions (FAILED 1, SUCCESS 24, 1 dead-lettered)" in result.stderr
    assert in_loop(amqp.ready_count(amqp_url, queue)) == 0
    assert [json.loads(m.body)["i"] for m in in_loop(amqp.read_all(amqp_url, target))] == [4]


def test_blog_flow_sample_enriches_orders_from_rabbitmq(
    amqp_url: str,
    queue: str,
    mongo_uri: str,
    seeded_products: None,
    collection_name: str,
    tmp_path: Path,
) -> None:
    from testkit.orders import csv_orders, csv_products

    rows = csv_orders()[:30]
    in_loop(amqp.declare_queue(amqp_url, queue))
    in_loop(amqp.publish(amqp_url, queue, [json.dumps(r).encode() for r in rows]))
    flow = sample_flow(
        tmp_path, "blog-flow-amqp.yaml", {'"detailed_orders"': f'"{collection_name}"'}
    )
    with stack.fresh_database(mongo_uri, "kestra") as db:
        try:
            args = ("--max-executions", "30", "--timeout", "90", "--set", f"queue={queue}")
            result = kflow_run(flow, *args, mongo_uri=mongo_uri, ENV_AMQP_HOST=HOST)
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
    assert in_loop(amqp.ready_count(amqp_url, queue)) == 0


def test_publish_reads_its_messages_from_an_internal_storage_file(
    amqp_url: str, queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFLOW_STORAGE_DIR", str(tmp_path))
    from kflow.storage import default_storage

    uri, _ = default_storage().write_records(
        "kestra:///test/files", [{"data": f"m{i}", "appId": "file"} for i in range(3)], "json"
    )
    text = f"""
id: publish_file
namespace: test
tasks:
  - id: publish
    type: io.kestra.plugin.amqp.Publish
    host: {HOST}
    port: "{PORT}"
    exchange: ""
    routingKey: {queue}
    from: "{uri}"
"""

    async def scenario() -> Execution:
        await amqp.declare_queue(amqp_url, queue)
        runner = FlowRunner(load(text), EventBus(), environ={})
        try:
            return await runner.execute(TriggerRecord(value=None))
        finally:
            await runner.close()

    execution = in_loop(scenario())
    assert execution.outputs["publish"] == {"messagesCount": 3}, execution.error
    messages = in_loop(amqp.read_all(amqp_url, queue))
    assert [(m.body, m.header.properties.app_id) for m in messages] == [
        (b"m0", "file"),
        (b"m1", "file"),
        (b"m2", "file"),
    ]


TASKS = """
id: amqp_tasks
namespace: test
tasks:
  - id: exchange
    type: io.kestra.plugin.amqp.DeclareExchange
    host: {host}
    port: "{port}"
    name: {exchange}
    exchangeType: TOPIC
  - id: queue
    type: io.kestra.plugin.amqp.CreateQueue
    host: {host}
    port: "{port}"
    name: {queue}
    args:
      x-max-length: 100
  - id: bind
    type: io.kestra.plugin.amqp.QueueBind
    host: {host}
    port: "{port}"
    exchange: "{{{{ outputs.exchange.exchange }}}}"
    queue: "{{{{ outputs.queue.queue }}}}"
    routingKey: "order.#"
  - id: publish
    type: io.kestra.plugin.amqp.Publish
    host: {host}
    port: "{port}"
    exchange: {exchange}
    routingKey: order.new
    serdeType: JSON
    from:
      - data: {{id: "{{{{ trigger.value }}}}", n: 1}}
        headers: {{source: kflow}}
        priority: 5
        deliveryMode: 2
        expiration: PT1M
        timestamp: "2023-01-09T08:46:33Z"
        appId: kflow
        messageId: m-1
      - data: second
  - id: nowhere
    type: io.kestra.plugin.amqp.Publish
    host: {host}
    port: "{port}"
    exchange: {exchange}.missing
    from: {{data: lost}}
    allowFailure: true
"""


def test_tasks_declare_bind_and_publish(amqp_url: str, queue: str) -> None:
    exchange = f"{queue}.x"

    async def scenario() -> Execution:
        flow = load(TASKS.format(host=HOST, port=PORT, exchange=exchange, queue=queue))
        runner = FlowRunner(flow, EventBus(), environ={})
        try:
            return await runner.execute(TriggerRecord(value="o-1"))
        finally:
            await runner.close()

    try:
        execution = in_loop(scenario())
        outputs = execution.outputs
        assert outputs["exchange"] == {"exchange": exchange}
        assert outputs["queue"] == {"queue": queue}
        assert outputs["bind"] == {"queue": queue, "exchange": exchange}
        assert outputs["publish"] == {"messagesCount": 2}
        nowhere = next(r for r in execution.task_runs if r.task_id == "nowhere")
        assert nowhere.error == (
            f"exchange '{exchange}.missing': RabbitMQ at {HOST}:{PORT}: "
            f"NOT_FOUND - no exchange '{exchange}.missing' in vhost '/'"
        )
        first, second = in_loop(amqp.read_all(amqp_url, queue))
        assert json.loads(first.body) == {"id": "o-1", "n": 1}
        props = first.header.properties
        assert isinstance(first.delivery, Basic.GetOk)
        assert first.delivery.routing_key == "order.new"
        assert (props.priority, props.delivery_mode, props.expiration) == (5, 2, "60000")
        assert (props.app_id, props.message_id, props.headers) == (
            "kflow",
            "m-1",
            {"source": "kflow"},
        )
        assert props.timestamp.isoformat().startswith("2023-01-09T08:46:33")
        assert second.body == b'"second"'
    finally:
        in_loop(amqp.delete(amqp_url, exchanges=[exchange]))
