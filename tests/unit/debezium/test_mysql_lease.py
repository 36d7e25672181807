"""The server lock name of one stored binlog position (kflow.plugins.debezium_mysql_lease)."""

from __future__ import annotations

from kflow.plugins.debezium_mysql_lease import lock_name
from kflow.state.positions import PositionKey


def test_one_lock_per_position_key_within_the_servers_64_characters() -> None:
    key = PositionKey("debezium-state", "company.team", "orders_cdc", "realtime")
    name = lock_name(key)
    assert name == lock_name(
        PositionKey("debezium-state", "company.team", "orders_cdc", "realtime")
    )
    assert name.startswith("kflow-cdc-") and len(name) <= 64
    others = {
        lock_name(PositionKey("other", "company.team", "orders_cdc", "realtime")),
        lock_name(PositionKey("debezium-state", "company.team", "orders_cdc", "other")),
        lock_name(PositionKey("debezium-state", "x" * 500, "orders_cdc", "realtime")),
    }
    assert name not in others and len(others) == 3
    assert all(len(n) <= 64 for n in others)
