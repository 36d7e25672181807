"""`kflow produce orders` (not built yet)."""

from __future__ import annotations

from kflow.cli.not_built import refuse


def orders() -> None:
    """Replay data/orders.csv into Kafka (not built yet: exits 2)."""
    refuse("produce orders")
