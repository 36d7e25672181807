"""NATS messages as trigger records, Produce's message encoding, and the trigger's settings
read from a flow (no server)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

import pytest

from kflow.engine.source import SourceOptions
from kflow.errors import FlowError, TaskError
from kflow.flow import load_flow_text
from kflow.flow.model import TriggerDef
from kflow.plugins.nats_record import NatsMessage, header_lists
from kflow.plugins.nats_tasks import encode_message, read_messages
from kflow.plugins.nats_trigger import ACK_WAIT_S, RealtimeTrigger

FLOW = """
id: orders
namespace: dev.shop
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.data }}"
triggers:
  - id: watch
    type: io.kestra.plugin.nats.RealtimeTrigger
    url: nats://127.0.0.1:4222
"""
VARIABLES = {"flow": {"id": "orders", "namespace": "dev.shop"}}


def trigger_def(extra: str) -> TriggerDef:
    text = FLOW + textwrap.indent(textwrap.dedent(extra), "    ")
    result = load_flow_text(text, "flow.yaml", for_run=True)
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    return result.flow.triggers[0]


def source(extra: str, **options: object) -> RealtimeTrigger:
    return RealtimeTrigger.from_trigger(trigger_def(extra), VARIABLES, SourceOptions(**options))  # type: ignore[arg-type]


def test_trigger_variables_are_exactly_kestras_four() -> None:
    stamp = datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    record = NatsMessage(
        value='{"id": 1}',
        key="orders.eu",
        subject="orders.eu",
        headers={"h": ["a", "b"]},
        timestamp_ms=int(stamp.timestamp() * 1000),
        stream="ORDERS",
        stream_seq=7,
    )
    assert record.variables() == {
        "subject": "orders.eu",
        "headers": {"h": ["a", "b"]},
        "data": '{"id": 1}',
        "timestamp": stamp,
    }
    assert record.order_key() == "orders.eu"
    assert record.label() == "nats orders.eu #7"
    assert record.coordinates()["key"] == "orders.eu"


def test_headers_are_lists_as_kestra_gives_them() -> None:
    assert header_lists({"a": "1", "b": ["2", "3"]}) == {"a": ["1"], "b": ["2", "3"]}
    assert header_lists(None) == {}


def test_event_record_is_data_as_a_string_on_the_trigger_subject() -> None:
    record = RealtimeTrigger.event_record(trigger_def("subject: orders\n"), '{"x": 1}', None)
    assert record.variables()["data"] == '{"x": 1}'
    assert record.subject == "orders"
    assert RealtimeTrigger.event_record(None, "x", "s.k").subject == "s.k"


def test_durable_defaults_to_the_flow_and_trigger() -> None:
    nats = source("subject: orders.>\n")
    assert nats.durable == "kflow-dev_shop-orders-watch"
    assert nats.start_at.policy == "All"
    assert nats.batch_size == 10 and nats.ack_wait == ACK_WAIT_S
    assert source("subject: s\ndurableId: mine\n").durable == "mine"


def test_since_implies_the_policy_and_overrides_apply() -> None:
    nats = source("subject: s\nsince: '5'\n", overrides={"batchSize": 3})
    assert (nats.start_at.policy, nats.start_at.start_sequence) == ("ByStartSequence", 5)
    assert nats.batch_size == 3
    assert nats.limit == 64  # max(batchSize, --concurrency)


def test_rendered_values_are_checked_at_start() -> None:
    with pytest.raises(FlowError, match=r"subject 'a\.\.b' has an empty token"):
        source("subject: '{{ \"a..b\" }}'\n")
    with pytest.raises(FlowError, match="ByStartTime needs since"):
        source("subject: s\ndeliverPolicy: \"{{ 'ByStartTime' }}\"\n")


def test_produce_messages_are_read_as_kestra_writes_them() -> None:
    assert read_messages({"data": "x"}) == [{"data": "x"}]
    assert read_messages('[{"data": "x"}, {"data": "y"}]') == [{"data": "x"}, {"data": "y"}]
    with pytest.raises(TaskError, match=r"from\[1\] must be a message"):
        read_messages([{"data": "x"}, 3])
    with pytest.raises(TaskError, match="from must be a message"):
        read_messages("not json")


def test_message_encoding() -> None:
    assert encode_message({"data": "héllo"}, "from") == ("héllo".encode(), None)
    assert encode_message({"data": {"a": 1}}, "from") == (b'{"a": 1}', None)
    assert encode_message({"headers": {"k": "v", "m": ["1", "2"]}}, "from") == (
        b"",
        {"k": "v", "m": "1,2"},
    )
    with pytest.raises(TaskError, match="unknown message field 'dta'; did you mean 'data'"):
        encode_message({"dta": "x"}, "from[0]")
