"""`kflow schema`'s JSON Schema agrees with the validator on real flows."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML
from shared_corpus import conformance_params, kestra_flow_params

from kflow.flow import default_registry, load_flow
from kflow.flow.schema import flow_schema

# A JSON Schema cannot apply pluginDefaults: the schema reports a required property that
# the flow's pluginDefaults supply (Kestra and the validator apply them first).
PLUGIN_DEFAULTS = {"core-flow-properties"}
PLUGIN_DEFAULTS_LIMIT = "the schema requires properties that pluginDefaults supply"


def _schema_cases() -> list[object]:
    cases = []
    for case in conformance_params():
        if case.id in PLUGIN_DEFAULTS:
            mark = pytest.mark.xfail(strict=True, reason=PLUGIN_DEFAULTS_LIMIT)
            case = pytest.param(*case.values, marks=mark, id=case.id)
        cases.append(case)
    return cases + kestra_flow_params()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = flow_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_every_type_and_alias_is_in_the_schema() -> None:
    schema = flow_schema()
    names = set(schema["$defs"]["task"]["properties"]["type"]["enum"])
    names |= set(schema["$defs"]["trigger"]["properties"]["type"]["enum"])
    assert names == set(default_registry().names())


@pytest.mark.parametrize("path", _schema_cases())
def test_schema_accepts_the_flows_whose_structure_the_validator_accepts(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    schema_errors = list(validator.iter_errors(data))
    result = load_flow(path)
    structural = [d for d in result.errors if d.code in ("unknown-type", "unknown-property")]
    assert bool(schema_errors) == bool(structural), [e.message for e in schema_errors]


def test_schema_rejects_unknown_properties_and_wrong_enums(
    validator: jsonschema.Draft202012Validator,
) -> None:
    flow = {
        "id": "f",
        "namespace": "dev",
        "tasks": [{"id": "a", "type": "io.kestra.plugin.core.log.Log", "message": "hi"}],
    }
    assert list(validator.iter_errors(flow)) == []
    flow["tasks"][0]["colour"] = "red"
    assert list(validator.iter_errors(flow))
    del flow["tasks"][0]["colour"]
    flow["tasks"][0]["level"] = "LOUD"
    assert list(validator.iter_errors(flow))
