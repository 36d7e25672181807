"""MQTT messages as trigger records, and the trigger's acknowledgement bookkeeping, driven
through paho's callbacks with a fake client (no broker)."""

from __future__ import annotations

import asyncio
import base64
import textwrap
import threading
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from kflow.engine.source import Outcome, SourceOptions
from kflow.errors import FlowError, MqttError
from kflow.flow import load_flow_text
from kflow.flow.model import TriggerDef
from kflow.plugins import mqtt_trigger
from kflow.plugins.mqtt_record import MqttMessage
from kflow.plugins.mqtt_trigger import RealtimeTrigger

FLOW = """
id: sensors
namespace: dev.iot
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.payload }}"
triggers:
  - id: watch
    type: io.kestra.plugin.mqtt.RealtimeTrigger
    server: tcp://127.0.0.1:1883
"""
VARIABLES = {"flow": {"id": "sensors", "namespace": "dev.iot"}}


def trigger_def(extra: str = "topic: [sensors/+/temp, alarms]\n") -> TriggerDef:
    text = textwrap.dedent(FLOW) + textwrap.indent(textwrap.dedent(extra), "    ")
    result = load_flow_text(text, "flow.yaml")
    assert result.flow is not None, [d.format() for d in result.errors]
    return result.flow.triggers[0]


class FakeClient:
    def __init__(self) -> None:
        self.acks: list[tuple[int, int]] = []
        self.subscriptions: list[Any] = []

    def ack(self, mid: int, qos: int) -> int:
        self.acks.append((mid, qos))
        return 0

    def subscribe(self, topics: Any) -> tuple[int, int]:
        self.subscriptions.append(topics)
        return 0, 1

    def disconnect(self) -> int:
        return 0


class Flags:
    session_present = True


SUCCESS = ReasonCode(PacketTypes.CONNACK, "Success")


def source(extra: str = "topic: [sensors/+/temp, alarms]\n", **overrides: Any) -> RealtimeTrigger:
    trig = RealtimeTrigger.from_trigger(
        trigger_def(extra), VARIABLES, SourceOptions(prefetch=8, overrides=overrides)
    )
    trig._client = FakeClient()
    trig._on_pre_connect(trig._client, None)
    trig._on_connect(trig._client, None, Flags(), SUCCESS, None)
    return trig


def message(
    topic: str, payload: bytes, *, mid: int = 1, qos: int = 1, props: Any = None
) -> mqtt.MQTTMessage:
    m = mqtt.MQTTMessage(mid, topic.encode())
    m.payload = payload
    m.qos = qos
    m.properties = props
    return m


def deliver(trig: RealtimeTrigger, *messages: mqtt.MQTTMessage) -> list[MqttMessage]:
    for m in messages:
        trig._on_message(trig._client, None, m)
    out = list(trig._inbox)
    trig._inbox.clear()
    return out


def test_trigger_variables_are_kestras_message_plus_value() -> None:
    trig = source()
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = "replies/1"
    props.CorrelationData = b"\x00id-7"
    props.ContentType = "application/json"
    props.UserProperty = [("site", "north"), ("tag", "a"), ("tag", "b")]
    (rec,) = deliver(trig, message("sensors/1/temp", b'{"c": 21.5}', mid=5, props=props))
    v = rec.variables()
    assert {k: v[k] for k in ("id", "topic", "qos", "payload", "value", "retain", "dup")} == {
        "id": 5,
        "topic": "sensors/1/temp",
        "qos": 1,
        "payload": {"c": 21.5},
        "value": {"c": 21.5},
        "retain": False,
        "dup": False,
    }
    assert v["responseTopic"] == "replies/1"
    assert base64.b64decode(v["correlationData"]) == b"\x00id-7"
    assert v["properties"]["contentType"] == "application/json"
    assert v["properties"]["userProperties"] == {"site": "north", "tag": ["a", "b"]}
    assert v["timestamp"] is not None
    assert rec.label() == "mqtt sensors/1/temp id 5"
    assert rec.order_key() == "sensors/1/temp"
    assert rec.coordinates()["topic"] == "sensors/1/temp"
    assert rec.raw_value == b'{"c": 21.5}'


def test_a_payload_that_is_not_json_becomes_an_error_record() -> None:
    trig = source()
    (rec,) = deliver(trig, message("alarms", b"{oops", mid=9))
    assert rec.value is None
    assert rec.error is not None
    assert rec.error.startswith("cannot decode the payload of mqtt alarms id 9 as JSON: not JSON")
    assert rec.seq is not None  # it is still acknowledged once its execution failed


@pytest.mark.parametrize(
    ("serde", "payload", "value"),
    [
        ("STRING", "héllo".encode(), "héllo"),
        ("BYTES", b"\x00\xff", "AP8="),  # Base64, as Kestra's byte[] prints in expressions
        ("JSON", b"[1, 2]", [1, 2]),
    ],
)
def test_payloads_are_decoded_by_serde_type(serde: str, payload: bytes, value: object) -> None:
    trig = source(f"topic: alarms\nserdeType: {serde}\n")
    (rec,) = deliver(trig, message("alarms", payload))
    assert (rec.value, rec.error) == (value, None)


def test_string_payloads_must_be_utf8() -> None:
    trig = source("topic: alarms\nserdeType: STRING\n")
    (rec,) = deliver(trig, message("alarms", b"\xff"))
    assert rec.error is not None and "not valid UTF-8" in rec.error


def test_mqtt_3_messages_have_no_properties() -> None:
    trig = source("topic: alarms\nmqttVersion: V3\n")
    (rec,) = deliver(trig, message("alarms", b"1"))
    assert rec.properties is None
    assert rec.variables()["responseTopic"] is None


def test_acknowledgements_leave_in_receive_order_whatever_order_executions_end() -> None:
    trig = source()
    recs = deliver(trig, *(message("alarms", b"1", mid=m) for m in (11, 12, 13, 14)))
    client = trig._client
    trig.ack(recs[2], Outcome.SUCCESS)
    trig.ack(recs[1], Outcome.FAILED)
    assert client.acks == []  # 11 is still running
    assert "2 acknowledgements wait behind message id 11" in str(trig.status().detail)
    trig.ack(recs[0], Outcome.SUCCESS)
    assert client.acks == [(11, 1), (12, 1), (13, 1)]
    trig.ack(recs[3], Outcome.DEAD_LETTERED)
    assert client.acks == [(11, 1), (12, 1), (13, 1), (14, 1)]
    assert trig.acked == 4


def test_acknowledgements_of_a_lost_connection_are_dropped_never_sent_on_the_next() -> None:
    trig = source()
    client = trig._client
    old = deliver(trig, message("alarms", b"1", mid=1), message("alarms", b"2", mid=2))
    trig.ack(old[1], Outcome.SUCCESS)  # held behind mid 1
    gone = ReasonCode(PacketTypes.DISCONNECT, "Unspecified error")
    trig._on_disconnect(client, None, None, gone, None)
    assert trig.status().state == "reconnecting"
    trig._on_pre_connect(client, None)
    trig._on_connect(client, None, Flags(), SUCCESS, None)
    # the broker reuses packet id 1 for another message on the new connection
    (new,) = deliver(trig, message("alarms", b"3", mid=1))
    assert not trig.admit(old[0]) and not trig.wanted(old[0])  # redelivered, not run here
    trig.ack(old[0], Outcome.SUCCESS)
    assert client.acks == [] and trig.stale_acks == 1
    assert trig.admit(new)
    trig.ack(new, Outcome.SUCCESS)
    assert client.acks == [(1, 1)]


def test_qos_0_messages_have_nothing_to_acknowledge() -> None:
    trig = source("topic: alarms\nqos: 0\n")
    (rec,) = deliver(trig, message("alarms", b"1", mid=0, qos=0))
    assert rec.seq is None and rec.label() == "mqtt alarms"
    trig._on_disconnect(trig._client, None, None, SUCCESS, None)
    assert trig.admit(rec)  # never delivered again: run it anyway
    trig.ack(rec, Outcome.SUCCESS)
    assert trig._client.acks == []


def test_qos_2_is_subscribed_at_qos_1_and_retained_messages_once_per_subscription() -> None:
    trig = source("topic: alarms\nqos: 2\n")
    ((topic, options),) = trig._client.subscriptions[0]
    assert (topic, options.QoS, options.retainHandling) == ("alarms", 1, 1)
    v3 = source("topic: alarms\nqos: 2\nmqttVersion: V3\n")
    assert v3._client.subscriptions[0] == [("alarms", 1)]


def test_a_message_on_a_topic_the_flow_no_longer_reads_is_acknowledged_unrun() -> None:
    trig = source("topic: $share/workers/alarms/#\n")
    seen: list[str] = []
    trig.notify = seen.append
    kept, stale = deliver(trig, message("alarms/x", b"1", mid=1), message("old/topic", b"2", mid=2))
    assert not kept.skip and stale.skip
    assert "matches none of the trigger's topics" in seen[0]


def test_the_default_client_id_comes_from_the_flow_and_set_overrides_properties() -> None:
    trig = source()
    assert trig.settings.client_id == "kflow-dev.iot.sensors.watch"
    assert trig.describe() == (
        "mqtt sensors/+/temp, alarms @ 127.0.0.1:1883 (client kflow-dev.iot.sensors.watch)"
    )
    other = source(clientId="mine", topic="x/#", server="tcp://h:1999")
    assert (other.settings.client_id, other.topics, other.settings.server.port) == (
        "mine",
        ["x/#"],
        1999,
    )
    assert other.status().label == "topics"
    assert [s.name for s in other.status().streams] == ["x/#"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"qos": 7}, "qos is 0, 1 or 2"),
        ({"topic": "a/#/b"}, "topic 'a/#/b': # must be a whole level"),
        ({"server": "http://h"}, "server scheme http:// is not supported"),
    ],
)
def test_bad_overrides_fail_with_one_line_naming_the_trigger(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(FlowError, match=r"^mqtt trigger 'watch': .*" + message.split("(")[0]):
        source(**overrides)


def test_event_is_decoded_as_the_trigger_would_and_key_is_the_topic() -> None:
    trig = trigger_def("topic: alarms\nserdeType: JSON\n")
    rec = RealtimeTrigger.event_record(trig, '{"a": 1}', "alarms/x")
    assert (rec.value, rec.topic, rec.error) == ({"a": 1}, "alarms/x", None)
    bad = RealtimeTrigger.event_record(trig, "{", None)
    assert bad.error is not None and bad.error.startswith("cannot decode --event as JSON")
    assert bad.label() == "event"


def test_dead_letter_topic_must_not_come_back_to_the_trigger() -> None:
    trig = source()
    with pytest.raises(FlowError, match="matches the trigger's topic filter 'sensors/\\+/temp'"):
        trig.dead_letter("sensors/9/temp")
    with pytest.raises(FlowError, match="wildcards"):
        trig.dead_letter("dead/#")
    assert trig.dead_letter(None) is None
    assert trig.dead_letter("dead/letters") is not None


def test_a_session_taken_over_ends_the_run_with_a_clear_error() -> None:
    async def main() -> None:
        trig = source()
        trig._loop = asyncio.get_running_loop()
        trig._started = True
        taken = ReasonCode(PacketTypes.DISCONNECT, identifier=142)
        trig._on_disconnect(trig._client, None, None, taken, None)
        with pytest.raises(
            MqttError, match=r"another client is connected .* client id .kflow-dev\.iot"
        ):
            await trig.next_batch(0.1)

    asyncio.run(main())


def test_a_refused_subscription_is_reported_with_the_topic_and_reason() -> None:
    trig = source()
    refused = ReasonCode(PacketTypes.SUBACK, identifier=135)
    granted = ReasonCode(PacketTypes.SUBACK, identifier=1)
    trig._on_subscribe(trig._client, None, 1, [granted, refused], None)
    assert trig._start_error is not None
    assert "refused the subscription to alarms (Not authorized)" in str(trig._start_error)


def test_the_network_thread_waits_for_room_then_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mqtt_trigger, "INBOX_WAIT_S", 5.0)

    async def main() -> None:
        trig = source("topic: alarms\n")
        trig._loop = asyncio.get_running_loop()
        trig.high_water = 3
        for i in range(3):
            trig._on_message(trig._client, None, message("alarms", b"1", mid=i + 1))
        blocked = threading.Thread(
            target=trig._on_message, args=(trig._client, None, message("alarms", b"1", mid=4))
        )
        blocked.start()
        await asyncio.sleep(0.2)
        assert blocked.is_alive() and len(trig._inbox) == 3  # reading stopped
        batch = await trig.next_batch(1.0)
        assert len(batch) == 3
        await asyncio.get_running_loop().run_in_executor(None, blocked.join, 5)
        assert not blocked.is_alive()
        assert [r.mid for r in await trig.next_batch(1.0)] == [4]

    asyncio.run(main())


def test_a_connection_closed_again_and_again_right_after_its_connack_is_a_takeover() -> None:
    """Mosquitto 2.0 closes a taken-over connection without saying why."""

    async def main() -> None:
        trig = source()
        trig._loop = asyncio.get_running_loop()
        lost = ReasonCode(PacketTypes.DISCONNECT, "Unspecified error")
        lines: list[str] = []
        trig.notify = lines.append
        for _ in range(mqtt_trigger.TAKEOVER_DROPS - 1):
            trig._on_disconnect(trig._client, None, None, lost, None)
            trig._on_pre_connect(trig._client, None)
            trig._on_connect(trig._client, None, Flags(), SUCCESS, None)
        assert trig._failure is None and len(lines) == 2 * (mqtt_trigger.TAKEOVER_DROPS - 1)
        trig._on_disconnect(trig._client, None, None, lost, None)
        with pytest.raises(MqttError, match=r"session taken over: the broker closed the conn"):
            await trig.next_batch(0.1)

    asyncio.run(main())
