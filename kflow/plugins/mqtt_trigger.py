"""MQTT ``RealtimeTrigger``: one execution per message, acknowledged once its execution ended.

What it does that Kestra's does not:

- **Persistent session.** It connects with clean start off (MQTT 3.1.1: clean session
  off), an MQTT 5 session expiry of one day, and a stable client id
  (``kflow-<namespace>.<flow>.<trigger>`` unless ``clientId`` is set), so the broker keeps
  the subscription and the QoS 1/2 messages published while kflow is down, and hands them
  over when it comes back.
- **Acknowledged after the execution.** QoS 1 messages are acknowledged (PUBACK) only when
  their execution has finished, failed or not; a message whose execution did not finish
  (a kill, a lost connection) is delivered again by the broker: at least once.
- **In receive order.** MQTT requires PUBACKs in the order the messages arrived; the
  acknowledgement of a finished message waits until every earlier message of the same
  connection has finished (:mod:`kflow.plugins.mqtt_acks`). Packet ids are 16-bit and
  reused, so acknowledgements owed on a connection that is gone are dropped, never sent on
  the next one: the broker delivers those messages again (with DUP set).
- **QoS 2 subscriptions are made at QoS 1.** paho-mqtt answers a QoS 2 PUBLISH with its
  PUBREC itself, before the application sees the message, and keeps the exchange only in
  memory: a ``kill -9`` during the execution would lose the message (the broker only
  resends the PUBREL). At QoS 1 the same message is delivered again; kflow's delivery is
  at-least-once whatever the QoS.
- **Bad payloads fail one execution.** A payload that is not JSON (``serdeType: JSON``) or
  not UTF-8 (``STRING``) becomes a record with an ``error``: a FAILED execution, then
  acknowledged, and the stream goes on.
- **Reconnects** with back-off (1 s doubling to 30 s), reporting each loss and return.
- **Shared subscriptions** (``shareGroup``, a kflow property): every topic is subscribed as
  ``$share/GROUP/topic`` so the broker spreads messages over the processes of the group;
  each process needs its own ``clientId`` (its session holds its share: docs/scale-out.md).
- **Back-pressure.** MQTT has no pause: the broker sends at most ``prefetch`` (MQTT 5
  receive maximum, ``--concurrency``) unacknowledged messages, or its own in-flight limit
  for MQTT 3.1.1. Some brokers send more (mosquitto before 2.0.13 hands over a whole new
  window on each PUBACK), so the network thread also stops reading while ``4 x prefetch``
  messages wait to be started: TCP then pushes back on the broker. It reads one message
  more (and writes what is queued: acknowledgements, keep-alives) whenever an
  acknowledgement is released, and at least every ``INBOX_WAIT_S``, so acknowledgements
  are not held back and the connection never idles into its keep-alive timeout.

paho-mqtt runs its network loop on a thread of its own (``loop_start``); its callbacks
number each message in arrival order and hand it to the event loop. Acknowledgements are
queued from the event loop under the trigger's lock, which the callbacks of a new or lost
connection also take, so no acknowledgement crosses from one connection to the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from kflow.catalog.mqtt import (
    SHARED_PREFIX,
    share_group_problem,
    topic_filter_problem,
    topic_name_problem,
)
from kflow.connectors.masking import mask
from kflow.connectors.mqtt import (
    ConnectionSettings,
    connect,
    connection_settings,
    default_client_id,
    is_failure,
    make_client,
    refusal,
)
from kflow.engine.events import StreamStatus, TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.source import DeadLetter, Outcome, RecordSource, SourceOptions
from kflow.errors import FlowError, KflowError, MqttError
from kflow.expr import render_value
from kflow.flow.model import TriggerDef
from kflow.plugins.kafka_serde import decoder
from kflow.plugins.mqtt_acks import ReceiveOrder
from kflow.plugins.mqtt_record import MqttMessage, message_properties

SESSION_EXPIRY_S = 86_400
"""MQTT 5: how long the broker keeps the session of a trigger that is not connected."""
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30
MAX_BATCH = 500
INBOX_WAIT_S = 2.0
"""The longest the network thread waits for room at once (well under the keep-alive)."""
SESSION_TAKEN_OVER = 142  # MQTT 5 DISCONNECT reason: another client connected with our id
TAKEOVER_DROPS, TAKEOVER_WINDOW_S, TAKEOVER_AFTER_S = 5, 60.0, 5.0
"""A connection closed this many times within the window, each within TAKEOVER_AFTER_S of its
CONNACK, is another client with the same id (mosquitto 2.0 closes the old connection of a
taken-over session without the MQTT 5 DISCONNECT that says so)."""


class RealtimeTrigger(RecordSource):
    """Subscribes to ``topic`` (one filter or a list) for one flow trigger."""

    kind = "mqtt"

    def __init__(
        self,
        trigger: TriggerDef,
        *,
        variables: Mapping[str, Any] | None = None,
        prefetch: int = 64,
    ) -> None:
        variables = dict(variables or {})
        props = render_value(trigger.props, variables)
        flow = variables.get("flow") or {}
        self.trigger_id = trigger.id
        default_id = default_client_id(
            str(flow.get("namespace") or "kflow"), str(flow.get("id") or "flow"), trigger.id
        )
        try:
            self.settings: ConnectionSettings = connection_settings(props, client_id=default_id)
        except MqttError as exc:
            raise FlowError(f"mqtt trigger '{trigger.id}': {exc}") from exc
        self.topics = _topics(trigger.id, props.get("topic"))
        group = props.get("shareGroup")
        if group not in (None, ""):
            self.topics = _shared_topics(trigger.id, str(group), self.topics)
        self._own_client_id = bool(props.get("clientId"))
        self.qos = _qos(trigger.id, props.get("qos", 1))
        self.serde = str(props.get("serdeType") or "JSON").upper()
        if self.serde not in ("STRING", "JSON", "BYTES"):
            raise FlowError(f"mqtt trigger '{trigger.id}': serdeType {self.serde} is unknown")
        self._decode = decoder(self.serde)
        self.prefetch = max(1, prefetch)
        self.high_water = max(64, 4 * self.prefetch)
        self._match_filters = [_matching_filter(f) for f in self.topics]

        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()  # epoch, ack order, connected: event loop and paho thread
        self._epoch = 0
        self._order: ReceiveOrder[tuple[int, int]] | None = None
        self._connected = False
        self._inbox: deque[MqttMessage] = deque()
        self._room = threading.Condition()
        self._waiting_for_room = False
        self._ack_wake = False  # an acknowledgement was released: write it, read one more
        self._ready = asyncio.Event()
        self._signalled = False
        self._closing = False
        self._connack = threading.Event()  # the first CONNACK was handled
        self.subscribed = threading.Event()  # a SUBACK was handled (granted or not)
        self._session_present = False
        self._start_error: MqttError | None = None
        self._failure: KflowError | None = None
        self._started = False
        self._had_session = False
        self._paused = False
        self._detail: str | None = None
        self._state = "connecting"
        self._unmatched: set[str] = set()
        self._connected_at = 0.0
        self._quick_drops: deque[float] = deque(maxlen=TAKEOVER_DROPS)
        self._warned_window = False
        self.notify: Callable[[str], None] | None = None
        # counters, for the status and the tests
        self.connections = 0
        self.received = 0
        self.redelivered = 0  # DUP set: the broker sent it before
        self.acked = 0  # acknowledgements handed to the client, in receive order
        self.stale_acks = 0  # dropped: owed on a connection that is gone
        self.over_window = 0  # messages beyond the receive maximum the broker sent

    # construction ---------------------------------------------------------------------

    @classmethod
    def from_trigger(
        cls, trigger: TriggerDef, variables: Mapping[str, Any], options: SourceOptions
    ) -> RealtimeTrigger:
        return cls(
            with_overrides(trigger, options.overrides),
            variables=variables,
            prefetch=options.prefetch,
        )

    @classmethod
    def event_record(cls, trigger: TriggerDef | None, event: str, key: str | None) -> MqttMessage:
        """``--event`` decoded by the trigger's ``serdeType``; ``--key`` is the topic."""
        serde = str((trigger.props if trigger else {}).get("serdeType") or "JSON").upper()
        record = MqttMessage(value=None, topic=key, timestamp_ms=int(time.time() * 1000))
        record.raw_value = event.encode("utf-8")
        try:
            record.value = decoder(serde)(record.raw_value)
        except Exception as exc:
            record.error = f"cannot decode --event as {serde}: {exc}"
        return record

    def describe(self) -> str:
        return (
            f"mqtt {', '.join(self.topics)} @ {self.settings.server.hostport} "
            f"(client {self.settings.client_id})"
        )

    def _where(self) -> str:
        return f"mqtt trigger '{self.trigger_id}'"

    def dead_letter(self, target: str | None) -> DeadLetter | None:
        """``--dead-letter TOPIC``: failed messages are published there (QoS 1) before they
        are acknowledged. A topic the trigger itself subscribes to is refused (loop)."""
        if target is None:
            return None
        from paho.mqtt.client import topic_matches_sub

        from kflow.plugins.mqtt_deadletter import MqttDeadLetter

        problem = topic_name_problem(target)
        if problem is not None:
            raise FlowError(f"{self._where()}: --dead-letter {target!r}: {problem}")
        for topic, matching in zip(self.topics, self._match_filters, strict=True):
            if topic_matches_sub(matching, target):
                raise FlowError(
                    f"{self._where()}: dead-letter topic {target!r} matches the trigger's "
                    f"topic filter {topic!r}: failed messages would come back"
                )
        return MqttDeadLetter(self.settings, target)

    # RecordSource ---------------------------------------------------------------------

    async def start(self) -> None:
        if not self._own_client_id and any(t.startswith(SHARED_PREFIX) for t in self.topics):
            raise FlowError(
                f"{self._where()}: a shared subscription ({self.topics[0]}) needs a clientId "
                "of its own in each kflow process, kept across restarts (its session holds "
                "the process's share), e.g. --set clientId=orders-1"
            )
        self._loop = asyncio.get_running_loop()
        client = make_client(self.settings, manual_ack=True, persistent=True)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self._client = client
        await self._loop.run_in_executor(None, self._open)
        self._started = True

    def _open(self) -> None:
        try:
            connect(
                self._client,
                self.settings,
                clean_start=False,
                session_expiry_s=SESSION_EXPIRY_S,
                receive_maximum=self.prefetch,
            )
        except MqttError as exc:
            raise MqttError(mask(f"{self._where()}: {exc}"), address=exc.address) from exc
        self._client.loop_start()
        timeout = self.settings.connect_timeout
        # A kept session already holds the subscription, and the broker sends what it kept
        # right after the CONNACK, ahead of the SUBACK: the service must start taking those
        # messages now (a refused subscription still ends the run, through next_batch).
        # A new session waits for its SUBACK, so nothing published after start() is missed.
        if not self._connack.wait(timeout) or (
            self._start_error is None
            and not self._session_present
            and not self.subscribed.wait(timeout)
        ):
            self._start_error = self._start_error or MqttError(
                f"{self._where()}: the MQTT broker at {self.settings.server} did not accept "
                f"the connection and subscription within {timeout:g} s",
                address=str(self.settings.server),
            )
        if self._start_error is not None:
            self._shutdown()
            raise self._start_error

    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        if not self._inbox and self._failure is None:
            self._ready.clear()
            self._signalled = False  # the network thread signals again from now on
            if not self._inbox:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), timeout)
        if self._failure is not None:
            raise self._failure
        batch: list[TriggerRecord] = []
        inbox = self._inbox
        while inbox and len(batch) < MAX_BATCH:
            batch.append(inbox.popleft())
        if self._waiting_for_room and len(inbox) < self.high_water:
            with self._room:
                self._room.notify_all()
        return batch

    def admit(self, record: TriggerRecord) -> bool:
        """False for a QoS 1 message of a connection that is gone: its acknowledgement could
        not be sent, and the broker delivers it again on the new connection."""
        return self._current(record)

    def wanted(self, record: TriggerRecord) -> bool:
        return self._current(record)

    def _current(self, record: TriggerRecord) -> bool:
        assert isinstance(record, MqttMessage)
        return record.qos == 0 or (record.seq is not None and record.epoch == self._epoch)

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        """Release the acknowledgements this one unblocks, in receive order; drop it if its
        connection is gone. QoS 0: nothing to acknowledge."""
        assert isinstance(record, MqttMessage)
        if record.qos == 0 or record.seq is None:
            return
        with self._lock:
            if record.epoch != self._epoch or self._order is None:
                self.stale_acks += 1
                return
            released = self._order.finished(record.seq)
            for mid, qos in released:
                # Under the lock: a lost connection bumps the epoch under it before paho
                # reconnects (and clears what it had queued), so this PUBACK goes out on
                # the connection its message came from, or not at all.
                self._client.ack(mid, qos)
            self.acked += len(released)
        if released and self._waiting_for_room:
            with self._room:
                self._ack_wake = True
                self._room.notify_all()

    def pause(self, paused: bool) -> None:
        """Nothing is sent to the broker (MQTT cannot pause a subscription): unacknowledged
        messages are bounded by the receive maximum, and the network thread stops reading
        while ``high_water`` messages wait (see the module's doc)."""
        self._paused = paused

    def status(self) -> TriggerStatus:
        with self._lock:
            order = self._order
            in_flight = order.waiting if order is not None else 0
            held = order.held if order is not None else 0
            oldest = order.oldest() if order is not None else None
        detail = self._detail
        if detail is None and self._paused:
            detail = "paused (back-pressure)"
        if detail is None and held and oldest is not None:
            detail = f"{held} acknowledgements wait behind message id {oldest[0]}"
        return TriggerStatus(
            self.describe(),
            self._state,
            tuple(StreamStatus(topic, None) for topic in self.topics),
            in_flight=in_flight,
            detail=detail,
            label="topics",
        )

    async def stop(self) -> None:
        """Disconnect cleanly once the acknowledgements released so far are written (paho
        sends its queued packets before the DISCONNECT). The subscription stays: the
        session keeps it, and the broker keeps what arrives for the next run."""
        self._closing = True
        with self._room:
            self._room.notify_all()
        if self._client is None:
            return
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown)
        self._state = "stopped"

    def _shutdown(self) -> None:
        client = self._client
        self._closing = True
        with contextlib.suppress(Exception):
            client.disconnect()
        with contextlib.suppress(Exception):
            client.loop_stop()

    # paho callbacks (its network thread) --------------------------------------------------

    def _on_pre_connect(self, client: Any, userdata: Any) -> None:
        with self._lock:
            self._epoch += 1
            self._order = None
            self._connected = False

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        server = self.settings.server
        if is_failure(reason):
            message = (
                f"{self._where()}: the MQTT broker at {server} refused client "
                f"{self.settings.client_id!r}: {refusal(reason)}"
            )
            if not self._started:
                self._start_error = MqttError(message, address=str(server), retryable=False)
                self._connack.set()
            else:
                self._set_state("reconnecting", f"refused: {refusal(reason)}; retrying")
            return
        with self._lock:
            self._epoch += 1
            self._order = ReceiveOrder()
            self._connected = True
        self.connections += 1
        self._connected_at = time.monotonic()
        present = bool(getattr(flags, "session_present", False))
        self._session_present = present
        if self._had_session and not present:
            self._say(
                f"the broker at {server} had no session for client "
                f"{self.settings.client_id!r} any more: messages published while kflow was "
                "disconnected were not kept"
            )
        self._had_session = True
        client.subscribe(self._subscriptions())
        if self.connections > 1:
            self._say(f"reconnected to {server} (session {'kept' if present else 'new'})")
        self._set_state("running", None)
        self._connack.set()

    def _subscriptions(self) -> list[tuple[str, Any]]:
        qos = min(self.qos, 1)  # QoS 2 at QoS 1: see the module's doc
        if not self.settings.v5:
            return [(topic, qos) for topic in self.topics]
        from paho.mqtt.subscribeoptions import SubscribeOptions

        return [
            (
                topic,
                SubscribeOptions(
                    qos=qos,
                    # Retained messages once per subscription, not again at each reconnect.
                    retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB,
                ),
            )
            for topic in self.topics
        ]

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        refused = [
            f"{topic} ({refusal(reason)})"
            for topic, reason in zip(self.topics, reasons, strict=False)
            if is_failure(reason)
        ]
        if refused:
            error = MqttError(
                f"{self._where()}: the MQTT broker at {self.settings.server} refused the "
                f"subscription to {', '.join(refused)}",
                address=str(self.settings.server),
                retryable=False,
            )
            self._start_error = error  # start() raises it if it still waits
            self._fail(error)  # else next_batch does
        self.subscribed.set()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._set_state("reconnecting", f"cannot reach {self.settings.server}; retrying")

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        with self._lock:
            self._epoch += 1
            self._order = None
            self._connected = False
        if self._closing or self._start_error is not None:
            return  # stopping, or start failed and said why: no reconnect to announce
        why = refusal(reason)
        now = time.monotonic()
        if now - self._connected_at < TAKEOVER_AFTER_S:
            self._quick_drops.append(now)
        fought = (
            len(self._quick_drops) == TAKEOVER_DROPS
            and now - self._quick_drops[0] < TAKEOVER_WINDOW_S
        )
        if (self.settings.v5 and _code(reason) == SESSION_TAKEN_OVER) or fought:
            how = (
                "session taken over"
                if not fought
                else f"session taken over: the broker closed the connection {TAKEOVER_DROPS} "
                f"times within {TAKEOVER_WINDOW_S:g} s, each right after accepting it"
            )
            self._fail(
                MqttError(
                    f"{self._where()}: another client is connected to {self.settings.server} "
                    f"with client id {self.settings.client_id!r} ({how}); give each kflow run "
                    "of this flow its own clientId",
                    address=str(self.settings.server),
                    retryable=False,
                )
            )
            with contextlib.suppress(Exception):
                client.disconnect()  # no reconnect: the two would take turns forever
            return
        self._set_state("reconnecting", f"connection lost ({why}); reconnecting")
        self._say(f"lost the connection to {self.settings.server} ({why}); reconnecting")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        record = self._record(message)
        if len(self._inbox) >= self.high_water:
            self._wait_for_room()
        with self._lock:
            record.epoch = self._epoch
            if record.qos and self._order is not None:
                record.seq = self._order.received((message.mid, record.qos))
                waiting = self._order.waiting
            else:
                waiting = 0
        self.received += 1
        if record.dup:
            self.redelivered += 1
        if waiting > self.prefetch and self.settings.v5:
            self.over_window += 1
            if not self._warned_window:
                self._warned_window = True
                self._say(
                    f"the broker sent more than the receive maximum ({self.prefetch}) of "
                    "unacknowledged messages; kflow holds them, and stops reading while "
                    f"{self.high_water} wait to start"
                )
        self._inbox.append(record)
        if not self._signalled and self._loop is not None:
            self._signalled = True
            self._loop.call_soon_threadsafe(self._ready.set)

    def _wait_for_room(self) -> None:
        deadline = time.monotonic() + INBOX_WAIT_S
        with self._room:
            self._waiting_for_room = True
            self._ack_wake = False
            try:
                while len(self._inbox) >= self.high_water and not self._closing:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._ack_wake:
                        break  # paho writes the queued acknowledgements after this message
                    self._room.wait(remaining)
            finally:
                self._waiting_for_room = False
        self._ack_wake = False  # an acknowledgement was released: write it, read one more

    def _record(self, message: Any) -> MqttMessage:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = bytes(message._topic).decode("utf-8", "replace")
        payload = bytes(message.payload)
        props = message_properties(message.properties) if self.settings.v5 else None
        record = MqttMessage(
            value=None,
            topic=topic,
            mid=message.mid if message.qos else 0,
            qos=message.qos,
            retain=bool(message.retain),
            dup=bool(message.dup),
            properties=props,
            raw_properties=message.properties if self.settings.v5 else None,
            raw_value=payload,
            timestamp_ms=int(time.time() * 1000),
        )
        if not self._matches(topic):
            # A subscription of an earlier version of the flow, kept by the session.
            record.skip = True
            if topic not in self._unmatched and len(self._unmatched) < 100:
                self._unmatched.add(topic)
                self._say(
                    f"message on {topic!r} matches none of the trigger's topics (a "
                    "subscription kept by the session from an earlier flow?): acknowledged "
                    "without an execution"
                )
            return record
        try:
            record.value = self._decode(payload)
        except Exception as exc:  # a bad payload fails its own execution, never the trigger
            record.error = f"cannot decode the payload of {record.label()} as {self.serde}: {exc}"
        return record

    def _matches(self, topic: str) -> bool:
        from paho.mqtt.client import topic_matches_sub

        return any(topic_matches_sub(f, topic) for f in self._match_filters)

    def _set_state(self, state: str, detail: str | None) -> None:
        self._state = state
        self._detail = detail

    def _say(self, line: str) -> None:
        if self.notify is not None:
            self.notify(mask(f"kflow run: trigger {self.trigger_id}: {line}"))

    def _fail(self, error: KflowError) -> None:
        """End the run: next_batch raises ``error``."""
        self._failure = error
        self._set_state("failed", str(error))
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._ready.set)


def with_overrides(trigger: TriggerDef, overrides: Mapping[str, Any]) -> TriggerDef:
    """The trigger with ``--set`` properties applied."""
    if not overrides:
        return trigger
    from kflow.engine.overrides import apply_overrides

    return trigger.replace(props=apply_overrides(trigger.props, overrides))


def _topics(trigger_id: str, value: Any) -> list[str]:
    topics = [value] if isinstance(value, str) else list(value or [])
    if not topics:
        raise FlowError(f"mqtt trigger '{trigger_id}': no topic to subscribe to")
    for topic in topics:
        problem = topic_filter_problem(str(topic))
        if problem is not None:
            raise FlowError(f"mqtt trigger '{trigger_id}': topic {topic!r}: {problem}")
    return [str(t) for t in topics]


def _shared_topics(trigger_id: str, group: str, topics: list[str]) -> list[str]:
    """``shareGroup``: each filter as ``$share/GROUP/filter`` (one already shared in that
    group is kept; one shared in another group is refused)."""
    problem = share_group_problem(group)
    if problem is not None:
        raise FlowError(f"mqtt trigger '{trigger_id}': shareGroup {group!r}: {problem}")
    out = []
    for topic in topics:
        if topic.startswith(SHARED_PREFIX):
            if not topic.startswith(f"{SHARED_PREFIX}{group}/"):
                raise FlowError(
                    f"mqtt trigger '{trigger_id}': topic {topic!r} is shared in another group "
                    f"than shareGroup {group!r}"
                )
            out.append(topic)
        else:
            out.append(f"{SHARED_PREFIX}{group}/{topic}")
    return out


def _qos(trigger_id: str, value: Any) -> int:
    try:
        qos = int(value)
    except (TypeError, ValueError):
        qos = -1
    if qos not in (0, 1, 2):
        raise FlowError(f"mqtt trigger '{trigger_id}': qos is 0, 1 or 2, not {value!r}")
    return qos


def _matching_filter(topic: str) -> str:
    """The filter messages of a subscription match (``$share/group/f`` delivers f's)."""
    if topic.startswith(SHARED_PREFIX):
        return topic[len(SHARED_PREFIX) :].partition("/")[2]
    return topic


def _code(reason: Any) -> int | None:
    try:
        return int(getattr(reason, "value", reason))
    except (TypeError, ValueError):
        return None
