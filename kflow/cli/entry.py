"""The ``kflow`` entry point.

``kflow validate FLOW... [--json] [--no-cache]`` is answered without loading
Typer (or rich, unless on a terminal): it is the command editors and scripts
call often. Everything else, ``--help`` included, goes through the Typer app.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _fast_validate(args: list[str]) -> int | None:
    """The exit code of a plain ``validate`` call, or None when Typer should parse it."""
    if not args or args[0] != "validate":
        return None
    rest = args[1:]
    as_json = "--json" in rest
    no_cache = "--no-cache" in rest
    paths = [a for a in rest if a not in ("--json", "--no-cache")]
    if not paths or any(a.startswith("-") for a in paths):
        return None  # --help, unknown options, no file: Typer's usage messages
    from kflow.cli.validate_report import validate_paths

    return validate_paths([Path(p) for p in paths], as_json, use_cache=not no_cache)


class _StoppedEarly(BaseException):
    """SIGTERM reached ``kflow run`` before it had started reading (a BaseException, so no
    ``except Exception`` on the way out turns it into an error)."""


def _stop_early(_signum: int, _frame: object) -> None:
    raise _StoppedEarly


def main() -> None:
    """Run kflow; kflow errors become one clear line (``KFLOW_DEBUG=1``: the traceback)."""
    from kflow.errors import KflowError

    if sys.argv[1:2] == ["run"]:
        # A supervisor may stop kflow while it is still importing and connecting: nothing
        # has been read yet, so that is a clean stop, not death by signal. The run replaces
        # this handler with its own (stop reading, finish what is in flight) once it reads.
        import signal

        signal.signal(signal.SIGTERM, _stop_early)
    try:
        code = _fast_validate(sys.argv[1:])
        if code is not None:
            sys.stdout.flush()
            sys.exit(code)
        from kflow.cli.app import app

        app()
    except _StoppedEarly:
        print("kflow run: stopped (SIGTERM) before reading anything", file=sys.stderr)
        sys.exit(0)
    except KflowError as exc:
        if os.environ.get("KFLOW_DEBUG") == "1":
            raise
        from kflow.connectors.masking import mask

        print(mask(f"kflow: error: {exc}"), file=sys.stderr)
        sys.exit(1)
