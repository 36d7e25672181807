"""Kafka TLS and SASL as Kestra users write them, and the broker's refusals in one line.

Kestra passes a trigger's or task's ``properties`` to the Java client as they are, so flows
carry Java truststores::

    properties:
      security.protocol: SASL_SSL
      sasl.mechanism: SCRAM-SHA-512
      sasl.jaas.config: >-
        org.apache.kafka.common.security.scram.ScramLoginModule required
        username="alice" password="...";
      ssl.truststore.location: /etc/kafka/truststore.p12
      ssl.truststore.password: "..."
      ssl.truststore.type: PKCS12

kafka-python wants a PEM CA file instead. :func:`truststore_kwargs` reads the truststore
(JKS, PKCS12 or PEM, as ``ssl.truststore.type`` says; JKS, Java's default type, also reads a
PKCS12 file, as Java 17 does) and writes its trusted certificates to a private PEM file once
per content (``ssl_cafile``). ``ssl.truststore.certificates`` (PEM text, type PEM) works too.

The stores are read by :mod:`kflow.connectors.java_stores` (JKS by kflow, PKCS12 with the
``cryptography`` package); their problems become one :class:`KafkaError` here.

:class:`RefusalWatch` follows the connections a new client makes while it bootstraps and turns
a refused SASL login or an untrusted broker certificate into one :class:`KafkaError` at once,
instead of kafka-python's retrying until "Unable to bootstrap".
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kflow.connectors import java_stores
from kflow.connectors.masking import one_line, register_secret
from kflow.errors import KafkaError

__all__ = [
    "KEYSTORE_KEYS",
    "TRUSTSTORE_KEYS",
    "RefusalWatch",
    "describe_authorization",
    "read_jks",
    "read_pkcs12",
    "read_truststore",
    "truststore_kwargs",
]

TRUSTSTORE_KEYS = frozenset(
    {
        "ssl.truststore.location",
        "ssl.truststore.password",
        "ssl.truststore.type",
        "ssl.truststore.certificates",
    }
)
KEYSTORE_KEYS = frozenset(
    {
        "ssl.keystore.location",
        "ssl.keystore.password",
        "ssl.keystore.type",
        "ssl.keystore.key",
        "ssl.keystore.certificate.chain",
    }
)

_PASSWORD = "ssl.truststore.password"
_TYPES = ("JKS", "PKCS12", "PEM")


def truststore_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """kafka-python arguments (``ssl_cafile``) for the ``ssl.truststore.*`` properties in
    ``config`` (others are ignored); empty if there are none. Raises :class:`KafkaError`."""
    given = {k: config[k] for k in TRUSTSTORE_KEYS if k in config}
    if not given:
        return {}
    password = given.get("ssl.truststore.password")
    if password not in (None, ""):
        register_secret(str(password))
    declared = str(given.get("ssl.truststore.type") or "").strip().upper()
    kind = declared or "JKS"
    if kind not in _TYPES:
        raise KafkaError(
            f"Kafka property 'ssl.truststore.type' must be JKS, PKCS12 or PEM, not {kind!r}",
            retryable=False,
        )
    inline = given.get("ssl.truststore.certificates")
    location = given.get("ssl.truststore.location")
    if inline and location:
        raise KafkaError(
            "Kafka properties 'ssl.truststore.location' and 'ssl.truststore.certificates' "
            "exclude each other",
            retryable=False,
        )
    if inline:
        if kind != "PEM":
            raise KafkaError(
                "Kafka property 'ssl.truststore.certificates' needs ssl.truststore.type PEM",
                retryable=False,
            )
        ders = _pem_certificates(str(inline).encode(), "ssl.truststore.certificates")
    elif location:
        path = Path(str(location))
        kind = declared or _default_kind(path)
        if kind == "PEM":
            # OpenSSL reads a PEM CA file itself. Without a type, a missing file is left for
            # the TLS handshake to report, as when only PEM files were accepted here.
            if declared:
                read_truststore(path, kind, None)  # a clear error unless it holds certificates
            return {"ssl_cafile": str(path)}
        ders = read_truststore(path, kind, _text(password))
    else:
        return {}
    return {"ssl_cafile": str(_pem_file(ders))}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _default_kind(path: Path) -> str:
    """Without ``ssl.truststore.type``: JKS (Java's default), or PEM for a PEM file (what
    kflow read ``ssl.truststore.location`` as before truststores were supported)."""
    try:
        with path.open("rb") as handle:
            return "PEM" if _detect(handle.read(4096)) == "PEM" else "JKS"
    except OSError:
        return "PEM"


def read_truststore(path: Path, kind: str, password: str | None) -> list[bytes]:
    """The trusted certificates (DER) of the truststore file at ``path``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KafkaError(
            f"Kafka property 'ssl.truststore.location': cannot read {path}: {exc.strerror or exc}",
            retryable=False,
        ) from None
    found = _detect(data)
    where = f"truststore {path}"
    if kind == "PEM" or found == "PEM":
        if found != "PEM" or kind != "PEM":
            raise KafkaError(
                f"{where} is {found or 'not a truststore'}, but ssl.truststore.type is {kind}",
                retryable=False,
            )
        return _pem_certificates(data, where)
    if found == "JKS" and kind == "PKCS12":
        raise KafkaError(f"{where} is JKS, but ssl.truststore.type is PKCS12", retryable=False)
    if found == "JKS":
        return read_jks(data, password, where)
    if found == "PKCS12":  # JKS type reads PKCS12 too (Java's keystore.type.compat)
        return read_pkcs12(data, password, where)
    raise KafkaError(f"{where} is neither JKS, PKCS12 nor PEM", retryable=False)


def _detect(data: bytes) -> str | None:
    return java_stores.detect(data)


def read_jks(data: bytes, password: str | None, where: str = "JKS truststore") -> list[bytes]:
    """:func:`java_stores.read_jks`, its problems as :class:`KafkaError`."""
    with _as_kafka_error():
        return java_stores.read_jks(data, password, where, password_name=_PASSWORD)


def read_pkcs12(data: bytes, password: str | None, where: str = "PKCS12 truststore") -> list[bytes]:
    """:func:`java_stores.read_pkcs12`, its problems as :class:`KafkaError`."""
    with _as_kafka_error():
        return java_stores.read_pkcs12(data, password, where, password_name=_PASSWORD)


def _pem_certificates(data: bytes, where: str) -> list[bytes]:
    with _as_kafka_error():
        return java_stores.pem_certificates(data, where)


@contextlib.contextmanager
def _as_kafka_error() -> Iterator[None]:
    try:
        yield
    except java_stores.StoreError as exc:
        raise KafkaError(str(exc), retryable=False) from None


def _pem(der: bytes) -> str:
    encoded = base64.b64encode(der).decode()
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


_pem_dir: Path | None = None
_pem_lock = threading.Lock()


def _pem_file(ders: list[bytes]) -> Path:
    """A PEM file of ``ders`` in a private (0700) temporary directory of this process, one
    per content (certificates are public; nothing secret is written)."""
    global _pem_dir
    text = "".join(_pem(der) for der in ders)
    name = hashlib.sha256(text.encode()).hexdigest()[:20] + ".pem"
    with _pem_lock:
        if _pem_dir is None:
            _pem_dir = Path(tempfile.mkdtemp(prefix="kflow-truststore-"))
        path = _pem_dir / name
        if not path.exists():
            partial = path.with_suffix(".partial")
            partial.write_text(text)
            os.replace(partial, path)
    return path


# --- refusals --------------------------------------------------------------------------------


def _refusal(
    exc: BaseException, authenticating: bool, kwargs: Mapping[str, Any], address: str
) -> str | None:
    """One line for a connection failure that retrying will not cure, or None."""
    import kafka.errors as errors

    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl.c", 1)[0].strip()
        return (
            f"Kafka at {address}: TLS refused: the broker's certificate is not trusted "
            f"({reason or 'verify failed'}); check ssl.truststore.location"
        )
    mechanism = str(kwargs.get("sasl_mechanism") or "PLAIN")
    user = kwargs.get("sasl_plain_username") or "?"
    login = f"the SASL {mechanism} login of user {user!r}"
    if isinstance(exc, errors.SaslAuthenticationFailedError):
        return f"Kafka at {address} refused {login}: wrong user name or password"
    if isinstance(exc, errors.UnsupportedSaslMechanismError):
        return f"Kafka at {address} refused {login}: the broker does not offer {mechanism}"
    if authenticating and isinstance(exc, errors.KafkaConnectionError):
        # The broker answered ApiVersions, then dropped the connection during the SASL
        # exchange: what Kafka does on a failed SCRAM login.
        return f"Kafka at {address} refused {login}: wrong user name or password"
    return None


class RefusalWatch:
    """Watches a new kafka-python network client while its owner bootstraps: the first
    refused login or untrusted certificate stops the bootstrap with that reason."""

    def __init__(self, network: Any, kwargs: Mapping[str, Any], address: str) -> None:
        self.refusal: KafkaError | None = None
        self._kwargs = kwargs
        self._address = address
        self._manager = getattr(network, "_manager", None)
        protocol = str(kwargs.get("security_protocol") or "PLAINTEXT")
        if self._manager is None or protocol == "PLAINTEXT":
            self._manager = None
            return
        self._sasl = protocol.startswith("SASL_")
        original = self._manager._connect

        async def watched(node: Any, conn: Any, *args: Any, **kw: Any) -> Any:
            conn.init_future.add_errback(self._failed, conn)
            result = await original(node, conn, *args, **kw)
            manager = self._manager
            if self.refusal is not None and manager is not None:
                # kafka-python raises a node's cached auth failure on the next connection
                # attempt, which ends the bootstrap now rather than at its timeout. (Set
                # here: its own _connect clears the cache after an initialisation that
                # failed only through the connection's init future.)
                manager._auth_failures[node.node_id] = self.refusal
            return result

        self._manager._connect = watched

    def _failed(self, conn: Any, exc: BaseException) -> None:
        authenticating = self._sasl and conn.broker_version_data is not None
        message = _refusal(exc, authenticating, self._kwargs, self._address)
        if message is not None:
            self.refusal = KafkaError(one_line(message), address=self._address, retryable=False)

    def stop(self) -> None:
        """Leave the client alone from now on (kafka-python's own retrying applies)."""
        if self._manager is not None:
            self._manager.__dict__.pop("_connect", None)
            self._manager = None


def describe_authorization(exc: BaseException, address: str) -> str | None:
    """One line for a request the broker's authorizer refused (an ACL missing), or None."""
    import kafka.errors as errors

    what = {
        errors.GroupAuthorizationFailedError: "consumer group",
        errors.TopicAuthorizationFailedError: "topic",
        errors.TransactionalIdAuthorizationFailedError: "transactional id",
        errors.ClusterAuthorizationFailedError: "cluster",
    }
    for kind, name in what.items():
        if isinstance(exc, kind):
            target = str(exc.args[0]).strip() if exc.args else "?"
            subject = name if kind is errors.ClusterAuthorizationFailedError else f"{name} {target}"
            return (
                f"Kafka at {address} refused access to {subject} "
                f"({type(exc).__name__.removesuffix('Error')}: no ACL allows it for this user)"
            )
    return None
