"""`kflow validate FLOW...`: report every problem of each flow at once."""

from __future__ import annotations

from pathlib import Path

import typer


def command(
    flows: list[Path] = typer.Argument(
        ..., help="Flow files, or directories of *.yaml / *.yml flows.", show_default=False
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the diagnostics as JSON."),
) -> None:
    """Validate flows: each problem as path:line:col key.path: message.

    Exit 0 when every flow is valid (warnings allowed), 1 when any is invalid,
    2 when a file cannot be read.
    """
    from kflow.cli.validate_report import validate_paths

    code = validate_paths(flows, as_json)
    if code:
        raise typer.Exit(code)
