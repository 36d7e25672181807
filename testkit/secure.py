"""The secured profile of the local stack (``devstack/stack up --profile secure``).

``devstack/stack`` writes every address, user, password and certificate of the profile into
``.devstack/data/secure/profile.json`` (or under ``$KFLOW_DEVSTACK_DIR``); :func:`profile`
reads it, or says why the profile cannot be used, for a test to skip with.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

REPO = Path(__file__).resolve().parent.parent

SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"


def state_dir() -> Path:
    raw = os.environ.get("KFLOW_DEVSTACK_DIR", "").strip()
    return Path(raw).expanduser().resolve() if raw else REPO / ".devstack"


@dataclass(frozen=True)
class SecureProfile:
    """What ``profile.json`` says (see devstack/stackctl/secure.py)."""

    raw: dict[str, Any]

    @property
    def kafka(self) -> dict[str, Any]:
        return dict(self.raw["kafka"])

    @property
    def tls(self) -> dict[str, str]:
        return dict(self.raw["tls"])

    def kafka_password(self, user: str) -> str:
        kafka = self.kafka
        users = {**kafka["plain_users"], **kafka["scram_users"]}
        return str(users[user])

    def passwords(self) -> list[str]:
        """Every secret of the profile (none may appear in any output)."""
        kafka = self.kafka
        found = [*kafka["scram_users"].values(), *kafka["plain_users"].values()]
        found.append(self.tls["truststore_password"])
        return [str(p) for p in found]

    def admin_config(self) -> dict[str, Any]:
        """kafka-python arguments for the super user on the SASL_PLAINTEXT listener."""
        return {
            "bootstrap_servers": self.kafka["sasl_plaintext"],
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": "admin",
            "sasl_plain_password": self.kafka["plain_users"]["admin"],
        }


def jaas(module: str, user: str, password: str) -> str:
    """A ``sasl.jaas.config`` line as Kestra users write it."""
    return f'{module} required username="{user}" password="{password}";'


def _answers(address: str) -> str | None:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            return None
    except OSError as exc:
        return f"{address}: {exc.strerror or exc}"


def required() -> bool:
    """True when a missing secured profile must fail the tests (``KFLOW_REQUIRE_SECURE=1``,
    set by .ci/run) rather than skip them."""
    return os.environ.get("KFLOW_REQUIRE_SECURE", "").strip() == "1"


def profile(services: tuple[str, ...] = ("kafka",)) -> SecureProfile | str:
    """The profile, or the reason it cannot be used (for ``pytest.skip``)."""
    path = state_dir() / "data" / "secure" / "profile.json"
    hint = "start it with `devstack/stack up --profile secure`"
    if not path.exists():
        return f"the secured profile was never started ({path} is missing); {hint}"
    loaded = SecureProfile(json.loads(path.read_text()))
    for service in services:
        section = loaded.raw.get(service)
        if section is None:
            return f"the secured profile has no {service}; {hint}"
        keys = ("sasl_ssl", "ssl", "sasl_plaintext") if service == "kafka" else ("address",)
        for key in (*keys, "tls_address"):
            problem = _answers(section[key]) if key in section else None
            if problem:
                return f"the secured {service} is not up ({problem}); {hint}"
    return loaded


def produce_as_admin(
    secure: SecureProfile, topic: str, records: list[tuple[str | None, bytes]]
) -> None:
    """Create ``topic`` and send ``records`` as the super user, waiting for every ack."""
    config = secure.admin_config()
    admin = KafkaAdminClient(**config)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    producer = KafkaProducer(acks="all", **config)
    try:
        futures = [producer.send(topic, key=k.encode() if k else None, value=v) for k, v in records]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def amqp_url(secure: SecureProfile) -> str:
    """The secured RabbitMQ's plain-TCP AMQP URL with its user's password (for testkit.amqp)."""
    amqp = secure.raw["amqp"]
    return f"amqp://{amqp['user']}:{amqp['password']}@{amqp['address']}/"


def mqtt_publish(secure: SecureProfile, topic: str, payloads: list[bytes]) -> None:
    """Publish QoS 1 to the secured Mosquitto (password, over TLS), waiting for every ack."""
    import ssl
    import threading
    import uuid

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    section = secure.raw["mqtt"]
    host, port = section["tls_address"].rsplit(":", 1)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:10]}")
    client.username_pw_set(section["user"], section["password"])
    client.tls_set_context(ssl.create_default_context(cafile=secure.tls["ca_pem"]))
    ready = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: ready.set()
    client.connect(host, int(port), keepalive=30)
    client.loop_start()
    try:
        assert ready.wait(10), f"no CONNACK from the secured Mosquitto at {host}:{port}"
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(30)
        assert all(info.is_published() for info in infos)
    finally:
        client.disconnect()
        client.loop_stop()
