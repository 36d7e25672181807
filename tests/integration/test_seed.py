"""`kflow seed products` against the real Cassandra of the local stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy
from typer.testing import CliRunner

from kflow.cli.app import app
from kflow.connectors.cassandra import close_cassandra_sessions
from kflow.data.csvfiles import CsvError, Product, read_products
from kflow.data.generate import generate_products
from kflow.data.seed import SeedTarget, seed_products

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def session(
    cassandra_hosts: list[str], cassandra_port: int, cassandra_datacenter: str
) -> Iterator[Session]:
    """A session of the test's own (kflow's cached sessions are closed by the command)."""
    profile = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=cassandra_datacenter),
        request_timeout=30,
    )
    cluster = Cluster(
        cassandra_hosts,
        port=cassandra_port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
    )
    try:
        yield cluster.connect()
    finally:
        cluster.shutdown()


@pytest.fixture
def keyspace(keyspace_name: str, session: Session) -> Iterator[str]:
    yield keyspace_name
    session.execute(f"DROP KEYSPACE IF EXISTS {keyspace_name}", timeout=60)


def _by_id(product: Product) -> int:
    return product.product_id


def _hosts(cassandra_hosts: list[str], cassandra_port: int) -> str:
    return ",".join(f"{host}:{cassandra_port}" for host in cassandra_hosts)


def _rows(session: Session, keyspace: str, table: str = "products") -> list[Product]:
    rows = session.execute(
        f"SELECT product_id, product_name, product_category, brand FROM {keyspace}.{table}"
    )
    return sorted((Product(*row) for row in rows), key=_by_id)


def _keyspace_exists(session: Session, keyspace: str) -> bool:
    found = session.execute(
        "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s", (keyspace,)
    )
    return found.one() is not None


def test_seeding_twice_leaves_the_same_20_rows(
    session: Session, keyspace: str, cassandra_hosts: list[str], cassandra_port: int
) -> None:
    args = [
        "seed", "products", "--file", str(REPO / "data" / "products.csv"),
        "--hosts", _hosts(cassandra_hosts, cassandra_port), "--keyspace", keyspace,
    ]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith(f"seeded 20 rows into {keyspace}.products at ")
    expected = sorted(read_products(REPO / "data" / "products.csv"), key=_by_id)
    assert _rows(session, keyspace) == expected

    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert _rows(session, keyspace) == expected

    replication = session.execute(
        "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = %s", (keyspace,)
    ).one()
    assert replication is not None
    assert replication.replication["class"].endswith("SimpleStrategy")
    assert replication.replication["replication_factor"] == "1"


def test_a_bad_csv_writes_nothing(
    session: Session,
    keyspace: str,
    tmp_path: Path,
    cassandra_hosts: list[str],
    cassandra_port: int,
) -> None:
    good = (REPO / "data" / "products.csv").read_text(encoding="utf-8").splitlines()
    bad_lines = [*good[:5], "6x,broken,Books,id is not a number", *good[6:], "21,short"]
    bad = tmp_path / "products.csv"
    bad.write_text("\n".join(bad_lines) + "\n", encoding="utf-8")

    result = runner.invoke(
        app,
        [
            "seed", "products", "--file", str(bad), "--keyspace", keyspace,
            "--hosts", _hosts(cassandra_hosts, cassandra_port),
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert isinstance(result.exception, CsvError)
    assert [(p.line, p.message) for p in result.exception.problems] == [
        (6, "product_id '6x' is not an integer"),
        (22, "missing column(s) product_category, brand"),
    ]
    assert not _keyspace_exists(session, keyspace)


def test_seed_library_loads_many_rows_concurrently_into_another_table(
    session: Session,
    keyspace: str,
    cassandra_hosts: list[str],
    cassandra_port: int,
    cassandra_datacenter: str,
) -> None:
    products = [
        Product(int(p["product_id"]), p["product_name"], p["product_category"], p["brand"])
        for p in generate_products(seed=5, count=1500)
    ]
    progress: list[int] = []
    target = SeedTarget(
        endpoints=[(host, cassandra_port) for host in cassandra_hosts],
        datacenter=cassandra_datacenter,
        keyspace=keyspace,
        table="catalog",
    )
    try:
        result = seed_products(products, target, on_progress=lambda done, _: progress.append(done))
    finally:
        close_cassandra_sessions()
    assert result.rows == 1500
    assert progress == list(range(1, 1501))
    assert _rows(session, keyspace, "catalog") == sorted(products, key=_by_id)
