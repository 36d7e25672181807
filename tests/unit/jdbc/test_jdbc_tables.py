"""`kflow produce orders --to postgres://... | mysql://...`: the URL, the table and the upsert."""

from __future__ import annotations

import re

import pytest

from kflow.data.tables import (
    column_type,
    create_table_sql,
    parse_table_target,
    upsert_sql,
)
from kflow.data.targets import parse_target
from kflow.errors import UsageError

FIRST = {"order_id": "1", "customer_name": "Angela", "price": "84.27", "rate": "0.125"}


def test_postgres_and_mysql_urls() -> None:
    pg = parse_target("postgres://kflow:s3cret@127.0.0.1:5432/kflow?table=orders")
    assert (pg.dialect, pg.host, pg.port, pg.database, pg.table, pg.key) == (  # type: ignore[union-attr]
        "postgres",
        "127.0.0.1",
        5432,
        "kflow",
        "orders",
        "order_id",
    )
    assert "s3cret" not in pg.describe()
    my = parse_table_target("mariadb://u@h/db?table=shop.orders&key=id")
    assert (my.dialect, my.port, my.table, my.key, my.password) == (
        "mysql",
        3306,
        "shop.orders",
        "id",
        None,
    )
    assert my.describe() == "table shop.orders of MariaDB h:3306/db (upsert on id)"
    assert parse_table_target("postgresql://h/db").table == "orders"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://h", "the database goes after the host"),
        ("mysql://h/db?table=a;drop", "is not a plain [schema.]name"),
        ("mysql://h/db?key=a-b", "is not a plain column name"),
        ("postgres://h/db?tabel=x", "unknown parameter(s) tabel"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_table_target(url)


def test_column_types_come_from_the_first_values() -> None:
    assert column_type("12", "postgres") == "BIGINT"
    assert column_type("84.27", "mysql") == "NUMERIC(12,2)"
    assert column_type("0.125", "postgres") == "DOUBLE PRECISION"
    assert column_type("x", "postgres") == "TEXT"
    assert column_type("x", "mysql", key=True) == "VARCHAR(255)"


def test_create_table_and_upsert_statements() -> None:
    pg = parse_table_target("postgres://h/db?table=orders")
    assert create_table_sql(pg, FIRST) == (
        'CREATE TABLE IF NOT EXISTS "orders" ("order_id" BIGINT NOT NULL, '
        '"customer_name" TEXT, "price" NUMERIC(12,2), "rate" DOUBLE PRECISION, '
        'PRIMARY KEY ("order_id"))'
    )
    assert upsert_sql(pg, ["order_id", "price"]) == (
        'INSERT INTO "orders" ("order_id", "price") VALUES (%s, %s) '
        'ON CONFLICT ("order_id") DO UPDATE SET "price" = EXCLUDED."price"'
    )
    my = parse_table_target("mysql://h/db")
    assert upsert_sql(my, ["order_id", "price"]) == (
        "INSERT INTO `orders` (`order_id`, `price`) VALUES (%s, %s) "
        "ON DUPLICATE KEY UPDATE `price` = VALUES(`price`)"
    )
    assert create_table_sql(my, {"order_id": "1"}).endswith(
        "PRIMARY KEY (`order_id`)) DEFAULT CHARSET=utf8mb4"
    )
