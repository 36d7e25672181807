"""The ``kflow run`` listener that keeps every finished execution in the history file.

On the event loop it only appends the finished execution to a queue. One background
thread takes the queue every ``FLUSH_EVERY_S`` (or as soon as ``BATCH_ROWS`` are waiting),
builds and encodes the records and writes them in one transaction per batch, and prunes
the file to its bounds every ``PRUNE_EVERY_S``.

:meth:`HistoryWriter.close` (a clean stop) writes everything queued before it returns. A
killed process loses what was queued and not yet written: at most the last batch, about
``FLUSH_EVERY_S`` of executions. Acknowledgements to the broker never wait for the history.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kflow.engine.events import Event, ExecutionFinished
from kflow.engine.execution import Execution
from kflow.history import DEFAULT_MAX_ROWS
from kflow.history.record import PendingRecord, history_row, pending_record
from kflow.history.store import FILE_NAME, HistoryStore

if TYPE_CHECKING:
    from kflow.flow.model import Flow
    from kflow.run.session import RunOptions

FLUSH_EVERY_S = 0.1
BATCH_ROWS = 500
PRUNE_EVERY_S = 5.0


def history_path(option: str | None, state_dir_option: str | None) -> Path:
    """``--history``, else ``history.sqlite`` in the state directory (``--state-dir``,
    ``$KFLOW_STATE_DIR``, ``.kflow/state``: the rule of :mod:`kflow.state.positions`)."""
    from kflow.state.positions import state_dir

    return Path(option) if option else state_dir(state_dir_option) / FILE_NAME


class HistoryWriter:
    def __init__(
        self,
        path: str | Path,
        *,
        max_rows: int | None = DEFAULT_MAX_ROWS,
        max_age_s: float | None = None,
        flow_path: str | Callable[[Execution], str | None] | None = None,
        replay_of: str | Callable[[Execution], str | None] | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.store = HistoryStore.open(path)  # fails here, before the run starts
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self.flow_path = flow_path
        self.replay_of = replay_of
        self.notify = notify
        self.written = 0
        self.lost = 0
        self._queue: deque[PendingRecord] = deque()
        self._wake = threading.Event()
        self._closing = False
        self._pruned = 0.0
        self._thread = threading.Thread(target=self._run, name="kflow-history", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        if isinstance(event, ExecutionFinished):
            execution = event.execution
            replay_of = self.replay_of(execution) if callable(self.replay_of) else self.replay_of
            flow_path = self.flow_path(execution) if callable(self.flow_path) else self.flow_path
            self._queue.append(pending_record(execution, flow_path=flow_path, replay_of=replay_of))
            if len(self._queue) >= BATCH_ROWS:
                self._wake.set()

    def close(self) -> None:
        """Write everything queued, prune, and close the file."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        self._thread.join()
        self.store.close()

    # the history thread ------------------------------------------------------------

    def _run(self) -> None:
        self._prune()
        while True:
            self._wake.wait(FLUSH_EVERY_S)
            self._wake.clear()
            closing = self._closing
            while self._queue:
                self._write_batch()
            if closing:
                self._prune()
                return
            if time.monotonic() - self._pruned >= PRUNE_EVERY_S:
                self._prune()

    def _write_batch(self) -> None:
        batch: list[PendingRecord] = []
        while self._queue and len(batch) < BATCH_ROWS:
            batch.append(self._queue.popleft())
        try:
            self.store.insert([history_row(p) for p in batch])
        except Exception as exc:  # the run goes on; the history says what it lost
            self.lost += len(batch)
            self._tell(f"kflow: history {self.store.path}: {len(batch)} executions not kept: {exc}")
        else:
            self.written += len(batch)

    def _prune(self) -> None:
        self._pruned = time.monotonic()
        if self.max_rows is None and self.max_age_s is None:
            return
        try:
            self.store.prune(
                max_rows=self.max_rows, max_age_s=self.max_age_s, now_ms=int(time.time() * 1000)
            )
        except Exception as exc:
            self._tell(f"kflow: history {self.store.path}: cannot prune: {exc}")

    def _tell(self, line: str) -> None:
        if self.notify is not None:
            self.notify(line)


def flow_file(flow: Flow) -> str | None:
    """The absolute path of the flow's file, as the history keeps it for a replay."""
    return str(Path(flow.source_path).resolve()) if flow.source_path else None


def start_history(
    flow: Flow | Callable[[Execution], str | None],
    options: RunOptions,
    notify: Callable[[str], None] | None = None,
    *,
    replay_of: Callable[[Execution], str | None] | None = None,
) -> HistoryWriter | None:
    """The history listener ``options`` ask for: None unless ``--history FILE`` (or
    ``KFLOW_HISTORY``) was given, or with ``--no-history``. ``flow``: the one flow run, or
    (many flows) the path of each execution's flow file."""
    if options.no_history or options.history is None:
        return None
    return HistoryWriter(
        history_path(options.history, options.state_dir),
        max_rows=options.history_max_rows,
        max_age_s=options.history_max_age,
        flow_path=flow if callable(flow) else flow_file(flow),
        replay_of=replay_of or options.replay_of,
        notify=notify,
    )
