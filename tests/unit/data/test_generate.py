"""The sample datasets: deterministic, consistent, and with the hard cases."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import faker

from kflow.data.generate import (
    ORDER_COLUMNS,
    ORDER_COUNT,
    PRODUCT_COLUMNS,
    PRODUCT_COUNT,
    fake_orders,
    write_datasets,
)

REPO = Path(__file__).resolve().parents[3]
COMMITTED = REPO / "data"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_generating_twice_gives_identical_bytes(tmp_path: Path) -> None:
    first = write_datasets(tmp_path / "a")
    second = write_datasets(tmp_path / "b")
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes()


def test_generated_files_match_the_committed_ones(tmp_path: Path) -> None:
    products, orders = write_datasets(tmp_path)
    hint = (
        f"the committed data differs from what Faker {faker.VERSION} generates; "
        "if Faker was upgraded on purpose, run `python -m kflow.data.generate` and commit"
    )
    assert products.read_bytes() == (COMMITTED / "products.csv").read_bytes(), hint
    assert orders.read_bytes() == (COMMITTED / "orders.csv").read_bytes(), hint


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    _, default = write_datasets(tmp_path / "a")
    _, other = write_datasets(tmp_path / "b", seed=7)
    assert default.read_bytes() != other.read_bytes()


def test_products_have_ids_1_to_20_and_every_column() -> None:
    products = _rows(COMMITTED / "products.csv")
    assert [int(p["product_id"]) for p in products] == list(range(1, PRODUCT_COUNT + 1))
    for product in products:
        assert tuple(product) == PRODUCT_COLUMNS
        assert all(product[column].strip() for column in PRODUCT_COLUMNS)
        assert product["product_name"] == product["product_name"].lower()


def test_orders_are_consistent() -> None:
    orders = _rows(COMMITTED / "orders.csv")
    assert len(orders) == ORDER_COUNT
    assert [int(o["order_id"]) for o in orders] == list(range(1, ORDER_COUNT + 1))
    for order in orders:
        assert tuple(order) == ORDER_COLUMNS
        assert 1 <= int(order["product_id"]) <= PRODUCT_COUNT
        assert "@" in order["customer_email"]
        price, quantity, total = (order[c] for c in ("price", "quantity", "total"))
        assert price == f"{Decimal(price):.2f}" and total == f"{Decimal(total):.2f}"
        assert Decimal(price) * int(quantity) == Decimal(total)


def test_orders_hold_the_hard_names() -> None:
    names = [o["customer_name"] for o in _rows(COMMITTED / "orders.csv")]
    assert any("'" in name for name in names)
    assert any('"' in name for name in names)
    assert any(not name.isascii() for name in names)


def test_fake_orders_have_unique_ids_from_the_start_and_known_products() -> None:
    orders = list(fake_orders(500, [3, 5, 8], first_order_id=101))
    assert [o["order_id"] for o in orders] == [str(i) for i in range(101, 601)]
    assert {o["product_id"] for o in orders} == {"3", "5", "8"}
    assert all(tuple(o) == ORDER_COLUMNS for o in orders)
    assert all(Decimal(o["price"]) * int(o["quantity"]) == Decimal(o["total"]) for o in orders)


def test_fake_orders_are_reproducible_and_lazy() -> None:
    assert list(fake_orders(50, [1, 2])) == list(fake_orders(50, [1, 2]))
    endless = fake_orders(10**9, [1])
    assert next(endless)["order_id"] == "1"
