"""Cassandra's ``session.secureConnection`` as Kestra users write it, as an ``SSLContext``.

Kestra's Cassandra session takes Java stores::

    session:
      secureConnection:
        truststorePath: /etc/cassandra/truststore.jks
        truststorePassword: "{{ secret('TRUSTSTORE_PASSWORD') }}"
        keystorePath: /etc/cassandra/client.p12      # only when the cluster asks for one
        keystorePassword: "{{ secret('KEYSTORE_PASSWORD') }}"

The truststore's certificates (JKS, PKCS12 or PEM) become the context's trusted CAs and the
server's certificate must match the host name it is reached by. A keystore (PKCS12) gives the
client certificate for a cluster with ``require_client_auth``; Kestra requires one, kflow
only when given. Problems are one :class:`CassandraError` naming the property.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import ssl
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from kflow.connectors import java_stores
from kflow.connectors.masking import register_secret
from kflow.errors import CassandraError

PROPERTY = "session.secureConnection"


class CassandraTls(NamedTuple):
    truststore: str | None
    truststore_password: str | None
    keystore: str | None
    keystore_password: str | None

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any] | None) -> CassandraTls | None:
        """The rendered ``secureConnection`` mapping; None when there is none."""
        if not conf:
            return None

        def text(name: str) -> str | None:
            value = conf.get(name)
            return None if value in (None, "") else str(value)

        tls = cls(
            text("truststorePath"),
            text("truststorePassword"),
            text("keystorePath"),
            text("keystorePassword"),
        )
        for secret in (tls.truststore_password, tls.keystore_password):
            register_secret(secret)
        return tls


def ssl_context(tls: CassandraTls) -> ssl.SSLContext:
    """The client context: trust the truststore's CAs only (as Java does; the system's when
    none is given), check the host name, present the keystore's certificate when given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
    if tls.truststore is not None:
        ders = _read(tls.truststore, "truststorePath", tls.truststore_password, _certificates)
        context.load_verify_locations(cadata=b"".join(ders))
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if tls.keystore is not None:
        store = _read(tls.keystore, "keystorePath", tls.keystore_password, _key)
        _load_chain(context, store)
    return context


def _certificates(data: bytes, password: str | None, where: str) -> list[bytes]:
    return java_stores.read_certificates(data, password, where, "truststorePassword")


def _key(data: bytes, password: str | None, where: str) -> Any:
    return java_stores.read_pkcs12_key(data, password, where, "keystorePassword")


def _read(path: str, name: str, password: str | None, reader: Any) -> Any:
    where = f"Cassandra {PROPERTY}.{name} {path}"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CassandraError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    try:
        return reader(data, password, where)
    except java_stores.StoreError as exc:
        raise CassandraError(str(exc)) from None


def _load_chain(context: ssl.SSLContext, store: Any) -> None:
    """``load_cert_chain`` reads files only: the key goes to a private file encrypted with a
    one-off passphrase, for the moment it takes to load."""
    from cryptography.hazmat.primitives import serialization

    passphrase = secrets.token_urlsafe(24)
    key = store.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    chain = [store.cert.certificate, *(c.certificate for c in store.additional_certs)]
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    with _private_dir() as directory:
        key_file, cert_file = directory / "key.pem", directory / "chain.pem"
        key_file.write_bytes(key)
        cert_file.write_bytes(pem)
        context.load_cert_chain(str(cert_file), str(key_file), passphrase)


@contextlib.contextmanager
def _private_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kflow-cassandra-tls-") as name:
        os.chmod(name, 0o700)
        yield Path(name)
