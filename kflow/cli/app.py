"""The ``kflow`` Typer application: wires one module per command."""

from __future__ import annotations

import os
import sys

import typer

from kflow.cli import produce, run, schema, seed, validate
from kflow.errors import KflowError

app = typer.Typer(
    name="kflow",
    help="Run Kestra-style YAML flows from the command line, reacting to each event as it arrives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("validate")(validate.command)
app.command("run")(run.command)
app.command("schema")(schema.command)
seed_app = typer.Typer(help="Load reference data into Cassandra.", no_args_is_help=True)
seed_app.command("products")(seed.products)
app.add_typer(seed_app, name="seed")
produce_app = typer.Typer(help="Replay events into Kafka.", no_args_is_help=True)
produce_app.command("orders")(produce.orders)
app.add_typer(produce_app, name="produce")


def main() -> None:
    """Entry point: runs the app and turns kflow errors into one clear line."""
    try:
        app()
    except KflowError as exc:
        if os.environ.get("KFLOW_DEBUG") == "1":
            raise
        from kflow.connectors.masking import mask

        print(mask(f"kflow: error: {exc}"), file=sys.stderr)
        sys.exit(1)
