"""`kflow schema`: print the JSON Schema of flow files (for editors)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


def command(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the schema to this file instead of stdout."
    ),
) -> None:
    """Print the JSON Schema of flow files, generated from the type registry.

    Point the YAML language server at it with a first line such as
    `# yaml-language-server: $schema=./kflow-flow.schema.json`.
    """
    from kflow.flow.schema import flow_schema

    text = json.dumps(flow_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"kflow schema: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(2) from exc
    print(f"wrote {output}", file=sys.stderr)
