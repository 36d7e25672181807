"""NATS ``RealtimeTrigger``: one execution per JetStream message, acknowledged once it finished.

Kestra's trigger acknowledges each message as soon as it has emitted the execution; this
one does what the other kflow sources do:

- **A durable pull consumer.** ``durableId`` names it; without one kflow derives a stable
  name from the flow and trigger ids (``kflow-<namespace>-<flow>-<trigger>``), so a restart
  goes on where the last run stopped. The consumer is created with explicit acks,
  ``deliverPolicy`` (and ``since``) and an ack wait of ``ackWait`` (a kflow property;
  ``ACK_WAIT_S`` by default); an existing one is
  used as it is (its position, policy and ack wait stay the server's).
- **The stream must exist**, as in Kestra: a subject no stream holds fails the start with one
  line naming the subject.
- **Fetched in batches of** ``batchSize``, at most ``max(batchSize, --concurrency)`` messages
  unacknowledged at once; ``pause`` (back-pressure) stops fetching.
- **Acknowledged after the execution**: ``+ACK`` when it ended (SUCCESS, WARNING, SKIPPED,
  or FAILED with its copy on the dead-letter subject), ``+TERM`` when it finally FAILED:
  the server never delivers it again (a message that always fails cannot loop, as with
  AMQP's nack without requeue), and publishes a ``MSG_TERMINATED`` advisory that tools can
  watch. A message still running is kept in progress (``+WPI`` every quarter of the ack
  wait), so a long execution is not delivered twice; one whose execution did not finish
  (a kill -9, a lost process) comes again once the ack wait has passed: at least once.
- **A clean stop** sends the acknowledgements made so far, gives back (``-NAK``) what it
  fetched and did not run, so the next run gets those at once, and flushes before closing.
- **Reconnects** by itself (nats-py), reporting each loss and return; acknowledgements of
  messages fetched before a server restart are still valid after it. A consumer that
  disappeared (deleted, or a server without file storage) is created again.
- **Bad payloads fail one execution**: data that is not UTF-8 gives a record with an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kflow.connectors.nats import (
    NatsError,
    NatsSettings,
    connect,
    error_line,
    nats_errors,
    settings_from,
)
from kflow.engine.events import StreamStatus, TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.source import Outcome, RecordSource, SourceOptions
from kflow.errors import FlowError, KflowError
from kflow.expr import render_value
from kflow.flow.model import TriggerDef
from kflow.plugins.nats_consumer import (
    ConsumerConfigError,
    StartPosition,
    default_durable,
    durable_problem,
    start_position,
    subject_problem,
)
from kflow.plugins.nats_record import NatsMessage, header_lists

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

    from kflow.plugins.nats_deadletter import NatsDeadLetter

ACK_WAIT_S = 10.0
"""The ack wait of consumers kflow creates unless ``ackWait`` says otherwise: a message of a
process that died comes again this long after its last sign of progress."""
FETCH_WAIT_S = 1.0
CHECK_IDLE_S = 5.0
"""While nothing comes, the consumer is looked up this often: a deleted consumer does not
make fetches fail, they just stay empty."""
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 5.0
CLOSE_TIMEOUT_S = 5.0
MAX_BATCH = 500


class RealtimeTrigger(RecordSource):
    """Consumes ``subject`` through a durable JetStream pull consumer for one flow trigger."""

    kind = "nats"

    def __init__(
        self,
        trigger: TriggerDef,
        *,
        variables: Mapping[str, Any] | None = None,
        prefetch: int = 64,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        variables = dict(variables or {})
        raw = dict(trigger.props)
        if overrides:
            from kflow.engine.overrides import apply_overrides

            raw = apply_overrides(raw, overrides)
        props = render_value(raw, variables)
        self.trigger_id = trigger.id
        self.what = f"nats trigger '{trigger.id}'"
        try:
            self.settings: NatsSettings = settings_from(props, self.what)
        except NatsError as exc:
            raise FlowError(str(exc)) from exc
        self.subject = str(props.get("subject") or "")
        problem = subject_problem(self.subject, wildcards=True)
        if problem is not None:
            raise FlowError(f"{self.what}: {problem}")
        flow = variables.get("flow") or {}
        durable = props.get("durableId")
        self.durable = (
            str(durable)
            if durable not in (None, "")
            else default_durable(
                str(flow.get("namespace") or "kflow"), str(flow.get("id") or "flow"), trigger.id
            )
        )
        problem = durable_problem(self.durable)
        if problem is not None:
            raise FlowError(f"{self.what}: {problem}")
        policy = props.get("deliverPolicy")
        try:
            self.start_at: StartPosition = start_position(
                None if policy in (None, "") else str(policy), props.get("since")
            )
        except ConsumerConfigError as exc:
            raise FlowError(f"{self.what}: {exc}") from exc
        try:
            self.batch_size = max(1, int(props.get("batchSize") or 10))
        except (TypeError, ValueError):
            raise FlowError(f"{self.what}: batchSize must be a whole number") from None
        self.limit = max(self.batch_size, int(prefetch))
        self.create_ack_wait = _ack_wait(props.get("ackWait"), self.what)
        self.notify: Callable[[str], None] | None = None

        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._psub: Any = None
        self.stream: str | None = None
        self.ack_wait = ACK_WAIT_S
        self._buffer: deque[NatsMessage] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._unacked: dict[int, NatsMessage] = {}  # by id(record): fetched, not settled
        self._acks: deque[tuple[Msg, bool]] = deque()  # (message, terminate)
        self._ack_ready = asyncio.Event()
        self._closing = False
        self._paused = False
        self._failure: KflowError | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._state = "connecting"
        self._detail: str | None = None
        self._backlog: int | None = None
        self._dead_letter: NatsDeadLetter | None = None
        # counters, for the status and the tests
        self.received = 0
        self.acked = 0
        self.terminated = 0
        self.nacked = 0  # given back at a stop: fetched and never run
        self.failed_acks = 0
        self.reconnects = 0

    # construction ------------------------------------------------------------------------

    @classmethod
    def from_trigger(
        cls, trigger: TriggerDef, variables: Mapping[str, Any], options: SourceOptions
    ) -> RealtimeTrigger:
        return cls(
            trigger, variables=variables, prefetch=options.prefetch, overrides=options.overrides
        )

    @classmethod
    def event_record(cls, trigger: TriggerDef | None, event: str, key: str | None) -> NatsMessage:
        """``--event`` is the data, ``--key`` the subject (else the trigger's subject)."""
        subject = key
        if subject is None and trigger is not None:
            literal = trigger.props.get("subject")
            subject = literal if isinstance(literal, str) and "{" not in literal else None
        return NatsMessage(
            value=event,
            key=subject,
            subject=subject,
            timestamp_ms=int(time.time() * 1000),
            raw_value=event.encode("utf-8"),
        )

    def describe(self) -> str:
        return f"nats {self.subject} @ {self.settings.address} (durable {self.durable})"

    def dead_letter(self, target: str | None) -> NatsDeadLetter | None:
        """``--dead-letter SUBJECT``: a copy of every finally failed message is published
        there (acknowledged by JetStream when a stream holds it) before the original is
        acknowledged. A subject the trigger itself consumes is refused (a loop)."""
        if target is None:
            return None
        from kflow.plugins.nats_deadletter import NatsDeadLetter, covers

        problem = subject_problem(target, wildcards=False)
        if problem is not None:
            raise FlowError(f"{self.what}: --dead-letter: {problem}")
        if covers(self.subject, target):
            raise FlowError(
                f"{self.what}: dead-letter subject {target!r} matches the trigger's subject "
                f"{self.subject!r}: failed messages would come back"
            )
        self._dead_letter = NatsDeadLetter(self, target)
        return self._dead_letter

    @property
    def connection(self) -> Client | None:
        return self._nc

    # RecordSource ----------------------------------------------------------------------------

    async def start(self) -> None:
        prefix = f"{self.what}: "
        self._nc = await connect(
            self.settings,
            name=f"kflow {self.what} subject {self.subject}",
            prefix=prefix,
            on_disconnected=self._on_disconnected,
            on_reconnected=self._on_reconnected,
            on_error=self._on_error,
        )
        try:
            self._js = self._nc.jetstream()
            with nats_errors(self.settings.address, prefix):
                await self._subscribe()
        except BaseException:
            with contextlib.suppress(Exception):
                await self._nc.close()
            raise
        self._state = "running"
        self._room.set()
        for coro, name in (
            (self._pull(), "pull"),
            (self._write_acks(), "acks"),
            (self._keep_in_progress(), "progress"),
        ):
            self._tasks.append(asyncio.create_task(coro, name=f"kflow-nats-{name}"))

    async def _subscribe(self) -> None:
        """Find the stream, make sure the consumer exists, bind a pull subscription to it."""
        from nats.js import errors as je

        js = self._js
        assert js is not None
        try:
            self.stream = await js.find_stream_name_by_subject(self.subject)
        except je.NotFoundError:
            raise NatsError(
                f"{self.what}: NATS at {self.settings.address}: no JetStream stream holds "
                f"subject {self.subject!r}; create one first "
                f"(e.g. nats stream add --subjects '{self.subject}')",
                address=self.settings.address,
                retryable=False,
            ) from None
        await self._ensure_consumer()
        if self._psub is not None:
            with contextlib.suppress(Exception):
                await self._psub.unsubscribe()
        self._psub = await js.pull_subscribe_bind(durable=self.durable, stream=self.stream)

    async def _ensure_consumer(self) -> None:
        from nats.js import api
        from nats.js import errors as je

        js, stream = self._js, self.stream
        assert js is not None and stream is not None
        try:
            info = await js.consumer_info(stream, self.durable)
        except je.NotFoundError:
            start = self.start_at
            config = api.ConsumerConfig(
                name=self.durable,
                durable_name=self.durable,
                description=f"kflow {self.what}",
                deliver_policy=api.DeliverPolicy(start.server_policy),
                opt_start_seq=start.start_sequence,
                opt_start_time=start.start_time,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=self.create_ack_wait,
                filter_subject=self.subject,
            )
            info = await js.add_consumer(stream, config=config)
            self._say(
                f"created the durable consumer {self.durable} on stream {stream} "
                f"(deliverPolicy {start.policy}, ack wait {self.create_ack_wait:g} s)"
            )
            self._backlog = info.num_pending
            self.ack_wait = self.create_ack_wait
            return
        config = info.config
        filters = config.filter_subjects or (
            [config.filter_subject] if config.filter_subject else []
        )
        if filters and filters != [self.subject]:
            raise NatsError(
                f"{self.what}: NATS at {self.settings.address}: the durable consumer "
                f"{self.durable} on stream {stream} reads {', '.join(filters)}, not "
                f"{self.subject}; set another durableId or delete that consumer",
                address=self.settings.address,
                retryable=False,
            )
        if config.deliver_subject:
            raise NatsError(
                f"{self.what}: NATS at {self.settings.address}: {self.durable} on stream "
                f"{stream} is a push consumer; the trigger needs a pull consumer "
                "(set another durableId)",
                address=self.settings.address,
                retryable=False,
            )
        self.ack_wait = float(config.ack_wait or 30.0)
        if self.ack_wait != self.create_ack_wait:
            self._say(
                f"the durable consumer {self.durable} exists with an ack wait of "
                f"{self.ack_wait:g} s, which it keeps (ackWait {self.create_ack_wait:g} s applies "
                "to a consumer kflow creates)"
            )
        self._backlog = info.num_pending

    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        if not self._buffer and self._failure is None:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        if self._failure is not None:
            raise self._failure
        out: list[TriggerRecord] = []
        while self._buffer and len(out) < MAX_BATCH:
            out.append(self._buffer.popleft())
        return out

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        assert isinstance(record, NatsMessage)
        if record.msg is None or self._unacked.pop(id(record), None) is None:
            return
        self._acks.append((record.msg, outcome is Outcome.FAILED))
        self._ack_ready.set()
        if len(self._unacked) < self.limit and not self._paused:
            self._room.set()

    def pause(self, paused: bool) -> None:
        self._paused = paused
        if not paused and len(self._unacked) < self.limit:
            self._room.set()

    def status(self) -> TriggerStatus:
        detail = self._detail
        if detail is None and self._paused:
            detail = "paused (back-pressure)"
        return TriggerStatus(
            self.describe(),
            self._state,
            (StreamStatus(f"subject {self.subject}", self._backlog),),
            in_flight=len(self._unacked),
            detail=detail,
            label="subjects",
        )

    async def stop(self) -> None:
        """Stop fetching, send the acknowledgements made so far, give back what was fetched
        and not run, flush (the server has them all), close."""
        if self._closing:
            return
        self._closing = True
        self._state = "stopping"
        self._room.set()
        pull, acks, progress = [*self._tasks, None, None, None][:3]
        if pull is not None:  # a fetch under way ends within FETCH_WAIT_S
            try:
                await asyncio.wait_for(pull, FETCH_WAIT_S + CLOSE_TIMEOUT_S)
            except (TimeoutError, asyncio.CancelledError, Exception):
                pull.cancel()
        if progress is not None:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await progress
        self._buffer.clear()
        for record in list(self._unacked.values()):  # fetched, never run: comes again at once
            self._unacked.pop(id(record), None)
            await self._settle(record.msg, "nak")
        self._ack_ready.set()
        if acks is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(acks, CLOSE_TIMEOUT_S)
        if self._dead_letter is not None:
            await self._dead_letter.close()
        nc = self._nc
        if nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.flush(), CLOSE_TIMEOUT_S)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), CLOSE_TIMEOUT_S)
        self._nc = self._js = self._psub = None
        self._state = "stopped"

    # fetching ----------------------------------------------------------------------------------

    async def _pull(self) -> None:
        from nats import errors as ne

        delay = BACKOFF_INITIAL_S
        idle_since = time.monotonic()
        while not self._closing:
            if self._paused or len(self._unacked) >= self.limit:
                self._room.clear()
                await self._room.wait()
                continue
            want = min(self.batch_size, self.limit - len(self._unacked))
            try:
                msgs = await self._psub.fetch(want, timeout=FETCH_WAIT_S)
            except ne.TimeoutError:
                if time.monotonic() - idle_since >= CHECK_IDLE_S and not self._closing:
                    idle_since = time.monotonic()
                    await self._check_consumer()
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closing:
                    return
                if not await self._recover(exc, delay):
                    return
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            delay = BACKOFF_INITIAL_S
            idle_since = time.monotonic()
            for msg in msgs:
                record = self._record(msg)
                if self._closing:
                    await self._settle(msg, "nak")
                    continue
                self._unacked[id(record)] = record
                self._buffer.append(record)
            if msgs:
                self._ready.set()

    async def _check_consumer(self) -> None:
        """Refresh the backlog; make the consumer again if it went away (deleted by hand, or
        a server that lost its JetStream state): its position is then lost, and it starts
        again by ``deliverPolicy``."""
        from nats.js import errors as je

        js, nc, stream = self._js, self._nc, self.stream
        if js is None or nc is None or stream is None or not nc.is_connected:
            return
        try:
            info = await js.consumer_info(stream, self.durable, timeout=FETCH_WAIT_S * 2)
        except je.NotFoundError:
            self._say(
                f"the durable consumer {self.durable} on stream {stream} is gone; creating it "
                f"again (deliverPolicy {self.start_at.policy})"
            )
            try:
                with nats_errors(self.settings.address, f"{self.what}: "):
                    await self._subscribe()
            except NatsError as err:
                if not err.retryable:
                    self._fail(err)
                else:
                    self._detail = str(err).removeprefix(f"{self.what}: ")
            return
        except Exception:  # the connection is in trouble: nats-py reconnects, fetches resume
            return
        self._backlog = info.num_pending

    async def _recover(self, exc: Exception, delay: float) -> bool:
        """After a failed fetch: wait for the connection, make the consumer again if it went
        away. False when the trigger cannot go on (the failure is raised by next_batch)."""
        from nats import errors as ne
        from nats.js import errors as je

        nc = self._nc
        line, retryable = error_line(exc, self.settings.address, connected=True)
        if isinstance(exc, ne.ConnectionClosedError) and nc is not None and nc.is_closed:
            self._fail(NatsError(f"{self.what}: {line}", address=self.settings.address))
            return False
        gone = isinstance(exc, je.NotFoundError) or (
            isinstance(exc, je.APIError) and getattr(exc, "code", None) == 409
        )
        self._detail = line
        await asyncio.sleep(delay)
        if nc is None or not nc.is_connected:
            return True  # nats-py reconnects; fetches resume then
        if gone or not retryable:
            try:
                with nats_errors(self.settings.address, f"{self.what}: "):
                    await self._subscribe()
            except NatsError as err:
                if not err.retryable:
                    self._fail(err)
                    return False
                self._detail = str(err).removeprefix(f"{self.what}: ")
                return True
            self._say(f"subscribed again to {self.subject} (durable {self.durable})")
        self._detail = None
        return True

    def _fail(self, error: KflowError) -> None:
        self._failure = error
        self._ready.set()

    def _record(self, msg: Msg) -> NatsMessage:
        self.received += 1
        meta = msg.metadata
        stamp = meta.timestamp
        record = NatsMessage(
            value=None,
            key=msg.subject,
            subject=msg.subject,
            timestamp_ms=int(stamp.timestamp() * 1000) if stamp else int(time.time() * 1000),
            headers=header_lists(msg.headers),
            raw_value=msg.data,
            stream=meta.stream,
            stream_seq=meta.sequence.stream,
            consumer_seq=meta.sequence.consumer,
            delivered=meta.num_delivered or 1,
            msg=msg,
        )
        self._backlog = meta.num_pending
        try:
            record.value = msg.data.decode("utf-8")
        except UnicodeDecodeError as exc:  # a bad message fails its own execution
            record.error = (
                f"the data of message #{record.stream_seq} on subject {msg.subject} is not "
                f"UTF-8 text: {exc}"
            )
        return record

    # acknowledgements -------------------------------------------------------------------------

    async def _write_acks(self) -> None:
        while True:
            await self._ack_ready.wait()
            self._ack_ready.clear()
            while self._acks:
                msg, terminate = self._acks.popleft()
                await self._settle(msg, "term" if terminate else "ack")
            if self._closing:
                return

    async def _settle(self, msg: Any, how: str) -> None:
        """``+ACK``, ``+TERM`` or ``-NAK`` one message; a failure only means the server
        delivers it again after the ack wait."""
        if msg is None:
            return
        try:
            if how == "ack":
                await msg.ack()
                self.acked += 1
            elif how == "term":
                await msg.term()
                self.terminated += 1
            else:
                await msg.nak()
                self.nacked += 1
        except Exception:
            self.failed_acks += 1

    async def _keep_in_progress(self) -> None:
        """``+WPI`` for every message fetched and not settled, every quarter of the ack wait."""
        while True:
            await asyncio.sleep(max(0.5, self.ack_wait / 4))
            nc = self._nc
            if nc is None or not nc.is_connected:
                continue
            for record in list(self._unacked.values()):
                with contextlib.suppress(Exception):
                    await record.msg.in_progress()

    # connection events ------------------------------------------------------------------------

    async def _on_disconnected(self) -> None:
        if self._closing or self._state == "connecting":
            return
        self._state = "reconnecting"
        self._detail = f"lost the connection to NATS at {self.settings.address}"
        held = len(self._unacked)
        back = f"; {held} messages in flight stay acknowledgeable" * bool(held)
        self._say(f"lost the connection to NATS at {self.settings.address}{back}; reconnecting")

    async def _on_reconnected(self) -> None:
        if self._closing:
            return
        self.reconnects += 1
        self._state = "running"
        self._detail = None
        self._say(f"reconnected to NATS at {self.settings.address}, consuming {self.subject}")

    async def _on_error(self, exc: BaseException) -> None:
        if not self._closing:
            self._detail = error_line(exc, self.settings.address, connected=True)[0]

    def _say(self, text: str) -> None:
        if self.notify is not None:
            self.notify(f"kflow run: {self.what}: {text}")


def _ack_wait(value: Any, what: str) -> float:
    """``ackWait`` (an ISO-8601 duration, or seconds) in seconds; ``ACK_WAIT_S`` when unset."""
    from kflow.flow.properties import parse_duration

    if value in (None, ""):
        return ACK_WAIT_S
    seconds = value if isinstance(value, int | float) else parse_duration(str(value))
    if seconds is None:
        raise FlowError(f"{what}: ackWait must be an ISO-8601 duration (PT30S), not {value!r}")
    if seconds < 1:
        raise FlowError(f"{what}: ackWait must be at least one second (PT1S), not {seconds:g} s")
    return float(seconds)
