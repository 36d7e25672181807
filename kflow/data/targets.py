"""Where ``kflow produce orders --to URL`` sends: a Kafka topic, an AMQP queue, an MQTT topic.

- ``kafka://host:port[,host:port]/topic``
- ``amqp://user:password@host[:port][/vhost]/queue`` (the last path segment is the queue,
  published to through the default exchange; a vhost other than ``/`` comes before it,
  percent-encoded as in AMQP URIs: ``%2F`` is ``/``)
- ``mqtt://[user:password@]host[:port]/topic/levels`` (QoS 1)
- ``redis://[:password@]host[:port][/db]?key=orders`` (RPUSH onto a list: first in, first out)
- ``nats://[user:password@]host[:port]/subject`` (JetStream-acknowledged when a stream holds
  the subject)
- ``postgres://user:password@host[:port]/database?table=orders`` and ``mysql://...`` (rows
  upserted into a table, see ``kflow.data.tables``)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from kflow.data.tables import TableTarget
from kflow.errors import UsageError

__all__ = [
    "AmqpTarget",
    "KafkaTarget",
    "MqttTarget",
    "NatsTarget",
    "RedisTarget",
    "Target",
    "parse_target",
]


@dataclass(frozen=True)
class KafkaTarget:
    bootstrap_servers: str
    topic: str

    def describe(self) -> str:
        return f"{self.topic} at {self.bootstrap_servers}"


@dataclass(frozen=True)
class AmqpTarget:
    url: str  # the connection URL, without the queue
    queue: str
    address: str

    def describe(self) -> str:
        return f"queue {self.queue} at {self.address}"


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    topic: str
    username: str | None = None
    password: str | None = None

    def describe(self) -> str:
        return f"mqtt {self.topic} at {self.host}:{self.port}"


@dataclass(frozen=True)
class RedisTarget:
    url: str  # redis://[:password@]host:port/db, without the query
    key: str
    address: str

    def describe(self) -> str:
        return f"redis list {self.key} at {self.address}"


@dataclass(frozen=True)
class NatsTarget:
    url: str  # nats://[user:password@]host:port, without the subject
    subject: str
    address: str

    def describe(self) -> str:
        return f"nats {self.subject} at {self.address}"


Target = KafkaTarget | AmqpTarget | MqttTarget | TableTarget | RedisTarget | NatsTarget


def parse_target(url: str) -> Target:
    """The target of a ``--to`` URL, or a UsageError saying what is wrong with it."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = parts.path.lstrip("/")
    if scheme in ("postgres", "postgresql", "mysql", "mariadb"):
        from kflow.data.tables import parse_table_target

        return parse_table_target(url)
    if scheme not in ("kafka", "amqp", "mqtt", "redis", "nats"):
        raise UsageError(
            f"--to {url!r}: expected kafka://, amqp://, mqtt://, redis://, nats://, "
            "postgres:// or mysql://"
        )
    if not parts.hostname:
        raise UsageError(f"--to {url!r}: no host")
    if scheme == "redis":
        return _redis_target(url, parts)
    if not path:
        what = {"kafka": "topic", "amqp": "queue", "mqtt": "topic", "nats": "subject"}[scheme]
        raise UsageError(f"--to {url!r}: the {what} goes after the host ({scheme}://host/NAME)")
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"--to {url!r}: {exc}") from exc
    if scheme == "kafka":
        return KafkaTarget(parts.netloc, unquote(path))
    if scheme == "amqp":
        vhost, _, queue = path.rpartition("/")
        auth = f"{parts.username or 'guest'}:{parts.password or 'guest'}@"
        address = f"{parts.hostname}:{port or 5672}"
        connection = f"amqp://{auth}{address}/{vhost}"
        return AmqpTarget(connection, unquote(queue), address)
    if scheme == "nats":
        address = f"{parts.hostname}:{port or 4222}"
        server = f"nats://{parts.netloc}" if port else f"nats://{parts.netloc}:4222"
        return NatsTarget(server, unquote(path).replace("/", "."), address)
    return MqttTarget(
        parts.hostname,
        port or 1883,
        unquote(path),
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def _redis_target(url: str, parts: SplitResult) -> RedisTarget:
    key = parse_qs(parts.query).get("key", ["orders"])[-1]
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise UsageError(f"--to {url!r}: the database after the host is a number (redis://host/0)")
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise UsageError(f"--to {url!r}: {exc}") from exc
    auth = parts.netloc.rpartition("@")[0]
    server = f"redis://{auth + '@' if auth else ''}{parts.hostname}:{port}/{db}"
    return RedisTarget(server, key, f"{parts.hostname}:{port}/{db}")
