"""Every template of the flow corpora checks clean and compiles.

Two corpora: the project's own (tests/fixtures/conformance, always there) and the
Kestra-written flows of ../shared/kestra-flows, read from where they live (not
copied into the project) and skipped when that folder is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from shared_corpus import (
    CONFORMANCE,
    KESTRA_FLOWS,
    conformance_params,
    kestra_flow_params,
    needs_kestra_flows,
)

from kflow.expr import check_cql, check_document, check_template, compile_template, is_templated


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def load(path: Path) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except Exception:  # a flow that is not YAML is the validator's business
        return None


def check_and_compile(flow: Path) -> list[str]:
    """The problems of every templated string of ``flow``; compiles those without any."""
    data = load(flow)
    problems: list[str] = []
    for key_path, text in strings(data):
        if not is_templated(text):
            continue
        leaf = key_path.rsplit(".", 1)[-1]
        if leaf == "cql":
            found = check_cql(text)
        elif leaf == "document" and text.lstrip()[:1] in "{[":
            found = check_document(text)
        else:
            found = check_template(text)
        problems += [f"{key_path}: {p}" for p in found]
        if not found:
            compile_template(text)
    return problems


@pytest.mark.parametrize("flow", conformance_params())
def test_conformance_templates_check_clean_and_compile(flow: Path) -> None:
    assert check_and_compile(flow) == []


@pytest.mark.parametrize("flow", kestra_flow_params())
def test_kestra_corpus_templates_check_clean_and_compile(flow: Path) -> None:
    assert check_and_compile(flow) == []


def test_conformance_corpus_is_here() -> None:
    assert len(list(CONFORMANCE.glob("*.yaml"))) >= 20


@needs_kestra_flows
def test_kestra_corpus_is_complete_when_present() -> None:
    assert len(list(KESTRA_FLOWS.glob("*.yaml"))) >= 40
