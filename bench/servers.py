"""CPU of processes from ``/proc``: a contender's, and that of the stack's servers.

The servers (Kafka, Cassandra, FerretDB, RabbitMQ, Mosquitto, PostgreSQL) are found by the
port they listen on, in the bench's network namespace; their CPU is read from
``/proc/<pid>/stat`` (user + system, all threads). A bench samples :func:`server_cpu`
at the start and at the end of a contender's measured window and divides the difference by
the records done in between (:func:`per_1000`). The figures include whatever else uses
those servers meanwhile (tests on a shared machine).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from bench import stack
from testkit.stack import amqp_address, mqtt_address, postgres_address

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# the stack's servers, by the port they listen on
SERVERS = {
    "rabbitmq": amqp_address()[1],
    "mosquitto": mqtt_address()[1],
    "postgres": postgres_address()[1],
    "cassandra": 9042,
    "ferretdb": urlsplit(stack.MONGO_URI).port or 27017,
    "kafka": int(stack.BOOTSTRAP.split(",")[0].rsplit(":", 1)[1]),
}
KAFKA_PIPELINE = ("kafka", "cassandra", "ferretdb")
"""The servers of the blog flow fed from Kafka (``bench/run``)."""


def proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a live process (all its threads)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def server_pids(names: Iterable[str] | None = None) -> dict[str, int]:
    """The pid of the process listening on each server's port (all of :data:`SERVERS`, or
    ``names``), in this network namespace (another stack may run in another one, with the
    same ports). A server that does not run is left out."""
    wanted = SERVERS if names is None else {n: SERVERS[n] for n in names}
    ports = {port: name for name, port in wanted.items()}
    sockets: dict[str, str] = {}  # "socket:[inode]" -> server
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if fields[3] == "0A" and port in ports:  # LISTEN
                    sockets[f"socket:[{fields[9]}]"] = ports[port]
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or len(found) == len(set(sockets.values())):
            continue
        with contextlib.suppress(OSError):
            for fd in os.scandir(entry / "fd"):
                with contextlib.suppress(OSError):
                    name = sockets.get(os.readlink(fd.path))
                    if name is not None:
                        found.setdefault(name, int(entry.name))
    return found


def server_cpu(pids: dict[str, int]) -> dict[str, float | None]:
    """CPU seconds of each server now (None: its process is gone)."""
    return {
        name: postmaster_cpu(pid) if name == "postgres" else proc_cpu(pid)
        for name, pid in pids.items()
    }


def postmaster_cpu(pid: int) -> float | None:
    """CPU seconds of a PostgreSQL server: the postmaster's own, the backends it has reaped
    (its ``cutime``/``cstime``: a contender's walsender ends with the contender) and its
    live children (backends, walsenders, background workers). The postmaster itself only
    forks: the work is in its children."""
    total: float | None = None
    children = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid:
            total = sum(int(f) for f in fields[11:15]) / CLOCK_TICKS
        elif fields[1] == str(pid):
            children += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return None if total is None else total + children


def per_1000(
    first: dict[str, float | None], last: dict[str, float | None], records: int
) -> dict[str, float | None]:
    """Each server's CPU seconds per 1,000 records between two :func:`server_cpu` samples
    (None where a sample is missing: the server was gone, or restarted with another pid)."""
    out: dict[str, float | None] = {}
    for name, before in first.items():
        after = last.get(name)
        if before is None or after is None or records <= 0 or after < before:
            out[name] = None
        else:
            out[name] = round((after - before) / records * 1000, 3)
    return out


def busy_rates(pids: dict[str, int], seconds: float = 1.0) -> dict[str, float | None]:
    """Each server's CPU seconds per second over ``seconds`` from now (the contender not yet
    started: what others, and the server's own housekeeping, use meanwhile)."""
    first, began = server_cpu(pids), time.monotonic()
    time.sleep(seconds)
    last, elapsed = server_cpu(pids), time.monotonic() - began
    out: dict[str, float | None] = {}
    for name, before in first.items():
        after = last.get(name)
        if before is None or after is None or after < before:
            out[name] = None
        else:
            out[name] = round((after - before) / elapsed, 3)
    return out


def physical_limit_eps(total_cpu_s_per_1000: float | None) -> float | None:
    """Events/s at which client and servers, at these CPU seconds per 1,000 events, would
    use every core of this machine: ``os.cpu_count() / total CPU seconds per event``."""
    if not total_cpu_s_per_1000:
        return None
    return round((os.cpu_count() or 1) / (total_cpu_s_per_1000 / 1000), 1)
