"""Cassandra's ``session.secureConnection`` read into an ``SSLContext``: stores made here
with the ``cryptography`` package, problems as one line naming the property."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID

from kflow.connectors.cassandra_tls import CassandraTls, ssl_context
from kflow.connectors.masking import mask
from kflow.errors import CassandraError

PASSWORD = "st0re-c4ss"


def certificate(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


@pytest.fixture
def stores(tmp_path: Path) -> dict[str, Path]:
    key, cert = certificate("kflow test CA")
    encryption = BestAvailableEncryption(PASSWORD.encode())
    trust = pkcs12.serialize_key_and_certificates(b"ca", None, None, [cert], encryption)
    keys = pkcs12.serialize_key_and_certificates(b"client", key, cert, None, encryption)
    paths = {"trust": tmp_path / "trust.p12", "keys": tmp_path / "client.p12"}
    paths["trust"].write_bytes(trust)
    paths["keys"].write_bytes(keys)
    paths["jks"] = tmp_path / "client.jks"
    paths["jks"].write_bytes(b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + b"\x00" * 32)
    return paths


def test_no_secure_connection_means_no_tls() -> None:
    assert CassandraTls.from_conf(None) is None
    assert CassandraTls.from_conf({}) is None


def test_the_truststore_is_trusted_and_the_keystore_presented(stores: dict[str, Path]) -> None:
    conf = {
        "truststorePath": str(stores["trust"]),
        "truststorePassword": PASSWORD,
        "keystorePath": str(stores["keys"]),
        "keystorePassword": PASSWORD,
    }
    tls = CassandraTls.from_conf(conf)
    assert tls is not None
    context = ssl_context(tls)
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "kflow test CA"),),)]
    assert context.check_hostname
    assert mask(f"password {PASSWORD}") == "password ***"  # the passwords are secrets


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (
            {"truststorePath": "/no/such/truststore.jks"},
            r"^Cassandra session\.secureConnection\.truststorePath /no/such/truststore\.jks: "
            r"cannot read it: No such file or directory$",
        ),
        (
            {"truststorePath": "trust", "truststorePassword": "not-it"},
            r"truststorePath .*trust\.p12: wrong truststorePassword, or not a PKCS12 file$",
        ),
        (
            {"keystorePath": "jks", "keystorePassword": PASSWORD},
            r"keystorePath .*client\.jks is a JKS keystore, whose private key kflow cannot read: "
            r"convert it with keytool -importkeystore -deststoretype PKCS12$",
        ),
        (
            {"keystorePath": "keys", "keystorePassword": "not-it"},
            r"wrong keystorePassword, or not a PKCS12 file$",
        ),
    ],
)
def test_a_store_that_cannot_be_used_is_one_line(
    stores: dict[str, Path], conf: dict[str, str], message: str
) -> None:
    conf = {k: str(stores.get(v, v)) if k.endswith("Path") else v for k, v in conf.items()}
    tls = CassandraTls.from_conf(conf)
    assert tls is not None
    with pytest.raises(CassandraError, match=message):
        ssl_context(tls)
