"""The three contenders as child processes, watched from their output.

- ``kflow`` / ``kflow-plain``: ``kflow run`` on the blog flow with ``--json``
  (each line gives the record's coordinates and timestamp and the execution's
  end) or with the plain writer (one line per finished execution, timed as it
  arrives on the pipe);
- ``naive`` / ``optimized``: the hand-written baselines, which print ``n=<count>``
  progress lines and save their per-record measurements to a JSON file.

CPU time comes from the OS: ``/proc/<pid>/stat`` sampled when the first and the
last awaited record are done (the window in which records were processed), and
the child's total CPU from ``wait4`` when it exits; the peak RSS is ``VmHWM``,
sampled while it runs (first, every 200th and last awaited record).
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

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CPU_SAMPLE_EVERY = 200  # lines

KFLOW_CONCURRENCY = 256
"""kflow's executions in flight: the optimized baseline keeps 256 lookups in flight."""
KFLOW_NAMES = ("kflow", "kflow-plain")
STATES = {"SUCCESS", "WARNING", "FAILED", "KILLED", "SKIPPED", "RUNNING", "CREATED", "RETRYING"}
BASELINES = {"naive": "baseline_naive.py", "optimized": "baseline_optimized.py"}


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


def proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a live process (all its threads)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Outcome:
    """What one contender did: per-record timings, states, CPU and memory."""

    name: str
    target: int
    # (partition, offset, record timestamp ms, done ms since the epoch)
    done: list[tuple[int, int, int, float]] = field(default_factory=list)
    count: int = 0
    first_ms: float | None = None  # when the first record arrived (None: unknown)
    states: dict[str, int] = field(default_factory=dict)
    cpu_first: float | None = None
    cpu_last: float | None = None
    cpu_total: float = 0.0
    max_rss_mb: float = 0.0
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
        if self.cpu_first is None or self.cpu_last is None or len(self.done) < 2:
            return None
        return (self.cpu_last - self.cpu_first) / (len(self.done) - 1) * 1000


class Contender:
    """One running contender; :meth:`wait_for` blocks until ``n`` records are done."""

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
            cmd = [
                str(PYTHON),
                str(REPO / "bench" / BASELINES[name]),
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
        self._stderr = self._stderr_path.open("w")
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=self._stderr, env=env
        )
        self.pid = self.proc.pid
        self._progress = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # output -----------------------------------------------------------------------

    def _read(self) -> None:
        assert self.proc.stdout is not None
        o = self.outcome
        for raw in self.proc.stdout:
            arrived_ms = time.time() * 1000
            line = raw.decode("utf-8", "replace")
            if self.name == "kflow":
                self._json_line(line)
            elif self.name == "kflow-plain":
                state = line.split(" ", 1)[0]
                if state in STATES:
                    o.states[state] = o.states.get(state, 0) + 1
                    if o.count < o.target:
                        o.done.append((-1, -1, 0, arrived_ms))
                    o.count += 1
                else:
                    continue
            elif line.startswith("n="):
                o.count = int(line[2:])
            else:
                continue
            if o.count == 1 or o.count == o.target or o.count % CPU_SAMPLE_EVERY == 0:
                rss = proc_peak_rss_mb(self.pid)
                if rss is not None:
                    o.max_rss_mb = max(o.max_rss_mb, rss)
                if self.name in KFLOW_NAMES:
                    cpu = proc_cpu(self.pid)
                    if o.count == 1:
                        o.cpu_first = cpu
                    elif o.count <= o.target:
                        o.cpu_last = cpu
            with self._progress:
                self._progress.notify_all()
        with self._progress:
            self._progress.notify_all()

    def _json_line(self, line: str) -> None:
        if not line.startswith("{"):
            return
        o = self.outcome
        ex = json.loads(line)
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
        """Wait for the process to stop by itself (SIGTERM, then SIGKILL, after ``timeout``)."""
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
