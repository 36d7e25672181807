"""AMQP messages as trigger records, their decoding, Publish's messages, settings and errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiormq import exceptions as amqp_exc
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic
from pamqp.header import ContentHeader

from kflow.connectors.amqp import AmqpSettings, error_line, parse_url, settings_from
from kflow.connectors.masking import mask
from kflow.engine.execution import Execution
from kflow.engine.source import Outcome, SourceOptions
from kflow.engine.states import State
from kflow.errors import AmqpError, TaskError
from kflow.flow import load_flow_text
from kflow.plugins.amqp_deadletter import dead_letter_properties
from kflow.plugins.amqp_record import message_fields
from kflow.plugins.amqp_tasks import message_properties, read_messages
from kflow.plugins.amqp_trigger import RealtimeTrigger

STAMP = datetime(2023, 1, 9, 8, 46, 33, tzinfo=UTC)


def delivery(body: bytes, tag: int = 7, **props: Any) -> DeliveredMessage:
    deliver = Basic.Deliver("Kestra", tag, False, "orders.x", "order.new")
    header = ContentHeader(properties=Basic.Properties(**props))
    return DeliveredMessage(deliver, header, body, None)  # type: ignore[arg-type]


def trigger(**props: Any) -> RealtimeTrigger:
    return RealtimeTrigger("watch", {"host": "127.0.0.1", "queue": "orders", **props}, prefetch=4)


def test_trigger_variables_are_kestras_message_fields_with_value_mirroring_data() -> None:
    source = trigger(serdeType="JSON")
    message = delivery(
        b'{"order_id": "1"}',
        content_type="application/json",
        content_encoding="utf-8",
        headers={"source": b"shop", "n": 3, "ok": True, "nested": {"a": 1}},
        delivery_mode=2,
        priority=5,
        correlation_id="c-1",
        reply_to="replies",
        expiration="60000",
        message_id="m-1",
        timestamp=STAMP.replace(tzinfo=None),
        message_type="order",
        user_id="guest",
        app_id="shop",
    )
    record = source._record(message, generation=1)
    assert record.variables() == {
        "data": {"order_id": "1"},
        "value": {"order_id": "1"},
        "headers": {"source": "shop", "n": "3", "ok": "true", "nested": '{"a":1}'},
        "contentType": "application/json",
        "contentEncoding": "utf-8",
        "deliveryMode": 2,
        "priority": 5,
        "messageId": "m-1",
        "correlationId": "c-1",
        "replyTo": "replies",
        "type": "order",
        "userId": "guest",
        "appId": "shop",
        "expiration": "PT1M",
        "timestamp": STAMP,
    }
    assert record.label() == "queue orders #1"
    assert record.order_key() is None
    assert record.coordinates()["deliveryTag"] == 7
    assert record.coordinates()["routingKey"] == "order.new"


def test_absent_properties_are_none_not_defaults() -> None:
    record = trigger()._record(delivery(b"hello"), generation=1)
    fields = record.variables()
    assert fields["data"] == fields["value"] == "hello"
    assert fields["priority"] is None and fields["deliveryMode"] is None
    assert fields["headers"] == {} and fields["timestamp"] is None
    assert message_fields(None)["expiration"] is None


def test_a_message_that_cannot_be_decoded_becomes_a_record_with_an_error() -> None:
    source = trigger(serdeType="JSON")
    bad = source._record(delivery(b"not json"), generation=1)
    assert bad.value is None
    assert bad.error is not None
    assert bad.error.startswith("cannot decode message #1 of queue orders as JSON: not JSON")
    binary = trigger()._record(delivery(b"\xff\xfe"), generation=1)
    assert binary.error == (
        "cannot decode message #1 of queue orders as STRING: not valid UTF-8 at byte 0"
    )


def test_latency_is_measured_from_the_timestamp_in_ms_header_when_there_is_one() -> None:
    record = trigger()._record(delivery(b"x", headers={"timestamp_in_ms": 1700000000123}), 1)
    assert record.timestamp_ms == 1700000000123


def test_event_record_decodes_as_the_trigger_would() -> None:
    result = load_flow_text(
        "id: f\nnamespace: dev\ntasks:\n  - {id: l, type: io.kestra.plugin.core.log.Log, "
        "message: x}\ntriggers:\n  - id: w\n    type: io.kestra.plugin.amqp.RealtimeTrigger\n"
        "    host: h\n    queue: q\n    serdeType: JSON\n",
        "f.yaml",
    )
    assert result.flow is not None
    definition = result.flow.triggers[0]
    assert RealtimeTrigger.event_record(definition, '{"a": 1}', None).value == {"a": 1}
    bad = RealtimeTrigger.event_record(definition, "{", None)
    assert bad.error is not None and bad.error.startswith("cannot decode --event as JSON")
    assert RealtimeTrigger.event_record(None, "{", None).value == "{"


def test_from_trigger_renders_properties_and_a_host_override_replaces_the_url() -> None:
    result = load_flow_text(
        "id: f\nnamespace: dev\nvariables: {q: orders}\ntasks:\n  - {id: l, type: "
        "io.kestra.plugin.core.log.Log, message: x}\ntriggers:\n  - id: w\n"
        "    type: io.kestra.plugin.amqp.RealtimeTrigger\n    url: amqp://u:pw-from-url@a:5600/%2F\n"
        '    queue: "{{ vars.q }}"\n',
        "f.yaml",
    )
    assert result.flow is not None
    definition = result.flow.triggers[0]
    variables = {"vars": {"q": "orders"}}
    source = RealtimeTrigger.from_trigger(definition, variables, SourceOptions(prefetch=9))
    assert (source.queue, source.prefetch) == ("orders", 9)
    assert source.settings == AmqpSettings("a", 5600, "u", "pw-from-url", "/")
    assert source.describe() == "amqp queue orders @ a:5600"
    options = SourceOptions(overrides={"host": "b", "queue": "other"})
    moved = RealtimeTrigger.from_trigger(definition, variables, options)
    assert (moved.settings.host, moved.settings.port, moved.queue) == ("b", 5672, "other")


def test_url_is_read_as_kestra_reads_it_and_the_password_is_masked() -> None:
    assert parse_url("amqp://guest:s%40cret@broker:5673/my_vhost") == {
        "host": "broker",
        "port": "5673",
        "username": "guest",
        "password": "s@cret",
        "virtualHost": "/my_vhost",
    }
    assert parse_url("amqp://broker")["virtualHost"] == "/"
    assert parse_url("amqp://broker/%2F")["virtualHost"] == "/"
    settings = settings_from({"url": "amqp://guest:hunter2x@broker/"}, "trigger 'w'")
    assert settings.address == "broker:5672"
    assert mask("login hunter2x refused") == "login *** refused"


def test_settings_errors_name_the_trigger() -> None:
    with pytest.raises(AmqpError, match=r"^trigger 'w': set either host or the deprecated url"):
        settings_from({"url": "amqp://h/", "host": "h"}, "trigger 'w'")
    with pytest.raises(AmqpError, match=r"^trigger 'w': port must be a TCP port number"):
        settings_from({"host": "h", "port": "99999"}, "trigger 'w'")
    with pytest.raises(AmqpError, match=r"^trigger 'w': missing host"):
        settings_from({}, "trigger 'w'")


@pytest.mark.parametrize(
    ("exc", "line", "retryable"),
    [
        (
            amqp_exc.AMQPConnectionError(111, "Connect call failed ('127.0.0.1', 5673)"),
            "cannot reach RabbitMQ at h:1: connect call failed ('127.0.0.1', 5673)",
            True,
        ),
        (
            amqp_exc.ProbableAuthenticationError("ACCESS_REFUSED - Login was refused"),
            "RabbitMQ at h:1 refused the login: ACCESS_REFUSED - Login was refused",
            False,
        ),
        (
            amqp_exc.ChannelNotFoundEntity("NOT_FOUND - no queue 'q' in vhost '/'"),
            "RabbitMQ at h:1: NOT_FOUND - no queue 'q' in vhost '/'",
            False,
        ),
        (TimeoutError(), "RabbitMQ at h:1 did not answer in time", True),
    ],
)
def test_driver_errors_become_one_line(exc: BaseException, line: str, retryable: bool) -> None:
    assert error_line(exc, "h:1") == (line, retryable)


def test_publish_messages_map_to_amqp_properties() -> None:
    props = message_properties(
        {
            "data": "x",
            "headers": {"h": "v"},
            "deliveryMode": "2",
            "priority": 5,
            "expiration": "PT1.5S",
            "timestamp": "2023-01-09T08:46:33Z",
            "type": "order",
            "appId": "kflow",
        },
        "from[0]",
    )
    assert (props.delivery_mode, props.priority, props.expiration) == (2, 5, "1500")
    assert props.timestamp == STAMP
    assert (props.message_type, props.app_id, props.headers) == ("order", "kflow", {"h": "v"})
    assert message_properties({"data": 1, "expiration": 60}, "m").expiration == "60000"
    with pytest.raises(TaskError, match=r"from\[1\]: unknown message field 'prority'; did you"):
        message_properties({"prority": 1}, "from[1]")
    with pytest.raises(TaskError, match=r"from\[0\].priority must be between 0 and 255"):
        message_properties({"priority": 300}, "from[0]")


def test_publish_reads_a_message_a_list_or_json_of_them() -> None:
    assert read_messages({"data": 1}) == [{"data": 1}]
    assert read_messages('[{"data": 1}, {"data": 2}]') == [{"data": 1}, {"data": 2}]
    with pytest.raises(TaskError, match=r"from\[0\] must be a message"):
        read_messages([5])
    with pytest.raises(TaskError, match="from must be a message, a list of messages or JSON"):
        read_messages("hello")


def test_dead_letter_copy_keeps_the_message_and_says_why() -> None:
    message = delivery(b"{}", headers={"trace": "t-1"}, delivery_mode=2, message_id="m-1")
    record = trigger()._record(message, generation=1)
    execution = Execution("e1", "dev", "orders", record, state=State.FAILED)
    execution.error, execution.failed_task = "task fail: refused", "fail"
    props = dead_letter_properties(execution)
    assert (props.delivery_mode, props.message_id) == (2, "m-1")
    assert props.headers == {
        "trace": "t-1",
        "kflow.flow": "dev.orders",
        "kflow.execution.id": "e1",
        "kflow.failed.task": "fail",
        "kflow.error": "task fail: refused",
        "kflow.source.queue": "orders",
        "kflow.source.exchange": "orders.x",
        "kflow.source.routing.key": "order.new",
    }


class FakeChannel:
    """Records the acknowledgements sent on it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []
        self.is_closed = False

    async def basic_ack(self, tag: int, wait: bool = True) -> None:
        self.sent.append(("ack", tag))

    async def basic_nack(self, tag: int, requeue: bool = True, wait: bool = True) -> None:
        self.sent.append(("nack-requeue" if requeue else "nack", tag))

    async def close(self) -> None:
        self.is_closed = True


def test_outcomes_map_to_ack_and_nack_and_a_dead_channels_acks_are_dropped() -> None:
    async def scenario() -> tuple[list[tuple[str, int]], RealtimeTrigger]:
        source = trigger()
        channel = FakeChannel()
        source._channel, source._generation = channel, 1  # type: ignore[assignment]
        source._acker = asyncio.create_task(source._write_acks())
        for tag in range(1, 6):
            source._on_delivery(1, delivery(b"x", tag=tag))
        records = await source.next_batch(0.1)
        assert len(records) == 5 and all(source.admit(r) for r in records)
        outcomes = [Outcome.SUCCESS, Outcome.FAILED, Outcome.DEAD_LETTERED, Outcome.SKIPPED]
        for record, outcome in zip(records, outcomes, strict=False):
            source.ack(record, outcome)
        for _ in range(100):  # the writer task sends them
            if len(channel.sent) == 4:
                break
            await asyncio.sleep(0)
        source._lost("connection reset")  # a broker restart: tag 5 is void now
        assert not source.admit(records[4])
        source.ack(records[4], Outcome.SUCCESS)
        await source.stop()
        return channel.sent, source

    sent, source = asyncio.run(scenario())
    assert sent == [("ack", 1), ("nack", 2), ("ack", 3), ("ack", 4)]
    assert (source.acked, source.nacked, source.dropped_acks) == (3, 1, 1)
    assert source.peak_unacked == 5


def test_auto_ack_sends_nothing_and_its_records_always_run() -> None:
    async def scenario() -> list[tuple[str, int]]:
        source = trigger(autoAck=True)
        channel = FakeChannel()
        source._channel, source._generation = channel, 1  # type: ignore[assignment]
        source._on_delivery(1, delivery(b"x", tag=1))
        (record,) = await source.next_batch(0.1)
        source._lost("connection reset")
        assert source.admit(record)  # the broker forgot it at delivery: it must run here
        source.ack(record, Outcome.FAILED)
        await source.stop()
        return channel.sent

    assert asyncio.run(scenario()) == []
