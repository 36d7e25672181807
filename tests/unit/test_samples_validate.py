"""Every sample flow validates (warnings allowed) and every runnable type in it has a runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from kflow.flow import load_flow

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "samples").glob("*.yaml"))


def test_there_are_samples() -> None:
    assert len(SAMPLES) >= 4


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_validates(path: Path) -> None:
    result = load_flow(path)
    assert result.flow is not None, [d.format() for d in result.diagnostics]
    assert all(t.spec.runner for t in result.flow.tasks)
    assert all(t.spec.runner for t in result.flow.triggers)
