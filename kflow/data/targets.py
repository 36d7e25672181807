"""Where ``kflow produce orders --to URL`` sends: a Kafka topic, an AMQP queue, an MQTT topic.

- ``kafka://host:port[,host:port]/topic``
- ``amqp://user:password@host[:port][/vhost]/queue`` (the last path segment is the queue,
  published to through the default exchange; a vhost other than ``/`` comes before it,
  percent-encoded as in AMQP URIs: ``%2F`` is ``/``)
- ``mqtt://[user:password@]host[:port]/topic/levels`` (QoS 1)
- ``postgres://user:password@host[:port]/database?table=orders`` and ``mysql://...`` (rows
  upserted into a table, see ``kflow.data.tables``)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from kflow.data.tables import TableTarget
from kflow.errors import UsageError

__all__ = ["AmqpTarget", "KafkaTarget", "MqttTarget", "Target", "parse_target"]


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


Target = KafkaTarget | AmqpTarget | MqttTarget | TableTarget


def parse_target(url: str) -> Target:
    """The target of a ``--to`` URL, or a UsageError saying what is wrong with it."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = parts.path.lstrip("/")
    if scheme in ("postgres", "postgresql", "mysql", "mariadb"):
        from kflow.data.tables import parse_table_target

        return parse_table_target(url)
    if scheme not in ("kafka", "amqp", "mqtt"):
        raise UsageError(f"--to {url!r}: expected kafka://, amqp:// or mqtt://")
    if not parts.hostname:
        raise UsageError(f"--to {url!r}: no host")
    if not path:
        what = {"kafka": "topic", "amqp": "queue", "mqtt": "topic"}[scheme]
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
    return MqttTarget(
        parts.hostname,
        port or 1883,
        unquote(path),
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )
