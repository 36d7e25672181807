"""Start and stop service processes, remembered by pid files.

A pid file alone is not trusted: a process counts as ours only while its command line still
names the state directory, so a recycled pid is never signalled. Nothing is ever killed by name.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\x00", b" ").decode(errors="replace")


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")


def running_pid(pidfile: Path, marker: str) -> int | None:
    """The pid recorded in ``pidfile`` if that process is alive and still ours, else None."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if marker in _cmdline(pid) and not _is_zombie(pid):
        return pid
    return None


def port_is_free(host: str, port: int) -> bool:
    """True if nothing listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def port_locks(ports: Sequence[int]) -> Iterator[None]:
    """Hold a machine-wide lock per port while a server is being started on it.

    Two stacks (say, two checkouts) starting at once would otherwise both find a port free
    and both start; with the lock the second one waits, then finds the port taken.
    """
    with contextlib.ExitStack() as stack:
        for port in sorted(ports):
            path = Path(tempfile.gettempdir()) / f"kflow-devstack-port-{port}.lock"
            handle = stack.enter_context(path.open("a"))
            fcntl.flock(handle, fcntl.LOCK_EX)
            stack.callback(fcntl.flock, handle, fcntl.LOCK_UN)
        yield


def rotate(log: Path, keep: int = 3) -> None:
    """Move ``x.log`` to ``x.log.1`` (and so on) so each start gets a fresh log."""
    for index in range(keep - 1, 0, -1):
        older = log.with_name(f"{log.name}.{index}")
        if older.exists():
            older.replace(log.with_name(f"{log.name}.{index + 1}"))
    if log.exists():
        log.replace(log.with_name(f"{log.name}.1"))


def start(
    command: Sequence[str],
    log: Path,
    pidfile: Path,
    env: dict[str, str],
    cwd: Path,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` detached from this terminal, output appended to ``log``; as the
    system ``user`` (with its primary group only) if given, which needs root."""
    rotate(log)
    entry = pwd.getpwnam(user) if user is not None else None
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            user=entry.pw_uid if entry else None,
            group=entry.pw_gid if entry else None,
            extra_groups=[] if entry else None,
        )
    pidfile.write_text(f"{proc.pid}\n")
    return proc


def _group_members(pgid: int, marker: str) -> list[int]:
    """Live processes of process group ``pgid`` whose command line names ``marker``.

    Each service is started as the leader of its own session and process group, so this
    finds what a wrapper script started (RabbitMQ's ``rabbitmq-server`` shell runs
    ``beam.smp`` as a child) even once the leader has gone.
    """
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if fields[0] in ("Z", "X") or int(fields[2]) != pgid:
            continue
        if marker in _cmdline(int(entry.name)):
            members.append(int(entry.name))
    return members


def _recorded_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def leftovers(pidfile: Path, marker: str) -> list[int]:
    """Processes a service left behind when the process ``up`` recorded has gone (say a
    wrapper shell killed with -9 whose broker runs on): members of its process group that
    are still ours. Empty while the recorded process runs."""
    recorded = _recorded_pid(pidfile)
    if recorded is None or running_pid(pidfile, marker) is not None:
        return []
    return _group_members(recorded, marker)


def stop(pidfile: Path, marker: str, timeout: float, signum: int = signal.SIGTERM) -> int | None:
    """Stop the process of ``pidfile`` and what it started: ``signum`` (SIGTERM unless the
    server wants another, say SIGINT for PostgreSQL's fast shutdown) to the recorded process
    (or, if it has gone, to the members of its process group that are still ours), then
    SIGKILL to all of them after ``timeout`` seconds.

    Returns the pid that was stopped, or None if nothing of ours was running. Returns only
    once every one of them has exited. The pid file is removed either way.
    """
    recorded = _recorded_pid(pidfile)
    if recorded is None:
        pidfile.unlink(missing_ok=True)
        return None

    def alive() -> list[int]:
        leader = [recorded] if running_pid(pidfile, marker) is not None else []
        return sorted(set(leader + _group_members(recorded, marker)))

    targets = alive()
    if targets:
        first = [recorded] if recorded in targets else targets
        for pid in first:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        deadline = time.monotonic() + timeout
        while alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        while left := alive():
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
    return recorded if targets else None


def tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a text file (empty if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 200 * lines - 4096))
            text = handle.read().decode(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
