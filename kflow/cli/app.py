"""The ``kflow`` Typer application: wires one module per command."""

from __future__ import annotations

import typer

from kflow.cli import executions, produce, replay, run, schema, seed, validate

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
app.add_typer(executions.app, name="executions")
app.command("replay")(replay.command)


def main() -> None:
    """Entry point (kept for ``kflow.cli.app:main``); see ``kflow.cli.entry``."""
    from kflow.cli.entry import main as entry_main

    entry_main()
