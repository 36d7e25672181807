"""`kflow seed products` (not built yet)."""

from __future__ import annotations

from kflow.cli.not_built import refuse


def products() -> None:
    """Load data/products.csv into Cassandra (not built yet: exits 2)."""
    refuse("seed products")
