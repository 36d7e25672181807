"""The project's own conformance flows (tests/fixtures/conformance), checked against EXPECT.tsv.

The same checks as ``test_kestra_flows.py`` makes on the Kestra-written corpus, on
flows written here, so that they run in every clone.
"""

from __future__ import annotations

import re

import pytest
from shared_corpus import CONFORMANCE, read_expectations
from typer.testing import CliRunner

from kflow.cli.app import app
from kflow.flow import TaskDef, TriggerDef, load_flow

EXPECTATIONS = read_expectations(CONFORMANCE)
KINDS = ("valid", "error", "valid-or-unsupported")


def test_every_flow_is_listed_once_with_a_known_expectation() -> None:
    names = [name for name, _, _ in EXPECTATIONS]
    assert len(names) == len(set(names))
    assert set(names) == {p.name for p in CONFORMANCE.glob("*.yaml")}
    assert len(names) >= 20
    assert {expect for _, expect, _ in EXPECTATIONS} == set(KINDS)
    for name, expect, pattern in EXPECTATIONS:
        assert bool(pattern) == (expect != "valid"), name
        re.compile(pattern)


@pytest.mark.parametrize(
    ("name", "expect", "pattern"), [pytest.param(*row, id=row[0]) for row in EXPECTATIONS]
)
def test_conformance_flow_validates_as_expected(name: str, expect: str, pattern: str) -> None:
    result = load_flow(CONFORMANCE / name)
    errors = [d.format() for d in result.errors]
    if expect == "valid":
        assert errors == []
        assert result.flow is not None
    elif expect == "error":
        assert result.flow is None
        assert any(re.search(pattern, e) for e in errors), errors
    else:
        assert expect == "valid-or-unsupported"
        for error in errors:
            assert "not supported yet" in error and re.search(pattern, error), error
        if result.flow is not None:
            # Valid: then the type is one kflow declares without running it (yet).
            items: list[TaskDef | TriggerDef] = [*result.flow.tasks, *result.flow.triggers]
            declared = [item for item in items if re.search(pattern, item.type)]
            assert declared and all(item.spec.runner is None for item in declared)


def test_the_clean_blog_flow_has_no_warning() -> None:
    result = load_flow(CONFORMANCE / "blog-enrich-order.yaml")
    assert result.diagnostics == []
    assert result.flow is not None
    query, insert = result.flow.tasks
    assert query.type == "io.kestra.plugin.cassandra.standard.Query"
    assert query.props["fetchType"] == "FETCH_ONE"
    assert insert.type == "io.kestra.plugin.mongodb.InsertOne"
    (trigger,) = result.flow.triggers
    assert trigger.props["valueDeserializer"] == "JSON"
    assert trigger.props["groupId"] == "order-enricher"


def test_the_flow_with_the_blogs_habits_validates_with_their_two_warnings() -> None:
    result = load_flow(CONFORMANCE / "blog-habits-payments.yaml")
    assert result.flow is not None
    assert [(d.line, d.column, d.code) for d in result.warnings] == [
        (17, 5, "deprecated"),
        (44, 7, "misplaced-deserializer"),
    ]
    query, insert = result.flow.tasks
    assert query.type == "io.kestra.plugin.cassandra.standard.Query"  # the old name, resolved
    assert query.props["fetchType"] == "FETCH_ONE"
    assert query.props["session"]["endpoints"] == [
        {"hostname": "cassandra.billing.local", "port": 9042}
    ]
    assert insert.props["document"].lstrip().startswith("{")
    (trigger,) = result.flow.triggers
    assert trigger.props["valueDeserializer"] == "JSON"
    assert trigger.props["keyDeserializer"] == "STRING"
    assert trigger.props["serdeProperties"] == {}


def test_kflow_validate_on_the_folder_counts_what_expect_says() -> None:
    result = CliRunner().invoke(app, ["validate", str(CONFORMANCE)])
    total = len(EXPECTATIONS)
    invalid = sum(1 for _, expect, _ in EXPECTATIONS if expect == "error")
    assert result.exit_code == 1
    summary = result.stdout.splitlines()[-1]
    assert summary.startswith(f"{total} flows checked: {total - invalid} valid, {invalid} invalid;")
