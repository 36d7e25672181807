"""Deterministic sample data in the style of the blog post: products and orders.

``python -m kflow.data.generate [--out data]`` writes ``products.csv`` (20
products) and ``orders.csv`` (100 orders). Every value comes from one seeded
Faker instance, so running it again gives the same bytes (for a given Faker
version: Faker's word lists change between releases). A few orders carry the
names that break naive templating: an apostrophe, a double quote, letters
outside ASCII.

:func:`fake_orders` makes any number of further orders for
``kflow produce orders --fake N``.
"""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

__all__ = [
    "FAKE_SEED",
    "ORDER_COLUMNS",
    "ORDER_COUNT",
    "PRODUCT_COLUMNS",
    "PRODUCT_COUNT",
    "SEED",
    "fake_orders",
    "generate_orders",
    "generate_products",
    "orders_csv_text",
    "products_csv_text",
    "write_datasets",
]

SEED = 20240627
"""Seed of the committed datasets (the blog post's date)."""

FAKE_SEED = 424242
"""Default seed of ``--fake`` orders."""

PRODUCT_COUNT = 20
ORDER_COUNT = 100

PRODUCT_COLUMNS = ("product_id", "product_name", "product_category", "brand")
ORDER_COLUMNS = (
    "order_id",
    "customer_name",
    "customer_email",
    "product_id",
    "price",
    "quantity",
    "total",
)

CATEGORIES = ("Electronics", "Household", "Clothing", "Books", "Sports", "Toys", "Garden")

_APOSTROPHE_SURNAMES = ("O'Connor", "O'Brien", "D'Angelo", "O'Neill", "D'Souza", "O'Hara")
_NON_ASCII_LOCALES = ("de_DE", "es_ES", "fr_FR", "pl_PL", "cs_CZ", "sv_SE")
# Positions (1-based) in the committed orders of the hard cases, and how often
# they recur among --fake orders.
_HARD_CASE_EVERY = 13
_FAKE_POOL_SIZE = 1000


def _faker(seed: int, locale: str | Sequence[str] = "en_US"):  # type: ignore[no-untyped-def]
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(seed)
    return fake


def generate_products(seed: int = SEED, count: int = PRODUCT_COUNT) -> list[dict[str, str]]:
    """``count`` products, ids 1..count: lower-case surname names, Faker ``bs()`` brands."""
    fake = _faker(seed)
    products = []
    for product_id in range(1, count + 1):
        if fake.random.random() < 0.25:
            name = f"{fake.last_name()}-{fake.last_name()}"
        else:
            name = fake.last_name()
        products.append(
            {
                "product_id": str(product_id),
                "product_name": name.lower(),
                "product_category": fake.random.choice(CATEGORIES),
                "brand": fake.bs(),
            }
        )
    return products


class _OrderMaker:
    """Builds orders from one seeded Faker; every ``_HARD_CASE_EVERY``-th name is a hard case."""

    def __init__(self, seed: int, product_ids: Sequence[int], pool_size: int = 0) -> None:
        if not product_ids:
            raise ValueError("orders need at least one product id")
        self.fake = _faker(seed)
        self.intl = _faker(seed + 1, list(_NON_ASCII_LOCALES))
        self.product_ids = list(product_ids)
        self.made = 0
        # Faker takes ~150 us per name and e-mail; many orders draw from pools instead.
        self.pool: list[tuple[str, str]] = [
            (self._name(), self.fake.email()) for _ in range(pool_size)
        ]

    def _name(self) -> str:
        self.made += 1
        if self.made % _HARD_CASE_EVERY == 7:
            return self._hard_name((self.made // _HARD_CASE_EVERY) % 3)
        return str(self.fake.name())

    def _hard_name(self, kind: int) -> str:
        fake = self.fake
        if kind == 0:
            return f"{fake.first_name()} {fake.random.choice(_APOSTROPHE_SURNAMES)}"
        if kind == 1:
            return f'{fake.first_name()} "{fake.first_name()}" {fake.last_name()}'
        while True:  # a name with letters outside ASCII
            name = f"{self.intl.first_name()} {self.intl.last_name()}"
            if not name.isascii():
                return name

    def make(self, order_id: int) -> dict[str, str]:
        fake, rng = self.fake, self.fake.random
        if self.pool:
            name, email = rng.choice(self.pool)
        else:
            name, email = self._name(), fake.email()
        price = Decimal(rng.randint(499, 49_999)) / 100
        quantity = rng.choices((1, 2, 3, 4, 5), weights=(60, 20, 10, 6, 4))[0]
        total = (price * quantity).quantize(Decimal("0.01"))
        return {
            "order_id": str(order_id),
            "customer_name": name,
            "customer_email": email,
            "product_id": str(rng.choice(self.product_ids)),
            "price": f"{price:.2f}",
            "quantity": str(quantity),
            "total": f"{total:.2f}",
        }


def generate_orders(
    product_ids: Sequence[int] = tuple(range(1, PRODUCT_COUNT + 1)),
    seed: int = SEED,
    count: int = ORDER_COUNT,
) -> list[dict[str, str]]:
    """``count`` orders with ids 1..count, each for one of ``product_ids``."""
    maker = _OrderMaker(seed, product_ids)
    return [maker.make(order_id) for order_id in range(1, count + 1)]


def fake_orders(
    count: int, product_ids: Sequence[int], first_order_id: int = 1, seed: int = FAKE_SEED
) -> Iterator[dict[str, str]]:
    """Lazily make ``count`` orders with ids ``first_order_id``, ``first_order_id + 1``...

    Order ids are unique within the run; product ids are drawn from ``product_ids``.
    """
    maker = _OrderMaker(seed, product_ids, pool_size=min(count, _FAKE_POOL_SIZE))
    for offset in range(count):
        yield maker.make(first_order_id + offset)


def _csv_text(columns: Sequence[str], rows: Sequence[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def products_csv_text(seed: int = SEED) -> str:
    """The exact text of ``products.csv``."""
    return _csv_text(PRODUCT_COLUMNS, generate_products(seed))


def orders_csv_text(seed: int = SEED) -> str:
    """The exact text of ``orders.csv`` (orders for the products of the same seed)."""
    product_ids = [int(p["product_id"]) for p in generate_products(seed)]
    return _csv_text(ORDER_COLUMNS, generate_orders(product_ids, seed))


def write_datasets(out_dir: Path, seed: int = SEED) -> tuple[Path, Path]:
    """Write ``products.csv`` and ``orders.csv`` (UTF-8, ``\\n`` line ends) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    products = out_dir / "products.csv"
    orders = out_dir / "orders.csv"
    products.write_bytes(products_csv_text(seed).encode("utf-8"))
    orders.write_bytes(orders_csv_text(seed).encode("utf-8"))
    return products, orders


def main(argv: Sequence[str] | None = None) -> None:
    """Command line of ``python -m kflow.data.generate``."""
    parser = argparse.ArgumentParser(
        prog="python -m kflow.data.generate",
        description="Write the deterministic sample datasets products.csv and orders.csv.",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("data"), help="directory to write to (default: data)"
    )
    parser.add_argument(
        "--seed", type=int, default=SEED, help=f"random seed (default: {SEED}, the committed data)"
    )
    args = parser.parse_args(argv)
    for path in write_datasets(args.out, args.seed):
        print(path)


if __name__ == "__main__":
    main()
