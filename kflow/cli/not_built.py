"""How a command that is not built yet answers: it says so and exits 2."""

from __future__ import annotations

import sys

import typer


def refuse(command: str) -> None:
    print(f"kflow {command}: not built yet in this version", file=sys.stderr)
    raise typer.Exit(2)
