"""`kflow schema`'s JSON Schema agrees with the validator on real flows."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from kflow.flow import default_registry, load_flow
from kflow.flow.schema import flow_schema

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "kestra-flows"


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


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.yaml")), ids=lambda p: p.stem)
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
