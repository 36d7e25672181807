"""The local stack formats Kafka's storage with a cluster id the storage tool accepts."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

DEVSTACK = Path(__file__).resolve().parents[2] / "devstack"


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(DEVSTACK))
    from stackctl import services

    # The first draw encodes as "-AAAA...": the storage tool would read it as an option.
    drawn = iter(
        [uuid.UUID(bytes=bytes([0xF8]) + bytes(15)), uuid.UUID(bytes=bytes([1]) + bytes(15))]
    )
    monkeypatch.setattr(services.uuid, "uuid4", lambda: next(drawn))
    assert services._kafka_cluster_id() == "AQAAAAAAAAAAAAAAAAAAAA"
