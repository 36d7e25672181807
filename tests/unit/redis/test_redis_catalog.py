"""The Redis types validate as Kestra's: names, defaults, required properties, located
messages."""

from __future__ import annotations

import textwrap

from kflow.flow import Flow, load_flow_text

HEAD = """
id: f
namespace: dev
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.value }}"
"""


def load(yaml: str) -> Flow:
    result = load_flow_text(textwrap.dedent(yaml), "flow.yaml")
    assert [d.format() for d in result.errors] == []
    assert result.flow is not None
    return result.flow


def problems(yaml: str) -> list[str]:
    result = load_flow_text(textwrap.dedent(yaml), "flow.yaml")
    return [d.format().removeprefix("flow.yaml:") for d in result.diagnostics]


def trigger(extra: str, type_name: str = "io.kestra.plugin.redis.list.RealtimeTrigger") -> str:
    body = f"- id: watch\n  type: {type_name}\n" + textwrap.indent(textwrap.dedent(extra), "  ")
    return HEAD + "triggers:\n" + textwrap.indent(body, "  ")


def task(type_name: str, extra: str) -> str:
    body = f"- id: t\n  type: {type_name}\n" + textwrap.indent(textwrap.dedent(extra), "  ")
    return HEAD + textwrap.indent(body, "  ")


def test_realtime_trigger_defaults_are_kestras() -> None:
    flow = load(trigger("url: redis://127.0.0.1:6379/0\nkey: orders\n"))
    assert flow.triggers[0].props == {
        "url": "redis://127.0.0.1:6379/0",
        "key": "orders",
        "serdeType": "STRING",
    }
    assert flow.triggers[0].spec.runner == "kflow.plugins.redis_trigger:RealtimeTrigger"


def test_the_name_of_kestras_docs_runs_with_a_warning_naming_the_real_type() -> None:
    text = trigger(
        "url: redis://localhost:6379/0\nkey: k\n", "io.kestra.plugin.redis.RealtimeTrigger"
    )
    assert problems(text) == [
        "10:11 triggers.watch.type: warning: io.kestra.plugin.redis.RealtimeTrigger is the name "
        "in Kestra's docs, not a type Kestra knows; kflow runs it as "
        "io.kestra.plugin.redis.list.RealtimeTrigger: write that so Kestra accepts the flow too"
    ]
    assert load(text).triggers[0].type == "io.kestra.plugin.redis.list.RealtimeTrigger"


def test_required_properties_and_a_bad_url_are_reported_where_they_are() -> None:
    assert problems(trigger("serdeType: JSON\n")) == [
        "9:5 triggers.watch: missing required property 'key'",
        "9:5 triggers.watch: missing required property 'url'",
    ]
    assert problems(trigger("url: http://localhost:6379\nkey: k\n")) == [
        "11:10 triggers.watch.url: expected a redis://[:password@]host:port/db URL, "
        "got scheme 'http'"
    ]
    assert problems(trigger("url: redis://localhost:6379/zero\nkey: k\n")) == [
        "11:10 triggers.watch.url: the database must be a number (redis://host:port/0), got 'zero'"
    ]
    assert problems(trigger("url: redis://h/0\nkey: k\nserdeType: AVRO\n")) == [
        "13:16 triggers.watch.serdeType: 'AVRO' is not allowed; expected one of STRING, JSON"
    ]


def test_a_templated_url_is_checked_when_it_runs() -> None:
    flow = load(trigger("url: \"{{ envs.redis_url ?? 'redis://h:1/0' }}\"\nkey: k\n"))
    assert flow.triggers[0].props["url"] == "{{ envs.redis_url ?? 'redis://h:1/0' }}"


def test_processing_list_is_a_kflow_property() -> None:
    flow = load(trigger("url: redis://h/0\nkey: k\nprocessingList: k.mine\n"))
    assert flow.triggers[0].props["processingList"] == "k.mine"


def test_list_push_defaults_and_old_name() -> None:
    flow = load(task("io.kestra.plugin.redis.ListPush", "url: redis://h/0\nkey: k\nfrom: [a]\n"))
    (push,) = flow.tasks[1:] or flow.tasks[-1:]
    assert push.type == "io.kestra.plugin.redis.list.ListPush"
    assert push.props == {
        "url": "redis://h/0",
        "key": "k",
        "from": ["a"],
        "serdeType": "STRING",
        "position": "HEAD",
    }
    assert problems(task("io.kestra.plugin.redis.list.ListPush", "url: redis://h/0\nkey: k\n")) == [
        "8:5 tasks.t: missing required property 'from'"
    ]


def test_declared_types_validate_and_say_they_are_not_built() -> None:
    pop = load(
        task("io.kestra.plugin.redis.list.ListPop", "url: redis://h/0\nkey: k\nmaxRecords: 5\n")
    )
    assert not pop.tasks[-1].spec.supported
    assert problems(task("io.kestra.plugin.redis.ListPop", "url: redis://h/0\nkey: k\n")) == [
        "8:5 tasks.t: set maxRecords or maxDuration (or both): without them it never ends"
    ]
    polling = load(
        trigger(
            "url: redis://h/0\nkey: k\nmaxDuration: PT10S\n", "io.kestra.plugin.redis.TriggerList"
        )
    )
    assert polling.triggers[0].type == "io.kestra.plugin.redis.list.Trigger"
    assert not polling.triggers[0].spec.supported


def test_string_and_pubsub_tasks_are_runnable_under_both_names() -> None:
    for old, new, extra in (
        ("Get", "string.Get", "key: k\n"),
        ("Set", "string.Set", "key: k\nvalue: v\noptions:\n  mustNotExist: true\n"),
        ("Delete", "string.Delete", "keys: [a, b]\n"),
        ("Publish", "pubsub.Publish", "channel: c\nfrom: [a]\n"),
    ):
        flow = load(task(f"io.kestra.plugin.redis.{old}", "url: redis://h/0\n" + extra))
        assert flow.tasks[-1].type == f"io.kestra.plugin.redis.{new}"
        assert flow.tasks[-1].spec.supported
    assert problems(
        task(
            "io.kestra.plugin.redis.string.Set", "url: redis://h/0\nkey: k\nvalue: v\nget: maybe\n"
        )
    ) == ["13:10 tasks.t.get: expected true or false, got the string 'maybe'"]
