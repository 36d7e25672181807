"""`kflow run` (not built yet)."""

from __future__ import annotations

from kflow.cli.not_built import refuse


def command() -> None:
    """Not built yet: exits 2."""
    refuse("run")
