"""RabbitMQ ``RealtimeTrigger``: one execution per message, acknowledged once it has finished.

Everything runs on the event loop (aiormq is an asyncio client). The consumer
callback turns each delivery into an :class:`AmqpMessage` and buffers it;
``next_batch`` hands the buffer over; ``ack`` queues the acknowledgement that a
writer task sends on the channel the message came on:

- SUCCESS, SKIPPED, DEAD_LETTERED: ``basic.ack`` (a dead-letter copy was
  confirmed by the broker first);
- FAILED: ``basic.nack`` without requeue, so a queue with a dead-letter
  exchange moves the message there, and a message that always fails cannot loop.

The broker hands over at most ``prefetch`` unacknowledged messages
(``basic.qos``, from ``--concurrency``), which is the back-pressure: ``pause``
has nothing to do with manual acknowledgements (the service simply stops taking
batches); with ``autoAck: true`` the broker ignores the prefetch, so ``pause``
cancels the consumer and resuming consumes again.

A lost connection or channel (a broker restart) voids its deliveries: a
delivery tag means nothing on another channel, and the broker puts every
unacknowledged message back in the queue. The trigger drops what it had not
handed over yet, drops acknowledgements meant for the dead channel (executions
of it that are still running finish; their messages come again: at least once),
reports ``reconnecting`` and connects again with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kflow.connectors.amqp import amqp_errors, as_bool, connect, error_line, settings_from
from kflow.engine.events import StreamStatus, TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.source import Outcome, RecordSource, SourceOptions
from kflow.errors import AmqpError, KflowError
from kflow.expr import render_value
from kflow.flow.model import TriggerDef
from kflow.plugins.amqp_record import AmqpMessage, header_values
from kflow.plugins.kafka_serde import decoder

if TYPE_CHECKING:
    from aiormq.abc import AbstractChannel, AbstractConnection, DeliveredMessage

    from kflow.plugins.amqp_deadletter import AmqpDeadLetter

SERDE_TYPES = ("STRING", "JSON")
BATCH = 256
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 5.0
BACKLOG_EVERY_S = 0.5
STATUS_WATCHED_S = 3.0
"""The backlog is polled only while someone looked at the status this recently."""
CLOSE_TIMEOUT_S = 5.0
TIMESTAMP_HEADER = "timestamp_in_ms"
"""Set by RabbitMQ's message-timestamp plugin (and by kflow's tests): latency is measured
from it; otherwise from the moment kflow received the message."""


class RealtimeTrigger(RecordSource):
    """Consumes ``queue`` for one flow trigger."""

    kind = "amqp"

    def __init__(self, trigger_id: str, props: Mapping[str, Any], *, prefetch: int = 64) -> None:
        self.trigger_id = trigger_id
        self.what = f"trigger '{trigger_id}'"
        self.settings = settings_from(props, self.what)
        self.queue = str(props.get("queue") or "")
        if not self.queue:
            raise AmqpError(f"{self.what}: missing queue", retryable=False)
        self.consumer_tag = str(props.get("consumerTag") or "Kestra")
        self.auto_ack = as_bool(props.get("autoAck", False), "autoAck", self.what)
        self.serde = str(props.get("serdeType") or "STRING").upper()
        if self.serde not in SERDE_TYPES:
            raise AmqpError(
                f"{self.what}: serdeType must be STRING or JSON, got {self.serde}", retryable=False
            )
        self._decode = decoder(self.serde)
        self.prefetch = max(1, min(int(prefetch), 65535))
        self.notify: Callable[[str], None] | None = None
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._generation = 0  # one per channel consumed from
        self._buffer: deque[AmqpMessage] = deque()
        self._ready = asyncio.Event()
        self._acks: deque[tuple[int, int, bool]] = deque()  # (generation, tag, failed)
        self._ack_ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._closing = False
        self._consuming = False
        self._paused = False
        self._pause_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._acker: asyncio.Task[None] | None = None
        self._state = "connecting"
        self._detail: str | None = None
        self._backlog: int | None = None
        self._watched_at = 0.0
        self._seq = 0
        self._unacked = 0  # delivered on the current channel, acknowledgement not sent yet
        self._dead_letter: AmqpDeadLetter | None = None
        self._failure: BaseException | None = None
        self.peak_unacked = 0
        self.acked = 0
        self.nacked = 0
        self.dropped_acks = 0  # meant for a channel that had died: the broker redelivers
        self.reconnects = 0
        self.cancels = 0  # autoAck: consumer cancelled while the service was saturated

    def describe(self) -> str:
        vhost = self.settings.virtual_host
        where = self.settings.address + ("" if vhost == "/" else f" vhost {vhost}")
        return f"amqp queue {self.queue} @ {where}"

    @property
    def generation(self) -> int:
        """The current channel's number; deliveries of older channels are void."""
        return self._generation

    @property
    def connection(self) -> AbstractConnection | None:
        return self._connection

    # construction --------------------------------------------------------------------

    @classmethod
    def from_trigger(
        cls, trigger: TriggerDef, variables: Mapping[str, Any], options: SourceOptions
    ) -> RealtimeTrigger:
        props = dict(trigger.props)
        if options.overrides:
            from kflow.engine.overrides import apply_overrides

            props = apply_overrides(props, options.overrides)
            if "host" in options.overrides:  # a host on the command line replaces a url
                props.pop("url", None)
            elif "url" in options.overrides:
                props.pop("host", None)
        return cls(trigger.id, render_value(props, dict(variables)), prefetch=options.prefetch)

    @classmethod
    def event_record(cls, trigger: TriggerDef | None, event: str, key: str | None) -> AmqpMessage:
        serde = str((trigger.props if trigger else {}).get("serdeType") or "STRING").upper()
        record = AmqpMessage(value=None, key=key, timestamp_ms=int(time.time() * 1000))
        try:
            record.value = decoder(serde)(event.encode("utf-8"))
        except Exception as exc:
            record.error = f"cannot decode --event as {serde}: {exc}"
        return record

    def dead_letter(self, target: str | None) -> AmqpDeadLetter | None:
        """``--dead-letter QUEUE``: a copy of every finally failed message goes to QUEUE
        (declared durable when missing) through the default exchange."""
        if not target:
            return None
        from kflow.plugins.amqp_deadletter import AmqpDeadLetter

        self._dead_letter = AmqpDeadLetter(self, target)
        return self._dead_letter

    # RecordSource ------------------------------------------------------------------

    async def start(self) -> None:
        await self._open()
        self._state = "running"
        self._supervisor = asyncio.create_task(self._supervise(), name="kflow-amqp-supervisor")
        self._acker = asyncio.create_task(self._write_acks(), name="kflow-amqp-acks")
        self._spawn(self._poll_backlog())

    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        if not self._buffer and self._failure is None:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        if self._failure is not None:
            raise self._failure
        out: list[TriggerRecord] = []
        while self._buffer and len(out) < BATCH:
            record = self._buffer.popleft()
            if self._current(record):
                out.append(record)
        return out

    def admit(self, record: TriggerRecord) -> bool:
        """False for a delivery of a channel that has died: the broker delivers it again."""
        assert isinstance(record, AmqpMessage)
        return self._current(record)

    def wanted(self, record: TriggerRecord) -> bool:
        assert isinstance(record, AmqpMessage)
        return self._current(record)

    def _current(self, record: AmqpMessage) -> bool:
        # With autoAck the broker forgot the message at delivery: it must run whatever happens.
        return self.auto_ack or record.generation == self._generation

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        assert isinstance(record, AmqpMessage)
        if self.auto_ack or record.delivery_tag is None:
            return
        if record.generation != self._generation:
            self.dropped_acks += 1
            return
        self._acks.append((record.generation, record.delivery_tag, outcome is Outcome.FAILED))
        self._ack_ready.set()

    def pause(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = paused
        if self.auto_ack and not self._closing:
            self._spawn(self._apply_pause())

    def status(self) -> TriggerStatus:
        self._watched_at = time.monotonic()
        detail = self._detail
        if detail is None and self._paused:
            detail = "paused (back-pressure)"
        return TriggerStatus(
            self.describe(),
            self._state,
            (StreamStatus(f"queue {self.queue}", self._backlog),),
            in_flight=self._unacked,
            detail=detail,
            label="queues",
        )

    async def stop(self) -> None:
        """Stop consuming, send the acknowledgements made so far, close the channel (the
        broker answers only after it has applied them), then the connection."""
        if self._closing:
            return
        self._closing = True
        self._state = "stopping"
        self._stopping.set()
        for task in [self._supervisor, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        channel, connection = self._channel, self._connection
        if channel is not None and not channel.is_closed and self._consuming:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.basic_cancel(self.consumer_tag), CLOSE_TIMEOUT_S)
        self._ack_ready.set()
        if self._acker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._acker, CLOSE_TIMEOUT_S)
        if self._dead_letter is not None:
            await self._dead_letter.close()
        for closable in (channel, connection):
            if closable is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closable.close(), CLOSE_TIMEOUT_S)
        self._channel = self._connection = None
        self._state = "stopped"

    # connection ------------------------------------------------------------------------

    async def _open(self) -> None:
        """Connect, check the queue, set the prefetch and consume; AmqpError on failure."""
        prefix = f"{self.what}: queue {self.queue}: "
        name = f"kflow {self.what} queue {self.queue}"
        connection = await connect(self.settings, name=name, prefix=prefix)
        try:
            with amqp_errors(self.settings.address, prefix):
                channel = await connection.channel(publisher_confirms=False)
                declared = await channel.queue_declare(self.queue, passive=True)
                self._backlog = declared.message_count
                if not self.auto_ack:
                    await channel.basic_qos(prefetch_count=self.prefetch)
                if self._dead_letter is not None:
                    await self._dead_letter.open(connection)
                self._generation += 1
                self._unacked = 0
                self._connection, self._channel = connection, channel
                channel.on_consumer_cancel_callbacks.add(self._on_cancelled)
                if not (self.auto_ack and self._paused):
                    await self._consume(channel)
        except BaseException:
            self._connection = self._channel = None
            with contextlib.suppress(Exception):
                await connection.close()
            raise

    async def _consume(self, channel: AbstractChannel) -> None:
        generation = self._generation

        async def on_delivery(message: DeliveredMessage) -> None:
            self._on_delivery(generation, message)

        await channel.basic_consume(
            self.queue, on_delivery, no_ack=self.auto_ack, consumer_tag=self.consumer_tag
        )
        self._consuming = True

    def _on_delivery(self, generation: int, message: DeliveredMessage) -> None:
        if generation != self._generation:
            return  # a late delivery of a dead channel
        if not self.auto_ack:
            self._unacked += 1
            self.peak_unacked = max(self.peak_unacked, self._unacked)
        self._buffer.append(self._record(message, generation))
        self._ready.set()

    def _on_cancelled(self, frame: Any) -> None:
        # The broker cancelled the consumer (the queue was deleted): start over.
        channel = self._channel
        if channel is not None and not self._closing:
            self._detail = f"the broker cancelled the consumer of queue {self.queue}"
            self._spawn(channel.close())

    async def _supervise(self) -> None:
        try:
            while not self._closing:
                reason = await self._wait_lost()
                if self._closing:
                    return
                self._lost(reason)
                await self._reconnect()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # surfaced to the service by next_batch
            self._failure = (
                exc
                if isinstance(exc, KflowError)
                else AmqpError(f"{self.what}: the consumer of queue {self.queue} stopped: {exc}")
            )
            self._ready.set()

    async def _wait_lost(self) -> str:
        """Wait until the connection or the channel closes; say why."""
        connection, channel = self._connection, self._channel
        assert connection is not None and channel is not None
        watchers = [connection.closing, channel.closing]
        done, pending = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        for future in pending:
            future.cancel()
        for future in done:
            exc = None if future.cancelled() else future.exception()
            if exc is not None and not isinstance(exc, asyncio.CancelledError):
                return error_line(exc, self.settings.address, connected=True)[0]
        return self._detail or f"the connection to RabbitMQ at {self.settings.address} closed"

    def _lost(self, reason: str) -> None:
        self._generation += 1  # acknowledgements of the dead channel are void from now on
        unacked = self._unacked
        if not self.auto_ack:
            self._buffer.clear()
        self._unacked = 0
        self._consuming = False
        self._state = "reconnecting"
        self._detail = reason
        self.reconnects += 1
        old = self._connection
        self._connection = self._channel = None
        if old is not None:
            self._spawn(old.close())
        back = f"; the broker delivers its {unacked} unacknowledged messages again" * bool(unacked)
        self._say(f"lost the queue {self.queue}: {reason}{back}; reconnecting")

    async def _reconnect(self) -> None:
        delay = BACKOFF_INITIAL_S
        last = ""
        while not self._closing:
            try:
                await self._open()
            except (KflowError, OSError) as exc:
                problem = str(exc).removeprefix(f"{self.what}: ")
                self._detail = problem
                if problem != last:  # one line per distinct problem, not one per attempt
                    self._say(f"{problem}; retrying (every {BACKOFF_MAX_S:g} s at most)")
                    last = problem
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            self._state = "running"
            self._detail = None
            self._say(f"reconnected to RabbitMQ at {self.settings.address}, consuming {self.queue}")
            return

    def _say(self, text: str) -> None:
        if self.notify is not None:
            self.notify(f"kflow run: {self.what}: {text}")

    # acknowledgements, pause, backlog ---------------------------------------------------

    async def _write_acks(self) -> None:
        while True:
            await self._ack_ready.wait()
            self._ack_ready.clear()
            while self._acks:
                generation, tag, failed = self._acks.popleft()
                channel = self._channel
                if generation != self._generation or channel is None or channel.is_closed:
                    self.dropped_acks += 1
                    continue
                try:
                    if failed:
                        await channel.basic_nack(tag, requeue=False, wait=False)
                        self.nacked += 1
                    else:
                        await channel.basic_ack(tag, wait=False)
                        self.acked += 1
                    self._unacked -= 1
                except Exception:  # the channel died just now: the broker redelivers
                    self.dropped_acks += 1
            if self._closing:
                return

    async def _apply_pause(self) -> None:
        async with self._pause_lock:
            channel = self._channel
            if channel is None or channel.is_closed:
                return  # a reconnect consumes (or not) by the current pause state
            with contextlib.suppress(Exception):
                if self._paused and self._consuming:
                    await channel.basic_cancel(self.consumer_tag)
                    self._consuming = False
                    self.cancels += 1
                elif not self._paused and not self._consuming:
                    await self._consume(channel)

    async def _poll_backlog(self) -> None:
        """Messages ready in the queue (a passive declare), while someone watches."""
        while True:
            await asyncio.sleep(BACKLOG_EVERY_S)
            channel = self._channel
            if channel is None or channel.is_closed:
                continue
            if time.monotonic() - self._watched_at > STATUS_WATCHED_S:
                continue
            with contextlib.suppress(Exception):
                declared = await asyncio.wait_for(
                    channel.queue_declare(self.queue, passive=True), CLOSE_TIMEOUT_S
                )
                self._backlog = declared.message_count

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # records -------------------------------------------------------------------------------

    def _record(self, message: DeliveredMessage, generation: int) -> AmqpMessage:
        props = message.header.properties
        self._seq += 1
        raw_headers = props.headers or {}
        record = AmqpMessage(
            value=None,
            timestamp_ms=_timestamp_ms(raw_headers.get(TIMESTAMP_HEADER)),
            headers=header_values(raw_headers),
            raw_value=message.body,
            queue=self.queue,
            delivery_tag=message.delivery_tag,
            redelivered=bool(getattr(message.delivery, "redelivered", False)),
            exchange=message.exchange,
            routing_key=message.routing_key,
            generation=generation,
            seq=self._seq,
            properties=props,
        )
        try:
            record.value = self._decode(message.body)
        except Exception as exc:  # a bad message fails its own execution, never the trigger
            record.error = (
                f"cannot decode message #{self._seq} of queue {self.queue} as {self.serde}: {exc}"
            )
        return record


def _timestamp_ms(header: Any) -> int:
    if isinstance(header, int | float) and not isinstance(header, bool) and header > 0:
        return int(header)
    return int(time.time() * 1000)
