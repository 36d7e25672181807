"""Orders for tests and benchmarks: generated ones, and the sample CSVs of ``data/``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ORDERS_CSV = REPO / "data" / "orders.csv"
PRODUCTS_CSV = REPO / "data" / "products.csv"
PRODUCT_IDS = range(1, 21)  # the 20 products of data/products.csv
ORDER_FIELDS = (
    "order_id",
    "customer_name",
    "customer_email",
    "product_id",
    "price",
    "quantity",
    "total",
)


def order(prefix: str, i: int, padding: int = 0) -> dict[str, str]:
    """Order number ``i`` of a test: a unique id, a product of the catalogue, string values.

    ``padding`` adds a ``note`` of that many characters (flows ignore it; it makes records
    big enough for memory growth to be measurable).
    """
    quantity = 1 + i % 3
    price = 10 + (i % 97) + 0.25
    extra = {"note": "n" * padding} if padding else {}
    return {
        **extra,
        "order_id": f"{prefix}-{i}",
        "customer_name": f"Customer {i}",
        "customer_email": f"c{i}@example.org",
        "product_id": str(PRODUCT_IDS[i % len(PRODUCT_IDS)]),
        "price": f"{price:.2f}",
        "quantity": str(quantity),
        "total": f"{price * quantity:.2f}",
    }


def encoded(row: dict[str, Any]) -> bytes:
    return json.dumps(row).encode()


def csv_orders() -> list[dict[str, str]]:
    """The rows of ``data/orders.csv``."""
    with ORDERS_CSV.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def csv_products() -> dict[int, dict[str, str]]:
    """The rows of ``data/products.csv`` by product id."""
    with PRODUCTS_CSV.open(newline="", encoding="utf-8") as f:
        return {int(r["product_id"]): r for r in csv.DictReader(f)}


def order_records(rows: list[dict[str, str]]) -> list[tuple[str | None, bytes]]:
    """``(key, value)`` Kafka records of orders, keyed by order id."""
    return [(r["order_id"], json.dumps(r).encode()) for r in rows]
