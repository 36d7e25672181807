"""The contenders as child processes, watched from their output.

- ``kflow`` / ``kflow-plain``: ``kflow run`` on the blog flow with ``--json``
  (each line gives the record's coordinates and timestamp and the execution's
  end) or with the plain writer (one line per finished execution, timed as it
  arrives on the pipe);
- ``naive`` / ``optimized`` / ``tuned``: the hand-written baselines (``tuned``: the
  optimized one with kflow's client settings, ``--tuned``), which print ``n=<count>``
  progress lines and save their per-record measurements to a JSON file.

The bench shares the machine's cores with the contender it watches, so while the
contender runs it only counts lines (bytes compared in C, per chunk read from the
pipe) and keeps the raw output; the lines are parsed once the contender has exited.

CPU time comes from the OS: ``/proc/<pid>/stat`` sampled when the first and the
last awaited record are done (the window in which records were processed), and
the child's total CPU from ``wait4`` when it exits; the peak RSS is ``VmHWM``,
sampled while it runs (first, every 200th and last awaited record). With
``servers``, the CPU of Kafka, Cassandra and FerretDB (:mod:`bench.servers`) is
sampled at the same two points.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.servers import (
    KAFKA_PIPELINE,
    busy_rates,
    per_1000,
    proc_cpu,
    server_cpu,
    server_pids,
)
from bench.stack import (
    BOOTSTRAP,
    CASSANDRA_HOST,
    DATABASE,
    KFLOW,
    KFLOW_ENV,
    MONGO_URI,
    PYTHON,
    REPO,
    flow_copy,
)

CPU_SAMPLE_EVERY = 200  # lines

KFLOW_CONCURRENCY = 256
"""kflow's executions in flight: the optimized baseline keeps 256 lookups in flight."""
KFLOW_NAMES = ("kflow", "kflow-plain")
STATES = {"SUCCESS", "WARNING", "FAILED", "KILLED", "SKIPPED", "RUNNING", "CREATED", "RETRYING"}
BASELINES = {
    "naive": ["baseline_naive.py"],
    "optimized": ["baseline_optimized.py"],
    "tuned": ["baseline_optimized.py", "--tuned"],
}
"""Script (and options) of each hand-written baseline."""
PLAIN_STARTS = tuple(b"\n" + state.encode() + b" " for state in sorted(STATES))
"""How a line of the plain writer starts (after the newline ending the one before)."""
READ_CHUNK = 1 << 16
SERVERS_BEFORE_S = 1.0
"""Seconds over which the servers' CPU is sampled before a contender starts (``servers``)."""
RECEIVED_LINE = b"\nreceived\n"
"""What a baseline prints when its first record arrives (``bench/recorder.py``), after the
newline ending the line before."""


def proc_peak_rss_mb(pid: int) -> float | None:
    """``VmHWM`` of a live process: its peak resident set since its ``exec``.

    (The rusage of ``wait4`` is no use here: Linux folds the parent's resident
    set at ``fork`` into the child's ``ru_maxrss``.)
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@dataclass
class Outcome:
    """What one contender did: per-record timings, states, CPU and memory."""

    name: str
    target: int
    # (partition, offset, record timestamp ms, done ms since the epoch)
    done: list[tuple[int, int, int, float]] = field(default_factory=list)
    count: int = 0  # records done (while it runs: counted from the raw output)
    first_ms: float | None = None  # when the first record arrived (None: unknown)
    states: dict[str, int] = field(default_factory=dict)
    cpu_first: float | None = None
    cpu_last: float | None = None
    cpu_records: int = 0  # records done between the two CPU samples
    cpu_total: float = 0.0
    max_rss_mb: float = 0.0
    # servers' CPU seconds at the first progress line and at the target, and the count then
    servers_first: dict[str, float | None] = field(default_factory=dict)
    servers_last: dict[str, float | None] = field(default_factory=dict)
    servers_count_first: int = 0
    servers_count_last: int = 0
    servers_window_s: float | None = None  # seconds between the two samples
    # servers' CPU seconds per second in the second before the contender started
    servers_before: dict[str, float | None] = field(default_factory=dict)
    exit_code: int | None = None
    stderr_tail: str = ""
    timed_out: bool = False

    @property
    def complete(self) -> bool:
        return self.count >= self.target

    def window(self) -> tuple[float, float] | None:
        """First and last done times (ms since the epoch) of the awaited records."""
        if len(self.done) < 2:
            return None
        times = [d[3] for d in self.done]
        return min(times), max(times)

    def throughput(self) -> float | None:
        """Records per second from the first record's arrival to the last document stored.

        Where the arrival is unknown (plain writer), from the first execution's end:
        (n - 1) records in that window.
        """
        w = self.window()
        if w is None:
            return None
        if self.first_ms is not None and w[1] > self.first_ms:
            return len(self.done) / ((w[1] - self.first_ms) / 1000)
        if w[1] <= w[0]:
            return None
        return (len(self.done) - 1) / ((w[1] - w[0]) / 1000)

    def cpu_per_1000(self) -> float | None:
        if self.cpu_first is None or self.cpu_last is None or self.cpu_records < 1:
            return None
        return (self.cpu_last - self.cpu_first) / self.cpu_records * 1000

    def server_cpu_per_1000(self) -> dict[str, float | None]:
        """Each server's CPU seconds per 1,000 records, over the bench's two samples."""
        records = self.servers_count_last - self.servers_count_first
        return per_1000(self.servers_first, self.servers_last, records)


class Contender:
    """One running contender; :meth:`wait_for` blocks until ``n`` records are done.

    With ``servers``, the CPU of the blog pipeline's servers is sampled at the first
    progress line and at the target (:meth:`Outcome.server_cpu_per_1000`).
    """

    def __init__(
        self,
        name: str,
        *,
        topic: str,
        group: str,
        collection: str,
        target: int,
        workdir: Path,
        wrap: list[str] | None = None,
        servers: bool = False,
    ) -> None:
        self.name = name
        self.outcome = Outcome(name, target)
        self._result_file = workdir / f"{collection}.result.json"
        self._stderr_path = workdir / f"{collection}.stderr"
        if name in KFLOW_NAMES:
            flow = flow_copy(workdir, collection)
            cmd = [
                *KFLOW,
                "run",
                str(flow),
                "--topic",
                topic,
                "--group-id",
                group,
                "--from-beginning",
                "--max-executions",
                str(target),
                "--bootstrap-servers",
                BOOTSTRAP,
                "--concurrency",
                str(KFLOW_CONCURRENCY),
            ]
            if name == "kflow":
                cmd.append("--json")
            if wrap:
                cmd = [*wrap, *cmd]
        else:
            script, *options = BASELINES[name]
            cmd = [
                str(PYTHON),
                str(REPO / "bench" / script),
                *options,
                "--topic",
                topic,
                "--group",
                group,
                "--collection",
                collection,
                "--database",
                DATABASE,
                "--count",
                str(target),
                "--out",
                str(self._result_file),
                "--bootstrap",
                BOOTSTRAP,
                "--cassandra-host",
                CASSANDRA_HOST,
                "--mongo-uri",
                MONGO_URI,
            ]
        env = {
            **KFLOW_ENV,
            "ENV_MONGO_URI": MONGO_URI,
            "ENV_CASSANDRA_HOST": CASSANDRA_HOST,
            "ENV_KAFKA_BOOTSTRAP": BOOTSTRAP,
        }
        # found before the contender starts: the scan of /proc is not in its window
        self._servers = server_pids(KAFKA_PIPELINE) if servers else {}
        if servers:  # what the servers spend without the contender (others on the machine)
            self.outcome.servers_before = busy_rates(self._servers, SERVERS_BEFORE_S)
        # (arrival ms since the epoch, complete lines read at that moment), parsed at the end
        self._chunks: list[tuple[float, bytes]] = []
        self._next_rss = 1
        self._wanted = 1
        self._received = False  # a record was done, or (baselines) the first one arrived
        self._count_first: int | None = None  # the count at the first sample
        self._sampled_last = False
        self._first_at = 0.0  # time.monotonic() at the first sample
        self._stderr = self._stderr_path.open("w")
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=self._stderr, env=env, bufsize=0
        )
        self.pid = self.proc.pid
        self._progress = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # output -----------------------------------------------------------------------

    def _read(self) -> None:
        """Read the output as it comes, keeping it raw; count the records done.

        Per read (not per line): a few byte searches in C, and a sample of CPU, RSS and
        the servers when the count passes a sampling point. Nothing is decoded here.
        """
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        o = self.outcome
        partial = b""
        while True:
            chunk = os.read(fd, READ_CHUNK)
            arrived_ms = time.time() * 1000
            if chunk:
                end = chunk.rfind(b"\n") + 1
                if not end:
                    partial += chunk
                    continue
                lines, partial = partial + chunk[:end], chunk[end:]
            elif partial:  # a last line without its newline
                lines, partial = partial + b"\n", b""
            else:
                break
            self._chunks.append((arrived_ms, lines))
            o.count = self._counted(lines, o.count)
            if not self._received:
                self._received = o.count > 0 or (b"\n" + lines).find(RECEIVED_LINE) >= 0
            self._sample()
            if o.count >= self._wanted:
                with self._progress:
                    self._progress.notify_all()
        with self._progress:
            self._progress.notify_all()

    def _counted(self, lines: bytes, count: int) -> int:
        """The record count once ``lines`` (complete lines) are read."""
        if self.name == "kflow":  # an execution is a line starting with "{"
            return count + lines.count(b"\n{") + lines.startswith(b"{")
        if self.name == "kflow-plain":  # a line starting with a state
            text = b"\n" + lines
            return count + sum(text.count(start) for start in PLAIN_STARTS)
        at = (b"\n" + lines).rfind(b"\nn=")  # the baselines' last "n=<count>" line
        if at < 0:
            return count
        return int(lines[at + 2 : lines.index(b"\n", at)])

    def _sample(self) -> None:
        """CPU, servers' CPU, RSS at the first progress line, the target, every 200th."""
        o = self.outcome
        first = self._received and self._count_first is None
        last = o.count >= o.target and not self._sampled_last
        if first or last or o.count >= self._next_rss:
            self._next_rss = o.count + CPU_SAMPLE_EVERY
            rss = proc_peak_rss_mb(self.pid)
            if rss is not None:
                o.max_rss_mb = max(o.max_rss_mb, rss)
        if first:
            if self.name in KFLOW_NAMES:
                o.cpu_first = proc_cpu(self.pid)
            o.servers_first = server_cpu(self._servers)
            o.servers_count_first = self._count_first = o.count
            self._first_at = time.monotonic()
        if last and self._count_first is not None:
            self._sampled_last = True
            if self.name in KFLOW_NAMES:
                o.cpu_last = proc_cpu(self.pid)
                o.cpu_records = o.count - self._count_first
            o.servers_last = server_cpu(self._servers)
            o.servers_count_last = o.count
            o.servers_window_s = round(time.monotonic() - self._first_at, 3)

    def _parse(self) -> None:
        """The stored output of a kflow run, parsed now that it has exited."""
        o = self.outcome
        o.done, o.states, o.count = [], {}, 0
        for arrived_ms, lines in self._chunks:
            for raw in lines.splitlines():
                if self.name == "kflow":
                    if raw.startswith(b"{"):
                        self._execution(json.loads(raw))
                    continue
                state = raw.split(b" ", 1)[0].decode("utf-8", "replace")
                if state in STATES:
                    o.states[state] = o.states.get(state, 0) + 1
                    if o.count < o.target:
                        o.done.append((-1, -1, 0, arrived_ms))
                    o.count += 1

    def _execution(self, ex: dict[str, Any]) -> None:
        o = self.outcome
        o.states[ex["state"]] = o.states.get(ex["state"], 0) + 1
        t = ex["trigger"]
        end = datetime.fromisoformat(ex["endDate"]).timestamp() * 1000
        start = datetime.fromisoformat(ex["startDate"]).timestamp() * 1000
        if o.first_ms is None or start < o.first_ms:
            o.first_ms = start
        if o.count < o.target:
            o.done.append((t["partition"], t["offset"], t["timestamp"], end))
        o.count += 1

    # control ----------------------------------------------------------------------

    def wait_for(self, n: int, timeout: float) -> bool:
        """True once ``n`` records are done; False on timeout or if the output ended first."""
        deadline = time.monotonic() + timeout
        with self._progress:
            self._wanted = n
            while self.outcome.count < n:
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    return self.outcome.count >= n
                self._progress.wait(min(left, 0.5))
        return True

    def _reap(self, block: bool) -> bool:
        """Collect the exited child with its total CPU (rusage); False if still running."""
        pid, status, usage = os.wait4(self.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return False
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.outcome.cpu_total = usage.ru_utime + usage.ru_stime
        return True

    def _reap_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._reap(block=False):
                return True
            time.sleep(0.05)
        return False

    def finish(self, timeout: float) -> Outcome:
        """Wait for the process to stop by itself (SIGTERM, then SIGKILL, after ``timeout``);
        then parse what it printed."""
        o = self.outcome
        if not self._reap_within(timeout):
            o.timed_out = True
            os.kill(self.pid, signal.SIGTERM)
            if not self._reap_within(20):
                os.kill(self.pid, signal.SIGKILL)
                self._reap(block=True)
        self._reader.join(10)
        o.exit_code = self.proc.returncode
        self._stderr.close()
        o.stderr_tail = self._stderr_path.read_text(errors="replace")[-1500:]
        if self.name in BASELINES:
            self._load_baseline_result()
        else:
            self._parse()
        return o

    def _load_baseline_result(self) -> None:
        o = self.outcome
        try:
            data = json.loads(self._result_file.read_text())
        except (OSError, ValueError):
            return
        o.done = [tuple(r) for r in data["records"]][: o.target]  # type: ignore[misc]
        o.count = len(data["records"])
        o.states = {"SUCCESS": o.count}
        o.first_ms = data["first_ms"]
        o.cpu_first, o.cpu_last = data["cpu_first"], data["cpu_last"]
        o.cpu_records = len(o.done) - 1  # the recorder's window: first arrival -> last done
