"""``kflow run`` as a process: in the background (:class:`KflowProcess`), or to completion
(:func:`kflow_run`); flows copied from the samples with their names changed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
BLOG_FLOW = SAMPLES / "get_detailed_order.yaml"


class KflowProcess:
    """``python -m kflow run FLOW --json ARGS`` running in the background (plain lines
    instead of JSON with ``json_output=False``); stdout and stderr go to files in ``workdir``."""

    def __init__(
        self,
        flow: Path,
        args: list[str],
        workdir: Path,
        env: dict[str, str],
        *,
        json_output: bool = True,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        n = len(list(workdir.glob("stdout-*.jsonl")))
        self.stdout_path = workdir / f"stdout-{n}.jsonl"
        self.stderr_path = workdir / f"stderr-{n}.log"
        self._out = self.stdout_path.open("wb")
        self._err = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kflow", "run", str(flow), *(["--json"] * json_output), *args],
            stdout=self._out,
            stderr=self._err,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
            cwd=REPO,
        )
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def executions(self) -> list[dict[str, Any]]:
        """The executions printed so far (a half-written last line is left out)."""
        out = []
        for line in self.stdout_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def count(self) -> int:
        return len(self.executions())

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._close()

    def sigterm(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(
                f"kflow run still running after {timeout:g} s; stderr: {self.stderr()[-2000:]}"
            ) from exc
        self._close()
        return code

    def stop(self) -> None:
        """Make sure the process is gone (used in ``finally``)."""
        if self.alive:
            self.proc.kill()
            self.proc.wait(30)
        self._close()

    def _close(self) -> None:
        for f in (self._out, self._err):
            if not f.closed:
                f.close()


def run_args(bootstrap: str, topic: str, group: str, *extra: str) -> list[str]:
    """``kflow run`` options reading ``topic`` from its beginning in ``group``."""
    return [
        "--bootstrap-servers",
        bootstrap,
        "--topic",
        topic,
        "--group-id",
        group,
        "--from-beginning",
        *extra,
    ]


@contextlib.contextmanager
def running(
    flow: Path, args: list[str], workdir: Path, env: dict[str, str], *, json_output: bool = True
) -> Iterator[KflowProcess]:
    process = KflowProcess(flow, args, workdir, env, json_output=json_output)
    try:
        yield process
    finally:
        process.stop()


@dataclass
class RunResult:
    code: int
    executions: list[dict[str, Any]]
    stderr: str


def kflow_run(
    flow: Path, *args: str, mongo_uri: str, timeout: float = 120.0, **env: str
) -> RunResult:
    """``kflow run FLOW --json ARGS`` in a subprocess; returns the parsed executions."""
    environ = {**os.environ, "ENV_MONGO_URI": mongo_uri, **env}
    proc = subprocess.run(
        [sys.executable, "-m", "kflow", "run", str(flow), "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environ,
        cwd=REPO,
        check=False,
    )
    executions = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return RunResult(proc.returncode, executions, proc.stderr)


def sample_flow(
    directory: Path, sample: str, replacements: dict[str, str], name: str = "flow.yaml"
) -> Path:
    """A copy of ``samples/<sample>`` with text replaced (each old text must occur)."""
    text = (SAMPLES / sample).read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, f"{old!r} not in {sample}"
        text = text.replace(old, new)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def blog_flow(directory: Path, collection: str, database: str | None = None) -> Path:
    """The sample blog flow, writing to its own collection (and database)."""
    replacements = {'"detailed_orders"': f'"{collection}"'}
    if database is not None:
        replacements['database: "kestra"'] = f'database: "{database}"'
    return sample_flow(directory, BLOG_FLOW.name, replacements, name=f"{collection}.yaml")
