"""The NATS ``RealtimeTrigger`` and tasks against the real nats-server (JetStream on).

Each test has a stream of its own (``<name>`` holding ``<name>.>``). Flows run as
``kflow run`` processes; what the server holds for the durable consumer (messages delivered
and not acknowledged, messages not delivered yet, redeliveries) is read from the server
itself. Every message is published with JetStream's acknowledgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import kflow.expr  # noqa: F401 - before kflow.storage: importing that first is circular
from kflow.engine.events import EventBus
from kflow.engine.execution import Execution, TriggerRecord
from kflow.engine.runner import FlowRunner
from kflow.flow import Flow, load_flow_text
from testkit import nats as kit
from testkit import stack
from testkit.processes import kflow_run, running, sample_flow
from testkit.waiting import wait_until

pytestmark = pytest.mark.integration

FLOW = """
id: nats_orders
namespace: test
tasks:
  - id: refuse
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ fromJson(trigger.data).fail ?? false }}}}"
    errorMessage: "order {{{{ fromJson(trigger.data).i }}}} refused"
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{{{ fromJson(trigger.data).sleep ?? 'PT0S' }}}}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      i: "{{{{ fromJson(trigger.data).i }}}}"
      subject: "{{{{ trigger.subject }}}}"
      headers: "{{{{ trigger.headers }}}}"
      data: "{{{{ trigger.data }}}}"
      timestamp: "{{{{ trigger.timestamp }}}}"
triggers:
  - id: watch
    type: io.kestra.plugin.nats.core.RealtimeTrigger
    url: {url}
    subject: {subject}
    durableId: {durable}
{extra}"""


@pytest.fixture
def stream(nats_url: str, unique_name: Callable[[str], str]) -> Iterator[str]:
    """A stream of the test's own, holding ``<name>.>``; deleted afterwards."""
    name = unique_name("nats")
    kit.create_stream(name, [f"{name}.>"], nats_url)
    yield name
    kit.run(kit.adelete_stream(nats_url, name))


def write_flow(
    tmp_path: Path,
    url: str,
    subject: str,
    durable: str,
    extra: str = "",
    name: str = "flow.yaml",
) -> Path:
    path = tmp_path / name
    text = FLOW.format(
        url=url, subject=subject, durable=durable, extra=textwrap.indent(extra, "    ")
    )
    path.write_text(text, encoding="utf-8")
    return path


def orders(stream: str, n: int, *, subjects: int = 1, start: int = 0, **extra: Any) -> list:
    """``(subject, data)`` of orders ``{"i": start..start+n-1}`` spread over subjects."""
    return [
        (f"{stream}.o{i % subjects}", kit.json_data({"i": i, **extra}))
        for i in range(start, start + n)
    ]


def done(executions: list[dict[str, Any]]) -> list[int]:
    return [int(e["outputs"]["out"]["values"]["i"]) for e in executions if e.get("outputs")]


def state(url: str, stream: str, durable: str) -> dict[str, Any]:
    return kit.consumer_state(stream, durable, url)


def load(text: str) -> Flow:
    result = load_flow_text(text, "flow.yaml", for_run=True)
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    return result.flow


def run_once(text: str) -> Execution:
    """One execution of a flow of tasks, in process."""

    async def scenario() -> Execution:
        runner = FlowRunner(load(text), EventBus(), environ={})
        try:
            return await runner.execute(TriggerRecord(value=None))
        finally:
            await runner.close()

    return asyncio.run(scenario())


# the trigger ---------------------------------------------------------------------------------


def test_every_message_runs_once_is_acknowledged_and_gives_kestras_variables(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    published = orders(stream, 30, subjects=3)
    kit.run(kit.apublish(nats_url, published, headers={"origin": "test"}))
    flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream)
    result = kflow_run(flow, "--max-executions", "30", "--timeout", "60", mongo_uri="")
    assert result.code == 0, result.stderr
    assert [e["state"] for e in result.executions] == ["SUCCESS"] * 30
    assert sorted(done(result.executions)) == list(range(30))
    first = next(e for e in result.executions if e["outputs"]["out"]["values"]["i"] == "4")
    values = first["outputs"]["out"]["values"]
    assert values["subject"] == f"{stream}.o1"
    assert json.loads(values["headers"]) == {"origin": ["test"]}
    assert values["data"] == '{"i": 4}'  # a string, as Kestra gives it
    assert abs(datetime.fromisoformat(values["timestamp"]) - datetime.now(UTC)).seconds < 120
    assert first["trigger"]["stream"] == stream and first["trigger"]["delivered"] == 1
    # per subject, in stream order
    for subject in {s for s, _ in published}:
        runs = sorted(
            (e["startDate"], e["trigger"]["sequence"])
            for e in result.executions
            if e["trigger"]["subject"] == subject
        )
        assert [seq for _, seq in runs] == sorted(seq for _, seq in runs)
    assert state(nats_url, stream, stream)["ack_pending"] == 0
    assert state(nats_url, stream, stream)["pending"] == 0


def test_without_durable_id_the_consumer_is_named_after_the_flow_and_resumes(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    flow = tmp_path / "flow.yaml"
    text = FLOW.format(url=nats_url, subject=f"{stream}.>", durable="x", extra="")
    flow.write_text(text.replace("    durableId: x\n", ""), encoding="utf-8")
    kit.publish(orders(stream, 3), nats_url)
    first = kflow_run(flow, "--max-executions", "3", "--timeout", "30", mongo_uri="")
    assert first.code == 0, first.stderr
    assert "created the durable consumer kflow-test-nats_orders-watch" in first.stderr
    kit.publish(orders(stream, 2, start=3), nats_url)
    second = kflow_run(flow, "--max-executions", "2", "--timeout", "30", mongo_uri="")
    assert second.code == 0, second.stderr
    assert sorted(done(second.executions)) == [3, 4]  # went on where the first stopped
    assert state(nats_url, stream, "kflow-test-nats_orders-watch")["pending"] == 0


def test_a_failed_execution_is_terminated_and_never_delivered_again(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    kit.publish(orders(stream, 2) + orders(stream, 1, start=2, fail=True), nats_url)
    kit.publish(orders(stream, 2, start=3), nats_url)
    flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream)
    result = kflow_run(flow, "--max-executions", "5", "--timeout", "60", mongo_uri="")
    assert result.code == 0, result.stderr
    assert Counter(e["state"] for e in result.executions) == {"SUCCESS": 4, "FAILED": 1}
    assert state(nats_url, stream, stream)["ack_pending"] == 0
    again = kflow_run(flow, "--timeout", "3", mongo_uri="")
    assert again.code == 0, again.stderr
    assert again.executions == []


def test_a_failed_message_goes_to_the_dead_letter_subject_first(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    dlq = f"{stream}_dlq"
    kit.create_stream(dlq, [f"{dlq}.failed"], nats_url)
    try:
        kit.publish(orders(stream, 1) + orders(stream, 1, start=1, fail=True), nats_url)
        flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream)
        args = ("--max-executions", "2", "--timeout", "60", "--dead-letter", f"{dlq}.failed")
        result = kflow_run(flow, *args, mongo_uri="")
        assert result.code == 0, result.stderr
        assert "2 executions (FAILED 1, SUCCESS 1, 1 dead-lettered)" in result.stderr
        copies = kit.run(kit.aread_all(nats_url, dlq))
        assert [json.loads(m.data) for m in copies] == [{"i": 1, "fail": True}]
        assert copies[0].headers["Kflow-Source-Subject"] == f"{stream}.o0"
        assert "order 1 refused" in copies[0].headers["Kflow-Error"]
        assert state(nats_url, stream, stream)["ack_pending"] == 0
        refused = kflow_run(flow, "--timeout", "5", "--dead-letter", f"{stream}.x", mongo_uri="")
        assert refused.code == 1 and "failed messages would come back" in refused.stderr
    finally:
        kit.run(kit.adelete_stream(nats_url, dlq))


def test_kill_9_mid_stream_loses_nothing_and_replays_only_what_was_in_flight(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    kit.publish(orders(stream, 120, subjects=120, sleep="PT0.05S"), nats_url)
    flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream)
    with running(flow, ["--concurrency", "4"], tmp_path / "a", {}) as first:
        wait_until(first.count, lambda n: n >= 30, timeout=60, what="30 executions")
        first.kill9()
        finished_first = done(first.executions())
    with running(flow, ["--concurrency", "4"], tmp_path / "b", {}) as second:
        wanted = set(range(120))
        wait_until(
            lambda: wanted - set(finished_first) - set(done(second.executions())),
            lambda left: not left,
            timeout=90,
            what="every order",
        )
        second.sigterm()
        assert second.wait(60) == 0, second.stderr()[-2000:]
        runs = second.executions()
    replayed = set(finished_first) & set(done(runs))
    # in flight: fetched and not acknowledged, at most max(batchSize 10, --concurrency 4)
    assert len(replayed) <= 10, replayed
    assert all(e["trigger"]["delivered"] >= 2 for e in runs if int(done([e])[0]) in replayed)
    after = state(nats_url, stream, stream)
    assert (after["ack_pending"], after["pending"]) == (0, 0)


def test_a_clean_stop_leaves_nothing_pending_and_gives_back_what_it_did_not_run(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    kit.publish(orders(stream, 40, subjects=40, sleep="PT0.1S"), nats_url)
    flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream)
    with running(flow, ["--concurrency", "4"], tmp_path / "a", {}) as first:
        wait_until(first.count, lambda n: n >= 8, timeout=60, what="8 executions")
        first.sigterm()
        assert first.wait(60) == 0, first.stderr()[-2000:]
        finished_first = done(first.executions())
    # Given back at once (-NAK), not after the 10 s ack wait: a run shorter than that gets
    # every message the first did not finish, and none it finished.
    started = time.monotonic()
    left = 40 - len(finished_first)
    second = kflow_run(
        flow, "--concurrency", "8", "--max-executions", str(left), "--timeout", "8", mongo_uri=""
    )
    assert second.code == 0, second.stderr
    assert time.monotonic() - started < 9
    assert sorted(finished_first + done(second.executions)) == list(range(40))
    after = state(nats_url, stream, stream)
    assert (after["ack_pending"], after["pending"]) == (0, 0)


def test_a_long_execution_is_kept_in_progress_and_not_delivered_twice(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    async def short_ack_wait() -> None:
        from nats.js import api

        nc = await kit._connect(nats_url)
        try:
            await nc.jetstream().add_consumer(
                stream,
                api.ConsumerConfig(durable_name=stream, ack_wait=1.0, filter_subject=f"{stream}.>"),
            )
        finally:
            await nc.close()

    kit.run(short_ack_wait())  # an existing consumer keeps its ack wait: 1 s
    kit.publish(orders(stream, 1, sleep="PT4S"), nats_url)
    flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream)
    result = kflow_run(flow, "--timeout", "7", mongo_uri="")
    assert result.code == 0, result.stderr
    assert done(result.executions) == [0]  # once, though it ran four ack waits
    after = state(nats_url, stream, stream)
    assert (after["redelivered"], after["ack_pending"]) == (0, 0)
    assert f"{stream} exists with an ack wait of 1 s, which it keeps" in result.stderr


def test_ack_wait_is_the_ack_wait_of_the_consumer_kflow_creates(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    kit.publish(orders(stream, 2), nats_url)
    flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream, extra="ackWait: PT3S\n")
    result = kflow_run(flow, "--max-executions", "2", "--timeout", "30", mongo_uri="")
    assert result.code == 0, result.stderr
    assert sorted(done(result.executions)) == [0, 1]
    assert state(nats_url, stream, stream)["ack_wait"] == 3.0
    assert "(deliverPolicy All, ack wait 3 s)" in result.stderr


def test_an_ack_wait_under_a_second_is_refused_before_connecting(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "nats://127.0.0.1:1", "s.>", "d", extra="ackWait: PT0.5S\n")
    result = kflow_run(flow, "--timeout", "10", mongo_uri="")
    assert result.code == 1
    assert "ackWait must be at least one second (PT1S), not 0.5 s" in result.stderr


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("deliverPolicy: All\n", [0, 1, 2, 3, 4]),
        ("deliverPolicy: Last\n", [4]),
        ("deliverPolicy: ByStartSequence\nsince: '4'\n", [3, 4]),
        ("since: '4'\n", [3, 4]),  # a sequence in since implies ByStartSequence
        ("deliverPolicy: ByStartTime\nsince: '{since}'\n", [3, 4]),
    ],
)
def test_deliver_policy_chooses_where_a_new_consumer_starts(
    nats_url: str, stream: str, tmp_path: Path, extra: str, expected: list[int]
) -> None:
    kit.publish(orders(stream, 3), nats_url)
    time.sleep(0.05)  # a gap in the stream's timestamps between the two batches
    since = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    kit.publish(orders(stream, 2, start=3), nats_url)
    flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream, extra.format(since=since))
    result = kflow_run(flow, "--timeout", "4", mongo_uri="")
    assert result.code == 0, result.stderr
    assert sorted(done(result.executions)) == expected


def test_deliver_policy_new_reads_only_what_comes_after_the_consumer(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    kit.publish(orders(stream, 3), nats_url)
    flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream, "deliverPolicy: New\n")
    with running(flow, [], tmp_path / "a", {}) as proc:

        def consumer() -> dict[str, Any] | None:
            try:
                return state(nats_url, stream, stream)
            except Exception:
                return None

        wait_until(consumer, lambda s: s is not None, timeout=30, what="the durable consumer")
        kit.publish(orders(stream, 2, start=3), nats_url)
        wait_until(proc.count, lambda n: n >= 2, timeout=30, what="2 executions")
        proc.sigterm()
        assert proc.wait(60) == 0, proc.stderr()[-2000:]
        assert sorted(done(proc.executions())) == [3, 4]


def test_a_deleted_consumer_is_made_again_and_the_stream_goes_on(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    kit.publish(orders(stream, 2), nats_url)
    flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream)
    with running(flow, [], tmp_path / "a", {}) as proc:
        wait_until(proc.count, lambda n: n >= 2, timeout=30, what="2 executions")

        async def delete() -> None:
            nc = await kit._connect(nats_url)
            try:
                await nc.jetstream().delete_consumer(stream, stream)
            finally:
                await nc.close()

        kit.run(delete())
        kit.publish(orders(stream, 1, start=2), nats_url)
        # made again with deliverPolicy All: the two first come again, then the new one
        wait_until(proc.count, lambda n: n >= 5, timeout=30, what="5 executions")
        proc.sigterm()
        assert proc.wait(60) == 0, proc.stderr()[-2000:]
        assert sorted(done(proc.executions())) == [0, 0, 1, 1, 2]
        assert f"the durable consumer {stream} on stream {stream} is gone" in proc.stderr()


def test_a_subject_no_stream_holds_fails_at_start_with_one_line(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    subject = f"{stream}_nowhere.orders"
    flow = write_flow(tmp_path, nats_url, subject, stream)
    result = kflow_run(flow, "--timeout", "30", mongo_uri="")
    assert result.code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "no JetStream stream holds subject" in lines[0] and subject in lines[0]
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_is_one_line_without_the_password(
    stream: str, tmp_path: Path
) -> None:
    flow = write_flow(tmp_path, "nats://kflow:hunter22@127.0.0.1:1", f"{stream}.>", stream)
    result = kflow_run(flow, "--timeout", "30", mongo_uri="")
    assert result.code == 1
    assert "cannot reach NATS at 127.0.0.1:1" in result.stderr
    assert "hunter22" not in result.stderr and "Traceback" not in result.stderr


def test_a_nats_restart_mid_stream_loses_nothing(
    nats_url: str, stream: str, tmp_path: Path
) -> None:
    kit.publish(orders(stream, 150, subjects=150, sleep="PT0.02S"), nats_url)
    flow = write_flow(tmp_path, nats_url, f"{stream}.>", stream)
    with running(flow, ["--concurrency", "8"], tmp_path / "a", {}) as proc:
        wait_until(proc.count, lambda n: n >= 30, timeout=60, what="30 executions")
        stack.restart("nats")
        wait_until(
            lambda: set(range(150)) - set(done(proc.executions())),
            lambda left: not left,
            timeout=120,
            what="every order",
        )
        # An acknowledgement on its way when the server went down is lost with it: that
        # message comes again after the ack wait and runs again (at least once); then the
        # server holds nothing unacknowledged.
        wait_until(
            lambda: state(nats_url, stream, stream),
            lambda s: (s["ack_pending"], s["pending"]) == (0, 0),
            timeout=60,
            what="every acknowledgement",
        )
        # The last orders may finish before the server is back: the trigger then reconnects
        # after every order is done; wait for that rather than race it.
        wait_until(
            proc.stderr,
            lambda err: "reconnected to NATS" in err,
            timeout=60,
            what="the trigger to reconnect",
        )
        proc.sigterm()
        assert proc.wait(60) == 0, proc.stderr()[-2000:]
        assert "lost the connection to NATS" in proc.stderr()
        replayed = [i for i, n in Counter(done(proc.executions())).items() if n > 1]
        assert len(replayed) <= 8 + 10, replayed  # what was in flight at the restart


# tasks ----------------------------------------------------------------------------------------

PRODUCE = """
id: nats_produce
namespace: test
tasks:
  - id: one
    type: io.kestra.plugin.nats.core.Produce
    url: {url}
    subject: {subject}
    from:
      headers:
        someHeaderKey: someHeaderValue
        many: [a, b]
      data: Hello Kestra From Produce Task
  - id: list
    type: io.kestra.plugin.nats.Produce
    url: {url}
    subject: {subject}
    from:
      - data: '{{"i": 1}}'
      - data: {{i: 2}}
  - id: file
    type: io.kestra.plugin.nats.core.Produce
    url: {url}
    subject: {subject}
    from: "{uri}"
  - id: nowhere
    type: io.kestra.plugin.nats.core.Produce
    url: {url}
    subject: {stream}_nostream.x
    from: {{data: "not kept: no stream holds the subject"}}
"""


ROUND_TRIP = """
id: nats_back
namespace: test
tasks:
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      subject: "{{{{ trigger.subject }}}}"
      headers: "{{{{ trigger.headers }}}}"
      data: "{{{{ trigger.data }}}}"
triggers:
  - id: watch
    type: io.kestra.plugin.nats.RealtimeTrigger
    url: {url}
    subject: {subject}
    durableId: {durable}
"""


def test_produce_round_trip_through_the_trigger(
    nats_url: str, stream: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFLOW_STORAGE_DIR", str(tmp_path))
    from kflow.storage import default_storage

    uri, _ = default_storage().write_records(
        "kestra:///test/files", [{"data": f"line {i}"} for i in range(3)], "json"
    )
    subject = f"{stream}.produced"
    text = PRODUCE.format(url=nats_url, subject=subject, uri=uri, stream=stream)
    execution = run_once(text)
    assert execution.state.value == "SUCCESS", execution.error
    counts = {k: v["messagesCount"] for k, v in execution.outputs.items()}
    assert counts == {"one": 1, "list": 2, "file": 3, "nowhere": 1}
    stored = kit.run(kit.aread_all(nats_url, stream))
    assert [m.data for m in stored] == [
        b"Hello Kestra From Produce Task",
        b'{"i": 1}',
        b'{"i": 2}',
        b"line 0",
        b"line 1",
        b"line 2",
    ]
    assert stored[0].headers == {"someHeaderKey": "someHeaderValue", "many": "a,b"}
    # and back through the trigger, as Kestra's RealtimeTriggerTest does
    flow = tmp_path / "back.yaml"
    flow.write_text(ROUND_TRIP.format(url=nats_url, subject=subject, durable=stream))
    result = kflow_run(flow, "--max-executions", "6", "--timeout", "30", mongo_uri="")
    assert result.code == 0, result.stderr
    back = [e["outputs"]["out"]["values"] for e in result.executions]
    assert back[0] == {
        "subject": subject,
        "headers": '{"someHeaderKey":["someHeaderValue"],"many":["a,b"]}',
        "data": "Hello Kestra From Produce Task",
    }
    assert [v["data"] for v in back[1:]] == ['{"i": 1}', '{"i": 2}', "line 0", "line 1", "line 2"]


def test_produce_to_a_full_stream_fails_the_task(
    nats_url: str, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("full")

    async def small_stream() -> None:
        nc = await kit._connect(nats_url)
        try:
            await nc.jetstream().add_stream(
                name=name, subjects=[f"{name}.>"], max_msgs=1, discard="new"
            )
        finally:
            await nc.close()

    kit.run(small_stream())
    try:
        text = f"""
id: full
namespace: test
tasks:
  - id: produce
    type: io.kestra.plugin.nats.core.Produce
    url: {nats_url}
    subject: {name}.x
    from: [{{data: a}}, {{data: b}}]
"""
        execution = run_once(text)
        assert execution.state.value == "FAILED"
        assert execution.error is not None
        assert "NATS at 127.0.0.1" in execution.error and "maximum messages" in execution.error
    finally:
        kit.run(kit.adelete_stream(nats_url, name))


def test_request_and_the_key_value_tasks(nats_url: str, unique_name: Callable[[str], str]) -> None:
    bucket = unique_name("kv")
    subject = f"{bucket}.greet"
    text = f"""
id: kv
namespace: test
tasks:
  - id: create
    type: io.kestra.plugin.nats.kv.CreateBucket
    url: {nats_url}
    name: {bucket}
    description: for a test
    historyPerKey: 2
  - id: put
    type: io.kestra.plugin.nats.kv.Put
    url: {nats_url}
    bucketName: {bucket}
    values:
      key1: value1
      key2: {{subKey1: some other value}}
  - id: get
    type: io.kestra.plugin.nats.kv.Get
    url: {nats_url}
    bucketName: {bucket}
    keys: [key1, key2, missing]
  - id: delete
    type: io.kestra.plugin.nats.kv.Delete
    url: {nats_url}
    bucketName: {bucket}
    keys: [key1]
  - id: after
    type: io.kestra.plugin.nats.kv.Get
    url: {nats_url}
    bucketName: {bucket}
    keys: [key1, key2]
  - id: request
    type: io.kestra.plugin.nats.core.Request
    url: {nats_url}
    subject: {subject}
    from:
      headers: {{who: kflow}}
      data: {{name: bob}}
    requestTimeout: PT5S
"""

    async def scenario() -> Execution:
        import nats

        nc = await nats.connect(nats_url)

        async def answer(msg: Any) -> None:
            name = json.loads(msg.data)["name"]
            await msg.respond(f"hello {name} from {msg.headers['who']}".encode())

        await nc.subscribe(subject, cb=answer)
        runner = FlowRunner(load(text), EventBus(), environ={})
        try:
            return await runner.execute(TriggerRecord(value=None))
        finally:
            await runner.close()
            with contextlib.suppress(Exception):
                await nc.jetstream().delete_key_value(bucket)
            await nc.close()

    execution = asyncio.run(scenario())
    assert execution.state.value == "SUCCESS", execution.error
    out = execution.outputs
    assert out["create"]["bucket"] == bucket and out["create"]["history"] == 2
    assert out["put"]["revisions"] == {"key1": 1, "key2": 2}
    assert out["get"]["output"] == {"key1": "value1", "key2": {"subKey1": "some other value"}}
    assert out["delete"] == {"deletedCount": 1}
    assert out["after"]["output"] == {"key2": {"subKey1": "some other value"}}
    assert out["request"] == {"response": "hello bob from kflow"}


# the sample -----------------------------------------------------------------------------------


def test_blog_flow_sample_enriches_orders_from_nats(
    nats_url: str,
    stream: str,
    mongo_uri: str,
    seeded_products: None,
    collection_name: str,
    tmp_path: Path,
) -> None:
    from testkit.orders import csv_orders, csv_products

    rows = csv_orders()[:30]
    kit.publish([(f"{stream}.orders", json.dumps(r).encode()) for r in rows], nats_url)
    flow = sample_flow(
        tmp_path,
        "blog-flow-nats.yaml",
        {
            '"detailed_orders"': f'"{collection_name}"',
            "subject: orders": f"subject: {stream}.orders",
            "durableId: get_detailed_order": f"durableId: {stream}",
        },
    )
    with stack.fresh_database(mongo_uri, "kestra") as db:
        try:
            args = ("--max-executions", "30", "--timeout", "90")
            result = kflow_run(flow, *args, mongo_uri=mongo_uri, ENV_NATS_URL=nats_url)
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
    after = state(nats_url, stream, stream)
    assert (after["ack_pending"], after["pending"]) == (0, 0)
