"""``python -m bench.sources``: kflow's RabbitMQ, MQTT and PostgreSQL CDC triggers against
hand-written consumers.

For each source (``amqp``, ``mqtt``, ``postgres``) and round, the contenders do the blog's job
(a Cassandra lookup and a MongoDB insert per order) on N pre-published orders, one after the
other, in an order that alternates between rounds:

- ``kflow``: ``python -m kflow run <blog flow> --json --max-executions N --concurrency 64``
  (``samples/blog-flow-amqp.yaml`` / ``samples/blog-flow-mqtt.yaml`` /
  ``samples/blog-flow-postgres-cdc.yaml`` writing to a collection of their own);
- ``baseline``: ``bench/baseline_amqp.py`` (aiormq) / ``bench/baseline_mqtt.py`` (paho-mqtt)
  / ``bench/baseline_postgres_cdc.py`` (psycopg2 logical replication), 64 messages (changes)
  in work at once;
- ``baseline-serial`` (MQTT only; ``--no-mqtt-serial`` leaves it out): the MQTT baseline with
  one message in work at a time. kflow runs the messages of one MQTT topic one after another
  (``MqttMessage.order_key`` is the topic), so on the bench's single topic this is the
  hand-written program with kflow's semantics.

Each run gets a fresh queue or topic (for MQTT a persistent session made first, with the
client id the contender then uses), its N orders published with ``kflow produce orders
--fake N --rate 0 --to ...``, and a fresh collection. For PostgreSQL each round gets a fresh
table and, for each contender, a publication of it and a logical slot of its own, all made
before the N orders are upserted into the table: both contenders stream the same N inserts
from the WAL (kflow with ``snapshotMode: NEVER``). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import stack
from bench.contenders import proc_peak_rss_mb
from bench.servers import SERVERS, per_1000, proc_cpu, server_cpu, server_pids
from kflow.data.csvfiles import read_orders, read_product_ids
from kflow.data.generate import fake_orders
from kflow.data.tables import create_table_sql, parse_table_target
from testkit import amqp as testkit_amqp
from testkit import mqtt as testkit_mqtt
from testkit import postgres as testkit_pg
from testkit.stack import amqp_address, amqp_url, mqtt_address, postgres_address, postgres_dsn

SOURCES = ("amqp", "mqtt", "postgres")
CONTENDERS = ("kflow", "baseline", "baseline-serial")
KFLOW_ORDERING = ["key"]
"""``kflow run --ordering`` for the kflow contenders (``--ordering`` of this bench)."""
"""``baseline-serial`` (MQTT, unless ``--no-mqtt-serial``): the MQTT baseline with one message
in work at a time, which is what kflow's order per topic amounts to on a single topic."""
CONCURRENCY = 64
RSS_EVERY = 200  # records between peak-RSS samples
RESULTS = stack.REPO / "bench" / "results"
SAMPLES = stack.REPO / "samples"
FLOWS = {
    "amqp": SAMPLES / "blog-flow-amqp.yaml",
    "mqtt": SAMPLES / "blog-flow-mqtt.yaml",
    "postgres": SAMPLES / "blog-flow-postgres-cdc.yaml",
}
# (text in the sample, what it becomes): the documents go to kflow_bench.<collection>
COLLECTIONS = {
    "amqp": '"detailed_orders"',
    "mqtt": '"detailed_orders_mqtt"',
    "postgres": '"detailed_orders"',
}
BASELINES = {
    "amqp": "baseline_amqp.py",
    "mqtt": "baseline_mqtt.py",
    "postgres": "baseline_postgres_cdc.py",
}
BROKERS = {"amqp": "rabbitmq", "mqtt": "mosquitto", "postgres": "postgres"}
ATTEMPTS = 3
"""Tries per run: the stack is shared, and tests restart its brokers."""


# one contender's process ---------------------------------------------------------------------


@dataclass
class Watch:
    """What the bench saw of one contender process (times in seconds since the epoch)."""

    target: int
    started: float = 0.0
    count: int = 0
    states: dict[str, int] = field(default_factory=dict)
    first_arrival: float | None = None  # when the first message reached the contender
    last_stored: float | None = None  # when the target-th document was stored (its clock)
    stored_seen: float | None = None  # when the bench read that the target was reached
    exited: float | None = None
    cpu_first: float | None = None  # /proc CPU seconds at the first progress line
    count_first: int = 0
    cpu_last: float | None = None  # ... and at the line reaching the target
    count_last: int = 0
    cpu_total: float | None = None  # wait4's rusage: the whole process, start-up included
    peak_rss_mb: float = 0.0
    servers_first: dict[str, float | None] = field(default_factory=dict)  # at start
    servers_last: dict[str, float | None] = field(default_factory=dict)  # at the target
    exit_code: int | None = None
    timed_out: bool = False
    stderr_tail: str = ""


class Contender:
    """A contender's process; its progress is read from its stdout (``--json`` lines of
    kflow, ``n=<count>`` lines of the baselines)."""

    def __init__(self, kind: str, cmd: list[str], target: int, workdir: Path, tag: str) -> None:
        self.kind = kind
        self.watch = Watch(target)
        self._servers = server_pids()
        self._stderr_path = workdir / f"{tag}.stderr"
        self._stderr = self._stderr_path.open("w")
        env = {
            **os.environ,
            "PYTHONPATH": str(stack.REPO),  # this worktree's kflow, whatever the venv points at
            "ENV_MONGO_URI": stack.MONGO_URI,
            "ENV_CASSANDRA_HOST": stack.CASSANDRA_HOST,
            "ENV_AMQP_HOST": amqp_address()[0],
            "ENV_MQTT_SERVER": "tcp://{}:{}".format(*mqtt_address()),
            "ENV_PG_HOST": postgres_address()[0],
            "ENV_PG_PORT": str(postgres_address()[1]),
        }
        self._next_rss = 1
        self._done = threading.Event()
        self.watch.servers_first = server_cpu(self._servers)
        self.watch.started = time.time()
        self.proc = subprocess.Popen(
            cmd,
            cwd=stack.REPO,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        w = self.watch
        for raw in self.proc.stdout:
            seen = time.time()
            line = raw.decode("utf-8", "replace")
            if self.kind == "kflow":
                if not line.startswith("{"):
                    continue
                ex = json.loads(line)
                w.states[ex["state"]] = w.states.get(ex["state"], 0) + 1
                if w.count < w.target:
                    start = datetime.fromisoformat(ex["startDate"]).timestamp()
                    end = datetime.fromisoformat(ex["endDate"]).timestamp()
                    w.first_arrival = min(w.first_arrival or start, start)
                    w.last_stored = max(w.last_stored or end, end)
                w.count += 1
            elif line.startswith("n="):
                w.count = int(line[2:])
            else:
                continue
            self._sample(seen)
        self._done.set()

    def _sample(self, seen: float) -> None:
        w = self.watch
        pid = self.proc.pid
        if w.cpu_first is None:
            w.cpu_first, w.count_first = proc_cpu(pid), w.count
        if w.count >= self._next_rss or (w.count >= w.target and w.cpu_last is None):
            self._next_rss = w.count + RSS_EVERY
            w.peak_rss_mb = max(w.peak_rss_mb, proc_peak_rss_mb(pid) or 0.0)
        if w.count >= w.target and w.cpu_last is None:
            w.cpu_last, w.count_last = proc_cpu(pid), w.count
            w.servers_last = server_cpu(self._servers)
            w.stored_seen = seen

    def wait(self, timeout: float) -> bool:
        """True once the target was reached (or the output ended first: False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.watch.stored_seen is not None:
                return True
            if self._done.wait(0.2):
                return self.watch.stored_seen is not None
        return False

    def finish(self, timeout: float) -> Watch:
        """Wait for the process to exit by itself (SIGTERM, then SIGKILL, after ``timeout``),
        sampling its peak RSS until it does."""
        w = self.watch
        deadline = time.monotonic() + timeout
        while not self._reap(block=False):
            w.peak_rss_mb = max(w.peak_rss_mb, proc_peak_rss_mb(self.proc.pid) or 0.0)
            if time.monotonic() > deadline:
                w.timed_out = True
                os.kill(self.proc.pid, signal.SIGTERM)
                stop_by = time.monotonic() + 20
                while not self._reap(block=False):
                    if time.monotonic() > stop_by:
                        os.kill(self.proc.pid, signal.SIGKILL)
                        self._reap(block=True)
                        break
                    time.sleep(0.1)
                break
            time.sleep(0.05)
        self._reader.join(10)
        self._stderr.close()
        w.stderr_tail = self._stderr_path.read_text(errors="replace")[-1500:]
        return w

    def _reap(self, block: bool) -> bool:
        pid, status, usage = os.wait4(self.proc.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return False
        self.watch.exited = time.time()
        self.proc.returncode = self.watch.exit_code = os.waitstatus_to_exitcode(status)
        self.watch.cpu_total = usage.ru_utime + usage.ru_stime
        return True


# the brokers ---------------------------------------------------------------------------------


def produce(to: str, count: int) -> float:
    """``kflow produce orders --fake COUNT --rate 0 --to URL``; returns its seconds."""
    began = time.monotonic()
    cmd = [str(stack.PYTHON), "-m", "kflow", "produce", "orders", "--fake", str(count)]
    proc = subprocess.run(
        [*cmd, "--rate", "0", "--to", to],
        cwd=stack.REPO,
        env={**os.environ, "PYTHONPATH": str(stack.REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or f"acknowledged {count}," not in proc.stdout:
        raise RuntimeError(f"kflow produce --to {to}: {proc.stdout.strip()} {proc.stderr[-800:]}")
    return time.monotonic() - began


def truth(count: int) -> list[dict[str, Any]]:
    """The orders ``kflow produce orders --fake COUNT`` sends (it is deterministic), in the
    shape :func:`bench.stack.verify` takes."""
    data = stack.REPO / "data"
    ids = [int(o["order_id"]) for o in read_orders(data / "orders.csv") if o["order_id"].isdigit()]
    products = read_product_ids(data / "products.csv")
    orders = fake_orders(count, products, first_order_id=max(ids, default=0) + 1)
    return [{"value": order} for order in orders]


def mqtt_session(client_id: str, topic: str, *, keep: bool) -> int:
    """Connect as ``client_id`` and count the messages its session delivers in a second.

    ``keep``: a fresh session (clean start) subscribed to ``topic`` at QoS 1, kept by the
    broker for a day after the disconnect, so that what is published next is queued for it.
    Otherwise: the existing session is resumed (what it still holds is counted: messages
    never acknowledged) and ended at the disconnect.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    connected, subscribed = threading.Event(), threading.Event()
    received = [0]
    client.on_connect = lambda *_: connected.set()
    client.on_subscribe = lambda *_: subscribed.set()

    def on_message(*_: Any) -> None:
        received[0] += 1

    client.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 86_400 if keep else 0
    host, port = mqtt_address()
    client.connect(host, port, keepalive=30, clean_start=keep, properties=properties)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise RuntimeError(f"no CONNACK from Mosquitto at {host}:{port}")
        if keep:
            client.subscribe(topic, qos=1)
            if not subscribed.wait(10):
                raise RuntimeError(f"no SUBACK for {topic}")
        else:
            time.sleep(1.0)
    finally:
        client.disconnect()
        client.loop_stop()
    return received[0]


@dataclass(frozen=True)
class Setup:
    source: str
    contender: str
    name: str  # queue, topic, or (PostgreSQL) slot and publication
    client_id: str  # MQTT
    collection: str
    tag: str
    table: str = ""  # PostgreSQL: the table the orders are upserted into
    produced_s: float | None = None
    """PostgreSQL: the slot already holds the orders (the round made them, in this many
    seconds); None: :func:`prepare` makes the table, the publication, the slot, the orders."""


def prepare(setup: Setup, count: int) -> float:
    """A fresh queue (or session and topic, or table and slot) holding ``count`` orders, a
    fresh collection."""
    stack.create_collection(setup.collection)
    if setup.source == "postgres":
        if setup.produced_s is not None:
            return setup.produced_s
        pg_create_table(setup.table)
        pg_subscribe(setup.name, setup.table)
        return produce(pg_url(setup.table), count)
    if setup.source == "amqp":
        url = amqp_url()
        testkit_amqp.run(testkit_amqp.delete(url, setup.name))
        testkit_amqp.run(testkit_amqp.declare_queue(url, setup.name))
        host, port = amqp_address()
        return produce(f"amqp://guest:guest@{host}:{port}/{setup.name}", count)
    mqtt_session(setup.client_id, setup.name, keep=True)
    host, port = mqtt_address()
    return produce(f"mqtt://{host}:{port}/{setup.name}", count)


def left_on_broker(setup: Setup) -> int:
    """Messages the broker still holds for the contender (not acknowledged). For MQTT this
    resumes the session and ends it; for PostgreSQL, the row changes in the slot past its
    confirmed position."""
    if setup.source == "postgres":
        return pg_left(setup.name)
    if setup.source == "amqp":
        return testkit_amqp.run(testkit_amqp.ready_count(amqp_url(), setup.name))
    return mqtt_session(setup.client_id, setup.name, keep=False)


def clean_up(setup: Setup) -> None:
    """The run's queue, session or slot and its collection gone (whatever happened before)."""
    with contextlib.suppress(Exception):
        if setup.source == "postgres":
            pg_unsubscribe(setup.name)
            if setup.produced_s is None:  # a table of its own
                testkit_pg.drop_table(setup.table)
        elif setup.source == "amqp":
            testkit_amqp.run(testkit_amqp.delete(amqp_url(), setup.name))
        else:
            testkit_mqtt.clear_session(setup.client_id)
    with contextlib.suppress(Exception):
        stack.drop_collections([setup.collection])


# PostgreSQL: the orders as changes of a table, streamed from a slot ---------------------------


def pg_url(table: str) -> str:
    """Where ``kflow produce orders --to`` upserts the orders: ``table`` of the database."""
    return f"{postgres_dsn()}?table={table}"


def pg_create_table(table: str) -> None:
    """The table ``kflow produce orders --to postgres://...`` would make (the same types),
    made ahead so that a publication of it can exist before the orders are written."""
    target = parse_table_target(pg_url(table))
    testkit_pg.execute(create_table_sql(target, truth(1)[0]["value"]))


def pg_subscribe(name: str, table: str) -> None:
    """A publication of ``table`` and a pgoutput slot, both called ``name``: every change
    of the table from now on waits in the slot."""
    testkit_pg.execute(f'CREATE PUBLICATION "{name}" FOR TABLE "{table}"')
    testkit_pg.create_slot(name)


def pg_unsubscribe(name: str) -> None:
    testkit_pg.drop_slot(name)
    testkit_pg.drop_publication(name)


def pg_left(slot: str, timeout: float = 30.0) -> int:
    """Row changes in ``slot`` past its confirmed position (what its contender did not
    confirm), peeked (not consumed) once no one streams from the slot."""
    deadline = time.monotonic() + timeout
    while (info := testkit_pg.slot_info(slot)) is not None and info["active"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the slot {slot} is still streaming after its contender exited")
        time.sleep(0.1)
    rows = testkit_pg.execute(
        "SELECT count(*) FROM pg_logical_slot_peek_binary_changes(%s, NULL, NULL, "
        "'proto_version', '1', 'publication_names', %s) "
        "WHERE get_byte(data, 0) IN (73, 85, 68)",  # Insert, Update, Delete
        [slot, slot],
    )
    return int(rows[0][0])


def pg_operations(collection: str) -> str:
    """'' when every document says ``operation: CREATE`` (each change is an insert)."""
    db = stack.mongo_db()
    try:
        other = db[collection].count_documents({"operation": {"$ne": "CREATE"}})
    finally:
        db.client.close()
    return f"{other} documents without operation CREATE" if other else ""


@contextlib.contextmanager
def shared_changes(setups: list[Setup], count: int) -> Iterator[list[Setup]]:
    """The setups of one round of a source, ready to run in turn.

    PostgreSQL: the round's table, a publication and a slot for each contender, then the
    ``count`` orders upserted into the table, so that every contender streams the same
    changes; afterwards the slots, the publications and the table are dropped. If that
    cannot be made, each run makes a table of its own (as a retry does). Other sources: the
    setups unchanged (each run publishes its own messages).
    """
    if not setups or setups[0].source != "postgres":
        yield setups
        return
    table = setups[0].table
    seconds: float | None = None
    try:
        pg_create_table(table)
        for setup in setups:
            pg_subscribe(setup.name, table)
        seconds = produce(pg_url(table), count)
    except Exception as exc:
        log(f"  the round's table {table} could not be made ({exc}): each run makes its own")
        _drop_round(setups, table)
    if seconds is None:
        yield [replace(s, table=s.name) for s in setups]
        return
    try:
        yield [replace(s, produced_s=seconds) for s in setups]
    finally:
        _drop_round(setups, table)


def _drop_round(setups: list[Setup], table: str) -> None:
    for setup in setups:
        with contextlib.suppress(Exception):
            pg_unsubscribe(setup.name)
    with contextlib.suppress(Exception):
        testkit_pg.drop_table(table)


def command(setup: Setup, count: int, workdir: Path) -> list[str]:
    if setup.contender == "kflow":
        text = FLOWS[setup.source].read_text(encoding="utf-8")
        rewrites = [
            (COLLECTIONS[setup.source], f'"{setup.collection}"'),
            ('"kestra"', f'"{stack.DATABASE}"'),
        ]
        if setup.source == "postgres":  # the run's slot and publication; no snapshot
            rewrites += [
                ("slotName: kestra_orders", f"slotName: {setup.name}"),
                ("publicationName: kestra_orders", f"publicationName: {setup.name}"),
                ("includedTables: public.orders", f"includedTables: public.{setup.table}"),
                ("snapshotMode: INITIAL", "snapshotMode: NEVER"),
            ]
        for old, new in rewrites:
            if old not in text:
                raise RuntimeError(f"{FLOWS[setup.source]} no longer holds {old}: update me")
            text = text.replace(old, new, 1)
        flow = workdir / f"{setup.tag}.yaml"
        flow.write_text(text, encoding="utf-8")
        cmd = [str(stack.PYTHON), "-m", "kflow", "run", str(flow), "--json"]
        cmd += ["--max-executions", str(count), "--concurrency", str(CONCURRENCY)]
        cmd += ["--ordering", KFLOW_ORDERING[0]]
        if setup.source == "postgres":
            cmd += ["--state-dir", str(workdir / f"{setup.tag}.state")]
        elif setup.source == "amqp":
            cmd += ["--set", f"queue={setup.name}", "--set", f"port={amqp_address()[1]}"]
        else:
            cmd += ["--set", f"topic={setup.name}", "--set", f"clientId={setup.client_id}"]
        return cmd
    cmd = [str(stack.PYTHON), str(stack.REPO / "bench" / BASELINES[setup.source])]
    cmd += ["--collection", setup.collection, "--database", stack.DATABASE]
    cmd += ["--count", str(count), "--out", str(workdir / f"{setup.tag}.result.json")]
    cmd += ["--cassandra-host", stack.CASSANDRA_HOST, "--mongo-uri", stack.MONGO_URI]
    if setup.source == "postgres":
        cmd += ["--slot", setup.name, "--publication", setup.name, "--dsn", postgres_dsn()]
        cmd += ["--in-work", str(CONCURRENCY)]
    elif setup.source == "amqp":
        cmd += ["--queue", setup.name, "--url", amqp_url(), "--prefetch", str(CONCURRENCY)]
    else:
        host, port = mqtt_address()
        cmd += ["--topic", setup.name, "--client-id", setup.client_id]
        cmd += ["--host", host, "--port", str(port), "--receive-maximum", str(CONCURRENCY)]
        if setup.contender == "baseline-serial":
            cmd += ["--in-work", "1"]
    return cmd


# one measured run ----------------------------------------------------------------------------


def wait_for_broker(source: str, timeout: float = 120.0) -> None:
    """Until the broker accepts a connection (tests may be restarting it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if source == "postgres":
                testkit_pg.execute("SELECT 1")
            elif source == "amqp":
                testkit_amqp.run(testkit_amqp.declare_queue(amqp_url(), "kflow_bench_probe"))
                testkit_amqp.run(testkit_amqp.delete(amqp_url(), "kflow_bench_probe"))
            else:
                testkit_mqtt.clear_session("kflow-bench-probe")
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{source} broker not reachable: {exc}") from exc
            time.sleep(1)


def measure(
    setup: Setup,
    count: int,
    workdir: Path,
    orders: list[dict[str, Any]],
    catalog: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """One contender on ``count`` fresh messages; the figures, and its problems if any."""
    stack.ensure_ready()
    wait_for_broker(setup.source)
    before = server_pids()
    problems: list[str] = []
    try:
        produce_s = prepare(setup, count)
        contender = Contender(
            setup.contender, command(setup, count, workdir), count, workdir, setup.tag
        )
        contender.wait(timeout=max(180.0, count / 20))
        w = contender.finish(timeout=60)
        if setup.contender != "kflow":
            _read_recorder(w, workdir / f"{setup.tag}.result.json")
        left = left_on_broker(setup)
        wrong = stack.verify(setup.collection, orders, catalog)
        if setup.source == "postgres":
            wrong = "; ".join(p for p in (wrong, pg_operations(setup.collection)) if p)
    finally:
        clean_up(setup)
    if w.count < count or w.stored_seen is None:
        problems.append(f"only {w.count} of {count} messages done")
    failed = {k: v for k, v in w.states.items() if k != "SUCCESS"}
    if failed:
        problems.append(f"executions not SUCCESS: {failed}")
    if w.exit_code != 0 or w.timed_out:
        problems.append(f"exit code {w.exit_code}{' (timed out)' * w.timed_out}")
    if left and setup.source == "postgres":
        problems.append(f"{left} changes left in the slot (past its confirmed position)")
    elif left:
        problems.append(f"{left} messages left on the broker (not acknowledged)")
    after = server_pids()
    used = (BROKERS[setup.source], "cassandra", "ferretdb")
    restarted = [name for name in used if before.get(name) != after.get(name)]
    if restarted:  # a restart makes publishers send again: duplicates, left on the broker
        problems.append(f"restarted during the run (by someone else): {', '.join(restarted)}")
    if wrong:
        problems.append(wrong)
    if problems and w.stderr_tail:
        problems.append("stderr: " + " | ".join(w.stderr_tail.strip().splitlines()[-3:]))
    return row(setup, count, produce_s, w, problems)


def _read_recorder(w: Watch, path: Path) -> None:
    """The baseline's own clock: when its first message arrived and its documents were
    stored (``bench/recorder.py``), as kflow's executions give theirs."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    w.states = {"SUCCESS": len(data["records"])}
    if data["first_ms"] is not None:
        w.first_arrival = data["first_ms"] / 1000
    done = sorted(r[3] for r in data["records"])[: w.target]
    if done:
        w.last_stored = done[-1] / 1000


def row(
    setup: Setup, count: int, produce_s: float, w: Watch, problems: list[str]
) -> dict[str, Any]:
    def rnd(value: float | None, digits: int = 2) -> float | None:
        return None if value is None else round(value, digits)

    window = (
        w.last_stored - w.first_arrival
        if w.last_stored is not None and w.first_arrival is not None
        else None
    )
    cpu_1000 = (
        (w.cpu_last - w.cpu_first) / (w.count_last - w.count_first) * 1000
        if w.cpu_last is not None and w.cpu_first is not None and w.count_last > w.count_first
        else None
    )
    to_stored = w.stored_seen - w.started if w.stored_seen is not None else None
    servers = per_1000(w.servers_first, w.servers_last, count)
    return {
        "source": setup.source,
        "contender": setup.contender,
        "run": setup.tag,
        "records": count,
        "verified": not problems,
        "problems": problems,
        "eps": rnd(count / window, 1) if window else None,
        "eps_from_start": rnd(count / to_stored, 1) if to_stored else None,
        "to_stored_s": rnd(to_stored),
        "to_exit_s": rnd(w.exited - w.started if w.exited is not None else None),
        "cpu_s_per_1000": rnd(cpu_1000, 3),
        "cpu_total_s": rnd(w.cpu_total),
        "peak_rss_mb": rnd(w.peak_rss_mb, 1),
        "server_cpu_s_per_1000": servers,
        "produce_s": rnd(produce_s),
        "watch": {k: v for k, v in asdict(w).items() if k != "stderr_tail"},
    }


# the bench -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sources",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--orders", type=int, default=10_000, help="orders per run (10,000)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the order alternates")
    parser.add_argument(
        "--attempts", type=int, default=ATTEMPTS, help="tries of a run that fails (3)"
    )
    parser.add_argument(
        "--mqtt-serial",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the MQTT baseline with one message in work at a time "
        "(baseline-serial: what kflow's order per topic gives on one topic)",
    )
    parser.add_argument(
        "--ordering",
        choices=("key", "none"),
        default="key",
        help="kflow run --ordering for kflow (key: kflow's default, one message of an MQTT "
        "topic at a time; none: every message as soon as a slot is free, as the baselines)",
    )
    parser.add_argument(
        "--sources",
        default=",".join(SOURCES),
        help="comma-separated: amqp,mqtt,postgres (all three)",
    )
    args = parser.parse_args(argv)
    args.sources = [s for s in args.sources.split(",") if s]
    unknown = set(args.sources) - set(SOURCES)
    if unknown:
        parser.error(f"unknown sources: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    KFLOW_ORDERING[0] = args.ordering
    began = time.monotonic()
    rid = stack.run_id()
    slug = rid.lower()
    workdir = Path(tempfile.mkdtemp(prefix=f"kflow_sources_{rid}_"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stack.ensure_ready()
    catalog = stack.products()
    orders = truth(args.orders)
    results: dict[str, Any] = {
        "run_id": rid,
        "orders": args.orders,
        "kflow_ordering": args.ordering,
        "rounds": args.rounds,
        "concurrency": CONCURRENCY,
        "environment": {
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in os.getloadavg()],
            "python": sys.version.split()[0],
            **stack.source_state(),
        },
        "runs": [],
    }
    for round_no in range(1, args.rounds + 1):
        for source in args.sources:
            order = contenders(source, args.mqtt_serial)
            setups = []
            for contender in order if round_no % 2 else order[::-1]:
                tag = f"{source}_{contender}_{round_no}"
                setups.append(
                    Setup(
                        source=source,
                        contender=contender,
                        name=(
                            f"kflow_bench/{slug}/{tag}"
                            if source == "mqtt"
                            else f"bench_{slug}_{tag}"
                        ),
                        client_id=f"bench-{slug}-{tag}",
                        collection=f"src_{tag}_{slug}",
                        tag=tag,
                        table=f"bench_{slug}_{source}_{round_no}" if source == "postgres" else "",
                    )
                )
            if source == "postgres":
                log(
                    f"round {round_no}/{args.rounds}: postgres: a table, a slot per contender, "
                    f"{args.orders:,} orders upserted"
                )
            with shared_changes(setups, args.orders) as ready:
                for setup in ready:
                    log(
                        f"round {round_no}/{args.rounds}: {source} {setup.contender}, "
                        f"{args.orders:,} orders"
                    )
                    failed: list[str] = []
                    for attempt in range(1, args.attempts + 1):
                        result = guarded(setup, args.orders, workdir, orders, catalog, attempt)
                        log("  " + summary(result))
                        if result["verified"]:
                            break
                        failed.append("; ".join(result["problems"]))
                    result["round"] = round_no
                    result["failed_attempts"] = failed[: len(failed) - (not result["verified"])]
                    results["runs"].append(result)
    results["environment"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["best"] = best_rows(results["runs"], args.sources, args.mqtt_serial)
    results["seconds"] = round(time.monotonic() - began, 1)
    out = RESULTS / f"sources-{rid}.json"
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print_report(results)
    print(f"results: {out.relative_to(stack.REPO)}, {results['seconds']} s")
    print(json.dumps(last_line(results)), flush=True)
    return 0 if all(r["verified"] for r in results["runs"]) else 1


def contenders(source: str, serial: bool) -> tuple[str, ...]:
    return CONTENDERS if serial and source == "mqtt" else CONTENDERS[:2]


def guarded(
    setup: Setup,
    count: int,
    workdir: Path,
    orders: list[dict[str, Any]],
    catalog: dict[str, dict[str, str]],
    attempt: int,
) -> dict[str, Any]:
    """:func:`measure` with fresh names for each attempt, or a row saying what went wrong.
    A PostgreSQL retry gets a table of its own (the round's slot is used up)."""
    if attempt > 1:
        setup = replace(
            setup,
            name=f"{setup.name}_{attempt}",
            client_id=f"{setup.client_id}-{attempt}",
            collection=f"{setup.collection}_{attempt}",
            tag=f"{setup.tag}_{attempt}",
        )
        if setup.source == "postgres":
            setup = replace(setup, table=setup.name, produced_s=None)
    try:
        return measure(setup, count, workdir, orders, catalog)
    except Exception as exc:
        return {
            "source": setup.source,
            "contender": setup.contender,
            "run": setup.tag,
            "verified": False,
            "problems": [f"{type(exc).__name__}: {exc}"[:500]],
        }


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def summary(r: dict[str, Any]) -> str:
    if not r["verified"]:
        return f"NO: {'; '.join(r['problems'])}"
    return (
        f"{r['eps']:,.0f} records/s ({r['eps_from_start']:,.0f}/s from start), stored after "
        f"{r['to_stored_s']} s, exit after {r['to_exit_s']} s, {r['cpu_s_per_1000']} CPU s/1000, "
        f"{r['peak_rss_mb']} MB"
    )


def best_rows(runs: list[dict[str, Any]], sources: list[str], serial: bool) -> list[dict[str, Any]]:
    """Per source and contender, the fastest verified round (load from outside the bench
    only ever slows a round down), with every round's figure; on kflow's row the ratios of
    its throughput to the baselines'."""
    rows = []
    for source in sources:
        best: dict[str, dict[str, Any]] = {}
        for contender in contenders(source, serial):
            mine = [r for r in runs if r["source"] == source and r["contender"] == contender]
            ok = [r for r in mine if r["verified"]]
            pick = max(ok, key=lambda r: r["eps"] or 0.0) if ok else None
            best[contender] = {
                "source": source,
                "contender": contender,
                "eps_rounds": [r.get("eps") if r["verified"] else None for r in mine],
                **({k: pick.get(k) for k in FIGURES} if pick else dict.fromkeys(FIGURES)),
            }
            rows.append(best[contender])
        k = best["kflow"]
        for other, suffix in (("baseline", ""), ("baseline-serial", "_serial")):
            if other not in best:
                continue
            for figure, name in (("eps", "ratio"), ("eps_from_start", "ratio_from_start")):
                mine, theirs = k[figure], best[other][figure]
                k[name + suffix] = round(mine / theirs, 2) if mine and theirs else None
    return rows


FIGURES = (
    "eps",
    "eps_from_start",
    "to_stored_s",
    "to_exit_s",
    "cpu_s_per_1000",
    "cpu_total_s",
    "peak_rss_mb",
    "server_cpu_s_per_1000",
)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]], left: int = 2) -> None:
    lines = [head, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for n, line in enumerate(lines):
        cells = zip(line, widths, strict=True)
        print("  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(cells)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_report(results: dict[str, Any]) -> None:
    env = results["environment"]
    print(
        f"bench.sources {results['run_id']}: {results['orders']:,} orders per run, "
        f"--concurrency {results['concurrency']}, best of {results['rounds']} rounds, "
        f"{env['cpus']} CPUs, load average {env['load_before']} before, "
        f"{env['load_after']} after; commit {env['commit']}"
        + (" with uncommitted changes in kflow/" if env.get("kflow_changes") else "")
    )
    head = (
        "source",
        "contender",
        "records/s",
        "rounds",
        "from start/s",
        "stored s",
        "exit s",
        "CPU s/1000",
        "CPU total s",
        "peak RSS MB",
        "kflow/baseline",
    )
    rows = []
    for r in results["best"]:
        ratio = ""
        if r["contender"] == "kflow":
            ratio = f"{_fmt(r.get('ratio'), 2)} ({_fmt(r.get('ratio_from_start'), 2)} from start)"
            if "ratio_serial" in r:
                ratio += f"; {_fmt(r['ratio_serial'], 2)} of serial"
        rows.append(
            (
                r["source"],
                r["contender"],
                _fmt(r["eps"], 0),
                " ".join(_fmt(x, 0) for x in r["eps_rounds"]),
                _fmt(r["eps_from_start"], 0),
                _fmt(r["to_stored_s"], 2),
                _fmt(r["to_exit_s"], 2),
                _fmt(r["cpu_s_per_1000"], 3),
                _fmt(r["cpu_total_s"], 2),
                _fmt(r["peak_rss_mb"], 1),
                ratio,
            )
        )
    _table(head, rows)
    names = list(SERVERS)
    print("\nserver CPU s per 1,000 records (contender start -> last document stored):")
    _table(
        ("source", "contender", *names),
        [
            (
                r["source"],
                r["contender"],
                *(_fmt((r["server_cpu_s_per_1000"] or {}).get(n), 3) for n in names),
            )
            for r in results["best"]
        ],
    )
    for r in results["runs"]:
        for failure in r.get("failed_attempts", []):
            print(f"round {r['round']} {r['source']} {r['contender']}: retried after: {failure}")
        if not r["verified"]:
            print(
                f"round {r['round']} {r['source']} {r['contender']}: NO: {'; '.join(r['problems'])}"
            )


def last_line(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"run_id": results["run_id"], "orders": results["orders"]}
    for r in results["best"]:
        key = f"{r['source']}_{r['contender']}".replace("-", "_")
        out[f"{key}_eps"] = r["eps"]
        out[f"{key}_cpu_s_per_1000"] = r["cpu_s_per_1000"]
        out[f"{key}_peak_rss_mb"] = r["peak_rss_mb"]
        if r["contender"] == "kflow":
            out[f"{r['source']}_ratio"] = r.get("ratio")
            if "ratio_serial" in r:
                out[f"{r['source']}_ratio_serial"] = r["ratio_serial"]
    return out


if __name__ == "__main__":
    sys.exit(main())
