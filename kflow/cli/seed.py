"""`kflow seed products`: load the products CSV into Cassandra."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kflow.data.csvfiles import read_products
from kflow.errors import DataError


def _hosts(value: str) -> list[tuple[str, int]]:
    from kflow.data.seed import parse_hosts

    try:
        return parse_hosts(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def products(
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help="Products CSV (header: product_id, product_name, product_category, brand).",
            show_default=True,
        ),
    ] = Path("data/products.csv"),
    hosts: Annotated[
        str,
        typer.Option(
            "--hosts",
            help="Cassandra contact points, a comma-separated list of host[:port].",
            envvar="KFLOW_CASSANDRA_HOSTS",
        ),
    ] = "127.0.0.1:9042",
    datacenter: Annotated[
        str, typer.Option("--datacenter", help="Local datacenter of the load-balancing policy.")
    ] = "datacenter1",
    keyspace: Annotated[
        str, typer.Option("--keyspace", help="Keyspace, created if missing.")
    ] = "kestra",
    table: Annotated[
        str, typer.Option("--table", help="Table, created if missing with the blog's schema.")
    ] = "products",
    replication_factor: Annotated[
        int,
        typer.Option(
            "--replication-factor",
            min=1,
            help="Replication factor of a new keyspace (SimpleStrategy).",
        ),
    ] = 1,
    username: Annotated[
        str | None,
        typer.Option("--username", help="Cassandra user name.", envvar="KFLOW_CASSANDRA_USERNAME"),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="Cassandra password (prefer the environment variable).",
            envvar="KFLOW_CASSANDRA_PASSWORD",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create the keyspace and products table if missing, then load the CSV.

    The whole file is checked first: every bad line is reported with its number
    and nothing is written. Loading the same file again leaves the same rows.
    """
    endpoints = _hosts(hosts)
    rows = read_products(file)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kflow.connectors.cassandra import close_cassandra_sessions
    from kflow.data.seed import SeedTarget, check_identifier, seed_products

    try:
        check_identifier("keyspace", keyspace)
        check_identifier("table", table)
    except DataError as exc:
        raise typer.BadParameter(str(exc)) from None
    target = SeedTarget(
        endpoints=endpoints,
        datacenter=datacenter,
        keyspace=keyspace,
        table=table,
        replication_factor=replication_factor,
        username=username,
        password=password,
    )
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]seeding[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = progress.add_task(f"{keyspace}.{table}", total=len(rows))
    try:
        with progress:
            result = seed_products(
                rows, target, on_progress=lambda done, _total: progress.update(task, completed=done)
            )
    finally:
        close_cassandra_sessions()
    typer.echo(
        f"seeded {result.rows} rows into {result.keyspace}.{result.table} "
        f"at {target.address} in {result.seconds:.2f} s"
    )
