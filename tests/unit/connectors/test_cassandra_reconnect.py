"""After a failed connection, callers fail fast for a moment instead of all reconnecting."""

from __future__ import annotations

import pytest

from kflow.connectors import cassandra as conn
from kflow.errors import CassandraError


def test_a_failed_connection_is_not_retried_by_every_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[object] = []
    clock = [100.0]

    def refuse(key: object) -> object:
        attempts.append(key)
        raise CassandraError("cannot reach Cassandra at 10.0.0.1:9042: refused", address="x")

    monkeypatch.setattr(conn, "_connect", refuse)
    monkeypatch.setattr(conn.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(conn, "_failures", {})
    endpoints = [("10.0.0.1", 9042)]
    for _ in range(5):
        with pytest.raises(CassandraError, match=r"cannot reach Cassandra at 10\.0\.0\.1:9042"):
            conn.cassandra_session(endpoints, "dc1")
    assert len(attempts) == 1
    clock[0] += conn.RECONNECT_AFTER_S + 0.1
    with pytest.raises(CassandraError):
        conn.cassandra_session(endpoints, "dc1")
    assert len(attempts) == 2
