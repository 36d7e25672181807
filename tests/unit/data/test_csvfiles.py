"""Reading the CSV files: every bad line is reported with its number."""

from __future__ import annotations

from pathlib import Path

import pytest

from kflow.data.csvfiles import CsvError, Product, read_orders, read_products
from kflow.errors import DataError

HEADER = "product_id,product_name,product_category,brand\n"


def _write(tmp_path: Path, text: str, name: str = "products.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_columns_are_mapped_by_header_name(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "brand,extra,product_id,product_category,product_name\n"
        "monetize B2B ROI,x,19,Books,crawford-gaines\n",
    )
    assert read_products(path) == [Product(19, "crawford-gaines", "Books", "monetize B2B ROI")]


def test_every_bad_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "1,gomez,Electronics,streamline turn-key systems\n"
        + "two,wolfe,Household,morph viral applications\n"
        + "3,lewis,Clothing\n"
        + "\n"
        + "1,again,Books,deliver integrated interfaces\n"
        + "99999999999,big,Books,x\n"
        + "5,ok,Books,x,surplus\n",
    )
    with pytest.raises(CsvError) as caught:
        read_products(path)
    problems = [(p.line, p.message) for p in caught.value.problems]
    assert problems == [
        (3, "product_id 'two' is not an integer"),
        (4, "missing column(s) brand"),
        (6, "product_id 1 repeats line 2"),
        (7, "product_id 99999999999 is outside the CQL int range"),
        (8, "1 more field(s) than the header"),
    ]
    message = str(caught.value)
    assert message.splitlines()[0] == f"{path}: 5 problems, nothing was written"
    assert f"{path}:3: product_id 'two' is not an integer" in message


def test_line_numbers_count_quoted_line_breaks(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + '1,"two\nlines",Books,x\nnope,a,b,c\n')
    with pytest.raises(CsvError) as caught:
        read_products(path)
    assert [p.line for p in caught.value.problems] == [4]


def test_a_header_without_a_required_column_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "product_id,product_name,brand\n1,a,b\n")
    with pytest.raises(CsvError) as caught:
        read_products(path)
    assert f"{path}:1: header lacks column(s) product_category" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "empty file"), (HEADER, "no rows after the header")],
)
def test_a_file_without_rows_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(CsvError, match=expected):
        read_products(_write(tmp_path, text))


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        read_products(tmp_path / "nope.csv")


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(("\ufeff" + HEADER + "7,a,b,c\n").encode("utf-8"))
    assert read_products(path)[0].product_id == 7


def test_orders_keep_string_values_in_header_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'order_id,customer_name,total\n1,"Robert ""Bobby"" O\'Neil",166.89\n2,Zoë Müller,3.00\n',
        "orders.csv",
    )
    assert read_orders(path) == [
        {"order_id": "1", "customer_name": 'Robert "Bobby" O\'Neil', "total": "166.89"},
        {"order_id": "2", "customer_name": "Zoë Müller", "total": "3.00"},
    ]


def test_orders_need_the_key_column_and_whole_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, "order_id,total\n1,2.00\n2\n", "orders.csv")
    with pytest.raises(CsvError) as caught:
        read_orders(path)
    assert [(p.line, p.message) for p in caught.value.problems] == [(3, "missing column(s) total")]
    with pytest.raises(CsvError, match=r"header lacks column\(s\) customer_id"):
        read_orders(path, required=("customer_id",))


def test_the_committed_files_are_valid() -> None:
    data = Path(__file__).resolve().parents[3] / "data"
    assert len(read_products(data / "products.csv")) == 20
    assert len(read_orders(data / "orders.csv")) == 100


def test_a_file_that_is_not_utf8_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "1,café,Books,x\n").encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.csv: not UTF-8 text"):
        read_products(path)


def test_a_malformed_quoted_field_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + '1,a,b,c\n2,"bad"quote,b,c\n')
    with pytest.raises(CsvError) as caught:
        read_products(path)
    assert [p.line for p in caught.value.problems] == [3]
    assert caught.value.problems[0].message.startswith("unreadable row: ")
