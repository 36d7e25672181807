"""The blog flow through the secured profile (``devstack/stack up --profile secure``).

Each connection is written the way a Kestra user writes it (Kafka ``properties`` with
``security.protocol``, ``sasl.mechanism``, ``sasl.jaas.config``, ``ssl.truststore.*``,
passwords from ``secret()``); refusals (wrong password, untrusted certificate, an ACL
missing) must each end the run with one line naming the service and what was refused, and no
password may appear anywhere in the output.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from testkit.orders import csv_orders, order_records
from testkit.processes import SAMPLES, kflow_run, sample_flow
from testkit.secure import (
    PLAIN_MODULE,
    SCRAM_MODULE,
    SecureProfile,
    jaas,
    produce_as_admin,
    required,
)
from testkit.secure import profile as load_profile

pytestmark = pytest.mark.integration

ORDERS = 5
_PLAIN_PROPERTIES = """    properties:
      bootstrap.servers: "{{ envs.kafka_bootstrap ?? '127.0.0.1:9092' }}"
"""


def _profile_with(service: str) -> SecureProfile:
    """The profile if its ``service`` answers; else skip (fail under .ci/run)."""
    found = load_profile((service,))
    if isinstance(found, str):
        if required():
            pytest.fail(found, pytrace=False)
        pytest.skip(found)
    return found


@pytest.fixture(scope="module")
def secure() -> SecureProfile:
    return _profile_with("kafka")


@pytest.fixture(autouse=True)
def seeded(seeded_products: None) -> None:
    """The flow looks every order's product up in Cassandra."""


@pytest.fixture
def collection(mongo_uri: str, collection_name: str) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    yield client["kestra"][collection_name]
    client["kestra"].drop_collection(collection_name)
    client.close()


def secured_flow(directory: Path, collection: str, properties: dict[str, str]) -> Path:
    """samples/get_detailed_order.yaml with the trigger's ``properties`` replaced."""
    lines = "".join(f"      {key}: {json.dumps(value)}\n" for key, value in properties.items())
    return sample_flow(
        directory,
        "get_detailed_order.yaml",
        {'"detailed_orders"': f'"{collection}"', _PLAIN_PROPERTIES: f"    properties:\n{lines}"},
        name=f"{collection}.yaml",
    )


def secrets_env(**values: str) -> dict[str, str]:
    """``SECRET_X`` variables, base64-encoded as Kestra reads them."""
    return {f"SECRET_{k}": base64.b64encode(v.encode()).decode() for k, v in values.items()}


def kafka_properties(secure: SecureProfile, variant: str) -> dict[str, str]:
    kafka, tls = secure.kafka, secure.tls
    truststore = {
        "jks": (tls["truststore_jks"], "JKS"),
        "p12": (tls["truststore_p12"], "PKCS12"),
        "other": (tls["other_truststore_p12"], "PKCS12"),
    }
    login = {
        "scram": jaas(SCRAM_MODULE, "alice", "{{ secret('KAFKA_PASSWORD') }}"),
        "plain": jaas(PLAIN_MODULE, "bob", "{{ secret('KAFKA_PASSWORD') }}"),
        "carol": jaas(SCRAM_MODULE, "carol", "{{ secret('KAFKA_PASSWORD') }}"),
    }
    mechanism = {"scram": "SCRAM-SHA-512", "plain": "PLAIN", "carol": "SCRAM-SHA-512"}
    protocol, user, store = variant.split("-")
    props = {"bootstrap.servers": kafka[protocol.lower()], "security.protocol": protocol}
    if protocol.startswith("SASL"):
        props["sasl.mechanism"] = mechanism[user]
        props["sasl.jaas.config"] = login[user]
    if store == "pem":
        props["ssl.truststore.location"] = tls["other_ca_pem" if user == "untrusted" else "ca_pem"]
        props["ssl.truststore.type"] = "PEM"
    elif store != "none":
        props["ssl.truststore.location"], props["ssl.truststore.type"] = truststore[store]
        props["ssl.truststore.password"] = "{{ secret('TRUSTSTORE_PASSWORD') }}"
        props["ssl.endpoint.identification.algorithm"] = "https"
    return props


def run_flow(
    secure: SecureProfile,
    tmp_path: Path,
    mongo_uri: str,
    collection: str,
    topic: str,
    group: str,
    properties: dict[str, str],
    password: str,
    count: int,
) -> Any:
    flow = secured_flow(tmp_path, collection, properties)
    env = secrets_env(
        KAFKA_PASSWORD=password, TRUSTSTORE_PASSWORD=secure.tls["truststore_password"]
    )
    args = ["--topic", topic, "--group-id", group, "--from-beginning", "--timeout", "60"]
    return kflow_run(
        flow, *args, "--max-executions", str(count), mongo_uri=mongo_uri, timeout=90, **env
    )


def assert_no_password(secure: SecureProfile, *outputs: str) -> None:
    for secret in secure.passwords():
        for output in outputs:
            assert secret not in output


@pytest.mark.parametrize(
    "variant",
    [
        "SASL_SSL-scram-jks",
        "SASL_SSL-plain-p12",
        "SSL-none-pem",
        "SASL_PLAINTEXT-scram-none",
    ],
)
def test_blog_flow_through_secured_kafka(
    secure: SecureProfile,
    variant: str,
    mongo_uri: str,
    collection: Any,
    collection_name: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    rows = csv_orders()[:ORDERS]
    produce_as_admin(secure, topic_name, order_records(rows))
    user = {"scram": "alice", "plain": "bob", "none": "admin"}[variant.split("-")[1]]
    result = run_flow(
        secure,
        tmp_path,
        mongo_uri,
        collection_name,
        topic_name,
        unique_name("g"),
        kafka_properties(secure, variant),
        secure.kafka_password(user),
        ORDERS,
    )
    assert result.code == 0, result.stderr
    assert [e["state"] for e in result.executions] == ["SUCCESS"] * ORDERS
    docs = {d["order_id"]: d for d in collection.find({}, {"_id": 0})}
    assert sorted(docs) == sorted(row["order_id"] for row in rows)
    assert all(doc["product"]["name"] for doc in docs.values())
    raw_stdout = "\n".join(json.dumps(e) for e in result.executions)
    assert_no_password(secure, raw_stdout, result.stderr)


def refused_line(result: Any) -> str:
    """The run failed with exactly one line on stderr besides the sample's lint warnings
    (``fetchOne`` is deprecated...); that line."""
    assert result.code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    lines = [line for line in lines if ": warning: " not in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kflow: error: "), result.stderr
    return lines[0]


def test_wrong_scram_password_is_one_line_without_the_password(
    secure: SecureProfile,
    mongo_uri: str,
    collection_name: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    produce_as_admin(secure, topic_name, order_records(csv_orders()[:1]))
    wrong = "Wr0ng-" + secure.kafka_password("alice")[::-1]
    result = run_flow(
        secure,
        tmp_path,
        mongo_uri,
        collection_name,
        topic_name,
        unique_name("g"),
        kafka_properties(secure, "SASL_SSL-scram-jks"),
        wrong,
        1,
    )
    line = refused_line(result)
    assert "Kafka at " in line and secure.kafka["sasl_ssl"] in line
    assert "refused the SASL SCRAM-SHA-512 login of user 'alice'" in line
    assert_no_password(secure, result.stderr, wrong)
    assert wrong not in result.stderr


def test_wrong_plain_password_is_one_line(
    secure: SecureProfile,
    mongo_uri: str,
    collection_name: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    produce_as_admin(secure, topic_name, order_records(csv_orders()[:1]))
    wrong = "not-" + secure.kafka_password("bob")
    props = kafka_properties(secure, "SASL_SSL-plain-p12")
    result = run_flow(
        secure, tmp_path, mongo_uri, collection_name, topic_name, unique_name("g"), props, wrong, 1
    )
    line = refused_line(result)
    assert "refused the SASL PLAIN login of user 'bob'" in line
    assert wrong not in result.stderr
    assert_no_password(secure, result.stderr)


def test_untrusted_certificate_is_one_line(
    secure: SecureProfile,
    mongo_uri: str,
    collection_name: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    produce_as_admin(secure, topic_name, order_records(csv_orders()[:1]))
    props = kafka_properties(secure, "SASL_SSL-scram-other")
    result = run_flow(
        secure,
        tmp_path,
        mongo_uri,
        collection_name,
        topic_name,
        unique_name("g"),
        props,
        secure.kafka_password("alice"),
        1,
    )
    line = refused_line(result)
    assert f"Kafka at {secure.kafka['sasl_ssl']}: TLS refused" in line
    assert "certificate is not trusted" in line
    assert_no_password(secure, result.stderr)


def test_acl_refusing_the_group_is_one_line(
    secure: SecureProfile,
    mongo_uri: str,
    collection_name: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    produce_as_admin(secure, topic_name, order_records(csv_orders()[:1]))
    group = unique_name("g")
    result = run_flow(
        secure,
        tmp_path,
        mongo_uri,
        collection_name,
        topic_name,
        group,
        kafka_properties(secure, "SASL_SSL-carol-jks"),
        secure.kafka_password("carol"),
        1,
    )
    line = refused_line(result)
    assert f"refused access to consumer group {group}" in line
    assert "Kafka at " in line
    assert_no_password(secure, result.stderr)


def test_the_sample_is_the_one_rewritten() -> None:
    """The secured flows are the blog sample with only its Kafka properties replaced."""
    assert _PLAIN_PROPERTIES in (SAMPLES / "get_detailed_order.yaml").read_text()


# --- the MongoDB-compatible server with authentication (and TLS) ------------------------------

_PLAIN_MONGO_URI = """uri: "{{ envs.mongo_uri ?? 'mongodb://127.0.0.1:27017' }}\""""


@pytest.fixture(scope="module")
def secure_mongo() -> SecureProfile:
    return _profile_with("mongo")


def mongo_uri_of(secure: SecureProfile, variant: str) -> str:
    """The connection URI as a Kestra user writes it: credentials in the URI, the password
    from a secret; over TLS with the CA file (``tlsCAFile``)."""
    mongo, tls = secure.raw["mongo"], secure.tls
    address = mongo["tls_address"] if variant != "auth" else mongo["address"]
    uri = f"mongodb://{mongo['user']}:{{{{ secret('MONGO_PASSWORD') }}}}@{address}/kestra"
    if variant == "tls":
        uri += f"?tls=true&tlsCAFile={tls['ca_pem']}"
    if variant == "untrusted":
        uri += f"?tls=true&tlsCAFile={tls['other_ca_pem']}"
    return uri


def run_into_secure_mongo(
    secure: SecureProfile,
    tmp_path: Path,
    kafka_bootstrap: str,
    collection: str,
    topic: str,
    group: str,
    variant: str,
    password: str,
    count: int,
) -> Any:
    flow = sample_flow(
        tmp_path,
        "get_detailed_order.yaml",
        {
            '"detailed_orders"': f'"{collection}"',
            _PLAIN_MONGO_URI: f'uri: "{mongo_uri_of(secure, variant)}"',
        },
        name=f"{collection}.yaml",
    )
    args = ["--bootstrap-servers", kafka_bootstrap, "--topic", topic, "--group-id", group]
    args += ["--from-beginning", "--timeout", "60", "--max-executions", str(count)]
    env = secrets_env(MONGO_PASSWORD=password)
    return kflow_run(flow, *args, mongo_uri="unused://", timeout=90, **env)


@pytest.fixture
def secure_collection(secure_mongo: SecureProfile, collection_name: str) -> Iterator[Any]:
    mongo = secure_mongo.raw["mongo"]
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://{mongo['address']}/kestra", username=mongo["user"], password=mongo["password"]
    )
    yield client["kestra"][collection_name]
    client["kestra"].drop_collection(collection_name)
    client.close()


@pytest.mark.parametrize("variant", ["auth", "tls"])
def test_blog_flow_into_mongo_with_credentials_in_the_uri(
    secure_mongo: SecureProfile,
    variant: str,
    kafka_bootstrap: str,
    secure_collection: Any,
    collection_name: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from testkit.kafka import produce

    rows = csv_orders()[:ORDERS]
    produce(kafka_bootstrap, topic_name, order_records(rows))
    password = secure_mongo.raw["mongo"]["password"]
    result = run_into_secure_mongo(
        secure_mongo,
        tmp_path,
        kafka_bootstrap,
        collection_name,
        topic_name,
        unique_name("g"),
        variant,
        password,
        ORDERS,
    )
    assert result.code == 0, result.stderr
    assert [e["state"] for e in result.executions] == ["SUCCESS"] * ORDERS
    docs = {d["order_id"]: d for d in secure_collection.find({}, {"_id": 0})}
    assert sorted(docs) == sorted(row["order_id"] for row in rows)
    everything = result.stderr + "\n".join(json.dumps(e) for e in result.executions)
    assert password not in everything


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("auth", "refused the login: wrong user name or password (code 18)"),
        ("untrusted", "TLS refused: the server's certificate is not trusted"),
    ],
)
def test_mongo_refusals_are_one_line_without_the_password(
    secure_mongo: SecureProfile,
    variant: str,
    expected: str,
    kafka_bootstrap: str,
    collection_name: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from testkit.kafka import produce

    produce(kafka_bootstrap, topic_name, order_records(csv_orders()[:1]))
    real = secure_mongo.raw["mongo"]["password"]
    password = "Wr0ng-" + real if variant == "auth" else real
    result = run_into_secure_mongo(
        secure_mongo,
        tmp_path,
        kafka_bootstrap,
        collection_name,
        topic_name,
        unique_name("g"),
        variant,
        password,
        1,
    )
    [execution] = result.executions
    assert execution["state"] == "FAILED"
    error = execution["error"]
    assert "\n" not in error
    assert error.startswith("task insert_into_mongodb: MongoDB at mongodb://kflow:***@127.0.0.1:")
    assert expected in error
    everything = result.stderr + json.dumps(execution)
    assert password not in everything and real not in everything


# --- RabbitMQ (password, AMQPS) and Mosquitto (password file, MQTT over TLS) -------------------

_PLAIN_AMQP = """    host: "{{ envs.amqp_host ?? '127.0.0.1' }}"
    port: "5672"
    username: guest
    password: guest
"""
_PLAIN_MQTT = """    server: "{{ envs.mqtt_server ?? 'tcp://127.0.0.1:1883' }}"
"""


@pytest.fixture(scope="module")
def secure_amqp() -> SecureProfile:
    return _profile_with("amqp")


@pytest.fixture(scope="module")
def secure_mqtt() -> SecureProfile:
    return _profile_with("mqtt")


def amqp_flow(secure: SecureProfile, tmp_path: Path, collection: str, variant: str) -> Path:
    """samples/blog-flow-amqp.yaml on the secured RabbitMQ, as a Kestra user writes it:
    host, port, username, password from a secret; AMQPS with the CA as ``sslCaCertificate``."""
    amqp, tls = secure.raw["amqp"], secure.tls
    address = amqp["address"] if variant == "password" else amqp["tls_address"]
    host, port = address.rsplit(":", 1)
    lines = [
        f'    host: "{host}"',
        f'    port: "{port}"',
        f"    username: {amqp['user']}",
        "    password: \"{{ secret('AMQP_PASSWORD') }}\"",
    ]
    if variant != "password":
        ca = tls["other_ca_pem" if variant == "untrusted" else "ca_pem"]
        lines.append(f'    sslCaCertificate: "{ca}"')
    return sample_flow(
        tmp_path,
        "blog-flow-amqp.yaml",
        {'"detailed_orders"': f'"{collection}"', _PLAIN_AMQP: "\n".join(lines) + "\n"},
        name=f"{collection}.yaml",
    )


def run_amqp(
    secure: SecureProfile, flow: Path, queue: str, mongo_uri: str, password: str, count: int
) -> Any:
    args = ["--set", f"queue={queue}", "--max-executions", str(count), "--timeout", "60"]
    env = secrets_env(AMQP_PASSWORD=password)
    return kflow_run(flow, *args, mongo_uri=mongo_uri, timeout=90, **env)


@pytest.mark.parametrize("variant", ["password", "amqps"])
def test_blog_flow_from_secured_rabbitmq(
    secure_amqp: SecureProfile,
    variant: str,
    mongo_uri: str,
    collection: Any,
    collection_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from testkit import amqp
    from testkit.secure import amqp_url

    url, queue = amqp_url(secure_amqp), unique_name("q")
    rows = csv_orders()[:ORDERS]
    amqp.run(amqp.declare_queue(url, queue))
    try:
        amqp.run(amqp.publish(url, queue, [json.dumps(r).encode() for r in rows]))
        flow = amqp_flow(secure_amqp, tmp_path, collection_name, variant)
        password = secure_amqp.raw["amqp"]["password"]
        result = run_amqp(secure_amqp, flow, queue, mongo_uri, password, ORDERS)
        assert result.code == 0, result.stderr
        assert [e["state"] for e in result.executions] == ["SUCCESS"] * ORDERS
        docs = {d["order_id"]: d for d in collection.find({}, {"_id": 0})}
        assert sorted(docs) == sorted(row["order_id"] for row in rows)
        assert amqp.run(amqp.ready_count(url, queue)) == 0
        everything = result.stderr + "\n".join(json.dumps(e) for e in result.executions)
        assert password not in everything
    finally:
        amqp.run(amqp.delete(url, queue))


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("password", "RabbitMQ at 127.0.0.1:5772 refused the login"),
        ("untrusted", "RabbitMQ at 127.0.0.1:5771: TLS refused: the broker's certificate is not"),
    ],
)
def test_rabbitmq_refusals_are_one_line(
    secure_amqp: SecureProfile,
    variant: str,
    expected: str,
    mongo_uri: str,
    collection_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    real = secure_amqp.raw["amqp"]["password"]
    password = "Wr0ng-" + real if variant == "password" else real
    flow = amqp_flow(secure_amqp, tmp_path, collection_name, variant)
    result = run_amqp(secure_amqp, flow, unique_name("q"), mongo_uri, password, 1)
    line = refused_line(result)
    assert expected in line.replace(secure_amqp.raw["amqp"]["address"], "127.0.0.1:5772")
    assert password not in result.stderr and real not in result.stderr


def mqtt_flow(secure: SecureProfile, tmp_path: Path, collection: str, variant: str) -> Path:
    """samples/blog-flow-mqtt.yaml on the secured Mosquitto: ``ssl://`` with the CA as
    ``crt`` (or ``tcp://``), username and password from a secret."""
    mqtt, tls = secure.raw["mqtt"], secure.tls
    plain = variant == "password"
    server = f"tcp://{mqtt['address']}" if plain else f"ssl://{mqtt['tls_address']}"
    lines = [
        f'    server: "{server}"',
        f"    username: {mqtt['user']}",
        "    password: \"{{ secret('MQTT_PASSWORD') }}\"",
    ]
    if variant != "password":
        lines.append(f'    crt: "{tls["other_ca_pem" if variant == "untrusted" else "ca_pem"]}"')
    return sample_flow(
        tmp_path,
        "blog-flow-mqtt.yaml",
        {'"detailed_orders_mqtt"': f'"{collection}"', _PLAIN_MQTT: "\n".join(lines) + "\n"},
        name=f"{collection}.yaml",
    )


def run_mqtt(
    flow: Path, mongo_uri: str, topic: str, client: str, password: str, *extra: str
) -> Any:
    args = ["--set", f"topic={topic}", "--set", f"clientId={client}", *extra]
    env = secrets_env(MQTT_PASSWORD=password)
    return kflow_run(flow, *args, mongo_uri=mongo_uri, timeout=90, **env)


@pytest.mark.parametrize("variant", ["password", "tls"])
def test_blog_flow_from_secured_mosquitto(
    secure_mqtt: SecureProfile,
    variant: str,
    mongo_uri: str,
    collection: Any,
    collection_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from testkit.secure import mqtt_publish

    topic, client = unique_name("orders"), unique_name("client")
    password = secure_mqtt.raw["mqtt"]["password"]
    flow = mqtt_flow(secure_mqtt, tmp_path, collection_name, variant)
    prime = run_mqtt(flow, mongo_uri, topic, client, password, "--timeout", "1")  # the session
    assert prime.code == 0, prime.stderr
    rows = csv_orders()[:ORDERS]
    mqtt_publish(secure_mqtt, topic, [json.dumps(r).encode() for r in rows])
    result = run_mqtt(flow, mongo_uri, topic, client, password, "--max-executions", str(ORDERS))
    assert result.code == 0, result.stderr
    assert [e["state"] for e in result.executions] == ["SUCCESS"] * ORDERS
    docs = {d["order_id"]: d for d in collection.find({}, {"_id": 0})}
    assert sorted(docs) == sorted(row["order_id"] for row in rows)
    everything = prime.stderr + result.stderr + json.dumps(result.executions)
    assert password not in everything


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("password", "refused client"),
        ("untrusted", "TLS refused: its certificate is not trusted"),
    ],
)
def test_mosquitto_refusals_are_one_line(
    secure_mqtt: SecureProfile,
    variant: str,
    expected: str,
    mongo_uri: str,
    collection_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    real = secure_mqtt.raw["mqtt"]["password"]
    password = "Wr0ng-" + real if variant == "password" else real
    flow = mqtt_flow(secure_mqtt, tmp_path, collection_name, variant)
    topic, client = unique_name("orders"), unique_name("client")
    result = run_mqtt(flow, mongo_uri, topic, client, password, "--timeout", "20")
    assert "lost the connection" not in result.stderr  # a refused start says one thing
    line = refused_line(result)
    assert "MQTT" in line and expected in line
    assert password not in result.stderr and real not in result.stderr


# --- Cassandra with PasswordAuthenticator -----------------------------------------------------

_PLAIN_SESSION = """      endpoints:
        - hostname: "{{ envs.cassandra_host ?? '127.0.0.1' }}"
          port: 9042
      localDatacenter: datacenter1
"""


@pytest.fixture(scope="module")
def secure_cassandra() -> SecureProfile:
    found = _profile_with("cassandra")
    section = found.raw["cassandra"]
    env = {
        **os.environ,
        "KFLOW_CASSANDRA_USERNAME": section["user"],
        "KFLOW_CASSANDRA_PASSWORD": section["password"],
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "kflow", "seed", "products", "--hosts", section["address"]],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    return found


def cassandra_flow(
    secure: SecureProfile, tmp_path: Path, collection: str, truststore: str | None = None
) -> Path:
    """The blog flow with Kestra's ``session.username``/``session.password`` (and, with a
    ``truststore``, ``session.secureConnection``: TLS)."""
    section = secure.raw["cassandra"]
    host, port = section["address"].rsplit(":", 1)
    session = (
        "      endpoints:\n"
        f'        - hostname: "{host}"\n'
        f"          port: {port}\n"
        "      localDatacenter: datacenter1\n"
        f"      username: {section['user']}\n"
        "      password: \"{{ secret('CASSANDRA_PASSWORD') }}\"\n"
    )
    if truststore is not None:
        session += (
            "      secureConnection:\n"
            f"        truststorePath: {truststore}\n"
            "        truststorePassword: \"{{ secret('TRUSTSTORE_PASSWORD') }}\"\n"
        )
    return sample_flow(
        tmp_path,
        "get_detailed_order.yaml",
        {'"detailed_orders"': f'"{collection}"', _PLAIN_SESSION: session},
        name=f"{collection}.yaml",
    )


def blog_run_on_cassandra(
    flow: Path,
    env: dict[str, str],
    refusal: str | None,
    kafka_bootstrap: str,
    topic: str,
    group: str,
    mongo_uri: str,
    collection: Any,
) -> str:
    """Run ``flow`` on ``ORDERS`` orders (one when a ``refusal`` is expected): every order
    stored, or the one execution FAILED with a one-line error holding ``refusal``. Returns
    everything the run printed."""
    from testkit.kafka import produce

    count = ORDERS if refusal is None else 1
    rows = csv_orders()[:count]
    produce(kafka_bootstrap, topic, order_records(rows))
    args = ["--bootstrap-servers", kafka_bootstrap, "--topic", topic, "--group-id", group]
    args += ["--from-beginning", "--timeout", "60", "--max-executions", str(count)]
    result = kflow_run(flow, *args, mongo_uri=mongo_uri, timeout=120, **env)
    if refusal is None:
        assert result.code == 0, result.stderr
        assert [e["state"] for e in result.executions] == ["SUCCESS"] * count
        docs = {d["order_id"]: d for d in collection.find({}, {"_id": 0})}
        assert sorted(docs) == sorted(row["order_id"] for row in rows)
        assert all(doc["product"]["name"] for doc in docs.values())
    else:
        [execution] = result.executions
        assert execution["state"] == "FAILED"
        assert "\n" not in execution["error"]
        assert "Cassandra at " in execution["error"]
        assert refusal in execution["error"], execution["error"]
    return result.stderr + json.dumps(result.executions)


@pytest.mark.parametrize("right_password", [True, False])
def test_blog_flow_with_a_cassandra_login(
    secure_cassandra: SecureProfile,
    right_password: bool,
    kafka_bootstrap: str,
    mongo_uri: str,
    collection: Any,
    collection_name: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    real = secure_cassandra.raw["cassandra"]["password"]
    password = real if right_password else "Wr0ng-" + real
    flow = cassandra_flow(secure_cassandra, tmp_path, collection_name)
    env = secrets_env(CASSANDRA_PASSWORD=password)
    refusal = None if right_password else "refused the credentials"
    printed = blog_run_on_cassandra(
        flow, env, refusal, kafka_bootstrap, topic_name, unique_name("g"), mongo_uri, collection
    )
    assert password not in printed and real not in printed


@pytest.mark.parametrize("store", ["truststore_jks", "truststore_p12", "other_truststore_p12"])
def test_blog_flow_with_cassandra_over_tls(
    secure_cassandra: SecureProfile,
    store: str,
    kafka_bootstrap: str,
    mongo_uri: str,
    collection: Any,
    collection_name: str,
    topic_name: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """Kestra's ``session.secureConnection`` with the CA's truststore (JKS or PKCS12) runs the
    blog flow over TLS; a truststore of another CA fails the execution in one line."""
    if not secure_cassandra.raw["cassandra"].get("tls"):
        why = "the secured Cassandra of this stack has no TLS (restart the profile)"
        if required():
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    tls = secure_cassandra.tls
    flow = cassandra_flow(secure_cassandra, tmp_path, collection_name, truststore=tls[store])
    env = secrets_env(
        CASSANDRA_PASSWORD=secure_cassandra.raw["cassandra"]["password"],
        TRUSTSTORE_PASSWORD=tls["truststore_password"],
    )
    refusal = "TLS certificate is not trusted" if store == "other_truststore_p12" else None
    printed = blog_run_on_cassandra(
        flow, env, refusal, kafka_bootstrap, topic_name, unique_name("g"), mongo_uri, collection
    )
    assert tls["truststore_password"] not in printed
