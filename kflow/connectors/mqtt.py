"""MQTT connector: paho-mqtt clients built from Kestra's connection properties, paho's errors
translated into :class:`~kflow.errors.MqttError`.

A flow names its broker as Kestra does (``server: tcp://host:1883`` or ``ssl://host:8883``,
``mqttVersion: V3 | V5``, ``clientId``, ``username``/``password``, ``crt``,
``connectionTimeout``). :func:`connection_settings` reads them; :func:`make_client` builds
an unconnected ``paho.mqtt.client.Client`` (callback API 2); :func:`connect` opens the TCP
(or TLS) connection and sends CONNECT, translating socket and TLS failures into one line
naming the broker, e.g. ``cannot reach the MQTT broker at tcp://127.0.0.1:1884: Connection
refused``. :func:`refusal` describes a CONNACK or DISCONNECT reason code.

:class:`PublishTracker` turns paho's ``on_publish`` callbacks into asyncio futures (the
broker's PUBACK for QoS 1, PUBCOMP for QoS 2); :class:`Publisher` is a connected client of
the ``Publish`` task, shared by every task run with the same connection settings.

paho-mqtt is imported lazily, inside the functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import ssl
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kflow.catalog.mqtt import server_problem
from kflow.connectors.masking import mask, one_line, register_secret
from kflow.errors import MqttError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S",
    "KEEPALIVE_S",
    "ConnectionSettings",
    "PublishTracker",
    "Publisher",
    "ServerAddress",
    "close_publishers",
    "connect",
    "connection_settings",
    "default_client_id",
    "make_client",
    "parse_server",
    "refusal",
    "shared_publisher",
]

DEFAULT_CONNECT_TIMEOUT_S = 30.0
"""Kestra's (paho Java's) default ``connectionTimeout``."""
KEEPALIVE_S = 30
"""Seconds between PINGREQs on an idle connection; a dead broker is noticed within 1.5x."""
PUBLISH_TIMEOUT_S = 30.0
"""How long a publish waits for the broker's acknowledgement before it fails."""


@dataclass(frozen=True)
class ServerAddress:
    scheme: str  # "tcp" or "ssl"
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "ssl"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_server(text: str) -> ServerAddress:
    """``tcp://host[:1883]`` or ``ssl://host[:8883]``; raises MqttError otherwise."""
    problem = server_problem(text)
    if problem is not None:
        raise MqttError(problem, address=text, retryable=False)
    scheme, _, rest = text.partition("://")
    hostport = rest.split("/", 1)[0]
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]")
        port = port.removeprefix(":")
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
    else:
        host, port = hostport, ""
    scheme = scheme.lower()
    default = 8883 if scheme == "ssl" else 1883
    return ServerAddress(scheme, host, int(port) if port else default)


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach and log in to one broker (the rendered connection properties)."""

    server: ServerAddress
    version: str = "V5"  # "V3" (MQTT 3.1.1) or "V5"
    client_id: str = ""
    username: str | None = None
    password: str | None = None
    crt: str | None = None
    verify_hostname: bool = True
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S

    @property
    def v5(self) -> bool:
        return self.version == "V5"

    def key(self) -> tuple[Any, ...]:
        return (
            str(self.server),
            self.version,
            self.client_id,
            self.username,
            self.password,
            self.crt,
            self.verify_hostname,
        )


def connection_settings(props: Mapping[str, Any], *, client_id: str) -> ConnectionSettings:
    """Settings from rendered Kestra properties; ``client_id`` when ``clientId`` is unset."""
    server = props.get("server")
    if not server:
        raise MqttError("the MQTT server is not set", retryable=False)
    version = str(props.get("mqttVersion") or "V5").upper()
    if version not in ("V3", "V5"):
        raise MqttError(f"mqttVersion is V3 or V5, not {version!r}", retryable=False)
    password = props.get("password")
    if password:
        register_secret(str(password))
    timeout = props.get("connectionTimeout")
    verify = props.get("httpsHostnameVerificationEnabled")
    return ConnectionSettings(
        server=parse_server(str(server)),
        version=version,
        client_id=str(props.get("clientId") or client_id),
        username=None if props.get("username") is None else str(props["username"]),
        password=None if password is None else str(password),
        crt=props.get("crt") or None,
        verify_hostname=verify is not False,
        connect_timeout=float(timeout) if timeout else DEFAULT_CONNECT_TIMEOUT_S,
    )


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_DEFAULT_ID = 64


def default_client_id(namespace: str, flow_id: str, trigger_id: str) -> str:
    """``kflow-<namespace>.<flow>.<trigger>``: stable across runs, so the broker keeps the
    session (subscriptions and undelivered messages) of the trigger between runs."""
    text = _UNSAFE.sub("-", f"kflow-{namespace}.{flow_id}.{trigger_id}")
    if len(text) <= MAX_DEFAULT_ID:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    return f"{text[: MAX_DEFAULT_ID - 11]}-{digest}"


def tls_context(crt: str | None, verify_hostname: bool) -> ssl.SSLContext:
    """A client TLS context trusting ``crt`` (PEM text or a file path), else the system CAs."""
    context = ssl.create_default_context()
    if crt:
        text = crt.strip()
        try:
            if text.startswith("-----BEGIN "):
                context.load_verify_locations(cadata=text)
            else:
                path = Path(text).expanduser()
                if not path.is_file():
                    raise MqttError(
                        "crt is neither PEM text (-----BEGIN CERTIFICATE-----) nor an existing "
                        f"file: {text[:50]!r}",
                        retryable=False,
                    )
                context.load_verify_locations(cafile=str(path))
        except ssl.SSLError as exc:
            raise MqttError(f"crt is not a valid PEM certificate: {exc}", retryable=False) from exc
    context.check_hostname = verify_hostname
    return context


def make_client(
    settings: ConnectionSettings, *, manual_ack: bool = False, persistent: bool = False
) -> Any:
    """An unconnected paho ``Client`` (callback API 2) for ``settings``.

    ``persistent``: the broker keeps the session when the client goes away (MQTT 3.1.1
    clean session off; for MQTT 5 pass :func:`connect` ``clean_start=False`` and a session
    expiry interval). ``manual_ack``: QoS 1 messages are acknowledged by ``client.ack``.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    kwargs: dict[str, Any] = {}
    if not settings.v5:
        kwargs["clean_session"] = not persistent
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=settings.client_id,
        protocol=mqtt.MQTTv5 if settings.v5 else mqtt.MQTTv311,
        manual_ack=manual_ack,
        **kwargs,
    )
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if settings.server.tls:
        client.tls_set_context(tls_context(settings.crt, settings.verify_hostname))
        if not settings.verify_hostname:
            client.tls_insecure_set(True)
    client.connect_timeout = settings.connect_timeout
    return client


def connect(
    client: Any,
    settings: ConnectionSettings,
    *,
    clean_start: bool = True,
    session_expiry_s: int | None = None,
    receive_maximum: int | None = None,
) -> None:
    """Open the connection and send CONNECT (blocking); the CONNACK arrives in
    ``on_connect``. MQTT 5 options are ignored for MQTT 3.1.1. Raises MqttError."""
    properties = None
    kwargs: dict[str, Any] = {}
    if settings.v5:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = Properties(PacketTypes.CONNECT)
        if session_expiry_s:
            properties.SessionExpiryInterval = session_expiry_s
        if receive_maximum:
            properties.ReceiveMaximum = max(1, min(receive_maximum, 65535))
        kwargs = {"clean_start": clean_start, "properties": properties}
    address = settings.server
    try:
        client.connect(address.host, address.port, keepalive=KEEPALIVE_S, **kwargs)
    except ssl.SSLCertVerificationError as exc:
        raise MqttError(
            one_line(
                f"the MQTT broker at {address}: TLS refused: its certificate is not trusted "
                f"({exc.verify_message or exc}); check crt"
            ),
            address=str(address),
            retryable=False,
        ) from exc
    except ssl.SSLError as exc:
        raise MqttError(
            one_line(f"TLS handshake with the MQTT broker at {address} failed: {exc}"),
            address=str(address),
        ) from exc
    except (OSError, TimeoutError) as exc:
        detail = exc.strerror or str(exc) or type(exc).__name__
        raise MqttError(
            one_line(f"cannot reach the MQTT broker at {address}: {detail}"), address=str(address)
        ) from exc
    except ValueError as exc:  # paho: invalid host, port or client id
        raise MqttError(
            one_line(f"cannot connect to the MQTT broker at {address}: {exc}"),
            address=str(address),
            retryable=False,
        ) from exc


def refusal(reason_code: Any) -> str:
    """A CONNACK, SUBACK, PUBACK or DISCONNECT reason code as words (``Not authorized``)."""
    name = getattr(reason_code, "getName", None)
    text = name() if callable(name) else str(reason_code)
    return text.strip() or f"reason {reason_code}"


def is_failure(reason_code: Any) -> bool:
    flag = getattr(reason_code, "is_failure", None)
    if isinstance(flag, bool):
        return flag
    try:
        return int(reason_code) >= 0x80
    except (TypeError, ValueError):
        return False


class PublishTracker:
    """Futures settled by the broker's acknowledgement of each publish (paho ``on_publish``).

    paho calls ``on_publish`` on its network thread while it holds its own lock of outgoing
    messages, so the tracker never calls paho while it holds its own lock; an
    acknowledgement that arrives before :meth:`track` was called is kept until it is.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._early: dict[int, Any] = {}

    def on_publish(
        self, client: Any, userdata: Any, mid: int, reason_code: Any, props: Any
    ) -> None:
        with self._lock:
            entry = self._waiting.pop(mid, None)
            if entry is None:
                self._early[mid] = reason_code
                return
        loop, future = entry
        loop.call_soon_threadsafe(_settle, future, reason_code)

    def track(self, info: Any) -> asyncio.Future[Any]:
        """A future for the publish of ``info`` (paho's ``MQTTMessageInfo``), on the running
        loop: its result is the reason code of the acknowledgement."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if info.mid in self._early:
                future.set_result(self._early.pop(info.mid))
            else:
                self._waiting[info.mid] = (loop, future)
        return future

    def forget(self, mid: int) -> None:
        with self._lock:
            self._waiting.pop(mid, None)
            self._early.pop(mid, None)


def _settle(future: asyncio.Future[Any], reason_code: Any) -> None:
    if not future.done():
        future.set_result(reason_code)


def publish_properties(
    *,
    response_topic: str | None = None,
    correlation_data: bytes | None = None,
    user_properties: list[tuple[str, str]] | None = None,
    base: Any = None,
) -> Any:
    """MQTT 5 PUBLISH properties (paho ``Properties``), or None when there are none."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.PUBLISH)
    has_any = False
    if base is not None:
        for attr in ("PayloadFormatIndicator", "ContentType", "ResponseTopic", "CorrelationData"):
            if hasattr(base, attr):
                setattr(props, attr, getattr(base, attr))
                has_any = True
        if hasattr(base, "UserProperty"):
            props.UserProperty = list(base.UserProperty)
            has_any = True
    if response_topic:
        props.ResponseTopic = response_topic
        has_any = True
    if correlation_data is not None:
        props.CorrelationData = correlation_data
        has_any = True
    if user_properties:
        props.UserProperty = list(user_properties)  # paho appends to what is there
        has_any = True
    return props if has_any else None


async def publish_and_wait(
    client: Any,
    tracker: PublishTracker,
    address: ServerAddress,
    topic: str,
    payload: bytes | None,
    *,
    qos: int,
    retain: bool = False,
    properties: Any = None,
    timeout: float | None = PUBLISH_TIMEOUT_S,
) -> None:
    """Publish and wait for the broker's acknowledgement (QoS 0: until it is written).
    Raises MqttError naming the topic and the broker."""
    try:
        info = client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
    except (ValueError, TypeError) as exc:
        raise MqttError(
            one_line(f"cannot publish to {topic!r} at {address}: {exc}"), retryable=False
        ) from exc
    if info.rc not in (0, 4) or (info.rc == 4 and qos == 0):
        # MQTT_ERR_NO_CONN: QoS 1/2 messages are queued until the client is reconnected
        import paho.mqtt.client as mqtt

        raise MqttError(
            f"cannot publish to {topic!r} at {address}: {mqtt.error_string(info.rc)}",
            address=str(address),
        )
    future = tracker.track(info)
    try:
        reason = await asyncio.wait_for(future, timeout)
    except TimeoutError:
        tracker.forget(info.mid)
        raise MqttError(
            f"the MQTT broker at {address} did not acknowledge a message to {topic!r} "
            f"within {timeout:g} s",
            address=str(address),
        ) from None
    if is_failure(reason):
        raise MqttError(
            f"the MQTT broker at {address} refused a message to {topic!r}: {refusal(reason)}",
            address=str(address),
            retryable=False,
        )


class Publisher:
    """A connected client for publishing (``Publish`` tasks): clean session, its own
    network thread, automatic reconnects; QoS 1/2 messages not yet acknowledged are sent
    again after a reconnect."""

    def __init__(self, settings: ConnectionSettings) -> None:
        if not settings.client_id:
            settings = _with_client_id(settings, f"kflow-publish-{uuid.uuid4().hex[:12]}")
        self.settings = settings
        self.tracker = PublishTracker()
        self._connected = threading.Event()
        self._refused: str | None = None
        self.client = make_client(settings)
        self.client.on_publish = self.tracker.on_publish
        self.client.on_connect = self._on_connect
        self.client.reconnect_delay_set(1, 30)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if is_failure(reason):
            self._refused = refusal(reason)
        else:
            self._refused = None
        self._connected.set()

    def open(self) -> None:
        """Connect and wait for the CONNACK (blocking). Raises MqttError."""
        connect(self.client, self.settings)
        self.client.loop_start()
        if not self._connected.wait(self.settings.connect_timeout) or self._refused:
            self.close()
            why = self._refused or f"no answer within {self.settings.connect_timeout:g} s"
            raise MqttError(
                mask(f"the MQTT broker at {self.settings.server} refused the connection: {why}"),
                address=str(self.settings.server),
                retryable=self._refused is None,
            )

    async def publish(
        self,
        topic: str,
        payload: bytes | None,
        *,
        qos: int,
        retain: bool = False,
        properties: Any = None,
    ) -> None:
        await publish_and_wait(
            self.client,
            self.tracker,
            self.settings.server,
            topic,
            payload,
            qos=qos,
            retain=retain,
            properties=properties,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        with contextlib.suppress(Exception):
            self.client.loop_stop()


def _with_client_id(settings: ConnectionSettings, client_id: str) -> ConnectionSettings:
    from dataclasses import replace

    return replace(settings, client_id=client_id)


_publishers: dict[tuple[Any, ...], Publisher] = {}
_publishers_lock = threading.Lock()


def shared_publisher(settings: ConnectionSettings) -> Publisher:
    """The process's publisher for these settings, connected on first use (blocking)."""
    key = settings.key()
    with _publishers_lock:
        publisher = _publishers.get(key)
        if publisher is None:
            publisher = Publisher(settings)
            publisher.open()
            _publishers[key] = publisher
        return publisher


def close_publishers() -> None:
    with _publishers_lock:
        publishers = list(_publishers.values())
        _publishers.clear()
    for publisher in publishers:
        publisher.close()
