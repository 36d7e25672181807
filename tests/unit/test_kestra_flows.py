"""The flows written by the Kestra project, checked against ``EXPECT.tsv``.

They live beside the repository in ``shared/kestra-flows`` (CI lays ``shared/``
next to the clone) and are read from there, never copied.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from kflow.flow import load_flow

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "kestra-flows"


def _expectations() -> list[tuple[str, str, str]]:
    with (CORPUS / "EXPECT.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [(row["file"], row["expect"], row["regex"] or "") for row in rows]


EXPECTATIONS = _expectations()


def test_the_corpus_is_complete() -> None:
    assert len(EXPECTATIONS) == 40
    assert {name for name, _, _ in EXPECTATIONS} == {p.name for p in CORPUS.glob("*.yaml")}


@pytest.mark.parametrize(("name", "expect", "pattern"), EXPECTATIONS, ids=lambda v: str(v))
def test_kestra_flow_validates_as_expected(name: str, expect: str, pattern: str) -> None:
    result = load_flow(CORPUS / name)
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
    result = load_flow(CORPUS / "docs-blog-realtime-triggers-1.yaml")
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
