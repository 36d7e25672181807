"""RabbitMQ tasks: ``Publish`` (waits for the broker's confirms), ``CreateQueue``,
``DeclareExchange``, ``QueueBind``.

One connection per distinct broker settings for the life of the run (Kestra
opens one per task run), closed when the flow stops. Publishes share one
channel with publisher confirms; declarations use a channel of their own, so an
error the broker answers with a channel close (a missing exchange, an
inequivalent argument) fails only its own task. Before the first publish to a
named exchange, a passive declare on a separate channel checks that it exists,
for the same reason.

As Kestra's: the connection properties (``host``, ``port``, ``username``,
``password``, ``virtualHost``, deprecated ``url``), and the outputs
``messagesCount`` (Publish), ``queue`` (CreateQueue), ``exchange``
(DeclareExchange), ``queue`` and ``exchange`` (QueueBind). An exclusive queue
lives as long as kflow's shared connection (the run), not just the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kflow.connectors.amqp import AmqpSettings, amqp_errors, as_bool, connect, settings_from
from kflow.engine.task import TaskContext, TaskRunner
from kflow.errors import TaskError
from kflow.expr import compile_value
from kflow.flow.model import TaskDef
from kflow.flow.properties import did_you_mean, parse_duration
from kflow.plugins.amqp_record import PROPERTY_NAMES
from kflow.plugins.kafka_serde import encoder
from kflow.storage import default_storage, is_storage_uri

if TYPE_CHECKING:
    from aiormq.abc import AbstractChannel, AbstractConnection

CONNECTION_KEYS = ("host", "port", "username", "password", "virtualHost", "url")
MESSAGE_KEYS = ("data", "headers", *PROPERTY_NAMES, "expiration", "timestamp")
PUBLISH_TIMEOUT_S = 30.0

_Key = tuple[int, AmqpSettings]


class _Shared:
    """The run's connections (per event loop and settings), their publish channels and the
    exchanges known to exist."""

    def __init__(self) -> None:
        self.connections: dict[_Key, AbstractConnection] = {}
        self.publish_channels: dict[_Key, AbstractChannel] = {}
        self.exchanges: dict[_Key, set[str]] = {}
        self.locks: dict[_Key, asyncio.Lock] = {}

    @staticmethod
    def key(settings: AmqpSettings) -> _Key:
        return id(asyncio.get_running_loop()), settings

    async def connection(self, settings: AmqpSettings, prefix: str) -> AbstractConnection:
        key = self.key(settings)
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:
            connection = self.connections.get(key)
            if connection is None or connection.is_closed:
                connection = await connect(settings, name="kflow tasks", prefix=prefix)
                self.connections[key] = connection
                self.publish_channels.pop(key, None)
                self.exchanges.pop(key, None)
            return connection

    async def publish_channel(self, settings: AmqpSettings, prefix: str) -> AbstractChannel:
        connection = await self.connection(settings, prefix)
        key = self.key(settings)
        async with self.locks[key]:
            channel = self.publish_channels.get(key)
            if channel is None or channel.is_closed:
                with amqp_errors(settings.address, prefix):
                    channel = await connection.channel(publisher_confirms=True)
                self.publish_channels[key] = channel
            return channel

    async def close(self) -> None:
        """Close the connections of the running loop."""
        loop_id = id(asyncio.get_running_loop())
        for key in [k for k in self.connections if k[0] == loop_id]:
            connection = self.connections.pop(key)
            self.publish_channels.pop(key, None)
            self.exchanges.pop(key, None)
            self.locks.pop(key, None)
            with contextlib.suppress(Exception):  # the end of a run: nothing to report
                await asyncio.wait_for(connection.close(), 5)


_shared = _Shared()


async def on_own_channel(settings: AmqpSettings, prefix: str, call: Any) -> Any:
    """``await call(channel)`` on a new channel of the shared connection, closed afterwards."""
    connection = await _shared.connection(settings, prefix)
    with amqp_errors(settings.address, prefix):
        channel = await connection.channel(publisher_confirms=False)
        try:
            return await call(channel)
        finally:
            if not channel.is_closed:
                await channel.close()


class _AmqpTask(TaskRunner):
    """Renders the connection properties; closes the shared connections at the end."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.what = "connection"  # the engine names the task in its errors
        connection = {k: task.props[k] for k in CONNECTION_KEYS if k in task.props}
        self._connection = compile_value(connection)

    def settings(self, ctx: TaskContext) -> AmqpSettings:
        return settings_from(self._connection.render(ctx.variables), self.what)

    async def close(self) -> None:
        await _shared.close()


class Publish(_AmqpTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        props = task.props
        self.exchange = compile_value(props.get("exchange") or "")
        self.routing_key = compile_value(props.get("routingKey") or "")
        self.source = compile_value(props.get("from"))
        self.serde = str(props.get("serdeType") or "STRING").upper()
        self.encode = encoder(self.serde)

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        settings = self.settings(ctx)
        exchange = str(self.exchange.render(ctx.variables))
        routing_key = str(self.routing_key.render(ctx.variables))
        source = self.source.render(ctx.variables)
        if is_storage_uri(source):
            source = await ctx.in_thread(read_file_messages, str(source).strip())
        messages = read_messages(source)
        prepared = [self._prepare(m, i) for i, m in enumerate(messages)]
        prefix = f"exchange {exchange!r}: " if exchange else ""
        if exchange:
            await self._check_exchange(settings, exchange, prefix)
        channel = await _shared.publish_channel(settings, prefix)
        with amqp_errors(settings.address, prefix):
            await asyncio.wait_for(
                asyncio.gather(
                    *(
                        channel.basic_publish(
                            body, exchange=exchange, routing_key=routing_key, properties=props
                        )
                        for body, props in prepared
                    )
                ),
                PUBLISH_TIMEOUT_S,
            )
        return {"messagesCount": len(prepared)}

    def _prepare(self, message: Mapping[str, Any], index: int) -> tuple[bytes, Any]:
        where = f"from[{index}]"
        data = message.get("data")
        try:
            body = self.encode(data)
        except (TypeError, ValueError) as exc:
            raise TaskError(f"{where}.data cannot be encoded as {self.serde}: {exc}") from exc
        if body is None:
            body = b"null" if self.serde == "JSON" else b""
        return body, message_properties(message, where)

    async def _check_exchange(self, settings: AmqpSettings, exchange: str, prefix: str) -> None:
        key = _Shared.key(settings)
        if exchange in _shared.exchanges.get(key, ()):
            return

        async def passive(channel: AbstractChannel) -> None:
            await channel.exchange_declare(exchange, passive=True)

        await on_own_channel(settings, prefix, passive)
        _shared.exchanges.setdefault(key, set()).add(exchange)


def read_file_messages(uri: str) -> list[Any]:
    """The messages of an internal-storage file (ION or JSON lines, one message a line)."""
    with contextlib.closing(default_storage().read_records(uri)) as records:
        return [record for _, record in records]


def read_messages(value: Any) -> list[Mapping[str, Any]]:
    """``from`` rendered (or read from its file): a message, a list of messages, or JSON of
    either."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise TaskError("from must be a message, a list of messages or JSON of them") from exc
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise TaskError("from must be a message or a list of messages")
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise TaskError(f"from[{i}] must be a message {{data, headers, ...}}, got {item!r}")
    return value


def message_properties(message: Mapping[str, Any], where: str) -> Any:
    """The AMQP properties of one message given as Kestra's ``Message`` fields."""
    from pamqp.commands import Basic

    for name in message:
        if name not in MESSAGE_KEYS:
            hint = did_you_mean(str(name), MESSAGE_KEYS)
            raise TaskError(f"{where}: unknown message field {name!r}{hint}")
    values: dict[str, Any] = {}
    for name, attr in PROPERTY_NAMES.items():
        value = message.get(name)
        if value is None or value == "":
            continue
        if name in ("deliveryMode", "priority"):
            values[attr] = _integer(value, f"{where}.{name}", 0, 255)
        else:
            values[attr] = str(value)
    headers = message.get("headers")
    if headers is not None:
        if not isinstance(headers, Mapping):
            raise TaskError(f"{where}.headers must be a mapping, got {headers!r}")
        values["headers"] = {str(k): v for k, v in headers.items()}
    if message.get("expiration") not in (None, ""):
        values["expiration"] = _expiration_ms(message["expiration"], f"{where}.expiration")
    if message.get("timestamp") not in (None, ""):
        values["timestamp"] = _timestamp(message["timestamp"], f"{where}.timestamp")
    try:
        return Basic.Properties(**values)
    except ValueError as exc:
        raise TaskError(f"{where}: {exc}") from exc


def _integer(value: Any, where: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise TaskError(f"{where} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise TaskError(f"{where} must be between {low} and {high}, got {number}")
    return number


def _expiration_ms(value: Any, where: str) -> str:
    """A time to live (ISO-8601 duration, or seconds) as AMQP writes it: milliseconds."""
    if isinstance(value, timedelta):
        seconds: float | None = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            seconds = parse_duration(text)
    if seconds is None or seconds < 0:
        raise TaskError(f"{where} must be a duration such as PT30S, got {value!r}")
    return str(round(seconds * 1000))


def _timestamp(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TaskError(f"{where} must be an ISO-8601 instant, got {value!r}") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


class CreateQueue(_AmqpTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        keys = ("name", "durability", "exclusive", "autoDelete", "args")
        self.values = compile_value({k: task.props.get(k) for k in keys})

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        v = self.values.render(ctx.variables)
        name = str(v["name"])

        async def declare(channel: AbstractChannel) -> None:
            await channel.queue_declare(
                name,
                durable=as_bool(v.get("durability", True), "durability", ""),
                exclusive=as_bool(v.get("exclusive", False), "exclusive", ""),
                auto_delete=as_bool(v.get("autoDelete", False), "autoDelete", ""),
                arguments=_arguments(v.get("args")),
            )

        await on_own_channel(self.settings(ctx), f"queue {name!r}: ", declare)
        return {"queue": name}


class DeclareExchange(_AmqpTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        keys = ("name", "exchangeType", "durability", "autoDelete", "internal", "args")
        self.values = compile_value({k: task.props.get(k) for k in keys})

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        v = self.values.render(ctx.variables)
        name = str(v["name"])
        settings = self.settings(ctx)

        async def declare(channel: AbstractChannel) -> None:
            await channel.exchange_declare(
                name,
                exchange_type=str(v.get("exchangeType") or "DIRECT").lower(),
                durable=as_bool(v.get("durability", True), "durability", ""),
                auto_delete=as_bool(v.get("autoDelete", False), "autoDelete", ""),
                internal=as_bool(v.get("internal", False), "internal", ""),
                arguments=_arguments(v.get("args")),
            )

        await on_own_channel(settings, f"exchange {name!r}: ", declare)
        _shared.exchanges.setdefault(_Shared.key(settings), set()).add(name)
        return {"exchange": name}


class QueueBind(_AmqpTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        keys = ("exchange", "queue", "routingKey", "args")
        self.values = compile_value({k: task.props.get(k) for k in keys})

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        v = self.values.render(ctx.variables)
        queue, exchange = str(v["queue"]), str(v["exchange"])

        async def bind(channel: AbstractChannel) -> None:
            await channel.queue_bind(
                queue,
                exchange,
                routing_key=str(v.get("routingKey") or ""),
                arguments=_arguments(v.get("args")),
            )

        prefix = f"binding queue {queue!r} to exchange {exchange!r}: "
        await on_own_channel(self.settings(ctx), prefix, bind)
        return {"queue": queue, "exchange": exchange}


def _arguments(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TaskError(f"args must be a mapping, got {value!r}")
    return {str(k): v for k, v in value.items()}
