"""`kflow produce orders --to amqp:// | mqtt:// | redis:// | nats:// | kafka://` against the
real brokers: every CSV row arrives, in order, as the same JSON object Kafka gets."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from kflow.cli.app import app
from kflow.data.csvfiles import read_orders
from testkit.kafka import consume_all
from testkit.stack import amqp_address, mqtt_address

REPO = Path(__file__).resolve().parents[2]
ORDERS = read_orders(REPO / "data" / "orders.csv")
runner = CliRunner()


def produce(*args: str) -> str:
    result = runner.invoke(app, ["produce", "orders", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_to_amqp_fills_a_durable_queue_with_persistent_json_messages(
    amqp_url: str, unique_name: Callable[[str], str]
) -> None:
    queue = unique_name("q")
    host, port = amqp_address()
    out = produce("--to", f"amqp://guest:guest@{host}:{port}/{queue}", "-n", "25", "-r", "0")
    assert out.startswith(f"sent 25, acknowledged 25, failed 0 to queue {queue}")

    from testkit import amqp

    got = [
        (json.loads(m.body), m.header.properties.delivery_mode)
        for m in amqp.run(amqp.read_all(amqp_url, queue))
    ]
    amqp.run(amqp.delete(amqp_url, queue))
    assert [body for body, _ in got] == ORDERS[:25]
    assert {mode for _, mode in got} == {2}  # persistent


def test_to_mqtt_publishes_every_row_with_qos_1(
    mqtt_server: str, unique_name: Callable[[str], str]
) -> None:
    import paho.mqtt.client as mqtt

    topic = unique_name("orders")
    host, port = mqtt_address()
    received: list[tuple[Any, int]] = []
    subscribed, done = threading.Event(), threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)

    def on_message(_c: Any, _u: Any, message: Any) -> None:
        received.append((json.loads(message.payload), message.qos))
        if len(received) == 20:
            done.set()

    client.on_message = on_message
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect(host, port)
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        assert subscribed.wait(10)
        out = produce("--to", f"mqtt://{host}:{port}/{topic}", "-n", "20", "-r", "0")
        assert out.startswith(f"sent 20, acknowledged 20, failed 0 to mqtt {topic}")
        assert done.wait(30), len(received)
    finally:
        client.disconnect()
        client.loop_stop()
    assert [body for body, _ in received] == ORDERS[:20]
    assert {qos for _, qos in received} == {1}


def test_to_redis_pushes_every_row_in_order_onto_the_list(
    redis_url: str, unique_name: Callable[[str], str]
) -> None:
    import redis

    key = unique_name("orders")
    out = produce("--to", f"{redis_url}?key={key}", "-n", "25", "-r", "0")
    assert out.startswith(f"sent 25, acknowledged 25, failed 0 to redis list {key}")
    client = redis.Redis.from_url(redis_url)
    try:
        got = [json.loads(raw) for raw in client.lrange(key, 0, -1)]
    finally:
        client.delete(key)
        client.close()
    assert got == ORDERS[:25]  # RPUSH: the head, where the trigger pops, is the first row


def test_to_nats_is_acknowledged_by_the_stream_holding_the_subject(
    nats_url: str, unique_name: Callable[[str], str]
) -> None:
    import asyncio

    import nats

    name = unique_name("orders")
    subject = f"{name}.new"

    async def stream(action: str) -> list[Any]:
        client = await nats.connect(nats_url)
        js = client.jetstream()
        try:
            if action == "add":
                await js.add_stream(name=name, subjects=[f"{name}.>"])
                return []
            found = [
                json.loads((await js.get_msg(name, seq)).data or b"null") for seq in range(1, 26)
            ]
            await js.delete_stream(name)
            return found
        finally:
            await client.close()

    asyncio.run(stream("add"))
    host_port = nats_url.removeprefix("nats://")
    out = produce("--to", f"nats://{host_port}/{name}/new", "-n", "25", "-r", "0")
    assert out.startswith(f"sent 25, acknowledged 25, failed 0 to nats {subject}")
    assert asyncio.run(stream("read")) == ORDERS[:25]


def test_to_kafka_is_the_same_as_the_flags(kafka_bootstrap: str, topic_name: str) -> None:
    out = produce("--to", f"kafka://{kafka_bootstrap}/{topic_name}", "-n", "5", "-r", "0")
    assert out.startswith(f"sent 5, acknowledged 5, failed 0 to {topic_name} at {kafka_bootstrap}")
    assert [json.loads(r.value) for r in consume_all(kafka_bootstrap, topic_name, 5)] == ORDERS[:5]


def test_a_bad_url_is_one_clear_line() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "kflow", "produce", "orders", "--to", "amqp://127.0.0.1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode != 0
    [line] = proc.stderr.strip().splitlines()
    assert "the queue goes after the host" in line
