"""The broken-flow corpus: each file lists the exact diagnostics it must produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from kflow.flow import load_flow

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "flows"
EXPECT = "# expect: "


def _expected(path: Path) -> list[str]:
    return [
        line[len(EXPECT) :]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith(EXPECT)
    ]


FILES = sorted(FIXTURES.glob("*.yaml"))


def test_corpus_is_present() -> None:
    assert len(FILES) >= 12


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_broken_flow_reports_exactly_its_expected_diagnostics(path: Path) -> None:
    result = load_flow(path)
    prefix = f"{path}:"
    reported = [d.format().removeprefix(prefix) for d in result.diagnostics]
    assert reported == _expected(path)
    assert all(d.path == str(path) for d in result.diagnostics)
    has_errors = any(d.is_error for d in result.diagnostics)
    assert (result.flow is None) == has_errors
