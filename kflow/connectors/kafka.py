"""Kafka connector: clients built from Java-style properties, kafka-python errors translated.

Flows carry Kafka settings the way Kestra (and the Java client) spells them::

    properties:
      bootstrap.servers: localhost:9092
      auto.offset.reset: earliest

:func:`translate_properties` turns such a mapping into kafka-python keyword
arguments. A dotted name is mapped to the kafka-python argument of the same
words (``max.poll.records`` -> ``max_poll_records``) and its value converted to
the type of that argument (``"false"`` -> ``False``, ``"500"`` -> ``500``);
kafka-python's own argument names are accepted as they are. A few names need
more than that:

- ``bootstrap.servers``: a comma-separated list;
- ``acks``: ``all``/``-1``/``0``/``1``;
- ``sasl.jaas.config``: the ``username="..." password="..."`` of the PLAIN and
  SCRAM login modules (best effort; other modules are rejected);
- ``sasl.username``/``sasl.password`` (librdkafka names) and
  ``ssl.ca.location``/``ssl.certificate.location``/``ssl.key.location``/
  ``ssl.key.password``;
- ``ssl.truststore.location``/``.password``/``.type`` (JKS, PKCS12, PEM) and
  ``ssl.truststore.certificates``: converted to a PEM CA file
  (:mod:`kflow.connectors.kafka_security`);
- ``ssl.endpoint.identification.algorithm``: empty disables host name checks;
- Java (de)serializer class names (``key.serializer``...) are ignored: kflow
  sends and receives bytes and (de)serializes itself.

Any other name is rejected with a :class:`~kflow.errors.KafkaError` naming the
key (and the nearest known name), as is a name that does not apply to the kind
of client (``linger.ms`` for a consumer).

Every kafka-python exception raised in a ``with kafka_errors(address):`` block,
and by the ``make_*`` constructors, becomes a :class:`~kflow.errors.KafkaError`
with one clear line, e.g. ``cannot reach Kafka at 127.0.0.1:9092``.
kafka-python is imported lazily, inside the functions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from kflow.connectors.kafka_security import (
    KEYSTORE_KEYS,
    TRUSTSTORE_KEYS,
    RefusalWatch,
    describe_authorization,
    truststore_kwargs,
)
from kflow.connectors.masking import one_line, register_secret
from kflow.errors import KafkaError, KflowError

if TYPE_CHECKING:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

__all__ = [
    "DEFAULT_BOOTSTRAP_TIMEOUT_MS",
    "ClientKind",
    "bootstrap_address",
    "ensure_topic",
    "kafka_errors",
    "make_admin",
    "make_consumer",
    "make_producer",
    "translate_properties",
]

ClientKind = Literal["producer", "consumer", "admin"]

DEFAULT_BOOTSTRAP_TIMEOUT_MS = 10_000
"""How long a new client waits for a first broker before giving up (kafka-python: 30 s)."""

_IGNORED = frozenset(
    {"key.serializer", "value.serializer", "key.deserializer", "value.deserializer"}
)

# Dotted names whose kafka-python argument is not simply the same words.
_RENAMED = {
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "ssl.ca.location": "ssl_cafile",
    "ssl.truststore.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
    "ssl.key.password": "ssl_password",
    "ssl.crl.location": "ssl_crlfile",
    "ssl.cipher.suites": "ssl_ciphers",
    "sasl.kerberos.service.name": "sasl_kerberos_service_name",
}

# Arguments that callers must not set through properties (kflow owns them).
_NOT_PROPERTIES = frozenset(
    {
        "key_serializer",
        "value_serializer",
        "key_deserializer",
        "value_deserializer",
        "partitioner",
        "selector",
        "kafka_client",
        "socket_options",
        "metric_reporters",
        "default_offset_commit_callback",
        "sasl_oauth_token_provider",
        "ssl_context",
    }
)

_SECRET_ARGS = frozenset({"sasl_plain_password", "ssl_password"})


def _defaults(kind: ClientKind) -> Mapping[str, Any]:
    if kind == "producer":
        from kafka import KafkaProducer

        return KafkaProducer.DEFAULT_CONFIG
    if kind == "consumer":
        from kafka import KafkaConsumer

        return KafkaConsumer.DEFAULT_CONFIG
    from kafka import KafkaAdminClient

    return KafkaAdminClient.DEFAULT_CONFIG


def _all_dotted_names() -> list[str]:
    names: set[str] = set(_RENAMED) | _IGNORED | {"sasl.jaas.config", "bootstrap.servers"}
    names.add("ssl.endpoint.identification.algorithm")
    names.update(TRUSTSTORE_KEYS)
    for kind in ("producer", "consumer", "admin"):
        names.update(arg.replace("_", ".") for arg in _defaults(kind) if arg not in _NOT_PROPERTIES)
    return sorted(names)


def translate_properties(config: Mapping[str, Any], kind: ClientKind) -> dict[str, Any]:
    """Turn Java-style Kafka properties into kafka-python keyword arguments for ``kind``.

    Raises :class:`KafkaError` naming the first unknown or inapplicable key.
    """
    defaults = _defaults(kind)
    kwargs: dict[str, Any] = {}
    for raw_key, value in config.items():
        key = str(raw_key).strip()
        if key in _IGNORED or key in TRUSTSTORE_KEYS:
            continue
        if key in KEYSTORE_KEYS:
            raise KafkaError(
                f"Kafka property {key!r}: client certificates from a Java keystore are not "
                "supported; give ssl.certificate.location and ssl.key.location (PEM files)"
            )
        if key == "sasl.jaas.config":
            kwargs.update(_parse_jaas(str(value)))
            continue
        if key == "ssl.endpoint.identification.algorithm":
            arg, converted = "ssl_check_hostname", bool(str(value or "").strip())
        else:
            arg = _RENAMED.get(key) or key.replace(".", "_").replace("-", "_")
            if arg in _NOT_PROPERTIES or (arg not in defaults and not _known_elsewhere(arg)):
                raise KafkaError(_unknown_key_message(key))
            if arg not in defaults:
                raise KafkaError(f"Kafka property {key!r} does not apply to a {kind}")
            converted = _convert(key, arg, value, defaults[arg])
        kwargs[arg] = converted
    kwargs.update(truststore_kwargs(config))
    for arg in _SECRET_ARGS:
        if kwargs.get(arg):
            register_secret(str(kwargs[arg]))
    return kwargs


def _known_elsewhere(arg: str) -> bool:
    return any(arg in _defaults(k) for k in ("producer", "consumer", "admin"))


def _unknown_key_message(key: str) -> str:
    near = difflib.get_close_matches(key, _all_dotted_names(), n=1, cutoff=0.75)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"unknown Kafka property {key!r}{hint}"


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _convert(key: str, arg: str, value: Any, default: Any) -> Any:
    if arg == "bootstrap_servers":
        servers = value if isinstance(value, list | tuple) else str(value).split(",")
        found = [str(s).strip() for s in servers if str(s).strip()]
        if not found:
            raise KafkaError("Kafka property 'bootstrap.servers' is empty")
        return found
    if arg == "partition_assignment_strategy":
        return _assignors(value)
    if arg == "acks":
        text = str(value).strip().lower()
        if text in {"all", "-1"}:
            return "all"
        if text in {"0", "1"}:
            return int(text)
        raise KafkaError(f"Kafka property 'acks' must be all, -1, 0 or 1, not {value!r}")
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(value)
        if isinstance(default, int) or (isinstance(default, float) and default == float("inf")):
            return int(str(value).strip())
        if isinstance(default, float):
            return float(str(value).strip())
    except ValueError:
        expected = "true or false" if isinstance(default, bool) else "a number"
        raise KafkaError(f"Kafka property {key!r} must be {expected}, not {value!r}") from None
    return value


# Java assignor class names (last dotted part) and kafka-python's names for them.
_ASSIGNORS = {
    "rangeassignor": "range",
    "roundrobinassignor": "roundrobin",
    "stickyassignor": "sticky",
    "cooperativestickyassignor": "cooperative-sticky",
}


def _assignors(value: Any) -> tuple[Any, ...]:
    """``partition.assignment.strategy``: Java class names or ``range``, ``roundrobin``,
    ``sticky``, ``cooperative-sticky``, comma-separated or a list, in order of preference."""
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

    classes = {
        "range": RangePartitionAssignor,
        "roundrobin": RoundRobinPartitionAssignor,
        "sticky": StickyPartitionAssignor,
        "cooperative-sticky": CooperativeStickyAssignor,
    }
    names = value if isinstance(value, list | tuple) else str(value).split(",")
    out = []
    for raw in names:
        text = str(raw).strip()
        if not text:
            continue
        short = text.rsplit(".", 1)[-1].lower()
        name = _ASSIGNORS.get(short, short)
        if name not in classes:
            raise KafkaError(
                f"Kafka property 'partition.assignment.strategy': unknown assignor {text!r} "
                f"(known: {', '.join(classes)})"
            )
        out.append(classes[name])
    if not out:
        raise KafkaError("Kafka property 'partition.assignment.strategy' is empty")
    return tuple(out)


_JAAS_MODULE = re.compile(r"^\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\b")
_JAAS_OPTION = re.compile(r"""(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s;]+))""")


def _parse_jaas(text: str) -> dict[str, Any]:
    module = _JAAS_MODULE.match(text)
    if module is None:
        raise KafkaError("Kafka property 'sasl.jaas.config' is not a JAAS login module line")
    name = module.group(1).rsplit(".", 1)[-1]
    if name not in {"PlainLoginModule", "ScramLoginModule"}:
        raise KafkaError(
            f"Kafka property 'sasl.jaas.config': login module {name} is not supported "
            "(PlainLoginModule and ScramLoginModule are)"
        )
    options: dict[str, str] = {}
    for found in _JAAS_OPTION.finditer(text[module.end() :]):
        quoted, single, bare = found.group(2), found.group(3), found.group(4)
        raw = quoted if quoted is not None else single if single is not None else bare
        options[found.group(1)] = re.sub(r"\\(.)", r"\1", raw) if quoted is not None else raw
    result: dict[str, Any] = {}
    if "username" in options:
        result["sasl_plain_username"] = options["username"]
    if "password" in options:
        register_secret(options["password"])
        result["sasl_plain_password"] = options["password"]
    return result


def bootstrap_address(kwargs: Mapping[str, Any]) -> str:
    """The broker list of translated kwargs, as shown in messages (``h1:9092,h2:9092``)."""
    servers = kwargs.get("bootstrap_servers", "localhost")
    if isinstance(servers, str):
        return servers
    return ",".join(str(s) for s in servers)


def _client_kwargs(
    config: Mapping[str, Any], kind: ClientKind, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    kwargs = translate_properties(config, kind)
    kwargs.setdefault("bootstrap_timeout_ms", DEFAULT_BOOTSTRAP_TIMEOUT_MS)
    kwargs.update(overrides)
    return kwargs


def make_producer(config: Mapping[str, Any], **overrides: Any) -> KafkaProducer:
    """A connected ``KafkaProducer`` from Java-style properties.

    ``overrides`` are kafka-python keyword arguments passed as they are (for what
    properties cannot say: serializers, callbacks). Raises :class:`KafkaError`.
    """
    from kafka import KafkaProducer

    return _construct(KafkaProducer, _client_kwargs(config, "producer", overrides))


def make_consumer(config: Mapping[str, Any], **overrides: Any) -> KafkaConsumer:
    """A connected ``KafkaConsumer`` (not subscribed) from Java-style properties."""
    from kafka import KafkaConsumer

    return _construct(KafkaConsumer, _client_kwargs(config, "consumer", overrides))


def make_admin(config: Mapping[str, Any], **overrides: Any) -> KafkaAdminClient:
    """A connected ``KafkaAdminClient`` from Java-style properties."""
    from kafka import KafkaAdminClient

    return _construct(KafkaAdminClient, _client_kwargs(config, "admin", overrides))


_Client = TypeVar("_Client")


def _construct(cls: Callable[..., _Client], kwargs: dict[str, Any]) -> _Client:
    """``cls(**kwargs)`` with errors translated.

    kafka-python starts the network thread of a client before it bootstraps and
    leaves it running (reconnecting forever) when the bootstrap fails; the
    network client is tracked here so that a failed construction stops it.
    """
    make_network = kwargs.get("kafka_client")
    if make_network is None:
        from kafka.net.compat import KafkaNetClient

        make_network = KafkaNetClient
    started: list[Any] = []
    watches: list[RefusalWatch] = []
    address = bootstrap_address(kwargs)

    def tracked_network(**network_kwargs: Any) -> Any:
        network = make_network(**network_kwargs)
        started.append(network)
        watches.append(RefusalWatch(network, kwargs, address))
        return network

    try:
        with kafka_errors(address):
            client = cls(**{**kwargs, "kafka_client": tracked_network})
    except BaseException as exc:
        for network in started:
            with suppress(Exception):
                network.close()
        refused = next((w.refusal for w in watches if w.refusal is not None), None)
        if refused is not None and refused is not exc:
            raise refused from exc
        raise
    for watch in watches:
        watch.stop()
    return client


def ensure_topic(admin: KafkaAdminClient, name: str, partitions: int, replication: int = 1) -> int:
    """Create topic ``name`` with ``partitions`` partitions unless it exists.

    Returns the topic's partition count (an existing topic is left as it is,
    even with another count). Waits until every partition of a new topic has a
    leader.
    """
    if partitions < 1:
        raise KafkaError(f"a topic needs at least one partition, not {partitions}")
    from kafka.errors import TopicAlreadyExistsError

    address = bootstrap_address(admin.config)
    with kafka_errors(address):
        existing = _partition_count(admin, name)
        if existing:
            return existing
        with suppress(TopicAlreadyExistsError):
            admin.create_topics(
                {name: {"num_partitions": partitions, "replication_factor": replication}},
                wait_for_metadata=True,
            )
        return _partition_count(admin, name) or partitions


def _partition_count(admin: KafkaAdminClient, name: str) -> int:
    for topic in admin.describe_topics([name]):
        if topic.get("name") == name and topic.get("error_code", 0) == 0:
            return len(topic.get("partitions") or [])
    return 0


@contextmanager
def kafka_errors(address: str) -> Iterator[None]:
    """Translate kafka-python exceptions raised in the block into :class:`KafkaError`.

    ``address`` names the brokers in the message. kflow errors and exceptions
    that do not come from kafka-python pass through.
    """
    try:
        yield
    except KflowError:
        raise
    except Exception as exc:
        message = describe_kafka_error(exc, address)
        if message is None:
            raise
        raise KafkaError(message, address=address) from exc


def describe_kafka_error(exc: BaseException, address: str) -> str | None:
    """One masked line describing a kafka-python exception, or ``None`` if ``exc`` is not one."""
    import kafka.errors as errors

    if not isinstance(exc, errors.KafkaError):
        if isinstance(exc, ValueError) and "Unrecognized configs" in str(exc):
            return one_line(f"invalid Kafka client configuration: {exc}")
        return None
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, errors.KafkaConfigurationError):
        return one_line(f"invalid Kafka client configuration: {detail}")
    if isinstance(exc, errors.KafkaTimeoutError) and "bootstrap" in detail.lower():
        return one_line(f"cannot reach Kafka at {address}")
    if isinstance(exc, errors.KafkaConnectionError | errors.NodeNotReadyError):
        return one_line(f"cannot reach Kafka at {address}: {detail}")
    if isinstance(exc, errors.AuthorizationError):
        refused = describe_authorization(exc, address)
        return one_line(refused or f"Kafka at {address} refused the request: {detail}")
    if isinstance(exc, errors.KafkaTimeoutError):
        return one_line(f"Kafka at {address} did not answer in time: {detail}")
    return one_line(f"Kafka at {address}: {type(exc).__name__}: {detail}")
