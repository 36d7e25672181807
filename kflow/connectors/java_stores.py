"""Java key and trust stores (JKS, PKCS12) and PEM certificates, for connectors whose
Kestra properties name Java stores (Kafka's ``ssl.truststore.*``, Cassandra's
``session.secureConnection``) while the Python drivers want PEM or an ``SSLContext``.

- JKS is read here (:func:`read_jks`: the trusted-certificate entries and the keyed SHA-1
  integrity check of Sun's format; no key entries are decrypted, so a JKS keystore's private
  key cannot be used: convert it to PKCS12);
- PKCS12 is read with the ``cryptography`` package (Java encrypts even the certificates of
  a PKCS12 truststore with PBES2/AES-256, which the standard library cannot undo).

Problems are :class:`StoreError`; each connector turns them into its own error.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

_JKS_MAGIC = 0xFEEDFEED
_JKS_WHITENER = b"Mighty Aphrodite"


class StoreError(Exception):
    """A store that cannot be read: its message names the store and what is wrong."""


def detect(data: bytes) -> str | None:
    """``JKS``, ``PEM``, ``PKCS12`` (a DER sequence) or None, from the first bytes."""
    if data[:4] == struct.pack(">I", _JKS_MAGIC):
        return "JKS"
    if b"-----BEGIN CERTIFICATE-----" in data[:4096]:
        return "PEM"
    if data[:1] == b"\x30":
        return "PKCS12"
    return None


def read_certificates(
    data: bytes, password: str | None, where: str, password_name: str
) -> list[bytes]:
    """The certificates (DER) of a JKS, PKCS12 or PEM store, whichever ``data`` is."""
    found = detect(data)
    if found == "JKS":
        return read_jks(data, password, where, password_name=password_name)
    if found == "PEM":
        return pem_certificates(data, where)
    if found == "PKCS12":
        return read_pkcs12(data, password, where, password_name=password_name)
    raise StoreError(f"{where} is neither JKS, PKCS12 nor PEM")


def read_pkcs12_key(data: bytes, password: str | None, where: str, password_name: str) -> Any:
    """The private key and certificates of a PKCS12 keystore (``cryptography``'s
    ``PKCS12KeyAndCertificates``); a JKS keystore is refused with how to convert it."""
    if detect(data) == "JKS":
        raise StoreError(
            f"{where} is a JKS keystore, whose private key kflow cannot read: convert it with "
            "keytool -importkeystore -deststoretype PKCS12"
        )
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        store = pkcs12.load_pkcs12(data, None if password is None else password.encode())
    except ValueError:
        raise StoreError(f"{where}: wrong {password_name}, or not a PKCS12 file") from None
    if store.key is None or store.cert is None:
        raise StoreError(f"{where} holds no private key with its certificate")
    return store


class _JksReader:
    def __init__(self, data: bytes, where: str) -> None:
        self.data = data
        self.pos = 0
        self.where = where

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise StoreError(f"{self.where} is truncated or not a JKS file")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def number(self, fmt: str) -> int:
        (value,) = struct.unpack(fmt, self.take(struct.calcsize(fmt)))
        return int(value)

    def utf(self) -> str:
        return self.take(self.number(">H")).decode("utf-8", "replace")

    def blob(self) -> bytes:
        return self.take(self.number(">I"))


def read_jks(
    data: bytes, password: str | None, where: str, *, password_name: str = "password"
) -> list[bytes]:
    """The certificates (DER) of a JKS file: each trusted-certificate entry's, then the
    chains of key entries (whose keys are not read). The file's integrity is checked against
    ``password`` when one is given (as Java does; without one it is not)."""
    reader = _JksReader(data, where)
    if reader.number(">I") != _JKS_MAGIC:
        raise StoreError(f"{where} is not a JKS file")
    version = reader.number(">I")
    if version not in (1, 2):
        raise StoreError(f"{where}: JKS version {version} is not supported")
    trusted: list[bytes] = []
    chains: list[bytes] = []

    def certificate() -> bytes:
        if version == 2:
            kind = reader.utf()
            if kind != "X.509":
                raise StoreError(f"{where}: {kind} certificates are not supported")
        return reader.blob()

    for _ in range(reader.number(">I")):
        tag = reader.number(">I")
        reader.utf()  # alias
        reader.take(8)  # creation time
        if tag == 2:  # trusted certificate
            trusted.append(certificate())
        elif tag == 1:  # private key (encrypted; skipped) and its chain
            reader.blob()
            chains.extend(certificate() for _ in range(reader.number(">I")))
        elif tag == 3:  # secret key (JCEKS only)
            raise StoreError(f"{where} holds secret keys (JCEKS?): not supported")
        else:
            raise StoreError(f"{where}: unknown JKS entry tag {tag}")
    body = data[: reader.pos]
    digest = reader.take(20)
    if password is not None:
        expected = hashlib.sha1(password.encode("utf-16-be") + _JKS_WHITENER + body).digest()
        if expected != digest:
            raise StoreError(f"{where}: wrong {password_name} (the integrity check failed)")
    found = trusted or chains
    if not found:
        raise StoreError(f"{where} holds no certificate")
    return found


def read_pkcs12(
    data: bytes, password: str | None, where: str, *, password_name: str = "password"
) -> list[bytes]:
    """The certificates (DER) of a PKCS12 file, with the ``cryptography`` package."""
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    secret = None if password is None else password.encode()
    try:
        store = pkcs12.load_pkcs12(data, secret)
    except ValueError:
        raise StoreError(f"{where}: wrong {password_name}, or not a PKCS12 file") from None
    certificates = [item.certificate for item in store.additional_certs]
    if store.cert is not None:
        certificates.insert(0, store.cert.certificate)
    if not certificates:
        raise StoreError(f"{where} holds no certificate")
    return [cert.public_bytes(Encoding.DER) for cert in certificates]


def pem_certificates(data: bytes, where: str) -> list[bytes]:
    """The certificates (DER) of PEM text."""
    text = data.decode("ascii", "replace")
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    found = []
    for chunk in text.split(begin)[1:]:
        body = chunk.split(end, 1)[0]
        try:
            found.append(base64.b64decode("".join(body.split()), validate=True))
        except ValueError:
            raise StoreError(f"{where}: a certificate is not valid base64") from None
    if not found:
        raise StoreError(f"{where} holds no PEM certificate")
    return found
