"""``kflow run FLOW``: run a flow in the foreground, one execution per trigger event."""

from __future__ import annotations

from pathlib import Path

import typer

HELP = """Run FLOW in the foreground: one execution per event of its Kafka realtime trigger.

On a terminal a live view shows the trigger, counts, rate, latency and recent
executions; otherwise one line per execution is printed. Offsets are committed
only for executions that have finished. Ctrl-C (or SIGTERM) stops reading,
finishes what is in flight, commits and exits 0; a second Ctrl-C stops at once.
"""


def command(
    flow: Path = typer.Argument(..., help="The flow file (Kestra YAML).", show_default=False),
    json_output: bool = typer.Option(
        False, "--json", help="Print one JSON object per finished execution on stdout."
    ),
    max_executions: int | None = typer.Option(
        None, "--max-executions", min=1, help="Stop cleanly after N executions have started."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0, help="Stop cleanly after this many seconds."
    ),
    event: str | None = typer.Option(
        None, "--event", help="Run one execution with this trigger value, without Kafka."
    ),
    key: str | None = typer.Option(None, "--key", help="The trigger key that goes with --event."),
    concurrency: int = typer.Option(
        64,
        "--concurrency",
        min=1,
        help="Executions that may run at once (a flow's concurrency.limit may lower it).",
    ),
    from_beginning: bool = typer.Option(
        False,
        "--from-beginning",
        help="Start at the earliest offset when the group has no committed offset.",
    ),
    group_id: str | None = typer.Option(
        None, "--group-id", help="Consumer group to use instead of the trigger's groupId."
    ),
    dead_letter_topic: str | None = typer.Option(
        None,
        "--dead-letter-topic",
        help="Send the record of every execution that finally FAILED to this topic "
        "(unchanged, with kflow.* headers saying why) before committing it.",
    ),
    topic: str | None = typer.Option(
        None, "--topic", help="Topic to read instead of the trigger's topic or topicPattern."
    ),
    bootstrap_servers: str | None = typer.Option(
        None,
        "--bootstrap-servers",
        envvar="KFLOW_BOOTSTRAP_SERVERS",
        help="Kafka brokers to use instead of the trigger's bootstrap.servers.",
    ),
    input_values: list[str] = typer.Option(
        [],
        "--input",
        metavar="NAME=VALUE",
        help="A value for one of the flow's inputs (repeatable), typed and checked as the "
        "input declares; inputs not given take their defaults.",
    ),
    inputs_file: Path | None = typer.Option(
        None,
        "--inputs-file",
        help="A YAML or JSON mapping of input names to values (--input wins).",
        exists=True,
        dir_okay=False,
    ),
) -> None:
    from kflow.cli.flow_loading import inputs_or_exit, load_or_exit
    from kflow.run.session import RunOptions, run_event, run_flow

    loaded = load_or_exit(flow)
    inputs = inputs_or_exit(loaded, input_values, inputs_file)
    options = RunOptions(
        json_output=json_output,
        max_executions=max_executions,
        timeout=timeout,
        concurrency=concurrency,
        from_beginning=from_beginning,
        group_id=group_id,
        topic=topic,
        dead_letter_topic=dead_letter_topic,
        bootstrap_servers=bootstrap_servers,
        inputs=inputs,
    )
    if event is not None:
        raise typer.Exit(run_event(loaded, event, key, options))
    raise typer.Exit(run_flow(loaded, options))


command.__doc__ = HELP
