"""Kafka TLS/SASL properties as Kestra users write them, and truststores as Java writes them.

The truststores are written by ``keytool`` (Java 17) in a temporary directory, of
certificates made by ``openssl``; the tests skip when either is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kflow.connectors.kafka import translate_properties
from kflow.connectors.kafka_security import (
    _refusal,
    describe_authorization,
    read_jks,
    read_pkcs12,
    truststore_kwargs,
)
from kflow.connectors.masking import mask
from kflow.errors import KafkaError

PASSWORD = "st0re-9x7q"


def _tool(name: str, *args: str) -> None:
    program = shutil.which(name)
    if program is None:
        pytest.skip(f"{name} is not installed")
    fast = ["-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC"] if name == "keytool" else []
    subprocess.run([program, *fast, *args], check=True, capture_output=True, timeout=60)


class Stores:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ders: dict[str, bytes] = {}

    def path(self, name: str) -> Path:
        return self.root / name


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Stores:
    """Two CAs' certificates (openssl), trusted in a JKS and a PKCS12 truststore written by
    keytool; a JKS keystore with a key entry; each CA's certificate as DER (what the readers
    must return)."""
    found = Stores(tmp_path_factory.mktemp("stores"))
    for alias in ("ca-one", "ca-two"):
        pem, der = found.path(f"{alias}.pem"), found.path(f"{alias}.der")
        _tool(
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "2", "-subj", f"/CN={alias}", "-keyout",
            str(found.path(f"{alias}.key")), "-out", str(pem),
        )  # fmt: skip
        _tool("openssl", "x509", "-in", str(pem), "-outform", "DER", "-out", str(der))
        found.ders[alias] = der.read_bytes()
        for kind, suffix in (("JKS", "jks"), ("PKCS12", "p12")):
            _tool(
                "keytool", "-importcert", "-noprompt", "-alias", alias, "-file", str(der),
                "-keystore", str(found.path(f"trust.{suffix}")), "-storetype", kind,
                "-storepass", PASSWORD,
            )  # fmt: skip
    _tool(
        "keytool", "-genkeypair", "-alias", "me", "-keyalg", "EC", "-dname", "CN=me",
        "-keystore", str(found.path("keys.jks")), "-storetype", "JKS", "-storepass", PASSWORD,
    )  # fmt: skip
    return found


def test_jks_trusted_certificates_are_read_as_keytool_wrote_them(stores: Stores) -> None:
    data = stores.path("trust.jks").read_bytes()
    assert sorted(read_jks(data, PASSWORD)) == sorted(stores.ders.values())
    assert sorted(read_jks(data, None)) == sorted(stores.ders.values())  # no integrity check


def test_jks_with_a_wrong_password_fails_its_integrity_check(stores: Stores) -> None:
    with pytest.raises(KafkaError, match=r"wrong ssl\.truststore\.password"):
        read_jks(stores.path("trust.jks").read_bytes(), "not-it")


def test_jks_key_entries_give_their_certificate_chain(stores: Stores) -> None:
    certificates = read_jks(stores.path("keys.jks").read_bytes(), PASSWORD)
    assert len(certificates) == 1 and certificates[0][:1] == b"\x30"


def test_truncated_or_foreign_bytes_are_not_a_jks_file(stores: Stores) -> None:
    data = stores.path("trust.jks").read_bytes()
    with pytest.raises(KafkaError, match="truncated"):
        read_jks(data[:40], None)
    with pytest.raises(KafkaError, match="not a JKS file"):
        read_jks(b"\x00" * 40, None)


def test_pkcs12_trusted_certificates_are_read(stores: Stores) -> None:
    pytest.importorskip("cryptography")
    data = stores.path("trust.p12").read_bytes()
    assert sorted(read_pkcs12(data, PASSWORD)) == sorted(stores.ders.values())
    with pytest.raises(KafkaError, match=r"wrong ssl\.truststore\.password"):
        read_pkcs12(data, "not-it")


@pytest.mark.parametrize(
    ("store", "kind"),
    [("trust.jks", "JKS"), ("trust.p12", "PKCS12"), ("trust.p12", "JKS"), ("trust.jks", None)],
)
def test_a_truststore_becomes_one_pem_ca_file(stores: Stores, store: str, kind: str | None) -> None:
    if store.endswith(".p12"):
        pytest.importorskip("cryptography")
    properties = {
        "ssl.truststore.location": str(stores.path(store)),
        "ssl.truststore.password": PASSWORD,
    }
    if kind:
        properties["ssl.truststore.type"] = kind
    kwargs = truststore_kwargs(properties)
    pem = Path(kwargs["ssl_cafile"]).read_text()
    assert pem.count("-----BEGIN CERTIFICATE-----") == 2
    ours = {"".join(p.split()) for p in pem.split("-----END CERTIFICATE-----")[:2]}
    theirs = {
        "".join(stores.path(f"{a}.pem").read_text().split()).removesuffix(
            "-----ENDCERTIFICATE-----"
        )
        for a in ("ca-one", "ca-two")
    }
    assert ours == theirs
    assert truststore_kwargs(properties) == kwargs  # one file per content
    assert mask(f"password {PASSWORD}") == "password ***"


def test_pem_truststores_and_inline_certificates(stores: Stores) -> None:
    pem = stores.path("ca-one.pem")
    typed = {"ssl.truststore.location": str(pem), "ssl.truststore.type": "PEM"}
    assert truststore_kwargs(typed) == {"ssl_cafile": str(pem)}
    assert truststore_kwargs({"ssl.truststore.location": str(pem)}) == {"ssl_cafile": str(pem)}
    inline = {"ssl.truststore.certificates": pem.read_text(), "ssl.truststore.type": "PEM"}
    written = Path(truststore_kwargs(inline)["ssl_cafile"]).read_text()
    assert "".join(written.split()) == "".join(pem.read_text().split())


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"ssl.truststore.type": "JCEKS", "ssl.truststore.location": "x"}, "JKS, PKCS12 or PEM"),
        ({"ssl.truststore.location": "trust.jks", "ssl.truststore.type": "PKCS12"}, "is JKS"),
        ({"ssl.truststore.location": "trust.jks", "ssl.truststore.type": "PEM"}, "is JKS"),
        ({"ssl.truststore.location": "ca-one.pem", "ssl.truststore.type": "JKS"}, "is PEM"),
        ({"ssl.truststore.location": "missing.jks", "ssl.truststore.type": "JKS"}, "cannot read"),
        ({"ssl.truststore.certificates": "x", "ssl.truststore.type": "JKS"}, "needs"),
    ],
)
def test_truststore_mistakes_are_named(
    stores: Stores, properties: dict[str, str], message: str
) -> None:
    resolved = dict(properties)
    if "ssl.truststore.location" in resolved:
        resolved["ssl.truststore.location"] = str(stores.path(resolved["ssl.truststore.location"]))
    with pytest.raises(KafkaError, match=message):
        truststore_kwargs(resolved)


def test_kestra_secured_properties_map_to_kafka_python(stores: Stores) -> None:
    kwargs = translate_properties(
        {
            "bootstrap.servers": "broker:9093",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule "
            'required username="bob" password="b0b-pass-77";',
            "ssl.truststore.location": str(stores.path("trust.jks")),
            "ssl.truststore.password": PASSWORD,
            "ssl.truststore.type": "JKS",
            "ssl.endpoint.identification.algorithm": "https",
        },
        "consumer",
    )
    cafile = kwargs.pop("ssl_cafile")
    assert Path(cafile).read_text().count("BEGIN CERTIFICATE") == 2
    assert kwargs == {
        "bootstrap_servers": ["broker:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "bob",
        "sasl_plain_password": "b0b-pass-77",
        "ssl_check_hostname": True,
    }
    assert mask("b0b-pass-77") == "***"


def test_java_keystores_for_client_certificates_are_refused_with_the_way_round() -> None:
    with pytest.raises(KafkaError, match=r"ssl\.certificate\.location and ssl\.key\.location"):
        translate_properties({"ssl.keystore.location": "/k.jks"}, "consumer")


def test_refusals_are_one_line_naming_the_user_and_never_the_password() -> None:
    import kafka.errors as errors

    kwargs = {"sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "alice"}
    failed = errors.SaslAuthenticationFailedError("Authentication failed: secret-x")
    line = _refusal(failed, True, kwargs, "h:1")
    assert line == (
        "Kafka at h:1 refused the SASL SCRAM-SHA-512 login of user 'alice': "
        "wrong user name or password"
    )
    dropped = errors.KafkaConnectionError("socket disconnected")
    assert _refusal(dropped, True, kwargs, "h:1") == line
    assert _refusal(dropped, False, kwargs, "h:1") is None  # before authentication: retry
    verify = errors.KafkaConnectionError(
        "Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
        "unable to get local issuer certificate (_ssl.c:1006)"
    )
    assert _refusal(verify, False, {}, "h:1") == (
        "Kafka at h:1: TLS refused: the broker's certificate is not trusted "
        "(unable to get local issuer certificate); check ssl.truststore.location"
    )


def test_acl_refusals_name_what_was_refused() -> None:
    import kafka.errors as errors

    group = describe_authorization(errors.GroupAuthorizationFailedError("orders-g"), "h:1")
    assert group == (
        "Kafka at h:1 refused access to consumer group orders-g "
        "(GroupAuthorizationFailed: no ACL allows it for this user)"
    )
    topic = describe_authorization(errors.TopicAuthorizationFailedError("orders"), "h:1")
    assert topic is not None and "topic orders" in topic
    assert describe_authorization(ValueError("x"), "h:1") is None
