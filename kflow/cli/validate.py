"""`kflow validate FLOW...`: report every problem of each flow at once."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from kflow.errors import FlowError


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
    from kflow.flow.loader import LoadResult, load_flow

    results: list[LoadResult] = []
    unreadable: list[str] = []
    for path in _expand(flows):
        try:
            results.append(load_flow(path))
        except FlowError as exc:
            unreadable.append(str(exc))
    if as_json:
        _print_json(results, unreadable)
    else:
        _print_report(results, unreadable)
    if unreadable:
        raise typer.Exit(2)
    if any(result.flow is None for result in results):
        raise typer.Exit(1)


def _expand(paths: list[Path]) -> list[Path]:
    """Files as given; directories replaced by their flow files, sorted."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            out.append(path)
    return out


def _print_json(results: list, unreadable: list[str]) -> None:
    payload = {
        "valid": all(r.flow is not None for r in results) and not unreadable,
        "flows": [
            {
                "path": r.path,
                "valid": r.flow is not None,
                "flow": r.flow.ref if r.flow is not None else None,
                "diagnostics": [d.to_json() for d in r.diagnostics],
            }
            for r in results
        ],
        "unreadable": unreadable,
    }
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def _print_report(results: list, unreadable: list[str]) -> None:
    from rich.console import Console
    from rich.text import Text

    out = Console(soft_wrap=True, highlight=False)
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    errors = warnings = 0
    for result in results:
        for d in result.diagnostics:
            line = Text()
            line.append(f"{d.path}:{d.line}:{d.column}", style="bold")
            if d.key_path:
                line.append(f" {d.key_path}:", style="cyan")
            if d.is_error:
                errors += 1
                line.append(" " + d.message, style="red")
            else:
                warnings += 1
                line.append(" warning:", style="yellow bold")
                line.append(" " + d.message, style="yellow")
            out.print(line)
        if result.flow is not None:
            out.print(Text(f"✓ {result.flow.ref}", style="green"))
        else:
            count = len(result.errors)
            noun = "error" if count == 1 else "errors"
            out.print(Text(f"✘ {result.path} ({count} {noun})", style="red bold"))
    for message in unreadable:
        err.print(Text(f"kflow validate: {message}", style="red"))
    valid = sum(1 for r in results if r.flow is not None)
    total = len(results) + len(unreadable)
    summary = (
        f"{total} flow{'s' if total != 1 else ''} checked: {valid} valid, "
        f"{total - valid} invalid; {errors} error{'s' if errors != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )
    out.print(Text(summary, style="bold"))
