"""Scale-out per source: two ``kflow run`` processes of one flow on one source, and a
``kill -9`` of one of them, against the real brokers (Kafka's consumer groups are covered by
test_reliability_scale_out.py and test_trigger_rebalance.py).

Every case publishes JSON messages (acknowledged by the broker), runs a flow that stores
one MongoDB document per execution, and asserts: nothing lost (every message id has a
document), duplicates only for work the killed process had taken and not acknowledged, and
that the source's way of sharing work did what docs/scale-out.md says:

- RabbitMQ: competing consumers on one queue; the killed one's unacknowledged messages are
  redelivered to the survivor.
- NATS JetStream: one durable pull consumer; the killed one's messages come back to the
  survivor once the consumer's ack wait has passed.
- MQTT v5 shared subscription (``shareGroup``): Mosquitto spreads messages over the
  members; a killed member's in-flight messages and its share of what arrives while it is
  down wait in its persistent session until it is back (same clientId).
- PostgreSQL / MariaDB CDC: one reader; the second process is a standby and takes over,
  from the slot's confirmed position or the shared stored binlog position.
"""

from __future__ import annotations

import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.processes import KflowProcess, running
from testkit.sources import AmqpKit, Message, MqttKit, SourceKit, flow_yaml, messages
from testkit.stack import fresh_database, mqtt_address
from testkit.waiting import wait_until


@pytest.fixture
def store(mongo_uri: str, unique_name: Callable[[str], str]) -> Iterator[tuple[str, Any]]:
    database = unique_name("db")
    with fresh_database(mongo_uri, database) as db:
        yield database, db["docs"]


def write_flow(tmp_path: Path, kit: SourceKit, mongo_uri: str, database: str, sleep: str) -> Path:
    path = tmp_path / f"{kit.kind}.yaml"
    path.write_text(flow_yaml(kit, mongo_uri, database, "docs", sleep), encoding="utf-8")
    return path


def stored(docs: Any) -> Counter[str]:
    return Counter(d["mid"] for d in docs.find({}, {"mid": 1, "_id": 0}))


def wait_all_stored(docs: Any, batch: list[Message], timeout: float = 120) -> Counter[str]:
    wanted = {m.id for m in batch}
    return wait_until(
        lambda: stored(docs),
        lambda ids: wanted <= set(ids),
        timeout=timeout,
        what=f"a document for each of {len(wanted)} messages",
        every=0.25,
    )


def both_working(a: KflowProcess, b: KflowProcess, at_least: int) -> None:
    wait_until(
        lambda: (a.count(), b.count()),
        lambda counts: min(counts) >= at_least,
        timeout=60,
        what=f"both processes running {at_least} executions",
    )
    assert a.alive, a.stderr()[-2000:]
    assert b.alive, b.stderr()[-2000:]


def runs(process: KflowProcess, docs: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(message id, execution)`` of each execution a process printed: the id is read
    from the document the execution inserted (``outputs.store.insertedId``)."""
    from bson import ObjectId

    executions = [e for e in process.executions() if e["state"] == "SUCCESS"]
    inserted = [ObjectId(e["outputs"]["store"]["insertedId"]) for e in executions]
    found = {d["_id"]: d["mid"] for d in docs.find({"_id": {"$in": inserted}}, {"mid": 1})}
    return [(found[i], e) for i, e in zip(inserted, executions, strict=True)]


def mids(process: KflowProcess, docs: Any) -> set[str]:
    return {mid for mid, _ in runs(process, docs)}


def duplicates(ids: Counter[str]) -> set[str]:
    return {i for i, n in ids.items() if n > 1}


def report(source: str, **numbers: object) -> None:
    """One summary line per case on stderr (shown with ``-s`` or ``-rA``)."""
    text = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in numbers.items())
    print(f"\n[scale-out {source}] {text}", file=sys.stderr)


# RabbitMQ ----------------------------------------------------------------------------


def test_amqp_competing_consumers_and_the_survivor_gets_the_killed_ones_unacked(
    amqp_url: str,
    store: tuple[str, Any],
    mongo_uri: str,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    from testkit.amqp import broker_counts

    database, docs = store
    kit = AmqpKit(unique_name("amqp"))
    kit.prepare()
    batch = messages(kit.name, 400)
    kit.publish(batch)
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0.05S")
    args = ["--concurrency", "8"]
    with running(flow, args, tmp_path / "a", {}) as a, running(flow, args, tmp_path / "b", {}) as b:
        both_working(a, b, 20)
        b.kill9()
        killed = b.executions()
        ids = wait_all_stored(docs, batch)
        wait_until(
            lambda: broker_counts(kit.name),
            lambda counts: counts == (0, 0),
            timeout=30,
            what="RabbitMQ holding no message of the queue (all acknowledged)",
        )
        a.sigterm()
        assert a.wait(60) == 0, a.stderr()[-2000:]
    survivor = a.executions()
    assert {e["state"] for e in survivor + killed} == {"SUCCESS"}
    # competing consumers: each took its own messages (one delivery each while both ran)
    assert set(mids(a, docs)) | set(mids(b, docs)) == {m.id for m in batch}
    # the killed one's unacknowledged messages came to the survivor, flagged redelivered
    redelivered = {mid for mid, e in runs(a, docs) if e["trigger"]["redelivered"]}
    assert redelivered, "the survivor got none of the killed process's unacknowledged messages"
    # a duplicate is only a message the killed process had taken (prefetch 8) and the
    # broker gave again
    assert duplicates(ids) <= redelivered
    assert sum(ids.values()) - len(batch) <= 8
    report(
        "amqp",
        sent=len(batch),
        survivor=len(survivor),
        killed=len(killed),
        redelivered_to_survivor=len(redelivered),
        duplicates=sum(ids.values()) - len(batch),
    )


# NATS JetStream ------------------------------------------------------------------------


ACK_WAIT_S = 2.0


@pytest.fixture
def nats_kit(nats_url: str, unique_name: Callable[[str], str]) -> Iterator[Any]:
    from testkit.nats import NatsKit

    kit = NatsKit(unique_name("nats"), nats_url)
    yield kit
    kit.cleanup()


def test_nats_one_durable_pull_consumer_shared_and_unacked_messages_come_back_after_ack_wait(
    nats_kit: Any, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    from testkit.nats import consumer_state, create_pull_consumer

    database, docs = store
    kit = nats_kit
    kit.prepare()
    # the consumer the trigger names (durableId), made with a short ack wait: kflow uses an
    # existing consumer as it is
    create_pull_consumer(kit.name, kit.name, f"{kit.name}.>", ACK_WAIT_S, kit.url)
    batch = messages(kit.name, 400)
    kit.publish(batch)
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0.05S")
    args = ["--concurrency", "8"]
    with running(flow, args, tmp_path / "a", {}) as a, running(flow, args, tmp_path / "b", {}) as b:
        both_working(a, b, 20)
        b.kill9()
        killed = b.executions()
        ids = wait_all_stored(docs, batch)
        state = wait_until(
            lambda: consumer_state(kit.name, kit.name, kit.url),
            lambda s: s["ack_pending"] == 0 and s["pending"] == 0,
            timeout=30,
            what="the durable consumer with nothing pending or unacknowledged",
        )
        a.sigterm()
        assert a.wait(60) == 0, a.stderr()[-2000:]
    survivor = a.executions()
    assert {e["state"] for e in survivor + killed} == {"SUCCESS"}
    assert state["ack_wait"] == ACK_WAIT_S
    assert set(mids(a, docs)) | set(mids(b, docs)) == {m.id for m in batch}
    # what the killed one had fetched came to the survivor after the ack wait: delivered twice
    again = {mid for mid, e in runs(a, docs) if e["trigger"]["delivered"] > 1}
    assert again, "the survivor got none of the killed process's unacknowledged messages"
    assert duplicates(ids) <= again
    # at most what the killed one held unacknowledged: max(batchSize 10, --concurrency 8)
    assert sum(ids.values()) - len(batch) <= 10
    report(
        "nats",
        sent=len(batch),
        survivor=len(survivor),
        killed=len(killed),
        redelivered_after_ack_wait=len(again),
        duplicates=sum(ids.values()) - len(batch),
    )


# MQTT v5 shared subscription -----------------------------------------------------------


class SharedMqttKit(MqttKit):
    """The MQTT kit's topic read as a shared subscription of group ``<name>-g`` (the
    trigger's ``shareGroup``); each process sets its own ``clientId`` with ``--set``."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.group = f"{name}-g"

    def member(self, n: int) -> str:
        return f"{self.name}-m{n}"

    def prepare(self) -> None:
        from testkit.mqtt import persistent_session

        for n in (1, 2):
            persistent_session(self.member(n), f"$share/{self.group}/{self.name}")

    def trigger(self) -> str:
        host, port = mqtt_address()
        return f"""
          - id: source
            type: io.kestra.plugin.mqtt.RealtimeTrigger
            server: tcp://{host}:{port}
            topic: {self.name}
            shareGroup: {self.group}
            qos: 1
            serdeType: JSON
        """

    def cleanup(self) -> None:
        from testkit.mqtt import clear_session

        for n in (1, 2):
            clear_session(self.member(n))


@pytest.fixture
def mqtt_kit(mqtt_server: str, unique_name: Callable[[str], str]) -> Iterator[SharedMqttKit]:
    kit = SharedMqttKit(unique_name("mqtt"))
    yield kit
    kit.cleanup()


def test_mqtt_shared_subscription_spreads_messages_and_a_killed_members_share_waits_for_it(
    mqtt_kit: SharedMqttKit, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    kit = mqtt_kit
    kit.prepare()
    first = messages(kit.name, 300)
    kit.publish(first)  # Mosquitto queues them round-robin in the two members' sessions
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0.02S")

    def member(n: int) -> list[str]:
        return ["--concurrency", "8", "--set", f"clientId={kit.member(n)}"]

    with running(flow, member(1), tmp_path / "a", {}) as a:
        with running(flow, member(2), tmp_path / "b", {}) as b:
            both_working(a, b, 20)
            b.kill9()
        killed = set(mids(b, docs))
        # published while member 2 is down: its share waits in its session, not for member 1
        later = messages(f"{kit.name}-late", 100)
        kit.publish(later)
        wait_until(
            lambda: {m.id for m in later} & set(mids(a, docs)),
            lambda got: len(got) >= 40,
            timeout=60,
            what="member 1 running its share of what came after the kill",
        )
        late = {m.id for m in later}
        assert late - mids(a, docs), "member 1 got all that came after the kill"
        # member 2 comes back with its clientId: its session hands over what it held
        with running(flow, member(2), tmp_path / "b2", {}) as back:
            ids = wait_all_stored(docs, first + later)
            back.sigterm()
            assert back.wait(60) == 0, back.stderr()[-2000:]
            returned = set(mids(back, docs))
        a.sigterm()
        assert a.wait(60) == 0, a.stderr()[-2000:]
        done_by_1 = mids(a, docs)
    # member 2's share of what came while it was down waited in its session for it: member
    # 1 did not take it over (Mosquitto's round-robin counts the disconnected member)
    assert late & returned, "member 2 found none of its share on its return"
    assert not returned & done_by_1  # a member's share is its own
    assert done_by_1 | killed | returned == {m.id for m in first + later}
    # a duplicate is a message the killed member had taken and not acknowledged (its receive
    # maximum, 8), delivered again (DUP) to the same member
    assert duplicates(ids) <= killed | returned
    assert sum(ids.values()) - len(first + later) <= 8
    assert not (duplicates(ids) & done_by_1)
    report(
        "mqtt",
        sent=len(first + later),
        member_1=len(done_by_1),
        killed_member_2=len(killed),
        member_2_back=len(returned),
        of_them_published_while_it_was_down=len(late & returned),
        duplicates=sum(ids.values()) - len(first + later),
    )


# PostgreSQL CDC ------------------------------------------------------------------------


@pytest.fixture
def pg_kit(postgres_dsn: str, unique_name: Callable[[str], str]) -> Iterator[Any]:
    from testkit.postgres import PostgresCdcKit

    kit = PostgresCdcKit(unique_name("pg"))
    yield kit
    kit.cleanup()


def test_postgres_second_process_is_a_standby_and_takes_the_slot_over_after_a_kill(
    pg_kit: Any, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    from testkit.postgres import slot_info

    database, docs = store
    kit = pg_kit
    kit.prepare()
    first = messages(kit.name, 200)
    kit.publish(first)
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0.1S")
    args = ["--concurrency", "4"]
    with running(flow, args, tmp_path / "a", {}) as a:
        wait_until(lambda: a.count(), lambda n: n >= 20, timeout=60, what="20 executions")
        with running(flow, args, tmp_path / "b", {}) as b:
            wait_until(b.stderr, lambda t: "standby:" in t, timeout=30, what="b on standby")
            assert b.count() == 0 and b.alive, b.stderr()[-2000:]
            assert "is in use by another connection" in b.stderr()
            a.kill9()
            wait_until(
                b.stderr,
                lambda t: "took over the replication slot" in t,
                timeout=30,
                what="the standby taking the slot over",
            )
            later = messages(f"{kit.name}-late", 50)
            kit.publish(later)
            ids = wait_all_stored(docs, first + later)
            b.sigterm()
            assert b.wait(60) == 0, b.stderr()[-2000:]
    assert {e["state"] for e in a.executions() + b.executions()} == {"SUCCESS"}
    # the kill came mid-stream: the standby ran the rest of what the killed one had not
    assert mids(b, docs) & {m.id for m in first}, "the killed process had finished everything"
    assert b.stderr().count("standby:") == 1  # one line while it waited
    # the slot's confirmed position covers it all: a new run has nothing to read
    info = slot_info(kit.slot)
    assert info is not None and not info["active"]
    with running(flow, ["--timeout", "4"], tmp_path / "c", {}) as again:
        assert again.wait(60) == 0, again.stderr()[-2000:]
        assert again.executions() == []
    # duplicates only of changes the killed process had read and not confirmed
    assert not duplicates(ids) & {m.id for m in later}
    assert sum(ids.values()) - len(first + later) <= 64
    report(
        "postgres",
        sent=len(first + later),
        killed=a.count(),
        standby_after_takeover=b.count(),
        duplicates=sum(ids.values()) - len(first + later),
    )


# MariaDB CDC ---------------------------------------------------------------------------


@pytest.fixture
def mysql_kit(mysql_dsn: str, unique_name: Callable[[str], str]) -> Any:
    from testkit.mysql import MysqlCdcKit

    class OneRowPerTransaction(MysqlCdcKit):
        """The stored position moves per transaction: one row each, so a kill repeats
        only what was in flight (the kit's batches are one transaction of 200 rows)."""

        def publish(self, batch: list[Message]) -> None:
            import json

            from testkit.mysql import execute

            sql = f"INSERT INTO `{self.name}` (id, k, n) VALUES (%s, %s, %s)"
            rows = [json.loads(m.payload) for m in batch]
            execute(*[(sql, (r["id"], r["k"], r["n"])) for r in rows])

    return OneRowPerTransaction(unique_name("my"))


def test_mariadb_second_process_is_a_standby_and_resumes_from_the_shared_position(
    mysql_kit: Any, store: tuple[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    database, docs = store
    kit = mysql_kit
    kit.prepare()
    flow = write_flow(tmp_path, kit, mongo_uri, database, "PT0.1S")
    # the two replicas share one state directory: the position the active one stores is
    # where the standby resumes
    env = {"KFLOW_STATE_DIR": str(tmp_path / "shared-state")}
    args = ["--concurrency", "4"]
    first = messages(kit.name, 200)
    warm_up = messages(f"{kit.name}-warm", 1)
    with running(flow, args, tmp_path / "a", env) as a:
        # once its change has run, the (empty) snapshot is over and stored: a streams
        kit.publish(warm_up)
        wait_all_stored(docs, warm_up, timeout=60)
        kit.publish(first)
        wait_until(lambda: a.count(), lambda n: n >= 20, timeout=60, what="20 executions")
        with running(flow, args, tmp_path / "b", env) as b:
            wait_until(b.stderr, lambda t: "standby:" in t, timeout=30, what="b on standby")
            assert b.count() == 0 and b.alive, b.stderr()[-2000:]
            a.kill9()
            wait_until(
                b.stderr,
                lambda t: "took over the binlog position" in t,
                timeout=30,
                what="the standby taking over",
            )
            later = messages(f"{kit.name}-late", 50)
            kit.publish(later)
            ids = wait_all_stored(docs, warm_up + first + later)
            b.sigterm()
            assert b.wait(60) == 0, b.stderr()[-2000:]
    assert {e["state"] for e in a.executions() + b.executions()} == {"SUCCESS"}
    assert mids(b, docs) & {m.id for m in first}, "the killed process had finished everything"
    assert b.stderr().count("standby:") == 1
    assert "resuming from" in b.stderr() and "nothing stored" not in b.stderr()
    # everything finished is stored: a new run (same state directory) has nothing to read
    with running(flow, ["--timeout", "4"], tmp_path / "c", env) as again:
        assert again.wait(60) == 0, again.stderr()[-2000:]
        assert again.executions() == []
    assert not duplicates(ids) & {m.id for m in warm_up + later}
    assert sum(ids.values()) - len(warm_up + first + later) <= 64
    report(
        "mariadb",
        sent=len(warm_up + first + later),
        killed=a.count(),
        standby_after_takeover=b.count(),
        duplicates=sum(ids.values()) - len(warm_up + first + later),
    )


def test_mqtt_share_group_without_a_client_id_is_refused_in_one_line(
    mqtt_server: str, tmp_path: Path, unique_name: Callable[[str], str], mongo_uri: str
) -> None:
    kit = SharedMqttKit(unique_name("mqtt"))
    flow = tmp_path / "shared.yaml"
    flow.write_text(
        textwrap.dedent(flow_yaml(kit, mongo_uri, "unused", "docs", "PT0S")), encoding="utf-8"
    )
    with running(flow, ["--timeout", "10"], tmp_path / "a", {}) as proc:
        code = proc.wait(60)
        err = proc.stderr()
    assert code != 0
    lines = [line for line in err.splitlines() if "shared subscription" in line]
    assert len(lines) == 1, err
    assert "needs a clientId of its own in each kflow process" in lines[0]
    assert "Traceback" not in err


def test_mosquitto_drops_the_in_flight_messages_of_a_clean_start_member_that_dies(
    mqtt_server: str, unique_name: Callable[[str], str]
) -> None:
    """Why kflow's shared subscriptions keep persistent sessions: with clean start (session
    expiry 0), the QoS 1 messages a member had not acknowledged when its connection died
    go to no other member (Mosquitto 2.0; eclipse-mosquitto/mosquitto#2662)."""
    import socket
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from testkit.mqtt import publish

    topic = unique_name("mqtt")
    shared = f"$share/{topic}-g/{topic}"
    got: dict[str, list[bytes]] = {"dying": [], "alive": []}

    def member(name: str, *, acks: bool) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{topic}-{name}",
            protocol=mqtt.MQTTv5,
            manual_ack=not acks,
            reconnect_on_failure=False,
        )
        subscribed = threading.Event()
        client.on_message = lambda c, u, m: got[name].append(bytes(m.payload))
        client.on_subscribe = lambda c, u, mid, reasons, p: subscribed.set()
        client.on_connect = lambda c, u, f, rc, p: c.subscribe(shared, qos=1)
        host, port = mqtt_address()
        client.connect(host, port, clean_start=True)
        client.loop_start()
        assert subscribed.wait(10), f"no SUBACK for {name}"
        return client

    dying, alive = member("dying", acks=False), member("alive", acks=True)
    try:
        publish(topic, [f"m{n}".encode() for n in range(10)])
        wait_until(
            lambda: (len(got["dying"]), len(got["alive"])),
            lambda counts: counts[0] >= 1 and sum(counts) == 10,
            timeout=30,
            what="the ten messages spread over both members",
        )
        held = set(got["dying"])
        sock = dying.socket()
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)  # the connection dies, no DISCONNECT: as a kill -9
        dying.loop_stop()
        # a message published after the death reaches the survivor; anything Mosquitto
        # moved from the dead member would have been sent before it
        publish(topic, [b"after"])
        wait_until(
            lambda: got["alive"], lambda m: b"after" in m, timeout=30, what="the later message"
        )
        assert not held & set(got["alive"]), "Mosquitto gave the dead member's messages on"
    finally:
        alive.disconnect()
        alive.loop_stop()
