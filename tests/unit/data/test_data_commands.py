"""Option parsing of `kflow seed products` and `kflow produce orders`, and their helpers.

The library calls that talk to Cassandra and Kafka are replaced by recorders here;
the integration tests run the same commands against the real servers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import kflow.data.produce as produce_lib
import kflow.data.seed as seed_lib
from kflow.cli.app import app
from kflow.data.produce import ProduceResult, ProduceTarget, encode_event, replay
from kflow.data.seed import SeedResult, parse_hosts
from kflow.errors import DataError

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9042", [("127.0.0.1", 9042)]),
        ("a, b:9043", [("a", 9042), ("b", 9043)]),
        ("[::1]:9044,[fe80::1]", [("::1", 9044), ("fe80::1", 9042)]),
    ],
)
def test_parse_hosts(text: str, expected: list[tuple[str, int]]) -> None:
    assert parse_hosts(text) == expected


@pytest.mark.parametrize("text", ["", ":9042", "a:port", "a:70000", " , "])
def test_parse_hosts_refuses_bad_lists(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hosts(text)


def test_encode_event_keeps_strings_and_non_ascii() -> None:
    key, value = encode_event({"order_id": "7", "customer_name": 'Zoë "Z" O\'Neil'}, "order_id")
    assert key == b"7"
    assert json.loads(value) == {"order_id": "7", "customer_name": 'Zoë "Z" O\'Neil'}
    assert "Zoë".encode() in value


def test_encode_event_without_the_key_field_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no field 'customer_id'"):
        encode_event({"order_id": "1"}, "customer_id")
    assert encode_event({"order_id": "1"}, None)[0] is None


def test_replay_counts_and_loops() -> None:
    rows = [{"order_id": str(i)} for i in range(3)]
    assert [r["order_id"] for r in replay(rows)] == ["0", "1", "2"]
    assert [r["order_id"] for r in replay(rows, count=2)] == ["0", "1"]
    assert [r["order_id"] for r in replay(rows, loop=True, count=7)] == list("0120120")


class Recorder:
    """Stands in for the library call and keeps what the command passed to it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def seed(self, products: list[Any], target: seed_lib.SeedTarget, on_progress: Any) -> Any:
        self.calls.append({"products": products, "target": target})
        return SeedResult(len(products), 0.01, target.keyspace, target.table)

    def produce(
        self,
        events: Iterable[Mapping[str, str]],
        target: ProduceTarget,
        rate: float,
        on_progress: Any,
    ) -> ProduceResult:
        sent = list(events)
        self.calls.append({"events": sent, "target": target, "rate": rate})
        return ProduceResult(len(sent), len(sent), 0, 0.5)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(seed_lib, "seed_products", recorder.seed)
    monkeypatch.setattr(produce_lib, "produce_events", recorder.produce)
    monkeypatch.chdir(REPO)
    return recorder


def test_seed_defaults(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KFLOW_CASSANDRA_USERNAME", raising=False)
    monkeypatch.delenv("KFLOW_CASSANDRA_PASSWORD", raising=False)
    result = runner.invoke(app, ["seed", "products"])
    assert result.exit_code == 0, result.output
    (call,) = recorder.calls
    target = call["target"]
    assert len(call["products"]) == 20
    assert list(target.endpoints) == [("127.0.0.1", 9042)]
    assert target.datacenter == "datacenter1"
    assert (target.keyspace, target.table) == ("kestra", "products")
    assert (target.replication_factor, target.username, target.password) == (1, None, None)
    assert result.stdout.startswith("seeded 20 rows into kestra.products at 127.0.0.1:9042 in ")


def test_seed_options_and_credentials_from_the_environment(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFLOW_CASSANDRA_USERNAME", "cassie")
    monkeypatch.setenv("KFLOW_CASSANDRA_PASSWORD", "s3cret")
    result = runner.invoke(
        app,
        [
            "seed", "products", "--hosts", "h1:9100,h2", "--datacenter", "dc2",
            "--keyspace", "shop", "--table", "items", "--replication-factor", "3",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    target = recorder.calls[0]["target"]
    assert list(target.endpoints) == [("h1", 9100), ("h2", 9042)]
    assert (target.datacenter, target.keyspace, target.table) == ("dc2", "shop", "items")
    assert (target.replication_factor, target.username, target.password) == (3, "cassie", "s3cret")
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--hosts", "a:port"], "port 'port' is not a number"),
        (["--keyspace", "drop table"], "keyspace name 'drop table'"),
        (["--table", "1abc"], "table name '1abc'"),
        (["--replication-factor", "0"], "should be greater than or equal to 1"),
    ],
)
def test_seed_refuses_bad_options(recorder: Recorder, args: list[str], expected: str) -> None:
    result = runner.invoke(app, ["seed", "products", *args])
    assert result.exit_code == 2
    assert expected in " ".join(result.stderr.replace("│", " ").split())
    assert recorder.calls == []


def _kflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kflow", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_seed_of_a_bad_csv_lists_every_bad_line_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "products.csv"
    bad.write_text(
        "product_id,product_name,product_category,brand\nx,a,b,c\n2,a,b,c\n3,a\n",
        encoding="utf-8",
    )
    # Port 1 has no server: the file is refused before any connection is tried.
    done = _kflow("seed", "products", "--file", str(bad), "--hosts", "127.0.0.1:1", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"kflow: error: {bad}: 2 problems, nothing was written",
        f"  {bad}:2: product_id 'x' is not an integer",
        f"  {bad}:4: missing column(s) product_category, brand",
    ]
    assert done.stdout == ""


def test_produce_defaults_replay_the_file_once_at_one_per_second(recorder: Recorder) -> None:
    result = runner.invoke(app, ["produce", "orders"])
    assert result.exit_code == 0, result.output
    (call,) = recorder.calls
    assert call["rate"] == 1.0
    assert call["target"] == ProduceTarget("127.0.0.1:9092", "orders", "order_id")
    assert [e["order_id"] for e in call["events"]] == [str(i) for i in range(1, 101)]
    assert result.stdout.startswith("sent 100, acknowledged 100, failed 0 to orders at ")


def test_produce_count_loop_key_and_rate(recorder: Recorder) -> None:
    result = runner.invoke(
        app,
        [
            "produce", "orders", "--loop", "--count", "250", "--rate", "0", "--key",
            "customer_email", "--topic", "t1", "--bootstrap-servers", "b1:9093,b2:9093",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    call = recorder.calls[0]
    assert call["rate"] == 0
    assert call["target"] == ProduceTarget("b1:9093,b2:9093", "t1", "customer_email")
    ids = [e["order_id"] for e in call["events"]]
    assert len(ids) == 250 and ids[100] == "1" and ids[249] == "50"


def test_produce_fake_orders_follow_the_file(recorder: Recorder) -> None:
    result = runner.invoke(app, ["produce", "orders", "--fake", "30", "--count", "12"])
    assert result.exit_code == 0, result.output
    events = recorder.calls[0]["events"]
    assert [e["order_id"] for e in events] == [str(i) for i in range(101, 113)]
    assert all(1 <= int(e["product_id"]) <= 20 for e in events)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--rate", "-1"], "should be greater than or equal to 0"),
        (["--fake", "3", "--loop"], "--loop replays a file"),
        (["--fake", "3", "--key", "nope"], "fake orders have no field 'nope'"),
        (["--partitions", "0"], "should be greater than or equal to 1"),
    ],
)
def test_produce_refuses_bad_options(recorder: Recorder, args: list[str], expected: str) -> None:
    result = runner.invoke(app, ["produce", "orders", *args])
    assert result.exit_code == 2
    assert expected in " ".join(result.stderr.replace("│", " ").split())
    assert recorder.calls == []


def test_produce_with_a_key_column_missing_from_the_file_exits_1(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,total\n1,2.00\n", encoding="utf-8")
    done = _kflow(
        "produce", "orders", "--file", str(orders), "--key", "customer_id",
        "--bootstrap-servers", "127.0.0.1:1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        f"kflow: error: {orders}: 1 problem, nothing was written\n"
        f"  {orders}:1: header lacks column(s) customer_id\n"
    )


def test_every_option_has_help() -> None:
    root = typer.main.get_command(app)
    context = root.make_context("kflow", ["seed"], resilient_parsing=True)
    for group, name in (("seed", "products"), ("produce", "orders")):
        command = root.get_command(context, group).get_command(context, name)  # type: ignore[attr-defined]
        assert command is not None and command.help
        for param in command.params:
            assert param.help, f"{group} {name} {param.opts} has no help text"
