"""The MQTT trigger and Publish task against the real Mosquitto (devstack, persistence on).

In-process tests drive ``RealtimeTrigger`` through ``FlowService`` with a real flow; the
reliability scenarios run ``kflow run`` as a process. Every message is published at QoS 1
and acknowledged by the broker before a test counts on it; "nothing lost" means every such
message ran (or, for the blog flow, has its MongoDB document).
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kflow.engine.events import EventBus, ExecutionFinished, ExecutionStarted
from kflow.engine.execution import Execution
from kflow.engine.runner import FlowRunner
from kflow.engine.service import FlowService, RunSummary
from kflow.engine.source import SourceOptions
from kflow.flow import Flow, load_flow_text
from kflow.plugins.mqtt_trigger import RealtimeTrigger
from kflow.run.connections import close_connections
from testkit.mqtt import PacedPublisher, clear_session, collecting, publish
from testkit.orders import encoded, order
from testkit.processes import REPO, running, sample_flow
from testkit.stack import fresh_database, restart, seed_products
from testkit.waiting import wait_until

pytestmark = pytest.mark.integration


def flow_of(server: str, *, version: str = "V5", qos: int = 1, serde: str = "JSON") -> Flow:
    """A flow that sleeps ``payload.sleep`` (not when redelivered) and fails when
    ``payload.fail``."""
    text = f"""
        id: mqtt_it
        namespace: dev.mqtt
        tasks:
          - id: wait
            type: io.kestra.plugin.core.flow.Sleep
            # a redelivered message (DUP) does not sleep again
            duration: "{{{{ trigger.dup ? 'PT0S' : (trigger.payload.sleep ?? 'PT0S') }}}}"
          - id: check
            type: io.kestra.plugin.core.execution.Fail
            condition: "{{{{ trigger.payload.fail ?? false }}}}"
            errorMessage: "asked to fail"
        triggers:
          - id: watch
            type: io.kestra.plugin.mqtt.RealtimeTrigger
            server: {server}
            topic: placeholder
            mqttVersion: {version}
            qos: {qos}
            serdeType: {serde}
    """
    result = load_flow_text(textwrap.dedent(text), "mqtt_it.yaml")
    assert result.flow is not None, [d.format() for d in result.errors]
    return result.flow


def payloads(prefix: str, count: int, **extra: Any) -> list[bytes]:
    return [json.dumps({"id": f"{prefix}-{i}", **extra}).encode() for i in range(count)]


def ids(executions: list[Execution]) -> list[str]:
    return [e.trigger.value["id"] for e in executions if isinstance(e.trigger.value, dict)]


async def until(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Served:
    summary: RunSummary
    source: RealtimeTrigger
    finished: list[Execution] = field(default_factory=list)
    started: list[Execution] = field(default_factory=list)


def serve(
    flow: Flow,
    *,
    client_id: str,
    topic: str | list[str],
    before: Callable[[], object] | None = None,
    during: Callable[[], object] | None = None,
    done: Callable[[Served], bool] = lambda s: False,
    stop: str = "graceful",
    concurrency: int = 16,
    timeout: float = 60.0,
    dead_letter: str | None = None,
) -> Served:
    """Run the flow's trigger (``clientId`` and ``topic`` set) until ``done`` holds, then stop
    it (``graceful``: request_stop; ``kill``: in-flight executions cancelled, unacked)."""
    if before is not None:
        before()
    bus = EventBus()
    served: Served | None = None
    finished: list[Execution] = []
    started: list[Execution] = []

    def listen(event: object) -> None:
        if isinstance(event, ExecutionFinished):
            finished.append(event.execution)
        elif isinstance(event, ExecutionStarted):
            started.append(event.execution)

    bus.subscribe(listen)

    async def main() -> Served:
        runner = FlowRunner(flow, bus)
        options = SourceOptions(
            prefetch=concurrency, overrides={"clientId": client_id, "topic": topic}
        )
        source = RealtimeTrigger.from_trigger(flow.triggers[0], runner.flow_variables, options)
        service = FlowService(
            runner,
            source,
            concurrency=concurrency,
            dead_letter=source.dead_letter(dead_letter),
        )
        run = asyncio.create_task(service.run(timeout + 30))
        try:
            await until(lambda: source._started or run.done(), 30, "the trigger to subscribe")
            if during is not None:
                await asyncio.get_running_loop().run_in_executor(None, during)
            view = Served(service.summary, source, finished, started)
            await until(lambda: done(view) or run.done(), timeout, "the run's condition")
            if stop == "kill":
                service.kill()
            else:
                service.request_stop("test")
            summary = await run
        finally:
            if not run.done():
                service.kill()
                await asyncio.gather(run, return_exceptions=True)
            await runner.close()
        return Served(summary, source, finished, started)

    try:
        served = asyncio.run(main())
    finally:
        close_connections()
    return served


def nothing_left(flow: Flow, client_id: str, topic: str | list[str], seconds: float = 2.0) -> None:
    """A new run with the same session gets no message within ``seconds``: everything the
    earlier runs took was acknowledged. (Mosquitto hands a session's queued messages over
    within milliseconds of the CONNACK; the wait bounds an absence.)"""
    deadline = time.monotonic() + seconds
    again = serve(
        flow, client_id=client_id, topic=topic, done=lambda s: time.monotonic() > deadline
    )
    assert [e.trigger.label() for e in again.finished] == []


@pytest.fixture
def names(unique_name: Callable[[str], str]) -> Iterator[Callable[[str], str]]:
    """Fresh topic and client names; the sessions made under them are ended afterwards."""
    made: list[str] = []

    def make(purpose: str) -> str:
        name = unique_name(purpose)
        made.append(name)
        return name

    yield make
    for name in made:
        if name.startswith("t_client"):
            clear_session(name)


@pytest.mark.parametrize("version", ["V5", "V3"])
def test_every_qos1_message_runs_once_and_nothing_is_redelivered(
    mqtt_server: str, names: Callable[[str], str], version: str
) -> None:
    flow = flow_of(mqtt_server, version=version)
    topic, client = names("topic"), names("client")
    batch = payloads(topic, 300)
    served = serve(
        flow,
        client_id=client,
        topic=f"{topic}/+",
        # spread over 4 topics: messages of one topic run one after another
        during=lambda: [publish(f"{topic}/{i % 4}", batch[i::4]) for i in range(4)],
        done=lambda s: len(s.finished) >= 300,
    )
    assert Counter(ids(served.finished)) == Counter(json.loads(p)["id"] for p in batch)
    assert {e.state.value for e in served.finished} == {"SUCCESS"}
    assert served.source.acked == 300 and served.source.stale_acks == 0
    assert {e.trigger.qos for e in served.finished} == {1}  # type: ignore[attr-defined]
    nothing_left(flow, client, f"{topic}/+")


def test_messages_published_while_the_trigger_is_stopped_arrive_when_it_restarts(
    mqtt_server: str, names: Callable[[str], str]
) -> None:
    flow = flow_of(mqtt_server)
    topic, client = names("topic"), names("client")
    first = serve(flow, client_id=client, topic=topic, done=lambda s: True)  # makes the session
    assert first.finished == []
    batch = payloads(topic, 200)
    publish(topic, batch)  # nobody connected: the broker keeps them for the session
    second = serve(flow, client_id=client, topic=topic, done=lambda s: len(s.finished) >= 200)
    assert ids(second.finished) == [json.loads(p)["id"] for p in batch]  # one topic: in order
    assert not any(e.trigger.dup for e in second.finished)  # type: ignore[attr-defined]
    nothing_left(flow, client, topic)


def test_a_bad_payload_fails_one_execution_and_is_acknowledged_after_it(
    mqtt_server: str, names: Callable[[str], str]
) -> None:
    flow = flow_of(mqtt_server)
    topic, client = names("topic"), names("client")
    good = payloads(topic, 6)
    served = serve(
        flow,
        client_id=client,
        topic=topic,
        during=lambda: publish(topic, [*good[:3], b"{not json", *good[3:]]),
        done=lambda s: len(s.finished) >= 7,
    )
    states = [e.state.value for e in served.finished]
    assert states == ["SUCCESS"] * 3 + ["FAILED"] + ["SUCCESS"] * 3
    bad = served.finished[3]
    assert bad.error is not None
    assert f"cannot decode the payload of mqtt {topic} id" in bad.error
    assert "as JSON: not JSON" in bad.error
    assert bad.task_runs == []
    assert served.source.acked == 7
    nothing_left(flow, client, topic)


def test_an_acknowledgement_waits_for_every_earlier_message_of_its_connection(
    mqtt_server: str, names: Callable[[str], str]
) -> None:
    """A slow message on one topic, quick ones on another: the quick ones finish first, yet
    none received after the slow one is acknowledged while it runs. Killed at that point,
    the next run gets exactly the slow one and everything received after it, again."""
    flow = flow_of(mqtt_server)
    base, client = names("topic"), names("client")
    slow, quick = f"{base}/slow", f"{base}/quick"
    early = payloads("early", 3)
    late = payloads("late", 8)
    blocker = json.dumps({"id": "slow", "sleep": "PT30S"}).encode()

    def send() -> None:
        publish(quick, early)
        publish(slow, [blocker])
        publish(quick, late)

    first = serve(
        flow,
        client_id=client,
        topic=f"{base}/+",
        during=send,
        done=lambda s: len(s.finished) >= 11,  # all quick ones ended; "slow" still sleeps
        stop="kill",
    )
    assert sorted(ids(first.finished)) == sorted(json.loads(p)["id"] for p in early + late)
    # the quick ones after "slow" finished out of receive order (before it)...
    received = {e.trigger.value["id"]: e.trigger.seq for e in first.started}  # type: ignore[attr-defined]
    assert all(received[json.loads(p)["id"]] > received["slow"] for p in late)
    assert first.source.acked == 3  # ...but only the three received before it were acked

    second = serve(flow, client_id=client, topic=f"{base}/+", done=lambda s: len(s.finished) >= 9)
    again = ids(second.finished)
    assert sorted(again) == sorted(["slow", *(json.loads(p)["id"] for p in late)])
    assert all(e.trigger.dup for e in second.finished)  # type: ignore[attr-defined]
    nothing_left(flow, client, f"{base}/+")


def test_a_graceful_stop_finishes_in_flight_work_and_acknowledges_it(
    mqtt_server: str, names: Callable[[str], str]
) -> None:
    flow = flow_of(mqtt_server)
    base, client = names("topic"), names("client")
    batch = payloads(base, 80, sleep="PT0.3S")
    publish_all = lambda: [publish(f"{base}/{i % 8}", batch[i::8]) for i in range(8)]  # noqa: E731
    first = serve(
        flow,
        client_id=client,
        topic=f"{base}/+",
        during=publish_all,
        done=lambda s: len(s.started) >= 16 and len(s.finished) >= 1,
        concurrency=8,
    )
    # everything started ran to its end; nothing was cancelled
    assert len(first.finished) == len(first.started) >= 16
    assert {e.state.value for e in first.finished} == {"SUCCESS"}
    assert first.source.acked == len(first.finished)
    second = serve(
        flow,
        client_id=client,
        topic=f"{base}/+",
        done=lambda s: len(s.finished) >= 80 - len(first.finished),
        concurrency=8,
    )
    assert set(ids(first.finished)).isdisjoint(ids(second.finished))  # not run again
    assert sorted(ids(first.finished) + ids(second.finished)) == sorted(
        json.loads(p)["id"] for p in batch
    )


def test_qos_0_messages_run_without_acknowledgements(
    mqtt_server: str, names: Callable[[str], str]
) -> None:
    flow = flow_of(mqtt_server, qos=0, serde="STRING")
    topic, client = names("topic"), names("client")
    served = serve(
        flow,
        client_id=client,
        topic=topic,
        during=lambda: publish(topic, [b'{"id": "a"}', b"plain text"], qos=0),
        done=lambda s: len(s.finished) >= 2,
    )
    assert [e.trigger.value for e in served.finished] == ['{"id": "a"}', "plain text"]
    assert [e.trigger.label() for e in served.finished] == [f"mqtt {topic}"] * 2
    assert served.source.acked == 0


def test_a_dead_letter_copy_is_acknowledged_before_the_original(
    mqtt_server: str, names: Callable[[str], str]
) -> None:
    flow = flow_of(mqtt_server)
    topic, client, dead = names("topic"), names("client"), names("dead")
    failing = json.dumps({"id": "f1", "fail": True}).encode()
    with collecting(dead) as letters:
        served = serve(
            flow,
            client_id=client,
            topic=topic,
            during=lambda: publish(topic, [payloads(topic, 1)[0], failing, b"\xffbad"]),
            done=lambda s: len(s.finished) >= 3,
            dead_letter=dead,
        )
        assert served.summary.dead_lettered == 2
        wait_until(letters.payloads, lambda p: len(p) == 2, timeout=10, what="2 dead letters")
    assert letters.payloads() == [failing, b"\xffbad"]  # unchanged
    users = dict(letters.messages[0].properties.UserProperty)
    assert users["kflow.flow"] == "dev.mqtt.mqtt_it"
    assert users["kflow.failed.task"] == "check"
    assert users["kflow.error"] == "task check: asked to fail"
    assert users["kflow.source.topic"] == topic
    assert users["kflow.execution.id"] == served.finished[1].id
    nothing_left(flow, client, topic)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_kflow_run_json_max_executions_end_to_end(
    mqtt_server: str, names: Callable[[str], str], tmp_path: Path
) -> None:
    topic, client = names("topic"), names("client")
    flow = write(
        tmp_path,
        "log.yaml",
        f"""
        id: mqtt_cli
        namespace: dev
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: "{{{{ trigger.topic }}}} #{{{{ trigger.id }}}}: {{{{ trigger.payload.n }}}}"
        triggers:
          - id: watch
            type: io.kestra.plugin.mqtt.RealtimeTrigger
            server: {mqtt_server}
            clientId: {client}
            topic: {topic}
        """,
    )
    # a first run makes the persistent session; what is published next waits in the broker
    with running(flow, ["--timeout", "1"], tmp_path / "a", {}) as prime:
        assert prime.wait(60) == 0, prime.stderr()[-2000:]
    publish(topic, [json.dumps({"n": n}).encode() for n in range(25)])
    with running(flow, ["--max-executions", "20"], tmp_path / "b", {}) as proc:
        assert proc.wait(60) == 0, proc.stderr()[-2000:]
        executions = proc.executions()
        stderr = proc.stderr()
    assert [e["state"] for e in executions] == ["SUCCESS"] * 20
    assert [e["trigger"]["topic"] for e in executions] == [topic] * 20
    assert {e["trigger"]["qos"] for e in executions} == {1}
    assert all(isinstance(e["trigger"]["id"], int) and e["trigger"]["id"] > 0 for e in executions)
    assert "stopped (max-executions) after" in stderr and "20 executions (SUCCESS 20)" in stderr
    with running(flow, ["--max-executions", "5"], tmp_path / "c", {}) as rest:
        assert rest.wait(60) == 0, rest.stderr()[-2000:]
        assert len(rest.executions()) == 5  # the five left, not the twenty acknowledged


def test_an_unreachable_broker_is_one_clear_line(tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        "down.yaml",
        """
        id: mqtt_down
        namespace: dev
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: x
        triggers:
          - id: watch
            type: io.kestra.plugin.mqtt.RealtimeTrigger
            server: tcp://127.0.0.1:9
            topic: t
        """,
    )
    with running(flow, [], tmp_path / "a", {}) as proc:
        code = proc.wait(60)
        lines = proc.stderr().strip().splitlines()
    assert code != 0
    assert lines[-1].endswith(
        "mqtt trigger 'watch': cannot reach the MQTT broker at tcp://127.0.0.1:9: "
        "Connection refused"
    ), lines


@pytest.mark.parametrize("version", ["V5", "V3"])
def test_the_publish_task_sends_each_message_and_waits_for_the_broker(
    mqtt_server: str, names: Callable[[str], str], tmp_path: Path, version: str
) -> None:
    topic = names("out")
    flow = write(
        tmp_path,
        "pub.yaml",
        f"""
        id: mqtt_pub
        namespace: dev
        tasks:
          - id: one
            type: io.kestra.plugin.mqtt.Publish
            server: {mqtt_server}
            mqttVersion: {version}
            topic: {topic}
            serdeType: JSON
            responseTopic: "{topic}/replies"
            correlationData: "{{{{ 'req-7' | base64encode }}}}"
            from:
              order: "{{{{ trigger.value.order }}}}"
              total: 12.5
          - id: many
            type: io.kestra.plugin.mqtt.Publish
            server: {mqtt_server}
            mqttVersion: {version}
            topic: {topic}
            serdeType: STRING
            qos: 2
            from: ["a", "b", "{{{{ outputs.one.messagesCount }}}}"]
          - id: echo
            type: io.kestra.plugin.mqtt.Publish
            server: {mqtt_server}
            mqttVersion: {version}
            topic: {topic}
            serdeType: JSON
            from: "{{{{ trigger.value | toJson }}}}"
        triggers:
          - id: watch
            type: io.kestra.plugin.mqtt.RealtimeTrigger
            server: {mqtt_server}
            topic: in
        """,
    )
    with collecting(topic) as received:
        code, stdout, stderr = kflow_event(flow, '{"order": "o-1"}')
        assert code == 0, stderr
        wait_until(received.payloads, lambda p: len(p) >= 5, timeout=10, what="5 messages")
    outputs = json.loads(stdout.splitlines()[-1])["outputs"]
    assert outputs == {
        "one": {"messagesCount": 1},
        "many": {"messagesCount": 3},
        "echo": {"messagesCount": 1},
    }
    got = received.payloads()
    assert json.loads(got[0]) == {"order": "o-1", "total": 12.5}
    assert got[1:4] == [b"a", b"b", b"1"]
    assert json.loads(got[4]) == {"order": "o-1"}
    first = received.messages[0]
    if version == "V5":
        assert first.properties.ResponseTopic == f"{topic}/replies"
        assert first.properties.CorrelationData == b"req-7"


def kflow_event(flow: Path, event: str) -> tuple[int, str, str]:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "kflow", "run", str(flow), "--json", "--event", event],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


# reliability scenarios: the blog flow (Cassandra lookup, MongoDB insert) as a process ----------


@pytest.fixture(scope="module")
def seeded(cassandra_port: int, cassandra_hosts: list[str]) -> None:
    seed_products(port=cassandra_port)


def blog_flow(tmp_path: Path, database: str) -> Path:
    return sample_flow(
        tmp_path,
        "blog-flow-mqtt.yaml",
        {'database: "kestra"': f'database: "{database}"'},
        name="blog-mqtt.yaml",
    )


def blog_args(server: str, topic: str, client: str, *extra: str) -> list[str]:
    return [
        "--set",
        f"server={server}",
        "--set",
        f"topic={topic}",
        "--set",
        f"clientId={client}",
        "--concurrency",
        "16",
        *extra,
    ]


def stored(docs: Any) -> Counter[str]:
    return Counter(d["order_id"] for d in docs.find({}, {"order_id": 1, "_id": 0}))


@pytest.mark.slow
@pytest.mark.parametrize("round_", [1, 2, 3])
def test_kill_9_of_kflow_run_mid_stream_then_a_restart_loses_nothing(
    seeded: None,
    mqtt_server: str,
    mongo_uri: str,
    names: Callable[[str], str],
    tmp_path: Path,
    round_: int,
) -> None:
    topic, client, database = names("orders"), names("client"), names("db")
    prefix = f"k{round_}-{topic[-6:]}"
    orders = 600
    flow = blog_flow(tmp_path, database)
    args = blog_args(mqtt_server, topic, client)
    env = {"ENV_MONGO_URI": mongo_uri}
    with fresh_database(mongo_uri, database) as db:
        docs = db["detailed_orders_mqtt"]
        with running(flow, [*args, "--timeout", "1"], tmp_path / "prime", env) as prime:
            assert prime.wait(60) == 0, prime.stderr()[-2000:]  # the session exists now
        publish(topic, [encoded(order(prefix, i)) for i in range(orders)])
        with running(flow, args, tmp_path / "run", env) as first:
            wait_until(
                docs.estimated_document_count,
                lambda n: n >= 150,
                timeout=120,
                what="150 orders stored before the kill",
            )
            first.kill9()
        at_kill = sum(stored(docs).values())
        with running(flow, args, tmp_path / "run", env) as second:
            wanted = {order(prefix, i)["order_id"] for i in range(orders)}
            wait_until(
                lambda: wanted - set(stored(docs)),
                lambda left: not left,
                timeout=180,
                what="every order stored after the restart",
            )
            second.sigterm()
            assert second.wait(60) == 0, second.stderr()[-2000:]
        counts = stored(docs)
        assert set(counts) == wanted  # none lost
        duplicates = sum(counts.values()) - orders
        redelivered = [e for e in second.executions() if e["trigger"]["dup"]]
        print(
            f"\n[mqtt kill -9 #{round_}] {orders} orders, {at_kill} stored at the kill, "
            f"{duplicates} stored twice, {len(redelivered)} redelivered (DUP)",
            file=sys.stderr,
        )
        # only messages unacknowledged at the kill run again, and the broker marks them DUP
        assert duplicates <= len(redelivered)
        assert {e["state"] for e in first.executions() + second.executions()} == {"SUCCESS"}


@pytest.mark.slow
@pytest.mark.parametrize("round_", [1, 2, 3])
def test_a_broker_restart_mid_stream_loses_nothing_the_broker_acknowledged(
    seeded: None,
    mqtt_server: str,
    mongo_uri: str,
    names: Callable[[str], str],
    tmp_path: Path,
    round_: int,
) -> None:
    topic, client, database = names("orders"), names("client"), names("db")
    prefix = f"r{round_}-{topic[-6:]}"
    orders = 800
    flow = blog_flow(tmp_path, database)
    args = blog_args(mqtt_server, topic, client)
    env = {"ENV_MONGO_URI": mongo_uri}
    rows = [order(prefix, i) for i in range(orders)]
    with fresh_database(mongo_uri, database) as db:
        docs = db["detailed_orders_mqtt"]
        with running(flow, [*args, "--timeout", "1"], tmp_path / "prime", env) as prime:
            assert prime.wait(60) == 0, prime.stderr()[-2000:]  # the session exists now
        with running(flow, args, tmp_path / "run", env) as proc:
            publisher = PacedPublisher(topic, [encoded(r) for r in rows], rate=300).start()
            try:
                wait_until(
                    docs.estimated_document_count,
                    lambda n: n >= 150,
                    timeout=120,
                    what="150 orders stored before the restart",
                )
                took = restart("mosquitto")
                publisher.join(timeout=120)  # paho sends again what the restart interrupted
            finally:
                publisher.close()
            acked = {rows[i]["order_id"] for i in publisher.acked_ids}
            assert len(acked) == orders
            wait_until(
                lambda: acked - set(stored(docs)),
                lambda left: not left,
                timeout=180,
                what="every acknowledged order stored after the broker restart",
            )
            proc.sigterm()
            assert proc.wait(60) == 0, proc.stderr()[-2000:]
            stderr = proc.stderr()
        counts = stored(docs)
        assert acked <= set(counts)
        assert "lost the connection to" in stderr and "reconnected to" in stderr, stderr[-2000:]
        assert "(session kept)" in stderr
        print(
            f"\n[mqtt broker restart #{round_}] restart took {took:.1f} s; {orders} acked, "
            f"{sum(counts.values()) - orders} stored twice",
            file=sys.stderr,
        )


def test_a_second_trigger_with_the_same_client_id_ends_one_of_them_with_a_clear_error(
    mqtt_server: str, names: Callable[[str], str]
) -> None:
    """Mosquitto closes the older connection of a client id; paho reconnects it, which closes
    the newer one, and so on: kflow notices the fight and one of the two stops."""
    from kflow.errors import MqttError

    flow = flow_of(mqtt_server)
    topic, client = names("topic"), names("client")

    async def main() -> None:
        runner = FlowRunner(flow, EventBus())
        options = SourceOptions(overrides={"clientId": client, "topic": topic})
        pair = [
            RealtimeTrigger.from_trigger(flow.triggers[0], runner.flow_variables, options)
            for _ in range(2)
        ]
        await pair[0].start()
        try:
            await pair[1].start()
            errors: list[MqttError] = []

            async def watch(source: RealtimeTrigger) -> None:
                try:
                    while not errors:
                        await source.next_batch(0.1)
                except MqttError as exc:
                    errors.append(exc)

            await asyncio.wait_for(asyncio.gather(*(watch(s) for s in pair)), 60)
            assert "another client is connected" in str(errors[0])
            assert f"client id '{client}' (session taken over" in str(errors[0])
            assert [s.status().state for s in pair].count("failed") == 1
        finally:
            for source in pair:
                await source.stop()
            await runner.close()

    asyncio.run(main())
