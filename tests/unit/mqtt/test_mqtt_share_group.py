"""``shareGroup``: the kflow option that reads an MQTT trigger's topics as a shared
subscription (docs/scale-out.md)."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from kflow.engine.source import SourceOptions
from kflow.errors import FlowError
from kflow.flow import load_flow_text
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


def flow_text(extra: str) -> str:
    return textwrap.dedent(FLOW) + textwrap.indent(textwrap.dedent(extra), "    ")


def source(extra: str, **overrides: object) -> RealtimeTrigger:
    result = load_flow_text(flow_text(extra), "flow.yaml")
    assert result.flow is not None, [d.format() for d in result.errors]
    return RealtimeTrigger.from_trigger(
        result.flow.triggers[0], VARIABLES, SourceOptions(overrides=overrides)
    )


def test_share_group_subscribes_every_topic_as_a_shared_subscription() -> None:
    trig = source("topic: [sensors/+/temp, $share/workers/alarms]\nshareGroup: workers\n")
    assert trig.topics == ["$share/workers/sensors/+/temp", "$share/workers/alarms"]
    assert trig._match_filters == ["sensors/+/temp", "alarms"]


def test_share_group_can_be_set_on_the_command_line() -> None:
    trig = source("topic: alarms\n", shareGroup="g1", clientId="m1")
    assert (trig.topics, trig.settings.client_id) == (["$share/g1/alarms"], "m1")


def test_a_topic_of_another_group_and_a_bad_group_are_refused() -> None:
    with pytest.raises(FlowError, match="shared in another group than shareGroup 'b'"):
        source("topic: $share/a/x\nshareGroup: b\n")
    with pytest.raises(FlowError, match="a share group cannot hold /, \\+ or #"):
        source("topic: x\n", shareGroup="a/b")


def test_validate_reports_a_bad_share_group_at_its_place() -> None:
    result = load_flow_text(flow_text("topic: x\nshareGroup: a+b\n"), "flow.yaml")
    assert [d.format() for d in result.diagnostics] == [
        "flow.yaml:13:17 triggers.watch.shareGroup: a share group cannot hold /, + or #"
    ]


def test_a_shared_subscription_without_its_own_client_id_is_refused_at_start() -> None:
    trig = source("topic: $share/workers/alarms\n")
    with pytest.raises(FlowError, match="needs a clientId of its own in each kflow process"):
        asyncio.run(trig.start())
