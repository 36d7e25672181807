"""Obtain the services' code: Maven jars and the FerretDB binary, each built only once.

A build's inputs are hashed into a stamp file beside its output; a later ``up`` whose inputs
hash the same skips the build. Maven reuses ``~/.m2`` and Go its module and build caches, so
even a rebuild after ``rm -rf .devstack`` downloads nothing twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .settings import SOURCE_DIR

Say = Callable[[str], None]


class BuildError(Exception):
    """A build step failed; the message names its log."""


def _digest(paths: Sequence[Path], extra: str = "") -> str:
    sha = hashlib.sha256(extra.encode())
    for path in paths:
        sha.update(path.name.encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise builds of one output across concurrent ``up`` runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class _Progress:
    lines: int = 0
    last: str = ""


def _run_logged(
    command: Sequence[str], cwd: Path, log: Path, say: Say, what: str, env: dict[str, str]
) -> None:
    """Run a build command with its output in ``log``, reporting progress every few seconds."""
    started = time.monotonic()
    progress = _Progress()

    def pump(stream: IO[str]) -> None:
        with log.open("a") as out:
            for line in stream:
                out.write(line)
                progress.lines += 1
                if line.strip():
                    progress.last = line.strip()

    with log.open("w") as out:
        out.write(f"$ {' '.join(command)}\n")
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    reader = threading.Thread(target=pump, args=(proc.stdout,), daemon=True)
    reader.start()
    next_report = started + 5
    while proc.poll() is None:
        time.sleep(0.2)
        if time.monotonic() >= next_report:
            elapsed = time.monotonic() - started
            last = progress.last[:90]
            say(f"{what}: {elapsed:.0f} s, {progress.lines} lines of output, last: {last}")
            next_report += 10
    reader.join()
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit {proc.returncode}); see {log}")


def maven_jars(name: str, lib: Path, log: Path, say: Say) -> None:
    """Copy the runtime class path of ``devstack/maven/<name>/pom.xml`` into ``lib``."""
    pom = SOURCE_DIR / "maven" / name / "pom.xml"
    stamp = lib / ".stamp"
    digest = _digest([pom])
    with _locked(lib.parent / f".{name}.lock"):
        if stamp.is_file() and stamp.read_text() == digest:
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BuildError("Maven (mvn) is not on PATH; install it (e.g. apt-get install maven)")
        say(f"{name}: fetching jars with Maven (first run only; log {log})")
        staging = lib.with_name(lib.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn,
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        _run_logged(command, pom.parent, log, say, f"{name}: maven", dict(os.environ))
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
        stamp.write_text(digest)
        say(f"{name}: {sum(1 for _ in lib.glob('*.jar'))} jars in {lib}")


def go_binary(name: str, source: Path, output: Path, log: Path, say: Say) -> None:
    """Build the Go main package in ``source`` into ``output``."""
    go = shutil.which("go") or next(
        (path for path in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if Path(path).exists()),
        None,
    )
    if go is None:
        raise BuildError("Go (go) is not on PATH; install Go 1.24 or newer")
    version = subprocess.run([go, "version"], capture_output=True, text=True, check=False).stdout
    wanted = ("go.mod", "go.sum")
    inputs = sorted(p for p in source.iterdir() if p.suffix == ".go" or p.name in wanted)
    digest = _digest(inputs, version)
    stamp = output.with_name(output.name + ".stamp")
    with _locked(output.with_name(f".{name}.lock")):
        if output.is_file() and stamp.is_file() and stamp.read_text() == digest:
            return
        say(f"{name}: building with Go (first run only, a few minutes on 2 cores; log {log})")
        staging = output.with_name(output.name + ".partial")
        env = dict(os.environ, GOFLAGS="-mod=readonly", CGO_ENABLED="0")
        command = [go, "build", "-v", "-trimpath", "-o", str(staging), "."]
        _run_logged(command, source, log, say, f"{name}: go build", env)
        staging.replace(output)
        stamp.write_text(digest)
        say(f"{name}: built {output}")
