"""The flows written by the Kestra project, checked against ``EXPECT.tsv``.

They live beside the repository in ``shared/kestra-flows`` (CI lays ``shared/``
next to the clone) and are read from there, never copied. Without them (a user's
clone) every test here skips; ``test_conformance_flows.py`` runs the same checks
on the project's own corpus.
"""

from __future__ import annotations

import re

import pytest
from shared_corpus import (
    KESTRA_FLOWS,
    kestra_expectation_params,
    kestra_flow,
    needs_kestra_flows,
    read_expectations,
)

from kflow.flow import load_flow


@needs_kestra_flows
def test_the_corpus_is_complete() -> None:
    expectations = read_expectations(KESTRA_FLOWS)
    assert len(expectations) == 40
    assert {name for name, _, _ in expectations} == {p.name for p in KESTRA_FLOWS.glob("*.yaml")}


@pytest.mark.parametrize(("name", "expect", "pattern"), kestra_expectation_params())
def test_kestra_flow_validates_as_expected(name: str, expect: str, pattern: str) -> None:
    result = load_flow(kestra_flow(name))
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


def test_the_blog_flow_validates_with_its_two_warnings() -> None:
    result = load_flow(kestra_flow("docs-blog-realtime-triggers-1.yaml"))
    assert result.flow is not None
    assert [(d.line, d.column, d.code) for d in result.warnings] == [
        (14, 5, "deprecated"),
        (46, 7, "misplaced-deserializer"),
    ]
    query, insert = result.flow.tasks
    assert query.type == "io.kestra.plugin.cassandra.standard.Query"
    assert query.props["fetchType"] == "FETCH_ONE"
    assert query.props["session"]["endpoints"] == [
        {"hostname": "docker.host.internal", "port": 9042}
    ]
    assert insert.props["document"].lstrip().startswith("{")
    (trigger,) = result.flow.triggers
    assert trigger.props["valueDeserializer"] == "JSON"
    assert trigger.props["keyDeserializer"] == "STRING"
    assert trigger.props["serdeProperties"] == {}
    assert trigger.props["topic"] == "orders"
    assert trigger.props["groupId"] == "kestraConsumer"
