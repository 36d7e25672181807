"""Redis tasks: ``list.ListPush``, ``pubsub.Publish``, ``string.Get``, ``string.Set``,
``string.Delete``.

One client (a connection pool) per distinct server for the life of the run (Kestra opens
one per task run), closed when the flow stops. Properties and outputs are Kestra's:
ListPush and Publish ``count``; Get ``data`` and ``key``; Set ``oldValue`` (with ``get: true``);
Delete ``count``.

Values are encoded as the rest of kflow encodes them (``kafka_serde.encoder``): with
``serdeType: JSON`` a string that holds JSON is stored as that JSON, not quoted again
(Kestra quotes it: ``'{"a":1}'`` becomes ``"{\\"a\\":1}"``); with STRING a map or a list is
stored as its JSON text.

ListPush pushes to the head (``LPUSH``, as Kestra), so the RealtimeTrigger, which pops
the head, meets the newest first; ``position: TAIL`` (kflow) pushes to the tail instead
(``RPUSH``): first in, first out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kflow.connectors.redis import RedisSettings, client, redis_errors, settings_from
from kflow.engine.task import TaskContext, TaskRunner
from kflow.errors import TaskError
from kflow.expr import compile_value
from kflow.flow.model import TaskDef
from kflow.flow.properties import parse_duration
from kflow.plugins.kafka_serde import decoder, encoder
from kflow.storage import default_storage, is_storage_uri

_Key = tuple[int, RedisSettings]


class _Clients:
    """The run's clients, per event loop and server."""

    def __init__(self) -> None:
        self.clients: dict[_Key, Any] = {}

    def get(self, settings: RedisSettings) -> Any:
        key = (id(asyncio.get_running_loop()), settings)
        found = self.clients.get(key)
        if found is None:
            found = self.clients[key] = client(settings, name="kflow tasks")
        return found

    async def close(self) -> None:
        loop_id = id(asyncio.get_running_loop())
        for key in [k for k in self.clients if k[0] == loop_id]:
            redis = self.clients.pop(key)
            with contextlib.suppress(Exception):  # the end of a run: nothing to report
                await asyncio.wait_for(redis.aclose(), 5)


_clients = _Clients()


class _RedisTask(TaskRunner):
    """Renders ``url``; the shared clients are closed when the flow stops."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self._url = compile_value(task.props.get("url"))
        self._key = compile_value(task.props.get("key"))
        self.serde = str(task.props.get("serdeType") or "STRING").upper()

    def settings(self, ctx: TaskContext) -> RedisSettings:
        return settings_from({"url": self._url.render(ctx.variables)}, "url")

    def key(self, ctx: TaskContext) -> str:
        key = self._key.render(ctx.variables)
        if key is None or str(key) == "":
            raise TaskError("key rendered empty")
        return str(key)

    async def close(self) -> None:
        await _clients.close()


def encode(value: Any, serde: str, where: str) -> bytes:
    try:
        data = encoder(serde)(value)
    except (TypeError, ValueError) as exc:
        raise TaskError(f"{where} cannot be encoded as {serde}: {exc}") from exc
    if data is None:
        return b"null" if serde == "JSON" else b""
    return data


class ListPush(_RedisTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.source = compile_value(task.props.get("from"))
        self.tail = str(task.props.get("position") or "HEAD").upper() == "TAIL"

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        settings = self.settings(ctx)
        key = self.key(ctx)
        source = self.source.render(ctx.variables)
        if is_storage_uri(source):
            values = await ctx.in_thread(read_file_values, str(source).strip())
        else:
            values = push_values(source)
        encoded = [encode(v, self.serde, f"from[{i}]") for i, v in enumerate(values)]
        if encoded:
            redis = _clients.get(settings)
            with redis_errors(settings.address, f"list {key}: "):
                if self.tail:
                    await redis.rpush(key, *encoded)
                else:
                    await redis.lpush(key, *encoded)
        return {"count": len(encoded)}


class Publish(_RedisTask):
    """``PUBLISH`` each value to ``channel`` (Redis keeps nothing: a value reaches the
    clients subscribed at that moment)."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.channel = compile_value(task.props.get("channel"))
        self.source = compile_value(task.props.get("from"))

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        settings = self.settings(ctx)
        channel = str(self.channel.render(ctx.variables) or "")
        if not channel:
            raise TaskError("channel rendered empty")
        source = self.source.render(ctx.variables)
        if is_storage_uri(source):
            values = await ctx.in_thread(read_file_values, str(source).strip())
        else:
            values = push_values(source)
        encoded = [encode(v, self.serde, f"from[{i}]") for i, v in enumerate(values)]
        redis = _clients.get(settings)
        with redis_errors(settings.address, f"channel {channel}: "):
            async with redis.pipeline(transaction=False) as pipe:
                for data in encoded:
                    pipe.publish(channel, data)
                await pipe.execute()
        return {"count": len(encoded)}


def push_values(value: Any) -> list[Any]:
    """``from`` rendered: a list is its items; a string holding a JSON array is its items;
    any other value is one value (Kestra reads any other string as a file URI)."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            with contextlib.suppress(ValueError):
                parsed = json.loads(text)
                if isinstance(parsed, list):
                    return parsed
    return [value]


def read_file_values(uri: str) -> list[Any]:
    """The values of an internal-storage file (ION or JSON lines, one a line)."""
    with contextlib.closing(default_storage().read_records(uri)) as records:
        return [record for _, record in records]


class Get(_RedisTask):
    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        settings = self.settings(ctx)
        key = self.key(ctx)
        redis = _clients.get(settings)
        with redis_errors(settings.address, f"key {key}: "):
            raw = await redis.get(key)
        if raw is None:
            return {"data": None, "key": key}
        try:
            data = decoder(self.serde)(raw)
        except Exception as exc:
            raise TaskError(
                f"the value of key {key} cannot be read as {self.serde}: {exc}"
            ) from exc
        return {"data": data, "key": key}


class Set(_RedisTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.value = compile_value(task.props.get("value"))
        self.options = compile_value(task.props.get("options") or {})
        self.get = bool(task.props.get("get"))

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        settings = self.settings(ctx)
        key = self.key(ctx)
        data = encode(self.value.render(ctx.variables), self.serde, "value")
        args = set_arguments(self.options.render(ctx.variables) or {})
        redis = _clients.get(settings)
        with redis_errors(settings.address, f"key {key}: "):
            old = await redis.set(key, data, get=self.get, **args)
        if self.get and isinstance(old, bytes):
            return {"oldValue": old.decode("utf-8", "replace")}
        return {}


def set_arguments(options: Mapping[str, Any]) -> dict[str, Any]:
    """redis-py's ``set`` keywords for Kestra's ``Set.options``."""
    out: dict[str, Any] = {}
    ttl = options.get("expirationDuration")
    if ttl not in (None, ""):
        if isinstance(ttl, timedelta):
            seconds: float | None = ttl.total_seconds()
        elif isinstance(ttl, int | float) and not isinstance(ttl, bool):
            seconds = float(ttl)
        else:
            seconds = parse_duration(str(ttl))
        if seconds is None or seconds <= 0:
            raise TaskError(f"options.expirationDuration must be a positive duration, got {ttl!r}")
        out["px"] = int(seconds * 1000)
    date = options.get("expirationDate")
    if date not in (None, ""):
        try:
            when = date if isinstance(date, datetime) else datetime.fromisoformat(str(date))
        except ValueError:
            raise TaskError(
                f"options.expirationDate must be an ISO-8601 instant, got {date!r}"
            ) from None
        if when.tzinfo is None:
            raise TaskError(f"options.expirationDate needs a time zone, got {date!r}")
        out["pxat"] = int(when.timestamp() * 1000)
    for name, flag in (("mustNotExist", "nx"), ("mustExist", "xx"), ("keepTtl", "keepttl")):
        value = options.get(name)
        if value is True or str(value).lower() == "true":
            out[flag] = True
    if "px" in out and "pxat" in out:
        raise TaskError("set options.expirationDuration or options.expirationDate, not both")
    return out


class Delete(_RedisTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.keys = compile_value(task.props.get("keys"))
        self.failed_on_missing = bool(task.props.get("failedOnMissing"))

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        settings = self.settings(ctx)
        keys = key_list(self.keys.render(ctx.variables))
        redis = _clients.get(settings)
        with redis_errors(settings.address):
            count = int(await redis.delete(*keys)) if keys else 0
        if self.failed_on_missing and count != len(keys):
            raise TaskError(f"only {count} of the {len(keys)} keys existed")
        return {"count": count}


def key_list(value: Any) -> list[str]:
    """``keys`` rendered: a list, a JSON array, or one key."""
    if isinstance(value, str):
        values = push_values(value)
    elif isinstance(value, list | tuple):
        values = list(value)
    else:
        values = [value]
    return [str(v) for v in values if v is not None and str(v) != ""]
