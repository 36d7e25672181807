"""Loading a flow for a command that runs it: print its problems and exit 1 when invalid."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from kflow.errors import FlowError
from kflow.flow.model import Flow


def load_or_exit(path: Path, *, say_invalid: bool = True) -> Flow:
    from kflow.flow import load_flow

    try:
        result = load_flow(path, for_run=True)
    except FlowError as exc:
        print(f"kflow: {exc}", file=sys.stderr)
        raise typer.Exit(2) from exc
    for diagnostic in result.diagnostics:
        print(diagnostic.format(), file=sys.stderr)
    if result.flow is None:
        if say_invalid:
            print(f"kflow: {path} is not a valid flow; nothing was run", file=sys.stderr)
        raise typer.Exit(1)
    return result.flow


def load_all_or_exit(arguments: list[Path], *, allow_none: bool = False) -> list[Flow]:
    """Every flow the arguments name (directories: their flow files), each checked and its
    problems printed; exits 1 when any is invalid or two define the same flow, 2 when a file
    cannot be read or the directories hold no flow (``allow_none``: an empty list then)."""
    from kflow.cli.flow_files import flow_files

    if len(arguments) == 1 and not arguments[0].is_dir():
        return [load_or_exit(arguments[0])]
    paths = flow_files(arguments)
    if not paths:
        where = ", ".join(map(str, arguments))
        if allow_none:
            print(f"kflow run: no flow in {where} yet; watching for one", file=sys.stderr)
            return []
        print(f"kflow: no *.yaml or *.yml flow in {where}", file=sys.stderr)
        raise typer.Exit(2)
    flows: list[Flow] = []
    invalid: list[Path] = []
    for path in paths:
        try:
            flows.append(load_or_exit(path, say_invalid=False))
        except typer.Exit as exc:
            if exc.exit_code == 2:
                raise
            invalid.append(path)
    seen: dict[str, Path] = {}
    for flow in flows:
        path = Path(flow.source_path or flow.ref)
        if flow.ref in seen:
            other = seen[flow.ref]
            print(f"kflow: {path}: flow {flow.ref} is also defined in {other}", file=sys.stderr)
            invalid.append(path)
        seen.setdefault(flow.ref, path)
    if invalid:
        names = ", ".join(map(str, invalid))
        print(
            f"kflow: {len(invalid)} of {len(paths)} flows cannot run ({names}); nothing was run",
            file=sys.stderr,
        )
        raise typer.Exit(1)
    return flows


def inputs_or_exit(flow: Flow, pairs: list[str], inputs_file: Path | None) -> dict[str, Any] | None:
    """The flow's typed ``inputs`` from ``--inputs-file`` and ``--input`` (which wins), or
    None when neither is given; a bad value exits 2 naming every problem."""
    from kflow.connectors.masking import register_secret
    from kflow.flow.inputs import InputError, parse_assignments, resolve_inputs

    if not pairs and inputs_file is None:
        return None
    given: dict[str, Any] = {}
    try:
        if inputs_file is not None:
            given.update(_read_inputs_file(inputs_file))
        given.update(parse_assignments(pairs))
        resolved = resolve_inputs(flow.inputs, given)
    except InputError as exc:
        print(f"kflow: flow {flow.ref}: {exc}", file=sys.stderr)
        raise typer.Exit(2) from exc
    for spec in flow.inputs:
        name = str(spec.get("id") or spec.get("name"))
        if str(spec.get("type", "")).upper() == "SECRET" and given.get(name):
            register_secret(str(given[name]))
    return resolved


def _read_inputs_file(path: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML, YAMLError

    from kflow.flow.inputs import InputError

    try:
        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"--inputs-file {path}: {exc.strerror or exc}") from exc
    except YAMLError as exc:
        raise InputError(
            f"--inputs-file {path}: not YAML or JSON: {' '.join(str(exc).split())}"
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"--inputs-file {path}: expected a mapping of input names to values")
    return {str(k): v for k, v in data.items()}
