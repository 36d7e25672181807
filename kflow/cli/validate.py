"""`kflow validate FLOW...`: report every problem of each flow at once."""

from __future__ import annotations

from pathlib import Path

import typer


def command(
    flows: list[Path] = typer.Argument(
        ..., help="Flow files, or directories of *.yaml / *.yml flows.", show_default=False
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the diagnostics as JSON."),
    no_cache: bool = typer.Option(
        False,
        "--no-cache",
        help="Validate every file afresh: neither read nor write the cache of reports "
        "(also KFLOW_NO_CACHE=1).",
    ),
) -> None:
    """Validate flows: each problem as path:line:col key.path: message.

    Exit 0 when every flow is valid (warnings allowed), 1 when any is invalid,
    2 when a file cannot be read. The report of a file is kept in a cache
    ($KFLOW_CACHE_DIR, $XDG_CACHE_HOME/kflow or ~/.cache/kflow) and replayed
    while neither the file nor kflow changes.
    """
    from kflow.cli.validate_report import validate_paths

    code = validate_paths(flows, as_json, use_cache=not no_cache)
    if code:
        raise typer.Exit(code)
