"""Property kinds, durations, the registry and its catalog."""

from __future__ import annotations

import pytest

from kflow.errors import NotSupportedError
from kflow.flow import TypeRegistry, TypeSpec, default_registry
from kflow.flow.properties import parse_duration, string
from kflow.flow.registry import DuplicateTypeError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT30S", 30.0),
        ("PT1M", 60.0),
        ("P1D", 86400.0),
        ("P1DT2H", 93600.0),
        ("PT1H30M", 5400.0),
        ("PT0.5S", 0.5),
        ("pt2m", 120.0),
    ],
)
def test_iso_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30s", "P", "PT", "P1M2", "1 minute", "P1Y", ""])
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_registry_refuses_duplicate_names_and_aliases() -> None:
    spec = TypeSpec(name="x.A", kind="task", properties={}, aliases=("x.OldA",))
    registry = TypeRegistry([spec])
    with pytest.raises(DuplicateTypeError, match=r"x\.A"):
        registry.add(TypeSpec(name="x.A", kind="task", properties={}))
    with pytest.raises(DuplicateTypeError, match=r"x\.OldA"):
        registry.add(TypeSpec(name="x.B", kind="task", properties={}, aliases=("x.OldA",)))
    assert registry.lookup("x.OldA") is spec
    assert registry.lookup("x.C") is None


def test_default_registry_is_built_once_and_knows_old_names() -> None:
    registry = default_registry()
    assert registry is default_registry()
    pairs = {
        "io.kestra.core.tasks.log.Log": "io.kestra.plugin.core.log.Log",
        "io.kestra.plugin.cassandra.Query": "io.kestra.plugin.cassandra.standard.Query",
        "io.kestra.core.tasks.flows.Switch": "io.kestra.plugin.core.flow.Switch",
        "io.kestra.core.tasks.debugs.Return": "io.kestra.plugin.core.debug.Return",
        "io.kestra.core.tasks.executions.Fail": "io.kestra.plugin.core.execution.Fail",
    }
    for old, new in pairs.items():
        spec = registry.lookup(old)
        assert spec is not None and spec.name == new


def test_runner_strings_of_the_catalog() -> None:
    registry = default_registry()
    expected = {
        "io.kestra.plugin.core.log.Log": "kflow.plugins.core:Log",
        "io.kestra.plugin.core.output.OutputValues": "kflow.plugins.core:OutputValues",
        "io.kestra.plugin.core.debug.Return": "kflow.plugins.core:Return",
        "io.kestra.plugin.core.execution.Fail": "kflow.plugins.core:Fail",
        "io.kestra.plugin.core.flow.If": "kflow.plugins.flowable:If",
        "io.kestra.plugin.core.flow.Switch": "kflow.plugins.flowable:Switch",
        "io.kestra.plugin.core.flow.Sequential": "kflow.plugins.flowable:Sequential",
        "io.kestra.plugin.core.flow.Parallel": "kflow.plugins.flowable:Parallel",
        "io.kestra.plugin.core.flow.ForEach": "kflow.plugins.flowable:ForEach",
        "io.kestra.plugin.kafka.Produce": "kflow.plugins.kafka:Produce",
        "io.kestra.plugin.kafka.RealtimeTrigger": "kflow.plugins.kafka_trigger:RealtimeTrigger",
        "io.kestra.plugin.cassandra.standard.Query": "kflow.plugins.cassandra:Query",
        "io.kestra.plugin.mongodb.InsertOne": "kflow.plugins.mongodb:InsertOne",
        "io.kestra.plugin.mongodb.Find": "kflow.plugins.mongodb:Find",
        "io.kestra.plugin.mongodb.Update": "kflow.plugins.mongodb:Update",
        "io.kestra.plugin.mongodb.Delete": "kflow.plugins.mongodb:Delete",
        "io.kestra.plugin.kafka.Consume": "kflow.plugins.kafka_consume:Consume",
        "io.kestra.plugin.mongodb.Aggregate": "kflow.plugins.mongodb_files:Aggregate",
        "io.kestra.plugin.mongodb.Bulk": "kflow.plugins.mongodb_files:Bulk",
        "io.kestra.plugin.mongodb.Load": "kflow.plugins.mongodb_files:Load",
        "io.kestra.plugin.core.execution.Labels": None,
    }
    for name, runner in expected.items():
        spec = registry.lookup(name)
        assert spec is not None, name
        assert spec.runner == runner, name


def test_a_declared_type_without_runtime_says_not_supported_yet() -> None:
    spec = default_registry().lookup("io.kestra.plugin.core.execution.Labels")
    assert spec is not None and not spec.supported
    with pytest.raises(NotSupportedError, match=r"execution\.Labels is not supported yet"):
        spec.load_runner()


def test_suggestions_are_near_misses_only() -> None:
    registry = default_registry()
    assert registry.suggest("io.kestra.plugin.core.flows.Switch")[0] == (
        "io.kestra.plugin.core.flow.Switch"
    )
    near = registry.suggest("io.kestra.plugin.kafka.RealTimeTrigger", kind="trigger")
    assert near[0] == "io.kestra.plugin.kafka.RealtimeTrigger"  # then other systems' ones
    assert registry.suggest("io.kestra.plugin.scripts.shell.Commands") == []


def test_property_schema_marks_templates_defaults_and_deprecation() -> None:
    spec = default_registry().lookup("io.kestra.plugin.cassandra.standard.Query")
    assert spec is not None
    assert spec.properties["fetchType"].schema()["default"] == "NONE"
    assert spec.properties["fetchOne"].schema()["deprecated"] is True
    assert spec.properties["cql"].templated
    assert string(description="d").schema() == {"type": "string", "description": "d"}
