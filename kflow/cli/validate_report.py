"""The work and the report of ``kflow validate``, without Typer.

``kflow validate`` must answer fast, so ``kflow.cli.entry`` calls
:func:`validate_paths` directly (no Typer, no rich unless on a terminal).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kflow.errors import FlowError


def validate_paths(paths: Sequence[Path], as_json: bool = False) -> int:
    """Validate each flow and print the report; returns the exit code (0, 1 or 2)."""
    from kflow.flow.loader import LoadResult, load_flow

    results: list[LoadResult] = []
    unreadable: list[str] = []
    for path in _expand(paths):
        try:
            results.append(load_flow(path))
        except FlowError as exc:
            unreadable.append(str(exc))
    if as_json:
        _print_json(results, unreadable)
    else:
        _print_report(results, unreadable)
    if unreadable:
        return 2
    return 1 if any(result.flow is None for result in results) else 0


def _expand(paths: Sequence[Path]) -> list[Path]:
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


class _Lines:
    """Lines made of styled parts: rich styles on a terminal, plain text otherwise."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.console: Any = None
        if stream.isatty():
            from rich.console import Console

            self.console = Console(file=stream, soft_wrap=True, highlight=False)

    def print(self, *parts: tuple[str, str]) -> None:
        if self.console is None:
            self.stream.write("".join(text for text, _ in parts) + "\n")
            return
        from rich.text import Text

        line = Text()
        for text, style in parts:
            line.append(text, style=style)
        self.console.print(line)


def _print_report(results: list[Any], unreadable: list[str]) -> None:
    out = _Lines(sys.stdout)
    err = _Lines(sys.stderr)
    errors = warnings = 0
    for result in results:
        for d in result.diagnostics:
            parts = [(f"{d.path}:{d.line}:{d.column}", "bold")]
            if d.key_path:
                parts.append((f" {d.key_path}:", "cyan"))
            if d.is_error:
                errors += 1
                parts.append((" " + d.message, "red"))
            else:
                warnings += 1
                parts += [(" warning:", "yellow bold"), (" " + d.message, "yellow")]
            out.print(*parts)
        if result.flow is not None:
            out.print((f"✓ {result.flow.ref}", "green"))
        else:
            count = len(result.errors)
            noun = "error" if count == 1 else "errors"
            out.print((f"✘ {result.path} ({count} {noun})", "red bold"))
    for message in unreadable:
        err.print((f"kflow validate: {message}", "red"))
    valid = sum(1 for r in results if r.flow is not None)
    total = len(results) + len(unreadable)
    summary = (
        f"{total} flow{'s' if total != 1 else ''} checked: {valid} valid, "
        f"{total - valid} invalid; {errors} error{'s' if errors != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )
    out.print((summary, "bold"))
