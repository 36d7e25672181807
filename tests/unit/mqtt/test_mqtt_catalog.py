"""The MQTT types validate as Kestra's: defaults, required properties, located errors."""

from __future__ import annotations

import textwrap

import pytest

from kflow.catalog.mqtt import server_problem, topic_filter_problem, topic_name_problem
from kflow.connectors.mqtt import default_client_id, parse_server
from kflow.errors import MqttError
from kflow.flow import Flow, load_flow_text

HEAD = """
id: f
namespace: dev
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.payload }}"
"""


def load(yaml: str) -> Flow:
    result = load_flow_text(textwrap.dedent(yaml), "flow.yaml")
    assert [d.format() for d in result.errors] == []
    assert result.flow is not None
    return result.flow


def problems(yaml: str) -> list[str]:
    result = load_flow_text(textwrap.dedent(yaml), "flow.yaml")
    return [d.format().removeprefix("flow.yaml:") for d in result.diagnostics]


def trigger(extra: str) -> str:
    body = "- id: watch\n  type: io.kestra.plugin.mqtt.RealtimeTrigger\n" + textwrap.indent(
        textwrap.dedent(extra), "  "
    )
    return HEAD + "triggers:\n" + textwrap.indent(body, "  ")


def publish(extra: str) -> str:
    body = "- id: pub\n  type: io.kestra.plugin.mqtt.Publish\n" + textwrap.indent(
        textwrap.dedent(extra), "  "
    )
    return HEAD + textwrap.indent(body, "  ")


def test_realtime_trigger_defaults_are_kestras() -> None:
    flow = load(trigger("server: tcp://127.0.0.1:1883\ntopic: sensors/#\n"))
    assert flow.triggers[0].props == {
        "server": "tcp://127.0.0.1:1883",
        "mqttVersion": "V5",
        "topic": "sensors/#",
        "qos": 1,
        "serdeType": "JSON",
    }
    assert flow.triggers[0].spec.runner == "kflow.plugins.mqtt_trigger:RealtimeTrigger"


def test_kestras_own_example_validates() -> None:
    flow = load(
        trigger(
            """
            server: tcp://localhost:1883
            clientId: kestraProducer
            qos: 1
            topic:
              - kestra/sensors/cpu
              - kestra/sensors/mem
            serdeType: JSON
            """
        )
    )
    assert flow.triggers[0].props["topic"] == ["kestra/sensors/cpu", "kestra/sensors/mem"]


def test_server_and_topic_are_required() -> None:
    assert problems(trigger("qos: 1\n")) == [
        "9:5 triggers.watch: missing required property 'server'",
        "9:5 triggers.watch: missing required property 'topic'",
    ]


def test_bad_values_are_reported_at_their_place() -> None:
    got = problems(
        trigger(
            """
            server: localhost:1883
            topic: [ok/+, "bad/#/x", "a+b", "$share/g"]
            qos: 3
            mqttVersion: V4
            serdeType: XML
            authMethod: SCRAM-SHA-1
            """
        )
    )
    assert got == [
        "12:13 triggers.watch.server: server must be tcp://host[:port] or ssl://host[:port], "
        "got 'localhost:1883'",
        "13:19 triggers.watch.topic[1]: # must be a whole level, the last one (sensors/#)",
        "13:30 triggers.watch.topic[2]: + must be a whole level (sensors/+/temperature)",
        "13:37 triggers.watch.topic[3]: a shared subscription is $share/GROUP/FILTER",
        "14:10 triggers.watch.qos: qos is 0, 1 or 2, not 3",
        "15:18 triggers.watch.mqttVersion: 'V4' is not allowed; expected one of V3, V5",
        "16:16 triggers.watch.serdeType: 'XML' is not allowed; expected one of STRING, JSON, BYTES",
        "17:5 triggers.watch.authMethod: authMethod (MQTT 5 enhanced authentication) is not "
        "supported yet by kflow; use username and password",
    ]


def test_templated_server_and_topics_are_checked_when_run_not_when_validated() -> None:
    load(trigger('server: "{{ envs.mqtt ?? \'tcp://x\' }}"\ntopic: "{{ vars.t }}/#"\n'))


def test_publish_needs_topic_from_and_serde_type_as_kestra() -> None:
    assert problems(publish("server: tcp://h\n")) == [
        "8:5 tasks.pub: missing required property 'from'",
        "8:5 tasks.pub: missing required property 'serdeType'",
        "8:5 tasks.pub: missing required property 'topic'",
    ]
    flow = load(publish("server: tcp://h\ntopic: a/b\nfrom: {x: 1}\nserdeType: JSON\n"))
    props = flow.tasks[1].props
    assert (props["qos"], props["retain"], props["mqttVersion"]) == (1, False, "V5")


def test_publish_refuses_a_wildcard_topic() -> None:
    got = problems(publish("server: tcp://h\ntopic: a/+\nfrom: x\nserdeType: STRING\n"))
    assert got == ["11:12 tasks.pub.topic: a topic to publish to cannot hold the wildcards + or #"]


def test_polling_trigger_and_subscribe_are_declared_not_run() -> None:
    flow = load(
        trigger("server: tcp://h\ntopic: a\n").replace("mqtt.RealtimeTrigger", "mqtt.Trigger")
    )
    assert flow.triggers[0].spec.runner is None
    assert flow.triggers[0].props["interval"] == 60.0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sensors/#", None),
        ("#", None),
        ("+", None),
        ("+/+/x", None),
        ("/a//b/", None),
        ("$share/g1/sensors/+", None),
        ("", "empty"),
        ("a/#/b", "#"),
        ("a#", "#"),
        ("a/b+", "+"),
        ("$share//x", "$share/GROUP/FILTER"),
        ("$share/g+/x", "group"),
        ("a\x00b", "NUL"),
    ],
)
def test_topic_filters(text: str, problem: str | None) -> None:
    found = topic_filter_problem(text)
    assert (found is None) == (problem is None), found
    if problem is not None:
        assert problem in str(found)


def test_topic_names_to_publish_to() -> None:
    assert topic_name_problem("a/b") is None
    assert topic_name_problem("") is not None
    assert topic_name_problem("a/#") is not None


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port"),
    [
        ("tcp://localhost", "tcp", "localhost", 1883),
        ("ssl://broker.example.org", "ssl", "broker.example.org", 8883),
        ("TCP://10.0.0.1:11883", "tcp", "10.0.0.1", 11883),
        ("tcp://[::1]:1884", "tcp", "::1", 1884),
    ],
)
def test_servers(text: str, scheme: str, host: str, port: int) -> None:
    address = parse_server(text)
    assert (address.scheme, address.host, address.port) == (scheme, host, port)
    assert server_problem(text) is None


@pytest.mark.parametrize(
    "text", ["localhost:1883", "ws://h:80", "tcp://", "tcp://h:0", "tcp://h:99999", "tcp://h:x"]
)
def test_servers_kflow_cannot_reach(text: str) -> None:
    with pytest.raises(MqttError):
        parse_server(text)


def test_default_client_ids_are_stable_safe_and_bounded() -> None:
    assert default_client_id("dev", "orders", "watch") == "kflow-dev.orders.watch"
    assert default_client_id("a b", "c/d", "e#") == "kflow-a-b.c-d.e-"
    long = default_client_id("n" * 100, "f", "t")
    assert len(long) == 64 and long == default_client_id("n" * 100, "f", "t")
    assert long != default_client_id("n" * 101, "f", "t")
