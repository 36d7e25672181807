"""Fixtures for every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_secrets_from_other_tests() -> Iterator[None]:
    """Secrets are process-wide (``kflow.connectors.masking``): one registered by an earlier
    test (a short value such as ``ab``) would mask parts of this test's messages."""
    from kflow.connectors.masking import forget_secrets

    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture(autouse=True)
def no_validate_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """``kflow validate`` keeps reports in a cache (``kflow.cli.validate_cache``): tests
    (and the ``kflow`` processes they start) validate afresh and leave no cache behind;
    the cache's own tests turn it on in a folder of theirs."""
    monkeypatch.setenv("KFLOW_NO_CACHE", "1")
    monkeypatch.delenv("KFLOW_CACHE_DIR", raising=False)
