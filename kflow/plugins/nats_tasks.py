"""NATS tasks: ``core.Produce`` (JetStream acknowledges each message when a stream holds the
subject), ``core.Request``, and the key/value tasks ``kv.CreateBucket``, ``kv.Get``,
``kv.Put``, ``kv.Delete``.

One connection per distinct server settings for the life of the run (Kestra opens one per
task run), closed when the flow stops. As Kestra's: the connection properties (``url``,
``username``/``password``, ``token``, ``creds``), a message is ``{headers, data}`` (a header
value is a string or a list of strings), and the outputs ``messagesCount`` (Produce),
``response`` (Request), the bucket status (CreateBucket), ``output`` (Get), ``revisions``
(Put), ``deletedCount`` (Delete).

Where kflow differs: Kestra's Produce publishes with core NATS and flushes, so a message for
a subject no stream holds is dropped silently and a full stream is not noticed; kflow waits
for JetStream's acknowledgement of every message when a stream holds the subject (a
refusal fails the task), and flushes otherwise. Data that is not a string is sent as JSON
(Kestra's Produce fails on it; its Request does the same as kflow).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kflow.connectors.nats import NatsSettings, connect, nats_errors, settings_from
from kflow.engine.task import TaskContext, TaskRunner
from kflow.errors import TaskError
from kflow.expr import compile_value
from kflow.flow.model import TaskDef
from kflow.flow.properties import did_you_mean, parse_duration
from kflow.storage import default_storage, is_storage_uri

if TYPE_CHECKING:
    from nats.aio.client import Client

CONNECTION_KEYS = ("url", "username", "password", "token", "creds")
MESSAGE_KEYS = ("headers", "data")
PUBLISH_TIMEOUT_S = 10.0
IN_FLIGHT = 256
"""Messages of one Produce whose JetStream acknowledgement is awaited at once."""

_Key = tuple[int, NatsSettings]


class _Shared:
    """The run's connections (per event loop and settings) and what is known of subjects."""

    def __init__(self) -> None:
        self.connections: dict[_Key, Client] = {}
        self.in_stream: dict[tuple[_Key, str], bool] = {}
        self.locks: dict[_Key, asyncio.Lock] = {}

    @staticmethod
    def key(settings: NatsSettings) -> _Key:
        return id(asyncio.get_running_loop()), settings

    async def connection(self, settings: NatsSettings) -> Client:
        key = self.key(settings)
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:
            client = self.connections.get(key)
            if client is None or client.is_closed:
                client = await connect(settings, name="kflow tasks")
                self.connections[key] = client
            return client

    async def in_a_stream(self, settings: NatsSettings, client: Client, subject: str) -> bool:
        """Whether a JetStream stream holds ``subject`` (asked once per run)."""
        from nats import errors as ne
        from nats.js import errors as je

        cache = (self.key(settings), subject)
        known = self.in_stream.get(cache)
        if known is None:
            try:
                await client.jetstream().find_stream_name_by_subject(subject)
                known = True
            except (je.NotFoundError, ne.NoRespondersError):  # no stream, or no JetStream
                known = False
            self.in_stream[cache] = known
        return known

    async def close(self) -> None:
        """Close the connections of the running loop."""
        loop_id = id(asyncio.get_running_loop())
        for key in [k for k in self.connections if k[0] == loop_id]:
            client = self.connections.pop(key)
            self.locks.pop(key, None)
            with contextlib.suppress(Exception):  # the end of a run: nothing to report
                await asyncio.wait_for(client.drain(), 5)
        self.in_stream = {k: v for k, v in self.in_stream.items() if k[0][0] != loop_id}


_shared = _Shared()


class _NatsTask(TaskRunner):
    """Renders the connection properties; closes the shared connections at the end."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        connection = {k: task.props[k] for k in CONNECTION_KEYS if k in task.props}
        self._connection = compile_value(connection)

    def settings(self, ctx: TaskContext) -> NatsSettings:
        return settings_from(self._connection.render(ctx.variables), "connection")

    async def close(self) -> None:
        await _shared.close()


class Produce(_NatsTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.subject = compile_value(task.props.get("subject") or "")
        self.source = compile_value(task.props.get("from"))

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        from kflow.plugins.nats_consumer import subject_problem

        settings = self.settings(ctx)
        subject = str(self.subject.render(ctx.variables))
        problem = subject_problem(subject, wildcards=False)
        if problem is not None:
            raise TaskError(problem)
        source = self.source.render(ctx.variables)
        if is_storage_uri(source):
            source = await ctx.in_thread(read_file_messages, str(source).strip())
        prepared = [encode_message(m, f"from[{i}]") for i, m in enumerate(read_messages(source))]
        client = await _shared.connection(settings)
        prefix = f"subject {subject!r}: "
        with nats_errors(settings.address, prefix):
            if await _shared.in_a_stream(settings, client, subject):
                js = client.jetstream()
                for start in range(0, len(prepared), IN_FLIGHT):
                    chunk = prepared[start : start + IN_FLIGHT]
                    await asyncio.gather(
                        *(
                            js.publish(subject, data, headers=headers, timeout=PUBLISH_TIMEOUT_S)
                            for data, headers in chunk
                        )
                    )
            else:
                for data, headers in prepared:
                    await client.publish(subject, data, headers=headers)
                await client.flush(timeout=int(PUBLISH_TIMEOUT_S))
        return {"messagesCount": len(prepared)}


class Request(_NatsTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.subject = compile_value(task.props.get("subject") or "")
        self.source = compile_value(task.props.get("from"))
        self.timeout = compile_value(task.props.get("requestTimeout") or "PT5S")

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        from nats import errors as ne

        settings = self.settings(ctx)
        subject = str(self.subject.render(ctx.variables))
        source = self.source.render(ctx.variables)
        if is_storage_uri(source):
            source = await ctx.in_thread(read_file_messages, str(source).strip())
        messages = read_messages(source)
        if not messages:
            raise TaskError("from holds no message to send")
        data, headers = encode_message(messages[0], "from")
        timeout = _seconds(self.timeout.render(ctx.variables), "requestTimeout")
        client = await _shared.connection(settings)
        with nats_errors(settings.address, f"subject {subject!r}: "):
            try:
                reply = await client.request(subject, data, timeout=timeout, headers=headers)
            except (ne.TimeoutError, ne.NoRespondersError):
                return {"response": None}  # as Kestra: no reply is a null response
        return {"response": reply.data.decode("utf-8", "replace")}


class CreateBucket(_NatsTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        keys = ("name", "description", "metadata", "historyPerKey", "bucketSize", "valueSize")
        self.values = compile_value({k: task.props.get(k) for k in keys})

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        from nats.js import api

        v = self.values.render(ctx.variables)
        settings = self.settings(ctx)
        client = await _shared.connection(settings)
        name = str(v["name"])
        config = api.KeyValueConfig(
            bucket=name,
            description=None if v.get("description") is None else str(v["description"]),
            history=_integer(v.get("historyPerKey") or 1, "historyPerKey"),
            max_bytes=_integer(v["bucketSize"], "bucketSize") if v.get("bucketSize") else -1,
            max_value_size=_integer(v["valueSize"], "valueSize") if v.get("valueSize") else -1,
        )
        metadata = v.get("metadata")
        with nats_errors(settings.address, f"bucket {name!r}: "):
            js = client.jetstream()
            kv = await js.create_key_value(config=config)
            status = await kv.status()
            if metadata:
                # nats-py's KeyValueConfig has no metadata: set it on the bucket's stream.
                info = await js.stream_info(f"KV_{name}")
                info.config.metadata = {str(k): str(x) for k, x in dict(metadata).items()}
                await js.update_stream(info.config)
        stream_config = status.stream_info.config
        return {
            "bucket": status.bucket,
            "description": stream_config.description,
            "history": status.history,
            "entryCount": status.values,
            "bucketSize": max(0, stream_config.max_bytes or 0),
            "valueSize": max(0, stream_config.max_msg_size or 0),
            "metadata": dict(metadata or {}) or None,
        }


class KvGet(_NatsTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        keys = ("bucketName", "keys", "keyRevisions")
        self.values = compile_value({k: task.props.get(k) for k in keys})

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        from nats.js import errors as je

        v = self.values.render(ctx.variables)
        settings = self.settings(ctx)
        client = await _shared.connection(settings)
        bucket = str(v["bucketName"])
        wanted: list[tuple[str, int | None]]
        if v.get("keyRevisions"):
            revisions = v["keyRevisions"]
            if not isinstance(revisions, Mapping):
                raise TaskError(f"keyRevisions must be a mapping, got {revisions!r}")
            wanted = [(str(k), _integer(r, f"keyRevisions.{k}")) for k, r in revisions.items()]
        else:
            wanted = [(str(k), None) for k in _string_list(v.get("keys"), "keys")]
        out: dict[str, Any] = {}
        with nats_errors(settings.address, f"bucket {bucket!r}: "):
            kv = await client.jetstream().key_value(bucket)
            for key, revision in wanted:
                try:
                    entry = await kv.get(key, revision)
                except (je.KeyNotFoundError, je.KeyDeletedError):  # left out, as in Kestra
                    continue
                out[key] = _json_value(entry.value, key)
        return {"output": out}


class KvPut(_NatsTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.values = compile_value({k: task.props.get(k) for k in ("bucketName", "values")})

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        v = self.values.render(ctx.variables)
        values = v.get("values")
        if not isinstance(values, Mapping):
            raise TaskError(f"values must be a mapping, got {values!r}")
        settings = self.settings(ctx)
        client = await _shared.connection(settings)
        bucket = str(v["bucketName"])
        revisions: dict[str, int] = {}
        with nats_errors(settings.address, f"bucket {bucket!r}: "):
            kv = await client.jetstream().key_value(bucket)
            for key, value in values.items():
                text = json.dumps(value, ensure_ascii=False, default=str)
                revisions[str(key)] = await kv.put(str(key), text.encode("utf-8"))
        return {"revisions": revisions}


class KvDelete(_NatsTask):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.values = compile_value({k: task.props.get(k) for k in ("bucketName", "keys")})

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        v = self.values.render(ctx.variables)
        keys = _string_list(v.get("keys"), "keys")
        settings = self.settings(ctx)
        client = await _shared.connection(settings)
        bucket = str(v["bucketName"])
        with nats_errors(settings.address, f"bucket {bucket!r}: "):
            kv = await client.jetstream().key_value(bucket)
            for key in keys:
                await kv.delete(key)
        return {"deletedCount": len(keys)}


# messages ----------------------------------------------------------------------------------


def read_file_messages(uri: str) -> list[Any]:
    """The messages of an internal-storage file (ION or JSON lines, one message a line)."""
    with contextlib.closing(default_storage().read_records(uri)) as records:
        return [record for _, record in records]


def read_messages(value: Any) -> list[Mapping[str, Any]]:
    """``from`` rendered (or read from its file): a message, a list of messages, or JSON of
    either."""
    if isinstance(value, str):
        try:
            value = json.loads(value.strip())
        except ValueError as exc:
            raise TaskError(
                "from must be a message {headers, data}, a list of messages or a file URI"
            ) from exc
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise TaskError("from must be a message {headers, data} or a list of messages")
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise TaskError(f"from[{i}] must be a message {{headers, data}}, got {item!r}")
    return value


def encode_message(message: Mapping[str, Any], where: str) -> tuple[bytes, dict[str, str] | None]:
    """The data (a string as UTF-8, anything else as JSON) and headers of one message.

    nats-py sends one value per header name: a list of values is joined with ``,`` (HTTP's
    rule for repeated headers)."""
    for name in message:
        if name not in MESSAGE_KEYS:
            raise TaskError(
                f"{where}: unknown message field {name!r}{did_you_mean(str(name), MESSAGE_KEYS)}"
            )
    data = message.get("data")
    if data is None:
        body = b""
    elif isinstance(data, bytes):
        body = data
    elif isinstance(data, str):
        body = data.encode("utf-8")
    else:
        body = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    headers = message.get("headers")
    if headers is None:
        return body, None
    if not isinstance(headers, Mapping):
        raise TaskError(f"{where}.headers must be a mapping, got {headers!r}")
    out: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(value, list | tuple):
            out[str(name)] = ",".join(str(v) for v in value)
        elif value is not None:
            out[str(name)] = str(value)
    return body, out or None


def _json_value(raw: bytes | None, key: str) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise TaskError(f"the value of key {key!r} is not JSON: {exc}") from exc


def _string_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise TaskError(f"{name} must be a list of strings, got {value!r}")
    return [str(v) for v in value]


def _integer(value: Any, name: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise TaskError(f"{name} must be an integer, got {value!r}") from None


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    seconds = parse_duration(str(value).strip())
    if seconds is None or seconds <= 0:
        raise TaskError(f"{name} must be a duration such as PT5S, got {value!r}")
    return seconds
