"""The AMQP types validate as Kestra's: located errors, defaults, Kestra's Message fields."""

from __future__ import annotations

import textwrap

from kflow.flow import Flow, load_flow_text
from kflow.flow.registry import default_registry

TRIGGER = """
id: f
namespace: dev
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.data }}"
triggers:
  - id: watch
    type: io.kestra.plugin.amqp.RealtimeTrigger
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
    return TRIGGER + textwrap.indent(textwrap.dedent(extra), "    ")


def test_realtime_trigger_defaults_are_kestras() -> None:
    flow = load(trigger("host: 127.0.0.1\nqueue: orders\n"))
    assert flow.triggers[0].props == {
        "host": "127.0.0.1",
        "port": "5672",
        "virtualHost": "/",
        "queue": "orders",
        "consumerTag": "Kestra",
        "autoAck": False,
        "serdeType": "STRING",
    }
    assert flow.triggers[0].spec.runner == "kflow.plugins.amqp_trigger:RealtimeTrigger"


def test_a_numeric_port_is_read_as_the_string_kestra_declares() -> None:
    flow = load(trigger("host: h\nport: 5673\nqueue: q\n"))
    assert flow.triggers[0].props["port"] == "5673"


def test_url_and_host_together_is_a_located_error_and_url_is_deprecated() -> None:
    found = problems(trigger("host: h\nurl: amqp://guest:guest@h:5672/\nqueue: q\n"))
    assert found == [
        "12:5 triggers.watch.url: warning: 'url' is deprecated: use host, port, username, "
        "password and virtualHost",
        "12:5 triggers.watch.url: set either host or the deprecated url, not both",
    ]


def test_url_alone_is_enough_and_host_alone_is_enough_but_one_is_needed() -> None:
    assert not [p for p in problems(trigger("url: amqp://h/\nqueue: q\n")) if "warning" not in p]
    assert problems(trigger("queue: q\n")) == [
        "9:5 triggers.watch: missing required property 'host'"
    ]


def test_queue_is_required_and_serde_port_and_url_are_checked() -> None:
    found = problems(trigger("host: h\nport: http\nserdeType: XML\n"))
    assert found == [
        "9:5 triggers.watch: missing required property 'queue'",
        "12:11 triggers.watch.port: port must be a TCP port number (1-65535), got 'http'",
        "13:16 triggers.watch.serdeType: 'XML' is not allowed; expected one of STRING, JSON",
    ]
    bad_url = problems(trigger("url: http://h/\nqueue: q\n"))[-1]
    assert bad_url == (
        "11:10 triggers.watch.url: expected an amqp://user:password@host:port/vhost URL, "
        "got 'http://h/'"
    )


def test_templated_connection_properties_are_left_for_run_time() -> None:
    flow = load(
        trigger('host: "{{ envs.amqp_host ?? \'h\' }}"\nport: "{{ 5600 + 72 }}"\nqueue: q\n')
    )
    assert flow.triggers[0].props["port"] == "{{ 5600 + 72 }}"


def test_unknown_trigger_property_suggests_the_nearest() -> None:
    assert problems(trigger("host: h\nqueue: q\nautoack: true\n")) == [
        "13:5 triggers.watch.autoack: unknown property 'autoack'; did you mean 'autoAck'?"
    ]


TASKS = """
id: f
namespace: dev
tasks:
  - id: exchange
    type: io.kestra.plugin.amqp.DeclareExchange
    host: h
    name: orders.x
    exchangeType: TOPIC
  - id: queue
    type: io.kestra.plugin.amqp.CreateQueue
    host: h
    name: orders
    args: {x-max-length: 10}
  - id: bind
    type: io.kestra.plugin.amqp.QueueBind
    host: h
    exchange: orders.x
    queue: orders
    routingKey: "order.#"
  - id: publish
    type: io.kestra.plugin.amqp.Publish
    host: h
    exchange: orders.x
    routingKey: order.new
    serdeType: JSON
    from:
      - data: {id: 1}
        headers: {source: kflow}
        priority: 5
        deliveryMode: 2
        expiration: PT1M
        timestamp: "2023-01-09T08:46:33.103Z"
        appId: kflow
"""


def test_tasks_validate_with_kestras_defaults() -> None:
    flow = load(TASKS)
    exchange, queue, bind, publish = (t.props for t in flow.tasks)
    assert exchange["exchangeType"] == "TOPIC"
    assert (exchange["durability"], exchange["autoDelete"], exchange["internal"]) == (
        True,
        False,
        False,
    )
    assert (queue["durability"], queue["exclusive"], queue["autoDelete"]) == (True, False, False)
    assert bind["routingKey"] == "order.#"
    assert publish["from"][0]["priority"] == 5
    assert all(t.spec.runner for t in flow.tasks)


def test_publish_messages_are_checked_field_by_field() -> None:
    text = TASKS.replace("priority: 5", "prority: 5").replace("deliveryMode: 2", "deliveryMode: x")
    assert problems(text) == [
        "30:9 tasks.publish.from[0].prority: unknown property 'prority'; did you mean 'priority'?",
        "31:23 tasks.publish.from[0].deliveryMode: expected an integer, got the string 'x'",
    ]


def test_publish_from_a_string_must_be_json_a_uri_or_a_template() -> None:
    base = TASKS.split("    from:")[0]
    ok = ['"kestra:///dev/f/messages.ion"', "'{{ outputs.queue.queue }}'", "'[{\"data\": 1}]'"]
    for value in ok:
        assert problems(base + f"    from: {value}\n") == [], value
    assert problems(base + "    from: hello\n") == [
        "27:11 tasks.publish.from: expected a message, a list of messages or a kestra:// URI"
    ]


def test_exchange_type_is_one_of_amqps() -> None:
    found = problems(TASKS.replace("exchangeType: TOPIC", "exchangeType: topic"))
    assert found == [
        "9:19 tasks.exchange.exchangeType: 'topic' is not allowed; expected one of DIRECT, "
        "FANOUT, TOPIC, HEADERS; did you mean 'TOPIC'?"
    ]


def test_polling_trigger_and_consume_are_declared_without_runtime() -> None:
    registry = default_registry()
    for name in ("io.kestra.plugin.amqp.Trigger", "io.kestra.plugin.amqp.Consume"):
        spec = registry.lookup(name)
        assert spec is not None and not spec.supported
    flow = load(
        """
        id: f
        namespace: dev
        tasks:
          - id: consume
            type: io.kestra.plugin.amqp.Consume
            host: h
            queue: q
            maxRecords: 10
        triggers:
          - id: poll
            type: io.kestra.plugin.amqp.Trigger
            host: h
            queue: q
            interval: PT30S
            maxDuration: PT5S
        """
    )
    assert flow.triggers[0].props["interval"] == 30.0
