"""``kflow run FLOW``: run a flow in the foreground, one execution per trigger event."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from kflow.history import DEFAULT_MAX_ROWS
from kflow.observe.logs import LogFormat
from kflow.run import DEFAULT_CONCURRENCY

HELP = """Run flows in the foreground: one execution per message of each one's realtime trigger.

The trigger may read Kafka, RabbitMQ (AMQP), MQTT, NATS, Redis or a database's
change stream (PostgreSQL, MySQL/MariaDB). On a terminal a live view
shows the trigger, counts, rate, latency and recent executions; otherwise one
line per execution is printed. A message is acknowledged (Kafka: its offset
committed) only once its execution has finished. Ctrl-C (or SIGTERM) stops
reading, finishes what is in flight, acknowledges it and exits 0; a second
Ctrl-C stops at once.

Several flows (files, or directories of *.yaml / *.yml flows) run side by side in one
process, each with its own trigger, sharing connections; all are validated before any
connects. --watch picks up flow files edited, added or removed while running.
"""


class Ordering(StrEnum):
    key = "key"
    none = "none"


def command(
    flows: list[Path] = typer.Argument(
        ...,
        help="Flow files (Kestra YAML), or directories of *.yaml / *.yml flows.",
        show_default=False,
        metavar="FLOW_OR_DIR",
    ),
    watch: bool = typer.Option(
        False,
        "--watch",
        help="Pick up flow files edited, added or removed while running: a valid edit "
        "replaces the running version once it has finished its in-flight executions; an "
        "invalid one is reported and the running version goes on.",
    ),
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
        None,
        "--event",
        help="Run one execution with this trigger value (decoded as the trigger would), "
        "without a broker.",
    ),
    key: str | None = typer.Option(None, "--key", help="The trigger key that goes with --event."),
    concurrency: int = typer.Option(
        DEFAULT_CONCURRENCY,
        "--concurrency",
        min=1,
        help="Executions that may run at once (a flow's concurrency.limit may lower it).",
    ),
    from_beginning: bool = typer.Option(
        False,
        "--from-beginning",
        help="Kafka: start at the earliest offset when the group has no committed offset.",
    ),
    dead_letter: str | None = typer.Option(
        None,
        "--dead-letter",
        "--dead-letter-topic",
        metavar="TARGET",
        help="Send the message of every execution that finally FAILED here (unchanged, with "
        "kflow.* headers saying why) before acknowledging it: a Kafka topic, an AMQP queue "
        "or an MQTT topic, on the trigger's own broker.",
    ),
    settings: list[str] = typer.Option(
        [],
        "--set",
        metavar="NAME=VALUE",
        help="Set a trigger property (repeatable; VALUE is read as YAML; "
        "properties.bootstrap.servers=... sets one entry of a map property).",
    ),
    group_id: str | None = typer.Option(
        None, "--group-id", help="Kafka: consumer group instead of the trigger's groupId."
    ),
    topic: str | None = typer.Option(
        None, "--topic", help="Kafka: topic to read instead of the trigger's topic or topicPattern."
    ),
    bootstrap_servers: str | None = typer.Option(
        None,
        "--bootstrap-servers",
        envvar="KFLOW_BOOTSTRAP_SERVERS",
        help="Kafka: brokers to use instead of the trigger's bootstrap.servers.",
    ),
    input_values: list[str] = typer.Option(
        [],
        "--input",
        metavar="NAME=VALUE",
        help="A value for one of the flow's inputs (repeatable), typed and checked as the "
        "input declares; inputs not given take their defaults.",
    ),
    state_dir: Path | None = typer.Option(
        None,
        "--state-dir",
        envvar="KFLOW_STATE_DIR",
        help="Where triggers that keep their own position (Debezium MySQL/MariaDB binlog) "
        "store it between runs (default: .kflow/state).",
        file_okay=False,
    ),
    ordering: Ordering = typer.Option(
        Ordering.key,
        "--ordering",
        help="key: messages with the same key (Kafka key, MQTT topic, NATS subject, CDC row) "
        "run one after another, in order; none: every message runs as soon as a slot is "
        "free (faster on a busy topic or subject whose messages do not depend on each other). "
        "Acknowledgements keep their guarantees either way.",
        case_sensitive=False,
    ),
    inputs_file: Path | None = typer.Option(
        None,
        "--inputs-file",
        help="A YAML or JSON mapping of input names to values (--input wins).",
        exists=True,
        dir_okay=False,
    ),
    history: Path | None = typer.Option(
        None,
        "--history",
        envvar="KFLOW_HISTORY",
        metavar="FILE",
        help="Keep every finished execution in this SQLite file, for kflow executions "
        "(off unless given; it costs CPU per execution, see the README).",
        dir_okay=False,
    ),
    no_history: bool = typer.Option(
        False, "--no-history", help="Keep no execution history, even with KFLOW_HISTORY set."
    ),
    history_max_rows: int = typer.Option(
        DEFAULT_MAX_ROWS,
        "--history-max-rows",
        min=1,
        help="Keep at most this many executions in the history (the oldest go first).",
    ),
    history_max_age: str | None = typer.Option(
        None,
        "--history-max-age",
        metavar="AGE",
        help="Forget executions that ended longer ago than AGE (30m, 12h, 7d).",
    ),
    metrics_port: int | None = typer.Option(
        None,
        "--metrics-port",
        min=0,
        max=65535,
        metavar="PORT",
        help="Serve Prometheus metrics at /metrics, liveness at /healthz and readiness "
        "(trigger connected and reading) at /readyz on this port; 0 picks a free port, "
        "named on stderr.",
    ),
    metrics_address: str = typer.Option(
        "127.0.0.1",
        "--metrics-address",
        metavar="ADDRESS",
        help="The address --metrics-port listens on (0.0.0.0: every interface).",
    ),
    log_format: LogFormat = typer.Option(
        LogFormat.text,
        "--log-format",
        help="text, or json: every line written to stderr is one JSON object (ts, level, "
        "message, flow) for log collectors; stdout is unchanged.",
    ),
) -> None:
    from kflow.cli.flow_loading import inputs_or_exit, load_all_or_exit
    from kflow.engine.overrides import parse_overrides
    from kflow.history.durations import parse_age
    from kflow.run.session import RunOptions, run_event, run_flow

    json_logs = None
    if log_format is LogFormat.json:
        from kflow.observe.logs import use_json_stderr

        json_logs = use_json_stderr()
    one_file = len(flows) == 1 and not flows[0].is_dir()
    if not one_file:
        given = {
            "--event": event is not None,
            "--key": key is not None,
            "--set": bool(settings),
            "--topic": topic is not None,
            "--group-id": group_id is not None,
            "--input": bool(input_values),
            "--inputs-file": inputs_file is not None,
        }
        for flag in (f for f, on in given.items() if on):
            print(
                f"kflow: {flag} applies to one flow; give one flow file, or set it in each flow",
                file=sys.stderr,
            )
            raise typer.Exit(2)
    watcher = None
    if watch:
        from kflow.run.watch import FlowFileWatch

        watcher = FlowFileWatch(flows)
        watcher.start()  # before loading: an edit made while loading is picked up
    loaded = load_all_or_exit(flows, allow_none=watch)
    if json_logs is not None and len(loaded) == 1 and one_file:
        json_logs.flow = loaded[0].ref
    inputs = inputs_or_exit(loaded[0], input_values, inputs_file) if one_file else None
    options = RunOptions(
        json_output=json_output,
        max_executions=max_executions,
        timeout=timeout,
        concurrency=concurrency,
        from_beginning=from_beginning,
        group_id=group_id,
        topic=topic,
        dead_letter=dead_letter,
        bootstrap_servers=bootstrap_servers,
        overrides=parse_overrides(settings),
        inputs=inputs,
        state_dir=str(state_dir) if state_dir is not None else None,
        history=str(history) if history is not None else None,
        no_history=no_history,
        history_max_rows=history_max_rows,
        history_max_age=(
            parse_age(history_max_age, "--history-max-age") if history_max_age else None
        ),
        metrics_port=metrics_port,
        metrics_address=metrics_address,
        ordered=ordering is Ordering.key,
    )
    if event is not None:
        raise typer.Exit(run_event(loaded[0], event, key, options))
    raise typer.Exit(run_flow(loaded, options, watch=watcher, many=not one_file))


command.__doc__ = HELP
