"""Reading and validating the products and orders CSV files.

Columns are mapped by header name (their order does not matter; extra columns
are ignored). A file is checked whole before anything is written: every bad
row is reported with its line number in one :class:`CsvError`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kflow.errors import DataError

__all__ = [
    "CQL_INT_MAX",
    "CQL_INT_MIN",
    "CsvError",
    "CsvProblem",
    "Product",
    "read_orders",
    "read_product_ids",
    "read_products",
]

CQL_INT_MIN = -(2**31)
CQL_INT_MAX = 2**31 - 1

PRODUCT_COLUMNS = ("product_id", "product_name", "product_category", "brand")


@dataclass(frozen=True)
class CsvProblem:
    """One bad line of a CSV file."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class CsvError(DataError):
    """A CSV file with bad rows; ``problems`` lists every one of them."""

    def __init__(self, path: Path, problems: Sequence[CsvProblem]) -> None:
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{path}: {count} {noun}, nothing was written"]
        lines.extend(f"  {problem}" for problem in problems)
        super().__init__("\n".join(lines))
        self.path = path
        self.problems = list(problems)


@dataclass(frozen=True)
class Product:
    """A row of the blog's ``products`` table."""

    product_id: int
    product_name: str
    product_category: str
    brand: str


class _CsvReader(Iterator[list[str]]):
    """What ``csv.reader`` returns (it has no public class to name)."""

    line_num: int


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, str]
    missing: tuple[str, ...]
    extra: int


def _read_rows(path: Path, required: Sequence[str]) -> tuple[list[str], list[_Row]]:
    """Header and rows of ``path``; raises CsvError for an unusable file or header."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, strict=True)
            return _collect(path, reader, required)  # type: ignore[arg-type]
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None


def _collect(
    path: Path, reader: _CsvReader, required: Sequence[str]
) -> tuple[list[str], list[_Row]]:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise CsvError(path, [CsvProblem(path, 1, "empty file, expected a header")]) from None
    except csv.Error as exc:
        raise CsvError(path, [CsvProblem(path, 1, f"unreadable header: {exc}")]) from None
    absent = [name for name in required if name not in header]
    if absent:
        raise CsvError(path, [CsvProblem(path, 1, f"header lacks column(s) {', '.join(absent)}")])
    rows: list[_Row] = []
    while True:
        start = reader.line_num + 1  # a quoted field may span lines: report where it starts
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvError(path, [CsvProblem(path, start, f"unreadable row: {exc}")]) from None
        if not record:
            continue  # blank line
        values = {name: record[i] for i, name in enumerate(header) if i < len(record)}
        missing = tuple(name for name in required if header.index(name) >= len(record))
        rows.append(_Row(start, values, missing, max(0, len(record) - len(header))))
    return header, rows


def _check_columns(path: Path, row: _Row, problems: list[CsvProblem]) -> bool:
    if row.missing:
        problems.append(CsvProblem(path, row.line, f"missing column(s) {', '.join(row.missing)}"))
        return False
    if row.extra:
        problems.append(CsvProblem(path, row.line, f"{row.extra} more field(s) than the header"))
        return False
    return True


def read_products(path: Path) -> list[Product]:
    """Every product of ``path``, or a :class:`CsvError` listing every bad line.

    A row is bad when a column is missing, when it has more fields than the
    header, when ``product_id`` is not an integer in CQL ``int`` range, or when
    its ``product_id`` repeats an earlier row's.
    """
    _header, rows = _read_rows(path, PRODUCT_COLUMNS)
    problems: list[CsvProblem] = []
    products: list[Product] = []
    first_line: dict[int, int] = {}
    for row in rows:
        if not _check_columns(path, row, problems):
            continue
        raw_id = row.values["product_id"].strip()
        try:
            product_id = int(raw_id)
        except ValueError:
            problems.append(CsvProblem(path, row.line, f"product_id {raw_id!r} is not an integer"))
            continue
        if not CQL_INT_MIN <= product_id <= CQL_INT_MAX:
            problems.append(
                CsvProblem(path, row.line, f"product_id {product_id} is outside the CQL int range")
            )
            continue
        if product_id in first_line:
            problems.append(
                CsvProblem(
                    path,
                    row.line,
                    f"product_id {product_id} repeats line {first_line[product_id]}",
                )
            )
            continue
        first_line[product_id] = row.line
        products.append(
            Product(
                product_id=product_id,
                product_name=row.values["product_name"],
                product_category=row.values["product_category"],
                brand=row.values["brand"],
            )
        )
    if problems:
        raise CsvError(path, problems)
    if not products:
        raise CsvError(path, [CsvProblem(path, 2, "no rows after the header")])
    return products


def read_product_ids(path: Path) -> list[int]:
    """The product ids of a products CSV (validated as by :func:`read_products`)."""
    return [product.product_id for product in read_products(path)]


def read_orders(path: Path, required: Sequence[str] = ("order_id",)) -> list[dict[str, str]]:
    """Every row of an orders CSV as a ``{column: text}`` dict, in header order.

    Values stay strings, as in the blog's events. Rows missing a column of the
    header, or with more fields than it, are reported together in a
    :class:`CsvError`; so is a header without the ``required`` columns.
    """
    header, rows = _read_rows(path, required)
    problems: list[CsvProblem] = []
    orders: list[dict[str, str]] = []
    for row in rows:
        missing = [name for name in header if name not in row.values]
        if missing:
            problems.append(CsvProblem(path, row.line, f"missing column(s) {', '.join(missing)}"))
            continue
        if not _check_columns(path, row, problems):
            continue
        orders.append({name: row.values[name] for name in header})
    if problems:
        raise CsvError(path, problems)
    return orders
