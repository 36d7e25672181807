"""Every template in the Kestra-written flows of ../shared/kestra-flows compiles.

The flows are read from where they live (not copied into the project).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from kflow.expr import check_cql, check_document, check_template, compile_template, is_templated

CORPUS = Path("/work/shared/kestra-flows")
FLOWS = sorted(CORPUS.glob("*.yaml")) if CORPUS.is_dir() else []


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


@pytest.mark.skipif(not FLOWS, reason="the Kestra flow corpus is not on this machine")
@pytest.mark.parametrize("flow", FLOWS, ids=[f.name for f in FLOWS])
def test_corpus_templates_check_clean_and_compile(flow: Path) -> None:
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
    assert problems == []


def test_corpus_is_present_here() -> None:
    # The corpus is part of the shared material of this project; fail loudly if it moved.
    assert len(FLOWS) >= 40
