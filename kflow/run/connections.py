"""Closing the process-wide driver clients (sessions, clients, producers) at the end of a run."""

from __future__ import annotations

import sys


def close_connections() -> None:
    """Close whatever driver clients this process opened; the drivers not loaded are skipped."""
    if "kflow.plugins.kafka" in sys.modules:
        from kflow.plugins.kafka import close_producers

        close_producers()
    if "kflow.connectors.cassandra" in sys.modules:
        from kflow.connectors.cassandra import close_cassandra_sessions

        close_cassandra_sessions()
    if "kflow.connectors.mongodb" in sys.modules:
        from kflow.connectors.mongodb import close_mongo_clients

        close_mongo_clients()
    if "kflow.connectors.jdbc" in sys.modules:
        from kflow.connectors.jdbc import close_jdbc_pools

        close_jdbc_pools()
    if "kflow.connectors.mqtt" in sys.modules:
        from kflow.connectors.mqtt import close_publishers

        close_publishers()
