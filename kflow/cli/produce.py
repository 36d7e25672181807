"""`kflow produce orders`: replay the orders CSV (or fake orders) into Kafka, RabbitMQ, MQTT,
Redis, NATS or a PostgreSQL/MySQL table."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kflow.data.csvfiles import read_orders, read_product_ids

if TYPE_CHECKING:
    from kflow.data.produce import ProduceResult, ProduceStats
    from kflow.data.targets import Target


def _fake_events(count: int, orders_file: Path, products_file: Path) -> Iterable[Mapping[str, str]]:
    """``count`` fake orders whose ids follow the highest id of ``orders_file`` (if readable)."""
    from kflow.data.generate import fake_orders

    product_ids = read_product_ids(products_file)
    first_id = 1
    if orders_file.is_file():
        ids = [int(o["order_id"]) for o in read_orders(orders_file) if o["order_id"].isdigit()]
        first_id = max(ids, default=0) + 1
    return fake_orders(count, product_ids, first_order_id=first_id)


def orders(
    file: Annotated[
        Path,
        typer.Option("--file", "-f", help="Orders CSV to replay, one event per row."),
    ] = Path("data/orders.csv"),
    bootstrap_servers: Annotated[
        str,
        typer.Option(
            "--bootstrap-servers",
            "-b",
            help="Kafka brokers, a comma-separated list of host:port.",
            envvar="KFLOW_KAFKA_BOOTSTRAP_SERVERS",
        ),
    ] = "127.0.0.1:9092",
    topic: Annotated[str, typer.Option("--topic", "-t", help="Topic to send to.")] = "orders",
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="URL",
            help="Where to send instead of -b/-t: kafka://HOST:PORT/TOPIC, "
            "amqp://USER:PASS@HOST[:PORT]\\[/VHOST]/QUEUE (a durable queue, persistent messages, "
            "publisher confirms), mqtt://HOST[:PORT]/TOPIC (QoS 1), "
            "redis://HOST[:PORT]\\[/DB]?key=LIST (RPUSH), nats://HOST[:PORT]/SUBJECT (JetStream "
            "acks when a stream holds it), or "
            "postgres://USER:PASS@HOST[:PORT]/DB?table=orders and mysql://USER:PASS@HOST[:PORT]/DB"
            "?table=orders (rows of a table created if missing; a row with the same key, "
            "&key=order_id by default, is updated, not duplicated).",
        ),
    ] = None,
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            "-r",
            min=0,
            help="Events per second (0: as fast as possible).",
        ),
    ] = 1.0,
    count: Annotated[
        int | None,
        typer.Option("--count", "-n", min=0, help="Stop after this many events."),
    ] = None,
    loop: Annotated[
        bool,
        typer.Option(
            "--loop", help="Start the file again at its end (stop with --count or Ctrl-C)."
        ),
    ] = False,
    fake: Annotated[
        int | None,
        typer.Option(
            "--fake",
            min=0,
            metavar="N",
            help="Send N generated orders instead of the file: ids follow the file's last "
            "order id, product ids come from --products-file.",
        ),
    ] = None,
    products_file: Annotated[
        Path,
        typer.Option("--products-file", help="Products CSV whose ids --fake orders use."),
    ] = Path("data/products.csv"),
    key: Annotated[
        str,
        typer.Option("--key", "-k", help="Event field sent as the Kafka record key."),
    ] = "order_id",
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            "-p",
            min=1,
            help="Create the topic with this many partitions if it does not exist.",
        ),
    ] = None,
) -> None:
    """Send order events to Kafka as JSON objects with string values, as in the blog.

    Waits for the broker to acknowledge every event, then prints how many were
    sent, acknowledged and failed; exits 1 if any failed.
    """
    from kflow.data.generate import ORDER_COLUMNS
    from kflow.data.targets import KafkaTarget, parse_target

    target = parse_target(to) if to else KafkaTarget(bootstrap_servers, topic)
    if not isinstance(target, KafkaTarget) and partitions is not None:
        raise typer.BadParameter("--partitions creates a Kafka topic", param_hint="--to")
    if isinstance(target, KafkaTarget):
        bootstrap_servers, topic = target.bootstrap_servers, target.topic
    events: Iterable[Mapping[str, str]]
    if fake is not None:
        if loop:
            raise typer.BadParameter("--loop replays a file; it cannot go with --fake")
        if key not in ORDER_COLUMNS:
            raise typer.BadParameter(
                f"fake orders have no field {key!r} (fields: {', '.join(ORDER_COLUMNS)})",
                param_hint="--key",
            )
        fake_count = fake if count is None else min(fake, count)
        events = _fake_events(fake_count, file, products_file)
        total: int | None = fake_count
    else:
        from kflow.data.produce import replay

        rows = read_orders(file, required=(key,))
        events = replay(rows, loop=loop, count=count)
        total = count if loop else min(len(rows), len(rows) if count is None else count)
    if total == 0:
        if partitions is not None:  # `--count 0 --partitions N` prepares the topic only
            from kflow.data.produce import ProduceTarget, prepare_topic

            kafka = ProduceTarget(bootstrap_servers=bootstrap_servers, topic=topic, key_field=key)
            prepare_topic(kafka, partitions)
        typer.echo("sent 0, acknowledged 0, failed 0")
        return
    if not isinstance(target, KafkaTarget):
        _run_broker(events, total, target, rate)
        return
    _run(events, total, bootstrap_servers, topic, key, rate, partitions)


def _progress(console: object, description: str, total: int | None) -> tuple[object, object]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    assert isinstance(console, Console)
    progress = Progress(
        TextColumn("[bold]producing[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8.1f} ev/s"),
        TextColumn("{task.fields[failed]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    return progress, progress.add_task(description, total=total, rate=0.0, failed="")


def _show(progress: object, task: object) -> Callable[[ProduceStats], None]:
    def show(stats: ProduceStats) -> None:
        seconds = stats.seconds
        progress.update(  # type: ignore[attr-defined]
            task,
            completed=stats.acknowledged,
            rate=stats.acknowledged / seconds if seconds > 0 else 0.0,
            failed=f"[red]{stats.failed} failed[/]" if stats.failed else "",
        )

    return show


def _finish(result: ProduceResult, where: str) -> None:
    typer.echo(
        f"sent {result.sent}, acknowledged {result.acknowledged}, failed {result.failed} "
        f"to {where} in {result.seconds:.2f} s ({result.rate:.1f} ev/s)"
    )
    if result.first_error:
        typer.echo(f"first failure: {result.first_error}", err=True)
    if result.interrupted:
        typer.echo("interrupted: stopped sending; every event sent was awaited", err=True)
        raise typer.Exit(130)
    if result.failed:
        raise typer.Exit(1)


def _run_broker(
    events: Iterable[Mapping[str, str]], total: int | None, target: Target, rate: float
) -> None:
    from rich.console import Console

    from kflow.data.brokers import produce_amqp, produce_mqtt, produce_nats, produce_redis
    from kflow.data.tables import TableTarget
    from kflow.data.targets import AmqpTarget, MqttTarget, NatsTarget, RedisTarget

    progress, task = _progress(Console(stderr=True), target.describe(), total)
    with progress:  # type: ignore[attr-defined]
        if isinstance(target, TableTarget):
            from kflow.data.tables import produce_rows

            result = produce_rows(events, target, rate=rate, on_progress=_show(progress, task))
        elif isinstance(target, AmqpTarget):
            result = produce_amqp(events, target, rate=rate, on_progress=_show(progress, task))
        elif isinstance(target, RedisTarget):
            result = produce_redis(events, target, rate=rate, on_progress=_show(progress, task))
        elif isinstance(target, NatsTarget):
            result = produce_nats(events, target, rate=rate, on_progress=_show(progress, task))
        else:
            assert isinstance(target, MqttTarget)
            result = produce_mqtt(events, target, rate=rate, on_progress=_show(progress, task))
    _finish(result, target.describe())


def _run(
    events: Iterable[Mapping[str, str]],
    total: int | None,
    bootstrap_servers: str,
    topic: str,
    key: str,
    rate: float,
    partitions: int | None,
) -> None:
    from rich.console import Console

    from kflow.data.produce import ProduceTarget, prepare_topic, produce_events

    target = ProduceTarget(bootstrap_servers=bootstrap_servers, topic=topic, key_field=key)
    console = Console(stderr=True)
    if partitions is not None:
        found = prepare_topic(target, partitions)
        if found != partitions:
            console.print(f"topic {topic} already exists with {found} partition(s)")
    progress, task = _progress(console, topic, total)
    with progress:  # type: ignore[attr-defined]
        result = produce_events(events, target, rate=rate, on_progress=_show(progress, task))
    _finish(result, f"{topic} at {bootstrap_servers}")
