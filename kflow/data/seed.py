"""Loading the products CSV into Cassandra (``kflow seed products``).

The keyspace (SimpleStrategy) and the blog's ``products`` table are created if
missing; rows are written with one prepared ``INSERT`` executed concurrently,
so loading the same file twice leaves the same rows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kflow.connectors.cassandra import (
    cassandra_errors,
    cassandra_session,
    describe_cassandra_error,
    format_endpoints,
)
from kflow.data.csvfiles import Product
from kflow.errors import CassandraError, DataError

__all__ = [
    "CONCURRENCY",
    "SeedResult",
    "SeedTarget",
    "check_identifier",
    "create_schema",
    "parse_hosts",
    "seed_products",
]

CONCURRENCY = 64
"""Inserts in flight at once."""

DDL_TIMEOUT_S = 30.0

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")


def check_identifier(kind: str, name: str) -> str:
    """Return ``name`` if it is a plain CQL identifier, else raise :class:`DataError`.

    Keyspace and table names cannot be bound parameters, so only names that need
    no quoting are accepted.
    """
    if not _IDENTIFIER.match(name):
        raise DataError(
            f"{kind} name {name!r} must start with a letter and hold only letters, "
            "digits and underscores (48 at most)"
        )
    return name


def parse_hosts(text: str, default_port: int = 9042) -> list[tuple[str, int]]:
    """``"a:9042,b"`` -> ``[("a", 9042), ("b", 9042)]``; IPv6 as ``[::1]:9042``."""
    endpoints: list[tuple[str, int]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.startswith("["):
            host, _, rest = part[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ""
            if rest and not rest.startswith(":"):
                raise ValueError(f"bad host {part!r}")
        elif part.count(":") == 1:
            host, port_text = part.split(":")
        else:
            host, port_text = part, ""
        if not host:
            raise ValueError(f"bad host {part!r}: no host name")
        try:
            port = int(port_text) if port_text else default_port
        except ValueError:
            raise ValueError(f"bad host {part!r}: port {port_text!r} is not a number") from None
        if not 0 < port < 65536:
            raise ValueError(f"bad host {part!r}: port {port} out of range")
        endpoints.append((host, port))
    if not endpoints:
        raise ValueError("no host given")
    return endpoints


@dataclass(frozen=True)
class SeedTarget:
    """Where and how to write the products."""

    endpoints: Sequence[tuple[str, int]] = (("127.0.0.1", 9042),)
    datacenter: str = "datacenter1"
    keyspace: str = "kestra"
    table: str = "products"
    replication_factor: int = 1
    username: str | None = None
    password: str | None = None

    @property
    def address(self) -> str:
        return format_endpoints(self.endpoints)


@dataclass(frozen=True)
class SeedResult:
    """What a seed run did."""

    rows: int
    seconds: float
    keyspace: str
    table: str


def create_schema(session: object, target: SeedTarget) -> None:
    """Create the keyspace and the blog's products table unless they exist."""
    keyspace = check_identifier("keyspace", target.keyspace)
    table = check_identifier("table", target.table)
    if target.replication_factor < 1:
        raise DataError(f"replication factor must be at least 1, not {target.replication_factor}")
    statements = (
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
        f"{{'class': 'SimpleStrategy', 'replication_factor': {int(target.replication_factor)}}}",
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{table} ("
        "product_id int, product_name text, product_category text, brand text, "
        "PRIMARY KEY (product_id))",
    )
    with cassandra_errors(target.address):
        for statement in statements:
            session.execute(statement, timeout=DDL_TIMEOUT_S)  # type: ignore[attr-defined]


def seed_products(
    products: Sequence[Product],
    target: SeedTarget,
    on_progress: Callable[[int, int], None] | None = None,
) -> SeedResult:
    """Write ``products`` into ``target`` (creating its schema); returns rows and seconds.

    ``on_progress(done, total)`` is called as inserts complete. Raises
    :class:`CassandraError` on the first failed insert (rows already written stay:
    the inserts are idempotent, running again completes the load).
    """
    check_identifier("keyspace", target.keyspace)
    check_identifier("table", target.table)
    started = time.monotonic()
    session = cassandra_session(
        target.endpoints,
        target.datacenter,
        username=target.username,
        password=target.password,
        application_name="kflow seed",
    )
    create_schema(session, target)
    from cassandra.concurrent import execute_concurrent_with_args

    total = len(products)
    done = 0
    with cassandra_errors(target.address):
        insert = session.prepare(
            f"INSERT INTO {target.keyspace}.{target.table} "
            "(product_id, product_name, product_category, brand) VALUES (?, ?, ?, ?)"
        )
        params = [(p.product_id, p.product_name, p.product_category, p.brand) for p in products]
        results = execute_concurrent_with_args(
            session,
            insert,
            params,
            concurrency=CONCURRENCY,
            raise_on_first_error=False,
            results_generator=True,
        )
        for index, (success, outcome) in enumerate(results):
            if not success:
                raise _insert_failure(outcome, products[index], target) from outcome
            done += 1
            if on_progress is not None:
                on_progress(done, total)
    return SeedResult(done, time.monotonic() - started, target.keyspace, target.table)


def _insert_failure(exc: BaseException, product: Product, target: SeedTarget) -> CassandraError:
    described = describe_cassandra_error(exc, target.address)
    reason = described or f"Cassandra at {target.address}: {type(exc).__name__}: {exc}"
    return CassandraError(
        f"{reason} (inserting product_id {product.product_id})", address=target.address
    )
