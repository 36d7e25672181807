"""Redis for tests: the conformance kit (a list fed with RPUSH), and reads of a list and of
the trigger's processing lists straight from the server."""

from __future__ import annotations

from typing import Any

from testkit.sources import Message, SourceKit
from testkit.stack import redis_url


def connect(url: str | None = None) -> Any:
    """A synchronous redis-py client (bytes)."""
    import redis

    return redis.Redis.from_url(url or redis_url())


def push(key: str, values: list[bytes], url: str | None = None) -> None:
    """RPUSH ``values`` in order: the trigger (which pops the head) meets them first in,
    first out."""
    client = connect(url)
    try:
        if values:
            client.rpush(key, *values)
    finally:
        client.close()


def processing_lists(key: str, url: str | None = None) -> dict[str, list[bytes]]:
    """The kflow processing lists of ``key`` (every flow and trigger) and what they hold."""
    client = connect(url)
    try:
        out: dict[str, list[bytes]] = {}
        for name in client.scan_iter(match=f"{key}:kflow:*"):
            text = name.decode()
            if not text.endswith(":owner"):
                out[text] = client.lrange(name, 0, -1)
        return out
    finally:
        client.close()


def length(key: str, url: str | None = None) -> int:
    client = connect(url)
    try:
        return int(client.llen(key))
    finally:
        client.close()


def delete_all(key: str, url: str | None = None) -> None:
    """The list and everything kflow made for it (processing lists, leases)."""
    client = connect(url)
    try:
        names = [key.encode(), *client.scan_iter(match=f"{key}:*")]
        client.delete(*names)
    finally:
        client.close()


class RedisKit(SourceKit):
    """A fresh list; messages are RPUSHed so that they run first in, first out."""

    kind, broker = "redis", "redis"
    unordered = "Redis list elements carry no key kflow orders by"

    def prepare(self) -> None:
        delete_all(self.name)

    def publish(self, batch: list[Message]) -> None:
        push(self.name, [m.payload for m in batch])

    def trigger(self) -> str:
        return f"""
          - id: source
            type: io.kestra.plugin.redis.list.RealtimeTrigger
            url: {redis_url()}
            key: {self.name}
            serdeType: JSON
        """
