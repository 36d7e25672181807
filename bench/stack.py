"""The bench's use of the local stack: its own topics, groups, collections; ground truth.

Every name carries the run's id, so runs never share state with each other or
with tests running at the same time; documents go to a database of their own
(``kflow_bench``): FerretDB keeps each database in its own SQLite file, so the
bench neither waits on nor slows the writes of tests using ``kestra``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit import kafka
from testkit import stack as testkit_stack
from testkit.orders import ORDER_FIELDS

REPO = Path(__file__).resolve().parents[1]
PYTHON = REPO / ".venv" / "bin" / "python"
# ``python -m kflow`` with this checkout first on PYTHONPATH: the venv's ``kflow`` script
# imports whatever checkout the venv was installed from (another worktree, maybe).
KFLOW = [str(PYTHON), "-m", "kflow"]
KFLOW_ENV = {**os.environ, "PYTHONPATH": str(REPO)}
BLOG_FLOW = REPO / "samples" / "get_detailed_order.yaml"

BOOTSTRAP = os.environ.get("BENCH_KAFKA", "127.0.0.1:9092")
CASSANDRA_HOST = os.environ.get("BENCH_CASSANDRA", "127.0.0.1")
MONGO_URI = os.environ.get("BENCH_MONGO", "mongodb://127.0.0.1:27017")
DATABASE = "kflow_bench"
PARTITIONS = 6


def run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"_{os.getpid()}"


def source_state() -> dict[str, Any]:
    """The commit measured, and whether kflow/ had uncommitted changes at the time."""

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else "?"

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "kflow_changes": git("status", "--porcelain", "kflow"),
    }


def flow_copy(directory: Path, collection: str) -> Path:
    """The blog flow writing to ``DATABASE.collection`` (everything else unchanged)."""
    text = BLOG_FLOW.read_text(encoding="utf-8")
    for old, new in (('"detailed_orders"', f'"{collection}"'), ('"kestra"', f'"{DATABASE}"')):
        if old not in text:
            raise RuntimeError(f"{BLOG_FLOW} no longer holds {old}: update bench/stack.py")
        text = text.replace(old, new, 1)
    path = directory / f"{collection}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Produced:
    count: int
    seconds: float
    output: str


def produce(topic: str, count: int, rate: float) -> Produced:
    """``kflow produce orders --fake COUNT --rate RATE`` into ``topic`` (6 partitions)."""
    start = time.monotonic()
    proc = subprocess.run(
        [
            *KFLOW,
            "produce",
            "orders",
            "--fake",
            str(count),
            "--rate",
            str(rate),
            "--partitions",
            str(PARTITIONS),
            "--topic",
            topic,
            "--bootstrap-servers",
            BOOTSTRAP,
        ],
        cwd=REPO,
        env=KFLOW_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"kflow produce failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return Produced(count, time.monotonic() - start, proc.stdout.strip())


def create_topic(topic: str) -> None:
    """Create ``topic`` (PARTITIONS partitions) and wait until its metadata is served."""
    kafka.create_topic(BOOTSTRAP, topic, PARTITIONS)


def delete_topics(topics: list[str]) -> None:
    kafka.delete_topics(BOOTSTRAP, topics)


def read_topic(topic: str) -> list[dict[str, Any]]:
    """Every record of ``topic`` as ``{partition, offset, timestamp, value}`` (value parsed)."""
    return kafka.read_topic(BOOTSTRAP, topic, json.loads)


def committed_lag(topic: str, group: str) -> int:
    """Records of ``topic`` past the group's committed offsets (0: everything committed)."""
    return kafka.committed_lag(BOOTSTRAP, topic, group)


def seed_products() -> None:
    """``kflow seed products`` (idempotent): the lookup table the blog flow reads."""
    testkit_stack.seed_products(CASSANDRA_HOST)


def ensure_ready(timeout: float = 120.0) -> None:
    """Wait until Cassandra serves the products (seeding them again if they are gone) and
    MongoDB answers: the stack is shared, and others may restart or wipe it."""
    deadline = time.monotonic() + timeout
    while True:
        problem: Exception | None = None
        try:
            if products():
                db = mongo_db()
                try:
                    db.command("ping")
                    return
                finally:
                    db.client.close()
        except Exception as exc:
            problem = exc
        try:
            seed_products()
        except Exception as exc:
            problem = exc
        if time.monotonic() > deadline:
            raise RuntimeError(f"the stack is not ready after {timeout:.0f} s: {problem}")
        time.sleep(1)


def products() -> dict[str, dict[str, str]]:
    """The Cassandra products table, by product id, every value as text."""
    return testkit_stack.cassandra_products(CASSANDRA_HOST)


def mongo_db() -> Any:
    from pymongo import MongoClient

    return MongoClient(MONGO_URI)[DATABASE]


def create_collection(name: str) -> None:
    """Created ahead, so the first insert of a contender does not pay for it."""
    db = mongo_db()
    db.drop_collection(name)
    db.create_collection(name)
    db.client.close()


def drop_collections(names: list[str]) -> None:
    db = mongo_db()
    for name in names:
        db.drop_collection(name)
    db.client.close()


def verify(
    collection: str,
    truth: list[dict[str, Any]],
    catalog: dict[str, dict[str, str]],
    *,
    expected_count: int | None = None,
    subset: bool = False,
) -> str:
    """'' when the collection holds exactly one correct document per record, else what is wrong.

    With ``subset`` (a contender that stopped after ``expected_count`` records of
    the topic), the documents must be ``expected_count`` distinct, correct
    documents of records of ``truth``.
    """
    db = mongo_db()
    try:
        docs = list(db[collection].find({}, {"_id": 0}))
    finally:
        db.client.close()
    orders = {str(r["value"]["order_id"]): r["value"] for r in truth}
    seen: set[str] = set()
    problems: list[str] = []
    duplicates = unknown = wrong = 0
    example = ""
    for doc in docs:
        key = str(doc.get("order_id"))
        if key in seen:
            duplicates += 1
        seen.add(key)
        order = orders.get(key)
        if order is None:
            unknown += 1
            continue
        bad = [f for f in ORDER_FIELDS if str(doc.get(f)) != str(order[f])]
        if doc.get("product") != catalog.get(str(order["product_id"])):
            bad.append("product")
        if bad:
            wrong += 1
            example = example or f"order {key}: {', '.join(bad)} differ"
    expected = len(truth) if expected_count is None else expected_count
    if duplicates:
        problems.append(f"{duplicates} duplicate documents")
    if unknown:
        problems.append(f"{unknown} documents of no record")
    if wrong:
        problems.append(f"{wrong} documents wrong ({example})")
    if not subset and len(seen) < len(orders):
        problems.append(f"{len(orders) - len(seen)} of {len(orders)} documents missing")
    if len(docs) != expected:
        problems.append(f"{len(docs)} documents for {expected} records")
    return "; ".join(problems)
