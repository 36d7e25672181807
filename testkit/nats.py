"""NATS JetStream for tests: streams, publishing with JetStream's acknowledgement, consumer
state as the server reports it, and the conformance kit.

Every helper is synchronous (it runs nats-py in a loop of its own) so that tests and kits
can call it from anywhere; the ``a*`` coroutines are for tests already in an event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from testkit.sources import Message, SourceKit
from testkit.stack import nats_url

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _connect(url: str) -> Any:
    import nats

    return await nats.connect(url, connect_timeout=5, max_reconnect_attempts=5)


async def acreate_stream(url: str, name: str, subjects: list[str]) -> None:
    """A file-stored stream ``name`` holding ``subjects`` (any stream of that name first
    deleted, so each test starts empty)."""
    from nats.js import errors as je

    nc = await _connect(url)
    try:
        js = nc.jetstream()
        with contextlib.suppress(je.NotFoundError):
            await js.delete_stream(name)
        await js.add_stream(name=name, subjects=subjects, storage="file")
    finally:
        await nc.close()


async def adelete_stream(url: str, name: str) -> None:
    from nats.js import errors as je

    nc = await _connect(url)
    try:
        with contextlib.suppress(je.NotFoundError):
            await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


async def apublish(
    url: str,
    messages: Iterable[tuple[str, bytes]],
    headers: dict[str, str] | None = None,
) -> list[int]:
    """Publish ``(subject, data)`` pairs, each acknowledged by JetStream; their stream
    sequences."""
    nc = await _connect(url)
    try:
        js = nc.jetstream()
        return [
            (await js.publish(subject, data, headers=headers, timeout=10)).seq
            for subject, data in messages
        ]
    finally:
        await nc.close()


async def aconsumer_state(url: str, stream: str, durable: str) -> dict[str, Any]:
    """What the server holds for a consumer: ``ack_pending`` (delivered, not acknowledged),
    ``pending`` (not delivered yet), ``redelivered``, ``acked_floor`` (stream sequence)."""
    nc = await _connect(url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return {
            "ack_pending": info.num_ack_pending,
            "pending": info.num_pending,
            "redelivered": info.num_redelivered,
            "acked_floor": info.ack_floor.stream_seq if info.ack_floor else None,
            "ack_wait": info.config.ack_wait,
            "deliver_policy": info.config.deliver_policy,
        }
    finally:
        await nc.close()


async def aread_all(url: str, stream: str) -> list[Any]:
    """Every message a stream holds, oldest first (an ordered ephemeral consumer)."""
    from nats.js import api
    from nats.js import errors as je

    nc = await _connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        sub = await js.pull_subscribe(
            "", stream=stream, config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE)
        )
        out: list[Any] = []
        while len(out) < info.state.messages:
            try:
                out.extend(await sub.fetch(100, timeout=2))
            except je.FetchTimeoutError:
                break
        return out
    finally:
        await nc.close()


def create_stream(name: str, subjects: list[str], url: str | None = None) -> None:
    run(acreate_stream(url or nats_url(), name, subjects))


def publish(messages: Iterable[tuple[str, bytes]], url: str | None = None) -> list[int]:
    return run(apublish(url or nats_url(), list(messages)))


def consumer_state(stream: str, durable: str, url: str | None = None) -> dict[str, Any]:
    return run(aconsumer_state(url or nats_url(), stream, durable))


def json_data(value: Any) -> bytes:
    return json.dumps(value).encode()


class NatsKit(SourceKit):
    """One stream ``<name>`` holding ``<name>.>``. A message goes to a subject of its own
    key (``<name>.k0``), or of its id when it has none (``<name>.<id>``): subject per
    entity, as NATS applications and the KV store do, so kflow's per-subject order is the
    same-key order the suite checks. The trigger's durable consumer is created by the
    first run with deliverPolicy All, so what is published before it starts is read."""

    kind, broker, unordered = "nats", "nats", None

    def __init__(self, name: str, url: str) -> None:
        super().__init__(name)
        self.url = url

    def field(self, name: str) -> str:
        return f"fromJson(trigger.data).{name}"

    def subject(self, message: Message) -> str:
        return f"{self.name}.{message.key or message.id}"

    def prepare(self) -> None:
        create_stream(self.name, [f"{self.name}.>"], self.url)

    def publish(self, batch: list[Message]) -> None:
        publish([(self.subject(m), m.payload) for m in batch], self.url)

    def cleanup(self) -> None:
        """Delete the stream (and with it the trigger's durable consumer)."""
        run(adelete_stream(self.url, self.name))

    def trigger(self) -> str:
        return f"""
          - id: source
            type: io.kestra.plugin.nats.core.RealtimeTrigger
            url: {self.url}
            subject: {self.name}.>
            durableId: {self.name}
            deliverPolicy: All
        """


async def acreate_pull_consumer(
    url: str, stream: str, durable: str, subject: str, ack_wait_s: float
) -> None:
    """A durable pull consumer with explicit acks and the given ack wait, delivering the
    whole stream (a trigger naming it as ``durableId`` uses it as it is)."""
    from nats.js import api

    nc = await _connect(url)
    try:
        config = api.ConsumerConfig(
            name=durable,
            durable_name=durable,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=ack_wait_s,
            filter_subject=subject,
        )
        await nc.jetstream().add_consumer(stream, config=config)
    finally:
        await nc.close()


def create_pull_consumer(
    stream: str, durable: str, subject: str, ack_wait_s: float, url: str | None = None
) -> None:
    run(acreate_pull_consumer(url or nats_url(), stream, durable, subject, ack_wait_s))
