"""``kflow replay --from-dead-letter TOPIC FLOW``: run dead-lettered records through FLOW again."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from kflow.run import DEFAULT_CONCURRENCY

HELP = """Run the records a dead letter holds through FLOW again.

The dead letter is a Kafka topic or an AMQP queue, as kflow run --dead-letter
wrote it, on the broker of FLOW's trigger. Records are read by FLOW's own
trigger (so they decode as the original did), up to what the dead letter held
when the replay started; then it stops and prints a summary. A record whose
execution succeeds is acknowledged (Kafka: its offset committed in the replay
group). One that fails again is appended to the dead letter again, with fresh
kflow.* headers, before the original is acknowledged: it stays in the dead
letter, and the next replay sees it. Exits 1 when a record failed again.
"""


def command(
    flow: Path = typer.Argument(
        ..., help="The flow file to run the records through.", show_default=False, exists=True
    ),
    dead_letter: str = typer.Option(
        ...,
        "--from-dead-letter",
        metavar="TOPIC|QUEUE",
        help="The dead letter: a Kafka topic or an AMQP queue, as kflow run --dead-letter "
        "wrote it, on the trigger's own broker.",
        show_default=False,
    ),
    group_id: str | None = typer.Option(
        None, "--group-id", help="Kafka: the replay consumer group (default: kflow-replay-TOPIC)."
    ),
    bootstrap_servers: str | None = typer.Option(
        None,
        "--bootstrap-servers",
        envvar="KFLOW_BOOTSTRAP_SERVERS",
        help="Kafka: brokers to use instead of the trigger's bootstrap.servers.",
    ),
    concurrency: int = typer.Option(
        DEFAULT_CONCURRENCY, "--concurrency", min=1, help="Executions that may run at once."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0, help="Stop cleanly after this many seconds."
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print one JSON object per finished execution on stdout."
    ),
    history: Path | None = typer.Option(
        None,
        "--history",
        envvar="KFLOW_HISTORY",
        metavar="FILE",
        help="Keep the replays' executions in this history file (off unless given).",
        dir_okay=False,
    ),
    no_history: bool = typer.Option(
        False, "--no-history", help="Keep no execution history, even with KFLOW_HISTORY set."
    ),
    state_dir: Path | None = typer.Option(
        None,
        "--state-dir",
        envvar="KFLOW_STATE_DIR",
        help="The state directory (default: .kflow/state).",
        file_okay=False,
    ),
) -> None:
    from kflow.cli.flow_loading import load_or_exit
    from kflow.history.dead_letter import replay_dead_letter
    from kflow.run.session import RunOptions

    loaded = load_or_exit(flow)
    options = RunOptions(
        json_output=json_output,
        timeout=timeout,
        concurrency=concurrency,
        bootstrap_servers=bootstrap_servers,
        state_dir=str(state_dir) if state_dir is not None else None,
        history=str(history) if history is not None else None,
        no_history=no_history,
    )

    def notify(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    result = replay_dead_letter(loaded, dead_letter, group=group_id, options=options, notify=notify)
    if not result.held:
        print(
            f"kflow replay: {dead_letter}: nothing to replay"
            + (f" (group {result.group} has committed everything)" if result.group else ""),
            file=sys.stderr,
        )
        raise typer.Exit(0)
    print(result.line(), file=sys.stderr)
    failed = result.summary.by_state.get("FAILED", 0) + result.summary.by_state.get("KILLED", 0)
    raise typer.Exit(1 if failed or result.summary.stopped_by == "killed" else 0)


command.__doc__ = HELP
