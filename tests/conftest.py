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
