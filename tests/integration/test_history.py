"""Execution history against real Kafka, Cassandra and MongoDB: the blog flow runs as a
process, ``kflow executions list/show/replay`` read what it kept."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from testkit.kafka import produce, send_all
from testkit.orders import order, order_records
from testkit.processes import REPO, KflowProcess, run_args, sample_flow

pytestmark = pytest.mark.integration

UNKNOWN_PRODUCT = 7777


def add_product(session: Any, keyspace: str, product_id: int) -> None:
    session.execute(
        f"INSERT INTO {keyspace}.products (product_id, product_name, product_category, brand) "
        "VALUES (%s, 'late arrival', 'Toys', 'acme')",
        (product_id,),
    )


@pytest.fixture
def collection(mongo_uri: str, collection_name: str) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    yield client["kestra"][collection_name]
    client["kestra"].drop_collection(collection_name)
    client.close()


def flow_file(directory: Path, keyspace: str, collection: str) -> Path:
    return sample_flow(
        directory,
        "get_detailed_order.yaml",
        {"kestra.products": f"{keyspace}.products", '"detailed_orders"': f'"{collection}"'},
    )


def kflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kflow", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def run_to_end(flow: Path, args: list[str], workdir: Path, env: dict[str, str]) -> KflowProcess:
    process = KflowProcess(flow, args, workdir, env)
    try:
        code = process.wait(120)
    finally:
        process.stop()
    assert code == 0, process.stderr()
    return process


def listed(history: Path, *args: str) -> list[dict[str, Any]]:
    result = kflow("executions", "list", "--history", str(history), "--json", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_list_show_and_replay_a_failure_once_its_cause_is_fixed(
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    keyspace_name: str,
    collection_name: str,
    products: Any,
    collection: Any,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    orders = [order("h", i) for i in range(4)]
    bad = {**order("h", 9), "product_id": str(UNKNOWN_PRODUCT)}
    produce(kafka_bootstrap, topic_name, order_records([*orders[:2], bad, *orders[2:]]))
    flow = flow_file(tmp_path, keyspace_name, collection_name)
    history = tmp_path / "state" / "history.sqlite"
    env = {"ENV_MONGO_URI": mongo_uri}
    args = run_args(kafka_bootstrap, topic_name, unique_name("g"), "--max-executions", "5",
                    "--timeout", "90", "--history", str(history))  # fmt: skip
    process = run_to_end(flow, args, tmp_path / "run1", env)
    printed = {e["id"]: e for e in process.executions()}
    assert len(printed) == 5

    # list: every execution, with the trigger value and coordinates as the trigger read them
    stored = {e["id"]: e for e in listed(history)}
    assert stored.keys() == printed.keys()
    for eid, record in stored.items():
        assert record["state"] == printed[eid]["state"]
        assert record["trigger"]["topic"] == topic_name
        assert record["flowPath"] == str(flow.resolve())
    by_order = {r["trigger"]["value"]["order_id"]: r for r in stored.values()}
    failed = by_order[bad["order_id"]]
    assert failed["state"] == "FAILED"
    assert failed["trigger"]["offset"] == 2
    assert [r["id"] for r in listed(history, "--state", "FAILED")] == [failed["id"]]
    assert len(listed(history, "--flow", "get_detailed_order", "--since", "1h")) == 5
    assert listed(history, "--flow", "another_flow") == []

    plain = kflow("executions", "list", "--history", str(history))
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert len(lines) == 5
    assert sum(" FAILED " in line for line in lines) == 1
    assert f"{topic_name}[0]@2" in next(line for line in lines if " FAILED " in line)

    # show: the failing task, its error, the task that ran before it
    shown = kflow("executions", "show", failed["id"][:10], "--history", str(history))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert f"Execution {failed['id']}  FAILED" in text
    task_lines = {
        m.group(1): (m.group(2), line)
        for line in text.splitlines()
        if (m := re.search(r"(\w+)\s+(SUCCESS|FAILED)\s+1 attempt", line))
    }
    assert task_lines["get_product_from_cassandra"][0] == "SUCCESS"
    assert task_lines["insert_into_mongodb"][0] == "FAILED"
    assert "█" in task_lines["insert_into_mongodb"][1]
    assert "Unable to find `product_id`" in text
    assert '"row": null' in text  # the lookup's outputs: nothing found
    as_json = kflow("executions", "show", failed["id"], "--json", "--history", str(history))
    assert json.loads(as_json.stdout)["taskRuns"][1]["taskId"] == "insert_into_mongodb"

    # replay: a dry run says what would run; after the product exists, the replay succeeds
    dry = kflow("executions", "replay", failed["id"], "--dry-run", "--history", str(history))
    assert dry.returncode == 0, dry.stderr
    assert f"replay {failed['id']} (FAILED, dev.get_detailed_order)" in dry.stdout
    assert collection.count_documents({"order_id": bad["order_id"]}) == 0
    add_product(products, keyspace_name, UNKNOWN_PRODUCT)
    replay = kflow("executions", "replay", failed["id"], "--json", "--history", str(history),
                   env=env)  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    new = json.loads(replay.stdout.splitlines()[-1])
    assert new["state"] == "SUCCESS"
    doc = collection.find_one({"order_id": bad["order_id"]})
    assert doc["product"]["name"] == "late arrival"
    kept = {e["id"]: e for e in listed(history)}
    assert kept[new["id"]]["replayOf"] == failed["id"]
    assert kept[new["id"]]["trigger"]["value"] == bad

    # the history survives a restart of kflow: a second run adds to it
    send_all(kafka_bootstrap, topic_name, list(order_records([order("h", 20), order("h", 21)])))
    args2 = run_args(kafka_bootstrap, topic_name, unique_name("g"), "--max-executions", "7",
                     "--timeout", "90", "--history", str(history))  # fmt: skip
    run_to_end(flow, args2, tmp_path / "run2", env)
    assert len(listed(history, "--limit", "100")) == 5 + 1 + 7


def test_unknown_id_missing_file_and_moved_flow_each_give_one_line(
    kafka_bootstrap: str,
    mongo_uri: str,
    keyspace_name: str,
    collection_name: str,
    products: Any,
    collection: Any,
    tmp_path: Path,
) -> None:
    flow = flow_file(tmp_path, keyspace_name, collection_name)
    history = tmp_path / "h.sqlite"
    event = json.dumps(order("m", 1))
    first = kflow("run", str(flow), "--event", event, "--json", "--history", str(history),
                  env={"ENV_MONGO_URI": mongo_uri})  # fmt: skip
    assert first.returncode == 0, first.stderr
    eid = json.loads(first.stdout)["id"]

    unknown = kflow("executions", "show", "nosuchid", "--history", str(history))
    assert (unknown.returncode, unknown.stderr.strip()) == (
        1,
        f"kflow: error: no execution 'nosuchid' in {history}",
    )
    missing = kflow("executions", "list", "--history", str(tmp_path / "none.sqlite"))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        f"kflow: error: no execution history at {tmp_path / 'none.sqlite'} "
        "(kflow run writes it; see --history)"
    ]
    moved = tmp_path / "moved" / "flow.yaml"
    moved.parent.mkdir()
    flow.rename(moved)
    gone = kflow("executions", "replay", eid, "--history", str(history))
    assert gone.returncode == 1
    assert gone.stderr.strip().splitlines() == [
        f"kflow: error: execution {eid}: its flow file {flow.resolve()} no longer exists; "
        "give --flow FILE"
    ]
    again = kflow("executions", "replay", eid, "--flow", str(moved), "--history", str(history),
                  env={"ENV_MONGO_URI": mongo_uri})  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert collection.count_documents({"order_id": order("m", 1)["order_id"]}) == 2


def test_two_processes_share_one_history_file(
    kafka_bootstrap: str,
    mongo_uri: str,
    topic_name: str,
    keyspace_name: str,
    collection_name: str,
    products: Any,
    collection: Any,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    produce(kafka_bootstrap, topic_name, order_records([order("s", i) for i in range(60)]),
            partitions=4)  # fmt: skip
    flow = flow_file(tmp_path, keyspace_name, collection_name)
    history = tmp_path / "shared.sqlite"
    group = unique_name("g")
    env = {"ENV_MONGO_URI": mongo_uri}
    args = run_args(kafka_bootstrap, topic_name, group, "--history", str(history),
                    "--timeout", "120")  # fmt: skip
    from testkit.waiting import wait_until

    a = KflowProcess(flow, args, tmp_path / "a", env)
    b = KflowProcess(flow, args, tmp_path / "b", env)
    try:
        wait_until(lambda: a.count() + b.count(), lambda n: n >= 60, timeout=120,
                   what="60 executions over two processes")  # fmt: skip
        a.sigterm()
        b.sigterm()
        assert a.wait(60) == 0, a.stderr()
        assert b.wait(60) == 0, b.stderr()
    finally:
        a.stop()
        b.stop()
    printed = {e["id"] for e in a.executions()} | {e["id"] for e in b.executions()}
    stored = {e["id"] for e in listed(history, "--limit", "1000")}
    assert stored == printed
    assert collection.count_documents({}) == len(printed) >= 60
