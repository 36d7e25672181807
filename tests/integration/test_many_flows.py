"""``kflow run FLOW_OR_DIR...``: many flows in one process, and ``--watch``, against the real
Kafka, RabbitMQ and MongoDB.

Each flow stores one MongoDB document per execution (``{mid, k, n}`` of its message), in a
collection of its own, so every assertion reads what the flows did, not what they printed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.metrics import get, scrape
from testkit.processes import KflowProcess, running
from testkit.sources import AmqpKit, KafkaKit, SourceKit, flow_yaml, messages
from testkit.stack import fresh_database
from testkit.waiting import wait_until

pytestmark = pytest.mark.integration

METRICS_URL = re.compile(r"metrics on (http://\S+)/metrics,")


@pytest.fixture
def database(mongo_uri: str, unique_name: Callable[[str], str]) -> Iterator[tuple[str, Any]]:
    name = unique_name("db")
    with fresh_database(mongo_uri, name) as db:
        yield name, db


def flow_text(kit: SourceKit, flow_id: str, mongo_uri: str, database: str, collection: str) -> str:
    text = flow_yaml(kit, mongo_uri, database, collection, "PT0S")
    return text.replace(f"id: conformance_{kit.kind}\n", f"id: {flow_id}\n", 1)


def stored(db: Any, collection: str) -> Counter[str]:
    return Counter(d["mid"] for d in db[collection].find({}, {"mid": 1, "_id": 0}))


def wait_stored(db: Any, collection: str, wanted: set[str], what: str) -> Counter[str]:
    return wait_until(
        lambda: stored(db, collection),
        lambda ids: wanted <= set(ids),
        timeout=90,
        what=what,
        every=0.25,
    )


def wait_said(process: KflowProcess, text: str, after: int = 0) -> str:
    """Wait until stderr, past its first ``after`` characters, holds ``text``."""
    return wait_until(
        lambda: process.stderr()[after:],
        lambda err: text in err or not process.alive,
        timeout=60,
        what=f"kflow run saying {text!r}",
    )


def test_two_flows_on_two_brokers_run_side_by_side_in_one_process(
    kafka_bootstrap: str,
    mongo_uri: str,
    database: tuple[str, Any],
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    name, db = database
    kafka, amqp = KafkaKit(unique_name("k"), kafka_bootstrap), AmqpKit(unique_name("q"))
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "from_kafka.yaml").write_text(flow_text(kafka, "from_kafka", mongo_uri, name, "k"))
    (flows / "from_amqp.yml").write_text(flow_text(amqp, "from_amqp", mongo_uri, name, "q"))
    (flows / "notes.txt").write_text("not a flow")
    for kit in (kafka, amqp):
        kit.prepare()
    on_kafka, on_amqp = messages(kafka.name, 40, keys=4), messages(amqp.name, 40)
    history = tmp_path / "history.sqlite"
    args = ["--history", str(history), "--metrics-port", "0"]
    with running(flows, args, tmp_path / "run", {}) as process:
        base = metrics_url(process)
        wait_until(lambda: get(base + "/readyz"), lambda r: r[0] == 200, timeout=60, what="ready")
        kafka.publish(on_kafka)
        amqp.publish(on_amqp)
        k = wait_stored(db, "k", {m.id for m in on_kafka}, "every Kafka message stored")
        q = wait_stored(db, "q", {m.id for m in on_amqp}, "every AMQP message stored")
        wait_until(process.count, lambda n: n >= 80, timeout=30, what="80 executions printed")
        samples = wait_until(
            lambda: scrape(base),
            lambda s: sum(v for (n, _), v in s.items() if n == "kflow_acks_total") == 80,
            timeout=30,
            what="80 acknowledgements counted",
        )
        for flow_id in ("from_kafka", "from_amqp"):
            labels = {("namespace", "dev.sources"), ("flow", flow_id), ("state", "SUCCESS")}
            counted = [v for (n, ls), v in samples.items() if n == "kflow_executions_total"]
            assert counted and samples[("kflow_executions_total", frozenset(labels))] == 40
        process.sigterm()
        assert process.wait(60) == 0, process.stderr()[-2000:]
    assert k == Counter({m.id: 1 for m in on_kafka})
    assert q == Counter({m.id: 1 for m in on_amqp})
    executions = process.executions()
    by_flow = Counter((e["namespace"], e["flowId"], e["state"]) for e in executions)
    assert by_flow == {
        ("dev.sources", "from_kafka", "SUCCESS"): 40,
        ("dev.sources", "from_amqp", "SUCCESS"): 40,
    }
    err = process.stderr()
    assert "kflow run: dev.sources.from_amqp: 40 executions (SUCCESS 40)" in err
    assert "kflow run: dev.sources.from_kafka: 40 executions (SUCCESS 40)" in err
    assert "80 executions of 2 flows (SUCCESS 80), " in err
    kept = kflow_json("executions", "list", "--history", str(history), "--limit", "100", "--json")
    paths = Counter((r["flowId"], Path(r["flowPath"]).name) for r in kept)
    assert paths == {("from_kafka", "from_kafka.yaml"): 40, ("from_amqp", "from_amqp.yml"): 40}


def metrics_url(process: KflowProcess) -> str:
    found = wait_until(
        lambda: METRICS_URL.search(process.stderr()),
        lambda m: m is not None or not process.alive,
        timeout=30,
        what="the metrics address on stderr",
    )
    assert found is not None, process.stderr()[-2000:]
    return found.group(1)


def kflow_json(*args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "kflow", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_one_invalid_flow_stops_the_start_before_anything_connects(
    mongo_uri: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    """Every problem of every file is listed; the valid flow's broker is never reached (it
    points at a port nothing listens on, so connecting would be a different error)."""
    unreachable = KafkaKit(unique_name("k"), "127.0.0.1:1")
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "a_good.yaml").write_text(flow_text(unreachable, "good", mongo_uri, "db", "c"))
    (flows / "b_bad.yaml").write_text(
        "id: bad\nnamespace: dev\ntasks:\n  - id: x\n    type: nope\n"
    )
    (flows / "c_dup.yaml").write_text(flow_text(unreachable, "good", mongo_uri, "db", "c"))
    process = KflowProcess(flows, [], tmp_path / "run", {})
    code = process.wait(60)
    err = process.stderr()
    assert code == 1, err
    assert f"{flows / 'b_bad.yaml'}:5:" in err  # the bad task type, located
    assert "flow dev.sources.good is also defined in" in err
    assert "2 of 3 flows cannot run" in err and "nothing was run" in err
    assert "127.0.0.1:1" not in err and process.count() == 0


def test_one_flow_option_is_refused_with_many(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    process = KflowProcess(flows, ["--topic", "t"], tmp_path / "run", {})
    assert process.wait(30) == 2
    assert "--topic applies to one flow" in process.stderr()


def test_watch_reloads_an_edit_keeps_the_running_version_on_a_broken_one_and_adds_files(
    kafka_bootstrap: str,
    mongo_uri: str,
    database: tuple[str, Any],
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    """The directory starts empty. Version 1 stores into ``v1``, the edit into ``v2``: each
    message is stored once, in the collection of the version that ran it, and none is lost
    across the reload."""
    name, db = database
    kafka, amqp = KafkaKit(unique_name("k"), kafka_bootstrap), AmqpKit(unique_name("q"))
    kafka.prepare()
    amqp.prepare()
    flows = tmp_path / "flows"
    flows.mkdir()
    path = flows / "orders.yaml"
    first, second, third = (messages(f"{kafka.name}-{i}", 30, keys=3) for i in range(3))
    args = ["--watch", "--no-history"]
    with running(flows, args, tmp_path / "run", {}) as process:
        wait_said(process, "no flow in")  # an empty directory is watched, not refused
        path.write_text(flow_text(kafka, "orders", mongo_uri, name, "v1"))
        wait_said(process, "flow dev.sources.orders added from")
        kafka.publish(first)
        wait_stored(db, "v1", {m.id for m in first}, "version 1 storing the first batch")

        said = len(process.stderr())
        path.write_text(flow_text(kafka, "orders", mongo_uri, name, "v2"))
        wait_said(process, "runs version 2", said)
        kafka.publish(second)
        wait_stored(db, "v2", {m.id for m in second}, "version 2 storing the second batch")

        said = len(process.stderr())
        path.write_text(flow_text(kafka, "orders", mongo_uri, name, "v3") + "  - {broken\n")
        wait_said(process, "keeps running version 2", said)

        said = len(process.stderr())  # valid, but its broker is not there: back to version 2
        unreachable = flow_text(kafka, "orders", mongo_uri, name, "v4")
        path.write_text(unreachable.replace(kafka_bootstrap, "127.0.0.1:1"))
        wait_said(process, "going back to version 2", said)
        assert "version 3 of flow dev.sources.orders failed to start" in process.stderr()
        kafka.publish(third)
        wait_stored(db, "v2", {m.id for m in third}, "version 2 storing the third batch")

        said = len(process.stderr())
        on_amqp = messages(amqp.name, 20)
        (flows / "added.yaml").write_text(flow_text(amqp, "added", mongo_uri, name, "q"))
        wait_said(process, "flow dev.sources.added added from", said)
        amqp.publish(on_amqp)
        wait_stored(db, "q", {m.id for m in on_amqp}, "the added flow storing its messages")

        said = len(process.stderr())
        (flows / "added.yaml").unlink()
        wait_said(process, "flow dev.sources.added stopped", said)
        assert process.alive, process.stderr()[-2000:]
        process.sigterm()
        assert process.wait(60) == 0, process.stderr()[-2000:]
    assert stored(db, "v1") == Counter({m.id: 1 for m in first})
    assert stored(db, "v2") == Counter({m.id: 1 for m in second + third})
    assert stored(db, "v3") == stored(db, "v4") == Counter()
    assert stored(db, "q") == Counter({m.id: 1 for m in on_amqp})
    err = process.stderr()
    assert f"{path}:" in err  # the broken edit's diagnostic, located in the file
    assert "kflow run: dev.sources.orders: 90 executions (SUCCESS 90)" in err
    assert "110 executions of 2 flows (SUCCESS 110)" in err
