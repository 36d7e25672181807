"""MQTT helpers for tests and benchmarks: acknowledged publishers and a collecting subscriber.

Every publisher here counts what the broker acknowledged (PUBACK for QoS 1), so a test that
asserts "nothing lost" can assert it of exactly the messages the broker took.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from testkit.stack import mqtt_address


def _client(client_id: str = "", *, v5: bool = True, clean: bool = True) -> mqtt.Client:
    kwargs: dict[str, Any] = {} if v5 else {"clean_session": clean}
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"testkit-{uuid.uuid4().hex[:10]}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        **kwargs,
    )


def _connected(client: mqtt.Client, timeout: float = 10.0) -> mqtt.Client:
    ready = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: ready.set()
    host, port = mqtt_address()
    client.connect(host, port, keepalive=30)
    client.loop_start()
    if not ready.wait(timeout):
        client.loop_stop()
        raise AssertionError(f"no CONNACK from Mosquitto at {host}:{port} within {timeout:g} s")
    return client


def publish(
    topic: str, payloads: Iterable[bytes | str], *, qos: int = 1, timeout: float = 60.0
) -> int:
    """Publish every payload to ``topic``; returns how many the broker acknowledged (all of
    them, or AssertionError)."""
    client = _connected(_client())
    try:
        infos = [client.publish(topic, p, qos=qos) for p in payloads]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        acked = sum(1 for i in infos if i.is_published())
        assert acked == len(infos), f"broker acknowledged {acked} of {len(infos)}"
        return acked
    finally:
        client.disconnect()
        client.loop_stop()


@dataclass
class PacedPublisher:
    """Publishes ``payloads`` to ``topic`` at ``rate``/s (0: as fast as possible) on a thread,
    counting the broker's acknowledgements; survives broker restarts (paho reconnects and
    sends again what was not acknowledged)."""

    topic: str
    payloads: list[bytes]
    rate: float = 0.0
    qos: int = 1
    sent: int = 0
    acked_ids: set[int] = field(default_factory=set)  # indexes of acknowledged payloads
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: dict[int, int] = field(default_factory=dict)  # packet id -> payload index
    _early: set[int] = field(default_factory=set)  # acknowledged before they were noted
    _thread: threading.Thread | None = None
    _client: Any = None

    def start(self) -> PacedPublisher:
        client = _client()
        client.on_publish = self._on_publish  # paho calls it under its own lock: see _run
        self._client = _connected(client)
        self._client.reconnect_delay_set(1, 2)
        self._thread = threading.Thread(target=self._run, daemon=True, name="paced-mqtt")
        self._thread.start()
        return self

    @property
    def acked(self) -> int:
        with self._lock:
            return len(self.acked_ids)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._lock:
            index = self._pending.pop(mid, None)
            if index is None:
                self._early.add(mid)
            else:
                self.acked_ids.add(index)

    def _run(self) -> None:
        started = time.monotonic()
        for i, payload in enumerate(self.payloads):
            if self._stop.is_set():
                break
            if self.rate > 0:
                delay = started + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            # queued even while disconnected (sent once reconnected); never under our lock
            info = self._client.publish(self.topic, payload, qos=self.qos)
            with self._lock:
                if info.mid in self._early:
                    self._early.discard(info.mid)
                    self.acked_ids.add(i)
                else:
                    self._pending[info.mid] = i
            self.sent += 1

    def join(self, timeout: float = 120.0) -> None:
        """Wait until every payload was sent and acknowledged."""
        deadline = time.monotonic() + timeout
        while self.acked < len(self.payloads):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"publisher: {self.acked} of {len(self.payloads)} acknowledged after "
                    f"{timeout:g} s"
                )
            time.sleep(0.05)
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


class Collector:
    """A subscriber that keeps every message it receives (auto-acknowledged)."""

    def __init__(self, topic: str, *, v5: bool = True) -> None:
        self.topic = topic
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = _client(v5=v5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def start(self) -> Collector:
        _connected(self.client)
        self.client.subscribe(self.topic, qos=1)
        assert self._subscribed.wait(10), f"no SUBACK for {self.topic}"
        return self

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [bytes(m.payload) for m in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def collecting(topic: str, *, v5: bool = True) -> Iterator[Collector]:
    collector = Collector(topic, v5=v5).start()
    try:
        yield collector
    finally:
        collector.close()


def clear_session(client_id: str, *, v5: bool = True) -> None:
    """End the broker's session of ``client_id`` (a clean connect, then a disconnect)."""
    client = _client(client_id, v5=v5, clean=True)
    ready = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: ready.set()
    host, port = mqtt_address()
    if v5:
        client.connect(host, port, clean_start=True)
    else:
        client.connect(host, port)
    client.loop_start()
    ready.wait(10)
    client.disconnect()
    client.loop_stop()


def persistent_session(client_id: str, topic_filter: str, *, qos: int = 1) -> None:
    """Make the broker keep a session for ``client_id`` (MQTT 5, one hour) subscribed to
    ``topic_filter`` (a ``$share/GROUP/...`` filter makes it a member of that group), so
    what is published from now on waits in it until a client with that id connects."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client = _client(client_id)
    connected, subscribed = threading.Event(), threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set()
    client.on_subscribe = lambda c, u, mid, reasons, p: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    host, port = mqtt_address()
    client.connect(host, port, clean_start=False, properties=props)
    client.loop_start()
    try:
        assert connected.wait(10), f"no CONNACK for {client_id}"
        client.subscribe(topic_filter, qos=qos)
        assert subscribed.wait(10), f"no SUBACK for {topic_filter}"
    finally:
        client.disconnect()
        client.loop_stop()
