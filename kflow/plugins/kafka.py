"""Kafka ``Produce`` task: sends rendered records and waits for the broker's acknowledgements.

One producer per distinct ``properties`` for the life of the process.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kflow.connectors.kafka import bootstrap_address, kafka_errors, make_producer
from kflow.engine.task import TaskContext, TaskRunner
from kflow.errors import TaskError
from kflow.expr import compile_value
from kflow.flow.model import TaskDef
from kflow.plugins.driver_futures import settle_from_thread
from kflow.plugins.kafka_serde import encoder

_producers: dict[str, Any] = {}
_lock = threading.Lock()


def shared_producer(properties: Mapping[str, Any]) -> Any:
    key = json.dumps(properties, sort_keys=True, default=str)
    with _lock:
        producer = _producers.get(key)
        if producer is None:
            producer = make_producer(properties, linger_ms=1)
            _producers[key] = producer
        return producer


def close_producers() -> None:
    with _lock:
        producers = list(_producers.values())
        _producers.clear()
    for producer in producers:
        producer.close()


def _timestamp_ms(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


class Produce(TaskRunner):
    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        props = task.props
        self.properties = compile_value(props.get("properties") or {})
        self.topic = compile_value(props.get("topic"))
        self.records = compile_value(props.get("from"))
        self.encode_key = encoder(str(props.get("keySerializer") or "STRING"))
        self.encode_value = encoder(str(props.get("valueSerializer") or "STRING"))

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        properties = self.properties.render(ctx.variables)
        default_topic = self.topic.render(ctx.variables)
        records = self.records.render(ctx.variables)
        if isinstance(records, str):
            try:
                records = json.loads(records)
            except ValueError as exc:
                raise TaskError("from must be a record, a list of records or JSON of them") from exc
        if isinstance(records, Mapping):
            records = [records]
        if not isinstance(records, list):
            raise TaskError("from must be a record or a list of records")
        producer = await ctx.in_thread(shared_producer, properties)
        address = bootstrap_address(producer.config)
        loop = asyncio.get_running_loop()
        waits = []
        with kafka_errors(address):
            for record in records:
                topic = record.get("topic") or default_topic
                if not topic:
                    raise TaskError("a record has no topic and the task sets none")
                headers = [
                    (str(k), None if v is None else str(v).encode())
                    for k, v in (record.get("headers") or {}).items()
                ]
                future, ok, err = settle_from_thread(loop)
                sent = producer.send(
                    str(topic),
                    value=self.encode_value(record.get("value")),
                    key=self.encode_key(record.get("key")),
                    partition=record.get("partition"),
                    timestamp_ms=_timestamp_ms(record.get("timestamp")),
                    headers=headers or None,
                )
                sent.add_callback(ok)
                sent.add_errback(err)
                waits.append(future)
            await asyncio.gather(*waits)
        return {"messagesCount": len(records)}
