"""Sending order events to RabbitMQ, MQTT, Redis and NATS, with the same accounting as Kafka's.

Every event is sent with the broker's acknowledgement awaited (AMQP publisher
confirms on a persistent message, MQTT QoS 1 PUBACK, the reply to Redis' RPUSH, the
JetStream ack when a stream holds the NATS subject), at the schedule's rate, and
counted in a :class:`~kflow.data.produce.ProduceStats`. Sending stops at the first
failure; whatever the broker never answered counts as failed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kflow.connectors.masking import one_line
from kflow.data.pacing import RateSchedule
from kflow.data.produce import ProduceResult, ProduceStats
from kflow.data.targets import AmqpTarget, MqttTarget, NatsTarget, RedisTarget
from kflow.errors import AmqpError, MqttError

WINDOW = 256
"""Events sent and not yet acknowledged, at most."""

ACK_TIMEOUT_S = 60.0


class _Throttled:
    """Calls ``on_progress`` at most every 0.1 s (and always when forced)."""

    def __init__(self, on_progress: Callable[[ProduceStats], None] | None) -> None:
        self.on_progress = on_progress
        self.last = 0.0

    def __call__(self, stats: ProduceStats, force: bool = False) -> None:
        now = time.monotonic()
        if self.on_progress is not None and (force or now - self.last >= 0.1):
            self.last = now
            self.on_progress(stats)


def _body(event: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(event), ensure_ascii=False, separators=(",", ":")).encode()


def _result(stats: ProduceStats, interrupted: bool) -> ProduceResult:
    with stats._lock:
        stats.frozen = True
        unanswered = stats.sent - stats.acknowledged - stats.failed
        if unanswered > 0:
            stats.failed += unanswered
            stats.first_error = stats.first_error or f"{unanswered} event(s) never acknowledged"
    return ProduceResult(
        stats.sent, stats.acknowledged, stats.failed, stats.seconds, stats.first_error, interrupted
    )


def produce_amqp(
    events: Iterable[Mapping[str, Any]],
    target: AmqpTarget,
    rate: float = 1.0,
    on_progress: Callable[[ProduceStats], None] | None = None,
) -> ProduceResult:
    """Publish ``events`` as persistent JSON messages to ``target.queue`` (declared durable
    if missing) through the default exchange, each confirmed by the broker."""
    import aiormq
    from pamqp.commands import Basic

    stats = ProduceStats()
    schedule = RateSchedule(rate, sleep=lambda _s: None)
    report = _Throttled(on_progress)
    properties = Basic.Properties(delivery_mode=2, content_type="application/json")

    async def send() -> None:
        try:
            connection = await asyncio.wait_for(aiormq.connect(target.url), 10)
        except Exception as exc:
            raise AmqpError(
                f"cannot connect to RabbitMQ at {target.address}: {one_line(str(exc))}",
                address=target.address,
            ) from exc
        try:
            channel = await connection.channel(publisher_confirms=True)
            await channel.queue_declare(target.queue, durable=True)
            window = asyncio.Semaphore(WINDOW)
            pending: set[asyncio.Task[None]] = set()

            async def publish(body: bytes) -> None:
                try:
                    confirm = await asyncio.wait_for(
                        channel.basic_publish(
                            body, routing_key=target.queue, properties=properties
                        ),
                        ACK_TIMEOUT_S,
                    )
                    if isinstance(confirm, Basic.Ack):
                        stats.ack()
                    else:
                        stats.fail(AmqpError(f"the broker refused the message ({confirm})"))
                except Exception as exc:
                    stats.fail(exc)
                finally:
                    window.release()

            for index, event in enumerate(events):
                if stats.first_error is not None:
                    break
                delay = schedule.due(index) - time.monotonic() if rate > 0 else 0.0
                if delay > 0:
                    await asyncio.sleep(delay)
                await window.acquire()
                stats.sent += 1
                task = asyncio.create_task(publish(_body(event)))
                pending.add(task)
                task.add_done_callback(pending.discard)
                report(stats)
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        finally:
            await connection.close()

    interrupted = False
    try:
        asyncio.run(send())
    except KeyboardInterrupt:
        interrupted = True
    result = _result(stats, interrupted)
    report(stats, force=True)
    return result


def produce_mqtt(
    events: Iterable[Mapping[str, Any]],
    target: MqttTarget,
    rate: float = 1.0,
    on_progress: Callable[[ProduceStats], None] | None = None,
) -> ProduceResult:
    """Publish ``events`` as JSON to ``target.topic`` with QoS 1, each PUBACKed."""
    import paho.mqtt.client as mqtt

    stats = ProduceStats()
    report = _Throttled(on_progress)
    window = threading.Semaphore(WINDOW)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(WINDOW)
    if target.username:
        client.username_pw_set(target.username, target.password)

    def on_publish(_c: Any, _u: Any, _mid: int, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            stats.fail(MqttError(f"publish refused: {reason}"))
        else:
            stats.ack()
        window.release()

    client.on_publish = on_publish
    address = f"{target.host}:{target.port}"
    try:
        client.connect(target.host, target.port, keepalive=30)
    except OSError as exc:
        raise MqttError(
            f"cannot connect to MQTT at {address}: {exc.strerror or exc}", address=address
        ) from exc
    client.loop_start()
    schedule = RateSchedule(rate)
    interrupted = False
    infos = []
    try:
        for index, event in enumerate(events):
            if stats.first_error is not None:
                break
            schedule.wait(index)
            window.acquire()
            stats.sent += 1
            info = client.publish(target.topic, _body(event), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                stats.fail(
                    MqttError(f"publish to {target.topic} failed: {mqtt.error_string(info.rc)}")
                )
                window.release()
                break
            infos.append(info)
            report(stats)
        deadline = time.monotonic() + ACK_TIMEOUT_S
        for info in infos:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            info.wait_for_publish(left)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        client.disconnect()
        client.loop_stop()
    result = _result(stats, interrupted)
    report(stats, force=True)
    return result


def _run_async(send: Callable[[], Any], stats: ProduceStats, report: _Throttled) -> ProduceResult:
    interrupted = False
    try:
        asyncio.run(send())
    except KeyboardInterrupt:
        interrupted = True
    result = _result(stats, interrupted)
    report(stats, force=True)
    return result


def produce_redis(
    events: Iterable[Mapping[str, Any]],
    target: RedisTarget,
    rate: float = 1.0,
    on_progress: Callable[[ProduceStats], None] | None = None,
) -> ProduceResult:
    """RPUSH ``events`` as JSON onto the list ``target.key`` (the trigger pops the head:
    first in, first out); each counts as acknowledged when Redis has answered its RPUSH."""
    from kflow.connectors.redis import client, parse_url, redis_errors

    stats = ProduceStats()
    schedule = RateSchedule(rate, sleep=lambda _s: None)
    report = _Throttled(on_progress)
    settings = parse_url(target.url)

    async def send() -> None:
        redis = client(settings, name="kflow-produce")
        batch: list[bytes] = []

        async def push() -> None:
            if not batch:
                return
            try:
                with redis_errors(settings.address, f"list {target.key}: "):
                    await redis.rpush(target.key, *batch)
                for _ in batch:
                    stats.ack()
            except Exception as exc:
                stats.fail(exc)
            batch.clear()

        try:
            for index, event in enumerate(events):
                if stats.first_error is not None:
                    break
                delay = schedule.due(index) - time.monotonic() if rate > 0 else 0.0
                if delay > 0:
                    await push()
                    await asyncio.sleep(delay)
                stats.sent += 1
                batch.append(_body(event))
                if rate > 0 or len(batch) >= WINDOW:
                    await push()
                report(stats)
            await push()
        finally:
            await redis.aclose()

    return _run_async(send, stats, report)


def produce_nats(
    events: Iterable[Mapping[str, Any]],
    target: NatsTarget,
    rate: float = 1.0,
    on_progress: Callable[[ProduceStats], None] | None = None,
) -> ProduceResult:
    """Publish ``events`` as JSON to ``target.subject``: through JetStream, each acknowledged
    by the stream, when a stream holds the subject; otherwise published and flushed."""
    from kflow.connectors.nats import NatsSettings, connect, nats_errors

    stats = ProduceStats()
    schedule = RateSchedule(rate, sleep=lambda _s: None)
    report = _Throttled(on_progress)
    settings = NatsSettings(servers=(target.url,))

    async def send() -> None:
        client = await connect(settings, name="kflow-produce", prefix=f"{target.subject}: ")
        try:
            js = client.jetstream()
            with nats_errors(settings.address, f"{target.subject}: "):
                try:
                    await js.find_stream_name_by_subject(target.subject)
                    streamed = True
                except Exception:
                    streamed = False
            window = asyncio.Semaphore(WINDOW)
            pending: set[asyncio.Task[None]] = set()

            async def publish(body: bytes) -> None:
                try:
                    with nats_errors(settings.address, f"{target.subject}: "):
                        await js.publish(target.subject, body, timeout=ACK_TIMEOUT_S)
                    stats.ack()
                except Exception as exc:
                    stats.fail(exc)
                finally:
                    window.release()

            for index, event in enumerate(events):
                if stats.first_error is not None:
                    break
                delay = schedule.due(index) - time.monotonic() if rate > 0 else 0.0
                if delay > 0:
                    await asyncio.sleep(delay)
                stats.sent += 1
                if streamed:
                    await window.acquire()
                    task = asyncio.create_task(publish(_body(event)))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                else:
                    with nats_errors(settings.address, f"{target.subject}: "):
                        await client.publish(target.subject, _body(event))
                    stats.ack()
                report(stats)
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            with nats_errors(settings.address, f"{target.subject}: "):
                await client.flush()
        finally:
            await client.close()

    return _run_async(send, stats, report)
