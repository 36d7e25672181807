"""``kflow executions list|show|replay``: the execution history ``kflow run`` keeps."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kflow.engine.states import State

if TYPE_CHECKING:
    from rich.console import Console

    from kflow.flow.model import Flow
    from kflow.history.store import HistoryStore

app = typer.Typer(
    help="List, show and replay the executions kflow run kept in its history file.",
    no_args_is_help=True,
)

_HISTORY_HELP = (
    "The history file kflow run --history wrote (default: KFLOW_HISTORY, else history.sqlite "
    "in the state directory)."
)
_STATE_DIR_HELP = "The state directory whose history.sqlite to read (default: .kflow/state)."


def _history_option() -> Path | None:
    return typer.Option(
        None,
        "--history",
        envvar="KFLOW_HISTORY",
        metavar="FILE",
        help=_HISTORY_HELP,
        dir_okay=False,
    )


def _state_dir_option() -> Path | None:
    return typer.Option(
        None, "--state-dir", envvar="KFLOW_STATE_DIR", help=_STATE_DIR_HELP, file_okay=False
    )


def _open(history: Path | None, state_dir: Path | None) -> HistoryStore:
    from kflow.history.store import HistoryStore
    from kflow.history.writer import history_path

    path = history_path(str(history) if history else None, str(state_dir) if state_dir else None)
    return HistoryStore.open_existing(path)


def _console() -> Console:
    from rich.console import Console

    # Not a terminal: wide enough that a task run's line is not wrapped.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)


@app.command("list")
def list_command(
    flow: str | None = typer.Option(None, "--flow", help="Only executions of this flow id."),
    namespace: str | None = typer.Option(
        None, "--namespace", help="Only executions of flows in this namespace."
    ),
    state: str | None = typer.Option(
        None, "--state", help="Only executions that ended in this state (FAILED, SUCCESS...)."
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Only executions that ended since then: an age (30m, 1h, 7d) or an ISO date.",
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most N executions."),
    json_output: bool = typer.Option(
        False, "--json", help="Print each stored record as one JSON object per line."
    ),
    history: Path | None = _history_option(),
    state_dir: Path | None = _state_dir_option(),
) -> None:
    """List stored executions, the last to end first (a table on a terminal, else one line
    each)."""
    from kflow.errors import UsageError
    from kflow.history.display import plain_line, table
    from kflow.history.durations import parse_since

    if state is not None and state.upper() not in State.__members__:
        names = ", ".join(State.__members__)
        raise UsageError(f"--state: {state!r} is not a state ({names})")
    since_ms = int(parse_since(since).timestamp() * 1000) if since else None
    store = _open(history, state_dir)
    try:
        rows = store.list(
            flow_id=flow,
            namespace=namespace,
            state=state.upper() if state else None,
            since_ms=since_ms,
            limit=limit,
        )
    finally:
        store.close()
    if json_output:
        for row in rows:
            print(row.record)
    elif sys.stdout.isatty():
        _console().print(table(rows))
    else:
        for row in rows:
            print(plain_line(row))


@app.command("show")
def show_command(
    execution_id: str = typer.Argument(
        ..., metavar="ID", help="The execution id (a unique prefix is enough).", show_default=False
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the stored record as JSON."),
    history: Path | None = _history_option(),
    state_dir: Path | None = _state_dir_option(),
) -> None:
    """Show one execution: its trigger, each task run with state, attempts and a duration
    bar, outputs and the error."""
    from kflow.history.display import tree

    store = _open(history, state_dir)
    try:
        row = store.get(execution_id)
    finally:
        store.close()
    if json_output:
        print(row.record)
    else:
        _console().print(tree(json.loads(row.record)))


@app.command("replay")
def replay_command(
    execution_ids: list[str] = typer.Argument(
        ..., metavar="ID...", help="The executions to run again.", show_default=False
    ),
    flow: Path | None = typer.Option(
        None,
        "--flow",
        help="Run this flow file instead of the one the execution ran (it must be the same "
        "namespace and id).",
        dir_okay=False,
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would run; run nothing."),
    json_output: bool = typer.Option(
        False, "--json", help="Print one JSON object per new execution."
    ),
    history: Path | None = _history_option(),
    state_dir: Path | None = _state_dir_option(),
) -> None:
    """Run each execution's flow again on the same trigger value and key (as kflow run
    --event does); the new execution is kept in the history with replayOf set. Exits 1
    unless every replay ended SUCCESS or WARNING."""
    from kflow.cli.flow_loading import load_or_exit
    from kflow.errors import UsageError
    from kflow.history.replay import plan_replay
    from kflow.history.writer import history_path
    from kflow.run.session import RunOptions, run_event

    store = _open(history, state_dir)
    try:
        plans = [plan_replay(store, i, flow) for i in execution_ids]
        path = store.path
    finally:
        store.close()
    if dry_run:
        for plan in plans:
            print(plan.describe())
        return
    loaded: dict[Path, Flow] = {}
    for plan in plans:
        if plan.flow_path not in loaded:
            loaded[plan.flow_path] = load_or_exit(plan.flow_path)
        if loaded[plan.flow_path].ref != plan.flow_ref:
            raise UsageError(
                f"{plan.flow_path} is flow {loaded[plan.flow_path].ref}; execution "
                f"{plan.execution_id} ran {plan.flow_ref}"
            )
    code = 0
    for plan in plans:
        print(f"kflow: {plan.describe()}", file=sys.stderr)
        options = RunOptions(
            json_output=json_output,
            history=str(history_path(str(path), None)),
            state_dir=str(state_dir) if state_dir else None,
            replay_of=plan.execution_id,
        )
        code = max(code, run_event(loaded[plan.flow_path], plan.event, plan.key, options))
    raise typer.Exit(code)
