"""The NATS types validate as Kestra's: names and aliases, defaults, located errors."""

from __future__ import annotations

import textwrap

import pytest

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
    type: io.kestra.plugin.nats.core.RealtimeTrigger
"""

PRODUCE = """
id: f
namespace: dev
tasks:
  - id: produce
    type: io.kestra.plugin.nats.core.Produce
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


def produce(extra: str) -> str:
    return PRODUCE + textwrap.indent(textwrap.dedent(extra), "    ")


def test_realtime_trigger_defaults_are_kestras() -> None:
    flow = load(trigger("url: nats://127.0.0.1:4222\nsubject: orders\n"))
    assert flow.triggers[0].props == {
        "url": "nats://127.0.0.1:4222",
        "subject": "orders",
        "batchSize": 10,
    }
    assert flow.triggers[0].spec.runner == "kflow.plugins.nats_trigger:RealtimeTrigger"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("io.kestra.plugin.nats.RealtimeTrigger", "io.kestra.plugin.nats.core.RealtimeTrigger"),
        ("io.kestra.plugin.nats.Trigger", "io.kestra.plugin.nats.core.Trigger"),
        ("io.kestra.plugin.nats.Consume", "io.kestra.plugin.nats.core.Consume"),
        ("io.kestra.plugin.nats.Produce", "io.kestra.plugin.nats.core.Produce"),
        ("io.kestra.plugin.nats.Request", "io.kestra.plugin.nats.core.Request"),
    ],
)
def test_the_names_without_core_are_aliases(old: str, new: str) -> None:
    spec = default_registry().lookup(old)
    assert spec is not None and spec.name == new


def test_declared_and_runnable_types() -> None:
    registry = default_registry()
    runnable = {
        "core.RealtimeTrigger",
        "core.Produce",
        "core.Request",
        "kv.CreateBucket",
        "kv.Get",
        "kv.Put",
        "kv.Delete",
    }
    for short in ("core.Trigger", "core.Consume", *runnable):
        spec = registry.lookup(f"io.kestra.plugin.nats.{short}")
        assert spec is not None, short
        assert spec.supported == (short in runnable), short


def test_kestras_own_example_validates() -> None:
    load(
        trigger("""
        url: nats://localhost:4222
        username: nats_user
        password: "{{ secret('NATS_PASSWORD') }}"
        subject: kestra.trigger
        durableId: natsTrigger
        deliverPolicy: All
        """)
    )


def test_a_url_without_scheme_and_a_cluster_list_are_accepted() -> None:
    load(trigger("url: localhost:4222\nsubject: a\n"))
    load(trigger("url: nats://a:4222, nats://b:4222\nsubject: a\n"))


def test_a_bad_url_is_a_located_error() -> None:
    assert problems(trigger("url: http://h:4222\nsubject: a\n")) == [
        "11:10 triggers.watch.url: url scheme http:// is not supported; use nats://, tls://, "
        "ws:// or wss://"
    ]
    assert problems(trigger("url: nats://h:99999\nsubject: a\n"))[0].startswith(
        "11:10 triggers.watch.url: 'nats://h:99999' is not a valid URL"
    )


def test_username_without_password_is_an_error() -> None:
    found = problems(trigger("url: nats://h:4222\nsubject: a\nusername: u\n"))
    assert found == [
        "13:5 triggers.watch.username: username needs password: Kestra ignores one without the "
        "other"
    ]


def test_missing_subject_and_url() -> None:
    found = problems(trigger("batchSize: 5\n"))
    assert "9:5 triggers.watch: missing required property 'url'" in found
    assert "9:5 triggers.watch: missing required property 'subject'" in found


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("orders..x", "has an empty token"),
        ("orders.>.x", "> must be the last token"),
        ("ord*ers", "a wildcard must be a whole token"),
        ("'has space'", "cannot hold spaces"),
    ],
)
def test_bad_subjects_are_refused(subject: str, message: str) -> None:
    found = problems(trigger(f"url: nats://h:4222\nsubject: {subject}\n"))
    assert len(found) == 1 and message in found[0], found


def test_a_wildcard_subject_is_fine_to_consume_but_not_to_produce() -> None:
    load(trigger("url: nats://h:4222\nsubject: orders.*.>\n"))
    found = problems(produce("url: nats://h:4222\nsubject: orders.>\nfrom: {data: x}\n"))
    assert len(found) == 1 and "cannot hold the wildcards" in found[0]


def test_durable_id_cannot_hold_dots() -> None:
    found = problems(trigger("url: nats://h:4222\nsubject: a\ndurableId: my.durable\n"))
    assert found == [
        "13:16 triggers.watch.durableId: durableId 'my.durable' cannot hold '.', '*', '>' or spaces"
    ]


def test_deliver_policy_is_one_of_kestras_names() -> None:
    found = problems(trigger("url: nats://h:4222\nsubject: a\ndeliverPolicy: all\n"))
    assert len(found) == 1 and "did you mean 'All'?" in found[0]


def test_by_start_time_needs_since_and_since_needs_a_start_policy() -> None:
    found = problems(trigger("url: nats://h:4222\nsubject: a\ndeliverPolicy: ByStartTime\n"))
    assert found == [
        "13:20 triggers.watch.deliverPolicy: deliverPolicy ByStartTime needs since: the "
        "ISO-8601 instant to start at"
    ]
    found = problems(
        trigger("url: nats://h:4222\nsubject: a\ndeliverPolicy: New\nsince: 2024-01-01T00:00Z\n")
    )
    assert found == [
        "14:12 triggers.watch.since: since applies to deliverPolicy ByStartTime or "
        "ByStartSequence, not New"
    ]


def test_since_alone_is_valid_and_a_bad_since_is_located() -> None:
    load(trigger("url: nats://h:4222\nsubject: a\nsince: '2024-05-01T10:00:00+02:00'\n"))
    load(trigger("url: nats://h:4222\nsubject: a\nsince: '42'\ndeliverPolicy: ByStartSequence\n"))
    found = problems(trigger("url: nats://h:4222\nsubject: a\nsince: yesterday\n"))
    assert len(found) == 1 and found[0].startswith("13:12 triggers.watch.since: since must be")


def test_templates_are_left_to_run_time() -> None:
    load(
        trigger("""
        url: "{{ envs.nats_url }}"
        subject: "{{ vars.subject }}"
        since: "{{ vars.since }}"
        deliverPolicy: "{{ vars.policy }}"
        """)
    )


def test_produce_takes_a_message_a_list_or_a_uri() -> None:
    load(produce("url: nats://h:4222\nsubject: a\nfrom: {headers: {k: v}, data: x}\n"))
    load(produce("url: nats://h:4222\nsubject: a\nfrom: [{data: x}, {data: y}]\n"))
    load(produce('url: nats://h:4222\nsubject: a\nfrom: "{{ inputs.file }}"\n'))
    found = problems(produce("url: nats://h:4222\nsubject: a\n"))
    assert found == ["5:5 tasks.produce: missing required property 'from'"]


def test_kv_get_needs_keys_or_key_revisions() -> None:
    base = """
    id: f
    namespace: dev
    tasks:
      - id: get
        type: io.kestra.plugin.nats.kv.Get
        url: nats://h:4222
        bucketName: b
    """
    assert problems(base) == ["5:5 tasks.get: missing required property 'keys'"]
    load(base + "    keyRevisions: {k: 1}\n")
    load(base + "    keys: [a, b]\n")


def test_produce_messages_are_checked_as_kestras_headers_and_data() -> None:
    found = problems(produce("url: nats://h:4222\nsubject: a\nfrom: [{data: x, dta: y}]\n"))
    assert len(found) == 1 and "unknown property 'dta'; did you mean 'data'?" in found[0]


def test_every_runnable_type_has_a_runtime_of_its_kind() -> None:
    from kflow.engine.source import RecordSource
    from kflow.engine.task import TaskRunner

    specs = [s for s in default_registry() if s.name.startswith("io.kestra.plugin.nats.")]
    assert len(specs) == 9
    for spec in specs:
        if spec.supported:
            runner = spec.load_runner()
            base = RecordSource if spec.kind == "trigger" else TaskRunner
            assert issubclass(runner, base), spec.name
