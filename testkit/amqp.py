"""RabbitMQ helpers for tests and benchmarks: queues, confirmed publishing, counts, reading back.

Every function is a coroutine (tests that drive kflow in-process share its event loop);
``run`` is ``asyncio.run`` for the others. Publishing waits for the broker's confirm of
every message and fails otherwise, so a test that asserts "nothing lost" knows the broker
had every message. Counts of unacknowledged messages come from ``rabbitmqctl``
(:func:`broker_counts`), which sees what the broker holds, not what a client believes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, TypeVar

from testkit.stack import rabbitmqctl

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


async def _connection(url: str) -> Any:
    import aiormq

    return await asyncio.wait_for(aiormq.connect(url), 10)


async def declare_queue(
    url: str, name: str, *, durable: bool = True, arguments: Mapping[str, Any] | None = None
) -> None:
    connection = await _connection(url)
    try:
        channel = await connection.channel()
        await channel.queue_declare(name, durable=durable, arguments=dict(arguments or {}))
    finally:
        await connection.close()


async def declare_dead_letter_pair(url: str, queue: str, dead: str) -> None:
    """``queue`` with a dead-letter exchange (fanout ``<dead>.dlx``) that routes to ``dead``."""
    connection = await _connection(url)
    try:
        channel = await connection.channel()
        await channel.exchange_declare(f"{dead}.dlx", exchange_type="fanout", durable=True)
        await channel.queue_declare(dead, durable=True)
        await channel.queue_bind(dead, f"{dead}.dlx")
        arguments = {"x-dead-letter-exchange": f"{dead}.dlx"}
        await channel.queue_declare(queue, durable=True, arguments=arguments)
    finally:
        await connection.close()


async def delete(url: str, *queues: str, exchanges: Iterable[str] = ()) -> None:
    connection = await _connection(url)
    try:
        for name in queues:
            channel = await connection.channel()
            await channel.queue_delete(name)
            await channel.close()
        for name in exchanges:
            channel = await connection.channel()
            await channel.exchange_delete(name)
            await channel.close()
    finally:
        await connection.close()


def json_body(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


async def publish(
    url: str,
    queue: str,
    bodies: Iterable[bytes],
    *,
    persistent: bool = True,
    headers: Mapping[str, Any] | None = None,
    stamp: bool = True,
) -> int:
    """Publish to ``queue`` (default exchange) with confirms; returns how many the broker
    confirmed (all of them, or AssertionError). ``stamp`` sets ``timestamp_in_ms``."""
    from pamqp.commands import Basic

    connection = await _connection(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        confirms = []
        for body in bodies:
            extra = {"timestamp_in_ms": int(time.time() * 1000)} if stamp else {}
            properties = Basic.Properties(
                delivery_mode=2 if persistent else 1, headers={**(headers or {}), **extra}
            )
            confirms.append(channel.basic_publish(body, routing_key=queue, properties=properties))
        results = await asyncio.gather(*confirms)
        acked = sum(1 for r in results if isinstance(r, Basic.Ack))
        assert acked == len(results), f"the broker confirmed {acked} of {len(results)} messages"
        return acked
    finally:
        await connection.close()


async def ready_count(url: str, queue: str) -> int:
    """Messages ready in ``queue`` (a passive declare: no unacknowledged ones)."""
    connection = await _connection(url)
    try:
        channel = await connection.channel()
        return int((await channel.queue_declare(queue, passive=True)).message_count or 0)
    finally:
        await connection.close()


async def read_all(url: str, queue: str) -> list[Any]:
    """Every message ready in ``queue``, taken off it (``basic.get`` until empty)."""
    from pamqp.commands import Basic

    connection = await _connection(url)
    out: list[Any] = []
    try:
        channel = await connection.channel()
        while True:
            message = await channel.basic_get(queue, no_ack=True)
            if isinstance(message.delivery, Basic.GetEmpty):
                return out
            out.append(message)
    finally:
        await connection.close()


def broker_counts(queue: str) -> tuple[int, int] | None:
    """``(ready, unacknowledged)`` as RabbitMQ holds them (rabbitmqctl), None if no such queue."""
    out = rabbitmqctl("list_queues", "-q", "name", "messages_ready", "messages_unacknowledged")
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == queue:
            return int(parts[1]), int(parts[2])
    return None


def close_connections(named: str) -> int:
    """Close (from the broker's side) every connection whose client-given name contains
    ``named``, as a network failure would; returns how many."""
    out = rabbitmqctl("list_connections", "-q", "pid", "client_properties")
    closed = 0
    for line in out.splitlines():
        pid, _, props = line.partition("\t")
        if pid.startswith("<") and named in props:
            rabbitmqctl("close_connection", pid, "closed by a kflow test")
            closed += 1
    return closed
