"""Loading a flow for a command that runs it: print its problems and exit 1 when invalid."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from kflow.errors import FlowError
from kflow.flow.model import Flow


def load_or_exit(path: Path) -> Flow:
    from kflow.flow import load_flow

    try:
        result = load_flow(path)
    except FlowError as exc:
        print(f"kflow: {exc}", file=sys.stderr)
        raise typer.Exit(2) from exc
    for diagnostic in result.diagnostics:
        print(diagnostic.format(), file=sys.stderr)
    if result.flow is None:
        print(f"kflow: {path} is not a valid flow; nothing was run", file=sys.stderr)
        raise typer.Exit(1)
    return result.flow
