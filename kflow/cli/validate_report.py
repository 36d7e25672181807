"""The work and the report of ``kflow validate``, without Typer.

``kflow validate`` must answer fast, so ``kflow.cli.entry`` calls
:func:`validate_paths` directly (no Typer, no rich unless on a terminal).
"""

from __future__ import annotations

import sys
from pathlib import Path

from kflow.cli.flow_files import flow_files
from kflow.errors import FlowError

TYPE_CHECKING = False  # not typing's: a cached run must not import typing (~3 ms)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from kflow.cli.validate_cache import ValidateCache


def validate_paths(paths: Sequence[Path], as_json: bool = False, use_cache: bool = True) -> int:
    """Validate each flow and print the report; returns the exit code (0, 1 or 2).

    Reports are kept in the cache of ``validate_cache`` (unless ``use_cache`` is False
    or ``KFLOW_NO_CACHE=1``) and replayed while the file and kflow stay the same.
    """
    cache = None
    if use_cache:
        from kflow.cli.validate_cache import open_cache

        cache = open_cache()
    results: list[Any] = []
    unreadable: list[str] = []
    for path in flow_files(paths):
        try:
            results.append(_validate_one(path, cache))
        except FlowError as exc:
            unreadable.append(str(exc))
    if as_json:
        _print_json(results, unreadable)
    else:
        _print_report(results, unreadable)
    if unreadable:
        return 2
    return 1 if any(result.flow is None for result in results) else 0


def _validate_one(path: Path, cache: ValidateCache | None) -> Any:
    """The ``LoadResult`` of one file, or its report read back from the cache."""
    if cache is None:
        return _load(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return _load(path)  # raises the FlowError that names the problem
    key = cache.key(str(path), data)
    cached = cache.get(key, str(path))
    if cached is not None:
        return cached
    from kflow.flow.loader import load_flow_text

    # as Path.read_text reads it (universal newlines)
    result = load_flow_text(text.replace("\r\n", "\n").replace("\r", "\n"), str(path))
    ref = result.flow.ref if result.flow is not None else None
    cache.put(key, ref, [d.to_json() for d in result.diagnostics])
    return result


def _load(path: Path) -> Any:
    from kflow.flow.loader import load_flow

    return load_flow(path)


def _print_json(results: list, unreadable: list[str]) -> None:
    import json

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
