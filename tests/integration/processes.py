"""Helpers for reliability tests: ``kflow run`` as a background process, paced producers,
conditions awaited by polling, service outages that always end.

- :class:`KflowProcess`: ``kflow run FLOW --json ...`` started with ``Popen``; its stdout and
  stderr go to files so a test can read the executions reported so far, ``kill -9`` it,
  ``SIGTERM`` it and wait for its exit.
- :func:`wait_until`: poll a condition (a Mongo count, a file's lines...) until it holds or a
  deadline passes; the failure message says what was awaited and the last value seen.
- :class:`PacedProducer`: sends generated orders at a fixed rate from a thread, every send
  acknowledged by the broker (``acks=all``).
- :func:`outage`: stops one devstack service and, whatever happens, starts it again and waits
  until it answers (other people run integration tests on the same stack).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
STACK = REPO / "devstack" / "stack"
PRODUCT_IDS = range(1, 21)  # the 20 products of data/products.csv

T = TypeVar("T")


# waiting -----------------------------------------------------------------------------


def wait_until(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    what: str,
    every: float = 0.1,
) -> T:
    """Call ``probe`` until ``done(value)`` holds; fail after ``timeout`` s with the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last: {value}")
        time.sleep(every)


# orders --------------------------------------------------------------------------------


def order(prefix: str, i: int, padding: int = 0) -> dict[str, str]:
    """Order number ``i`` of a test: a unique id, a product of the catalogue, string values.

    ``padding`` adds a ``note`` of that many characters (flows ignore it; it makes records
    big enough for memory growth to be measurable).
    """
    quantity = 1 + i % 3
    price = 10 + (i % 97) + 0.25
    extra = {"note": "n" * padding} if padding else {}
    return {
        **extra,
        "order_id": f"{prefix}-{i}",
        "customer_name": f"Customer {i}",
        "customer_email": f"c{i}@example.org",
        "product_id": str(PRODUCT_IDS[i % len(PRODUCT_IDS)]),
        "price": f"{price:.2f}",
        "quantity": str(quantity),
        "total": f"{price * quantity:.2f}",
    }


def encoded(row: dict[str, Any]) -> bytes:
    return json.dumps(row).encode()


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def send_all(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    """Send ``(key, value)`` records to an existing topic, waiting for every acknowledgement."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [producer.send(topic, key=k, value=v) for k, v in records]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


@dataclass
class PacedProducer:
    """Sends ``count`` orders ``order(prefix, 0..count-1)`` at ``rate``/s from a thread.

    Keys are the order ids. ``acked`` counts broker acknowledgements; ``errors`` keeps the
    first failures (a test asserts it is empty). ``retries`` lets sends ride out a broker
    restart.
    """

    bootstrap: str
    topic: str
    count: int
    rate: float
    prefix: str
    retries: int = 0
    padding: int = 0
    acked: int = 0
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _abort: threading.Event = field(default_factory=threading.Event)

    def start(self) -> PacedProducer:
        self._thread = threading.Thread(target=self._run, name="paced-producer", daemon=True)
        self._thread.start()
        return self

    def _ok(self, _meta: object) -> None:
        with self._lock:
            self.acked += 1

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if len(self.errors) < 5:
                self.errors.append(repr(exc))

    def _run(self) -> None:
        options: dict[str, Any] = {"acks": "all", "linger_ms": 5}
        if self.retries:
            options.update(
                retries=self.retries,
                retry_backoff_ms=500,
                request_timeout_ms=60_000,
                max_block_ms=120_000,
                max_in_flight_requests_per_connection=1,
            )
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, **options)
        try:
            start = time.monotonic()
            for i in range(self.count):
                if self._abort.is_set():
                    break
                due = start + i / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing, not synchronisation
                row = order(self.prefix, i, self.padding)
                future = producer.send(self.topic, key=row["order_id"].encode(), value=encoded(row))
                future.add_callback(self._ok)
                future.add_errback(self._fail)
                self.sent += 1
            producer.flush(timeout=180)
        finally:
            producer.close()

    def abort(self) -> None:
        """Stop sending and wait for the thread (used in ``finally``)."""
        self._abort.set()
        if self._thread is not None:
            self._thread.join(60)

    def join(self, timeout: float = 300) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"producer still sending after {timeout} s"
        assert not self.errors, self.errors
        assert self.acked == self.count, (self.acked, self.count)


def consume_all(bootstrap: str, topic: str, count: int, deadline_s: float = 60) -> list[Any]:
    """At least ``count`` records of ``topic`` from its beginning (fewer at the deadline)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    out: list[Any] = []
    deadline = time.monotonic() + deadline_s
    try:
        while len(out) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
        # anything beyond ``count`` already fetched
        for records in consumer.poll(timeout_ms=500).values():
            out.extend(records)
    finally:
        consumer.close()
    return out


def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """The group's committed offsets; empty while its coordinator is not available."""
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        found = admin.list_group_offsets(group).get(group, {})
    except KafkaError:
        return {}
    finally:
        admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in found.items()}


def end_offsets(bootstrap: str, topic: str) -> dict[tuple[str, int], int]:
    from kafka import TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        return {(tp.topic, tp.partition): o for tp, o in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


# kflow run in the background ------------------------------------------------------------------


class KflowProcess:
    """``python -m kflow run FLOW --json ARGS`` running in the background (plain lines
    instead of JSON with ``json_output=False``)."""

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


# flows --------------------------------------------------------------------------------------


def sample_flow(
    tmp_path: Path, sample: str, replacements: dict[str, str], name: str = "flow.yaml"
) -> Path:
    """A copy of ``samples/<sample>`` with text replaced (each old text must occur)."""
    text = (SAMPLES / sample).read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, f"{old!r} not in {sample}"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def seed_products(cassandra_port: int) -> None:
    """``kestra.products`` holds the 20 products of data/products.csv (idempotent)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kflow",
            "seed",
            "products",
            "--hosts",
            f"127.0.0.1:{cassandra_port}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


# outages ----------------------------------------------------------------------------------------


def stack(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(STACK), *args], capture_output=True, text=True, cwd=REPO, timeout=timeout, check=False
    )


def service_up(service: str) -> None:
    """Start ``service`` (idempotent) and wait until it answers a real request."""
    last = ""
    for _ in range(3):
        proc = stack("up", service)
        if proc.returncode == 0:
            return
        last = proc.stdout + proc.stderr
    raise AssertionError(f"devstack could not start {service}: {last[-2000:]}")


@contextlib.contextmanager
def outage(service: str) -> Iterator[float]:
    """Stop ``service`` for the block; it is started again (and answering) afterwards.

    Yields the monotonic time the service went down.
    """
    try:
        proc = stack("down", service)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield time.monotonic()
    finally:
        service_up(service)


# MongoDB ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(mongo_uri: str, name: str) -> Iterator[Any]:
    """A MongoDB database of the test's own (FerretDB keeps one SQLite file per database, so
    tests running at the same time do not lock each other out); dropped afterwards."""
    from pymongo import MongoClient

    client: Any = MongoClient(mongo_uri)
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def wait_all_committed(
    bootstrap: str, topic: str, group: str, *, timeout: float, what: str
) -> dict[tuple[str, int], int]:
    """Wait until ``group`` has committed every record ``topic`` holds now.

    One admin client polls the group (a client per probe leaves sockets behind when the
    coordinator is busy rebalancing).
    """
    from kafka.errors import KafkaError

    ends = end_offsets(bootstrap, topic)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)

    def probe() -> dict[tuple[str, int], int]:
        try:
            found = admin.list_group_offsets(group).get(group, {})
        except KafkaError:
            return {}
        return {(tp.topic, tp.partition): meta.offset for tp, meta in found.items()}

    try:
        return wait_until(
            probe,
            lambda c: all(c.get(tp, -1) >= end for tp, end in ends.items()),
            timeout=timeout,
            what=what,
            every=0.5,
        )
    finally:
        admin.close()
