"""Consumer-group churn: ``kflow run`` processes killed, stopped and started while orders stream.

One round: a fresh topic of ``partitions`` partitions and a fresh MongoDB database; ``processes``
copies of the blog flow (plain ``InsertOne``) in one consumer group; a producer sending
``orders`` orders at ``rate``/s, every send acknowledged by the broker; every few seconds one
action, drawn at random: ``kill`` (``kill -9``), ``stop`` (SIGTERM) or ``start``, keeping
between one and ``max_processes`` processes alive. When the stream has ended the round waits
until the group has committed to the end of the topic, stops the processes gracefully and
counts what MongoDB holds. Used by ``tests/integration/test_reliability_churn.py`` and
``bench/chaos.py``.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testkit.kafka import PacedProducer, create_topic, read_topic, wait_all_committed
from testkit.orders import order
from testkit.processes import KflowProcess, blog_flow, run_args
from testkit.stack import fresh_database

ACTIONS = ("kill", "stop", "start")
ASSIGNED = re.compile(r"^kflow run: trigger \S+: assigned ", re.M)
REJOINED = re.compile(r"^kflow run: trigger \S+: group membership stuck for ", re.M)
NUDGED = re.compile(r"^kflow run: trigger \S+: the Kafka client left a group join ", re.M)


@dataclass(frozen=True)
class ChurnConfig:
    processes: int = 3
    max_processes: int = 4
    partitions: int = 12
    orders: int = 10_000
    rate: float = 1_000.0
    every: tuple[float, float] = (2.5, 4.5)
    actions: tuple[str, ...] = ACTIONS
    concurrency: int = 64
    commit_timeout: float = 120.0
    seed: int = 0
    properties: tuple[tuple[str, str], ...] = ()  # extra Kafka properties of the trigger


@dataclass
class ChurnRound:
    """What one round did and found."""

    sent: int = 0
    acked: int = 0
    stored: int = 0  # distinct orders in MongoDB
    documents: int = 0
    lost: int = 0
    duplicates: int = 0
    kills: int = 0
    stops: int = 0
    starts: int = 0
    rebalances: int = 0  # assignments reported by the processes
    rejoins: int = 0  # stuck consumers replaced
    nudges: int = 0  # joins the client left pending, driven again
    commit_seconds: float | None = None  # last change -> committed to the end
    max_alive: int = 0
    bad_exits: list[str] = field(default_factory=list)
    lost_ranges: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return self.kills + self.stops + self.starts

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "acked": self.acked,
            "stored": self.stored,
            "documents": self.documents,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "kills": self.kills,
            "stops": self.stops,
            "starts": self.starts,
            "rebalances": self.rebalances,
            "rejoins": self.rejoins,
            "nudges": self.nudges,
            "commit_seconds": self.commit_seconds,
            "lost_ranges": {str(p): r for p, r in self.lost_ranges.items()},
            "problems": self.problems,
        }


def _ranges(offsets: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for o in sorted(offsets):
        if out and o == out[-1][1] + 1:
            out[-1] = (out[-1][0], o)
        else:
            out.append((o, o))
    return out


class _Fleet:
    def __init__(self, flow: Path, args: list[str], workdir: Path, env: dict[str, str]) -> None:
        self.flow, self.args, self.workdir, self.env = flow, args, workdir, env
        self.all: list[KflowProcess] = []
        self.alive: list[KflowProcess] = []
        self.stopping: list[KflowProcess] = []

    def start(self) -> None:
        n = len(self.all)
        process = KflowProcess(self.flow, self.args, self.workdir / f"p{n}", self.env)
        self.all.append(process)
        self.alive.append(process)

    def kill(self, rng: random.Random) -> None:
        process = self.alive.pop(rng.randrange(len(self.alive)))
        process.kill9()

    def stop(self, rng: random.Random) -> None:
        process = self.alive.pop(rng.randrange(len(self.alive)))
        process.sigterm()
        self.stopping.append(process)

    def close(self) -> None:
        for process in self.all:
            process.stop()


def run_round(
    config: ChurnConfig,
    *,
    bootstrap: str,
    mongo_uri: str,
    workdir: Path,
    name: str,
    log: Any = None,
) -> ChurnRound:
    """One churn round on fresh names derived from ``name``; never raises on a finding."""
    rng = random.Random(config.seed)
    result = ChurnRound()
    topic, group, database = f"{name}_orders", f"{name}_group", f"{name}_db"
    create_topic(bootstrap, topic, config.partitions)
    flow = blog_flow(workdir, "detailed", database=database)
    if config.properties:
        text = flow.read_text(encoding="utf-8")
        extra = "".join(f"      {k}: {v}\n" for k, v in config.properties)
        assert "    properties:\n" in text
        flow.write_text(text.replace("    properties:\n", "    properties:\n" + extra, 1))
    args = run_args(bootstrap, topic, group, "--concurrency", str(config.concurrency))
    fleet = _Fleet(flow, args, workdir, {"ENV_MONGO_URI": mongo_uri})

    def say(text: str) -> None:
        if log is not None:
            log(text)

    with fresh_database(mongo_uri, database) as db:
        producer = PacedProducer(bootstrap, topic, config.orders, config.rate, name)
        try:
            for _ in range(config.processes):
                fleet.start()
            result.max_alive = len(fleet.alive)
            producer.start()
            last_change = time.monotonic()
            while not producer.done:
                time.sleep(rng.uniform(*config.every))  # the pace of the churn, not a wait
                if producer.done:
                    break
                action = _choose(rng, config, len(fleet.alive))
                say(f"  {time.strftime('%H:%M:%S')} {action} ({len(fleet.alive)} alive)")
                if action == "kill":
                    fleet.kill(rng)
                    result.kills += 1
                elif action == "stop":
                    fleet.stop(rng)
                    result.stops += 1
                else:
                    fleet.start()
                    result.starts += 1
                result.max_alive = max(result.max_alive, len(fleet.alive))
                last_change = time.monotonic()
            producer.join(timeout=600)
        except AssertionError as exc:
            result.problems.append(f"producer: {exc}")
        finally:
            producer.abort()
        result.sent, result.acked = producer.sent, producer.acked
        try:
            wait_all_committed(
                bootstrap,
                topic,
                group,
                timeout=config.commit_timeout,
                what="the group committing to the end of the topic",
            )
            result.commit_seconds = round(time.monotonic() - last_change, 1)
        except AssertionError as exc:
            result.problems.append(str(exc))
        for process in fleet.alive:
            process.sigterm()
            fleet.stopping.append(process)
        for process in fleet.stopping:
            try:
                code = process.wait(120)
            except AssertionError as exc:
                code = -1
                result.problems.append(str(exc)[:300])
            if code != 0:
                result.bad_exits.append(f"{process.stdout_path.parent.name}: exit {code}")
        fleet.close()
        for process in fleet.all:
            text = process.stderr()
            result.rebalances += len(ASSIGNED.findall(text))
            result.rejoins += len(REJOINED.findall(text))
            result.nudges += len(NUDGED.findall(text))
        ids = Counter(d["order_id"] for d in db["detailed"].find({}, {"order_id": 1, "_id": 0}))
    wanted = {order(name, i)["order_id"] for i in range(result.sent)}
    result.stored = len(set(ids) & wanted)
    result.documents = sum(ids.values())
    result.lost = len(wanted - set(ids))
    result.duplicates = result.documents - result.stored
    if result.lost:
        import json

        where = {
            r["value"]["order_id"]: (r["partition"], r["offset"])
            for r in read_topic(bootstrap, topic, json.loads)
        }
        missing: dict[int, list[int]] = {}
        for order_id in wanted - set(ids):
            partition, offset = where.get(order_id, (-1, -1))
            missing.setdefault(partition, []).append(offset)
        result.lost_ranges = {p: _ranges(o) for p, o in sorted(missing.items())}
    if result.bad_exits:
        result.problems.append(
            "processes stopped with SIGTERM exited badly: " + ", ".join(result.bad_exits)
        )
    return result


def _choose(rng: random.Random, config: ChurnConfig, alive: int) -> str:
    allowed = [
        a
        for a in config.actions
        if (a == "start" and alive < config.max_processes) or (a != "start" and alive > 1)
    ]
    return rng.choice(allowed or ["start"])
