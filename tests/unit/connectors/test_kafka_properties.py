"""Java-style Kafka properties become kafka-python arguments, or a clear error."""

from __future__ import annotations

import pytest

from kflow.connectors.kafka import translate_properties
from kflow.connectors.masking import mask
from kflow.errors import KafkaError


def test_consumer_properties_of_a_kestra_flow() -> None:
    kwargs = translate_properties(
        {
            "bootstrap.servers": "k1:9092, k2:9092",
            "group.id": "kestraConsumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": "false",
            "max.poll.records": "250",
            "client.id": "kflow-1",
            "session.timeout.ms": 10000,
        },
        "consumer",
    )
    assert kwargs == {
        "bootstrap_servers": ["k1:9092", "k2:9092"],
        "group_id": "kestraConsumer",
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        "max_poll_records": 250,
        "client_id": "kflow-1",
        "session_timeout_ms": 10000,
    }


def test_producer_properties() -> None:
    kwargs = translate_properties(
        {"acks": "all", "linger.ms": "5", "compression.type": "gzip", "retries": "3"},
        "producer",
    )
    assert kwargs == {"acks": "all", "linger_ms": 5, "compression_type": "gzip", "retries": 3}
    assert translate_properties({"acks": "1"}, "producer") == {"acks": 1}


def test_kafka_python_names_are_accepted_as_they_are() -> None:
    assert translate_properties({"group_id": "g"}, "consumer") == {"group_id": "g"}


def test_sasl_plain_from_a_jaas_line_and_the_password_is_masked() -> None:
    kwargs = translate_properties(
        {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule "
            'required username="alice" password="pa\\"ss-9f3k";',
            "ssl.endpoint.identification.algorithm": "",
            "ssl.truststore.location": "/etc/ca.pem",
        },
        "consumer",
    )
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alice",
        "sasl_plain_password": 'pa"ss-9f3k',
        "ssl_check_hostname": False,
        "ssl_cafile": "/etc/ca.pem",
    }
    assert mask('login failed for pa"ss-9f3k') == "login failed for ***"


def test_serializer_class_names_are_ignored() -> None:
    config = {"key.deserializer": "org.apache.kafka.common.serialization.StringDeserializer"}
    assert translate_properties(config, "consumer") == {}


@pytest.mark.parametrize(
    ("config", "kind", "message"),
    [
        ({"lingr.ms": 5}, "producer", "'lingr.ms' (did you mean 'linger.ms'?)"),
        ({"no.such.thing": 1}, "consumer", "unknown Kafka property 'no.such.thing'"),
        ({"linger.ms": 5}, "consumer", "Kafka property 'linger.ms' does not apply to a consumer"),
        ({"group.id": "g"}, "producer", "Kafka property 'group.id' does not apply to a producer"),
        ({"enable.auto.commit": "maybe"}, "consumer", "must be true or false, not 'maybe'"),
        ({"max.poll.records": "many"}, "consumer", "must be a number, not 'many'"),
        ({"acks": "2"}, "producer", "'acks' must be all, -1, 0 or 1"),
        ({"bootstrap.servers": " , "}, "admin", "'bootstrap.servers' is empty"),
        ({"value.serializer.x": 1}, "producer", "unknown Kafka property 'value.serializer.x'"),
        ({"partitioner": "x"}, "producer", "unknown Kafka property 'partitioner'"),
        (
            {"sasl.jaas.config": "com.sun.security.auth.module.Krb5LoginModule required;"},
            "consumer",
            "login module Krb5LoginModule is not supported",
        ),
    ],
)
def test_bad_properties_are_refused_naming_the_key(
    config: dict[str, object], kind: str, message: str
) -> None:
    with pytest.raises(KafkaError) as caught:
        translate_properties(config, kind)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_assignment_strategy_takes_java_class_names_and_short_names() -> None:
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor

    java = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
    assert translate_properties({"partition.assignment.strategy": java}, "consumer") == {
        "partition_assignment_strategy": (CooperativeStickyAssignor,)
    }
    both = translate_properties(
        {"partition.assignment.strategy": "range, cooperative-sticky"}, "consumer"
    )
    assert both["partition_assignment_strategy"] == (
        RangePartitionAssignor,
        CooperativeStickyAssignor,
    )
    with pytest.raises(KafkaError, match="unknown assignor 'fair'"):
        translate_properties({"partition.assignment.strategy": "fair"}, "consumer")
