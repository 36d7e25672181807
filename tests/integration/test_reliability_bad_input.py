"""Scenario 4: arbitrary record values through the blog flow, via real Kafka.

Hypothesis draws a batch of record values (not JSON, invalid UTF-8, wrong types, missing
fields, huge strings, nesting, control characters) that one ``kflow run`` reads. Every record
becomes exactly one execution; the process never dies; a record whose value is an order with a
known product succeeds with exactly the document the flow describes; anything else either
succeeds with exactly that document too or fails with a clear one-line error naming the
record (deserialization) or the task.

Injection: a ``product_id`` of ``20; DROP TABLE kestra.products`` cannot change the CQL (the
products table is intact afterwards) and a ``customer_name`` of ``", "admin": true, "x": "``
cannot add a key to the document.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from testkit.kafka import create_topic, send_all
from testkit.orders import csv_products, order
from testkit.processes import run_args, running, sample_flow
from testkit.stack import fresh_database, seed_products

# A failing example holds records of hundreds of kB: its report must not turn into an error.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")

FIELDS = ("order_id", "customer_name", "customer_email", "product_id", "price", "quantity", "total")
CATALOG = csv_products()


@pytest.fixture(scope="module", autouse=True)
def seeded(cassandra_port: int, cassandra_hosts: list[str]) -> None:
    seed_products(port=cassandra_port)


# what records look like -------------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8"), max_size=40)
control_text = st.text(st.characters(max_codepoint=0x9F, codec="utf-8"), min_size=1, max_size=20)
nice_floats = st.integers(-4000, 4000).map(lambda k: k / 8).filter(lambda x: x != int(x))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), nice_floats, text, control_text
)
small_json = st.one_of(
    scalars,
    st.lists(st.integers(0, 9), max_size=3),
    st.dictionaries(st.sampled_from("abc"), st.integers(0, 9), max_size=2),
)
known_product = st.one_of(
    st.sampled_from(sorted(CATALOG)),
    st.sampled_from(sorted(CATALOG)).map(str),
    st.sampled_from(sorted(CATALOG)).map(lambda p: f" {p} "),
    st.sampled_from(sorted(CATALOG)).map(float),
)
any_product = st.one_of(known_product, small_json, st.just("20; DROP TABLE kestra.products"))


class Huge(str):
    """A huge string, drawn as its length so that hypothesis reports stay small."""

    def __repr__(self) -> str:
        return f"Huge({len(self)})"


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"n": value}
    return value


@st.composite
def orders(draw: st.DrawFn, product: st.SearchStrategy[Any]) -> dict[str, Any]:
    """An order object: each field missing or of any JSON type, huge or nested sometimes."""
    out: dict[str, Any] = {}
    huge = False  # one huge field at most: a record stays under Kafka's 1 MB
    for name in FIELDS:
        if name == "product_id":
            if draw(st.integers(0, 9)):  # mostly present
                out[name] = draw(product)
            continue
        choice = draw(st.integers(0, 12))
        if choice == 0:
            continue  # missing
        if choice == 1 and not huge:
            huge = True
            out[name] = Huge("é\u2028" + "x" * draw(st.integers(100_000, 300_000)))
        elif choice == 2:
            out[name] = nested(draw(st.integers(2, 200)))
        else:
            out[name] = draw(small_json)
    return out


def encode_json(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode()


record_values = st.one_of(
    st.binary(max_size=64),  # mostly not JSON, often not UTF-8
    text.map(lambda t: t.encode()),  # mostly not JSON
    small_json.map(lambda v: json.dumps(v).encode()),  # JSON, but not an object
    st.builds(encode_json, orders(known_product), st.booleans()),
    st.builds(encode_json, orders(known_product), st.booleans()),
    st.builds(encode_json, orders(any_product), st.booleans()),
    st.builds(
        lambda prefix, bad: b'{"order_id": "' + prefix.encode() + bad + b'", "product_id": 1}',
        text.filter(lambda t: '"' not in t and "\\" not in t),
        st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]),
    ),  # invalid UTF-8 inside a JSON object
)


# what the flow must store ------------------------------------------------------------------------


def printed(value: Any) -> str:
    """How the blog flow's ``{{ ... | jq(...) | first }}`` prints a value inside a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the drawn floats are k/8 in Java's plain range
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def known_product_id(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = int(value) if value.is_integer() else None
    try:
        pid = int(str(value).strip()) if value is not None else None
    except ValueError:
        return None
    return pid if pid in CATALOG else None


def parsed(value: bytes) -> tuple[bool, Any]:
    """(True, object) when ``value`` is UTF-8 JSON, else (False, None)."""
    try:
        return True, json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None


def expected_document(obj: dict[str, Any], pid: int) -> dict[str, Any]:
    product = CATALOG[pid]
    doc: dict[str, Any] = {name: printed(obj.get(name)) for name in FIELDS}
    doc["product"] = {
        "id": str(pid),
        "name": product["product_name"],
        "brand": product["brand"],
        "category": product["product_category"],
    }
    return doc


def canonical(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def is_clear(error: str | None) -> bool:
    return bool(error) and "\n" not in error and "Traceback" not in error and len(error) < 4000


def blog_flow(tmp_path: Path, database: str) -> Path:
    return sample_flow(
        tmp_path,
        "get_detailed_order.yaml",
        {'database: "kestra"': f"database: {database}", '"detailed_orders"': "detailed"},
    )


# the tests ---------------------------------------------------------------------------------------


@settings(
    max_examples=4,  # the first example hypothesis draws is the simplest one
    phases=[Phase.explicit, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(record_values, min_size=50, max_size=50))
def test_arbitrary_records_each_make_one_clear_execution(
    values: list[bytes],
    kafka_bootstrap: str,
    mongo_uri: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group, database = unique_name("bad"), unique_name("g"), unique_name("db")
    good = order("ok", 0)
    records = [*values, json.dumps(good).encode()]  # a good order last: the stream goes on
    create_topic(kafka_bootstrap, topic)
    send_all(kafka_bootstrap, topic, [(None, v) for v in records])
    flow = blog_flow(tmp_path, database)
    args = run_args(kafka_bootstrap, topic, group, "--max-executions", str(len(records)))
    args += ["--timeout", "120"]

    with fresh_database(mongo_uri, database) as db:
        with running(flow, args, tmp_path / "run", {"ENV_MONGO_URI": mongo_uri}) as run:
            code = run.wait(150)
        executions = {e["trigger"]["offset"]: e for e in run.executions()}
        missing = [(o, v[:100]) for o, v in enumerate(records) if o not in executions]
        assert code == 0, run.stderr()[-3000:]  # the process never died
        assert "stopped (max-executions)" in run.stderr(), (run.stderr()[-1000:], missing)
        assert sorted(executions) == list(range(len(records)))  # one execution per record

        wanted: list[str] = []
        for offset, value in enumerate(records):
            execution = executions[offset]
            state, error = execution["state"], execution["error"]
            ok, obj = parsed(value)
            where = f"{topic}[0]@{offset}"
            if not ok:
                assert state == "FAILED", (value[:80], execution)
                assert "cannot deserialize the value" in error and where in error, error
                continue
            pid = known_product_id(obj.get("product_id")) if isinstance(obj, dict) else None
            if pid is not None:
                assert state == "SUCCESS", (value[:200], error)
            else:
                assert state in ("SUCCESS", "FAILED"), execution
            if state == "FAILED":
                assert is_clear(error), error
                assert error.startswith("task "), error
            else:
                assert pid is not None, (value[:200], "succeeded without a known product")
                wanted.append(canonical(expected_document(obj, pid)))

        stored = [canonical(d) for d in db["detailed"].find({}, {"_id": 0})]
        assert Counter(stored) == Counter(wanted)  # exactly the right documents, no others
        states = Counter(e["state"] for e in executions.values())
        print(f"\n[bad input] {len(records)} records: {dict(states)}", file=sys.stderr)


def test_injection_cannot_change_the_cql_nor_add_keys(
    kafka_bootstrap: str,
    mongo_uri: str,
    cassandra_port: int,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from cassandra.cluster import Cluster

    topic, group, database = unique_name("inj"), unique_name("g"), unique_name("db")
    name = '", "admin": true, "x": "'
    records = [
        {**order("inj", 0), "product_id": "20; DROP TABLE kestra.products"},
        {**order("inj", 1), "product_id": "20 OR product_id = 1"},
        {**order("inj", 2), "product_id": "20 ALLOW FILTERING"},
        {**order("inj", 3), "customer_name": name, "product_id": "20"},
        {**order("inj", 4), "customer_email": '"} , {"$set": {"admin": true}}'},
    ]
    create_topic(kafka_bootstrap, topic)
    send_all(kafka_bootstrap, topic, [(None, json.dumps(r).encode()) for r in records])
    flow = blog_flow(tmp_path, database)
    args = run_args(kafka_bootstrap, topic, group, "--max-executions", str(len(records)))

    with fresh_database(mongo_uri, database) as db:
        with running(flow, args, tmp_path / "run", {"ENV_MONGO_URI": mongo_uri}) as run:
            assert run.wait(120) == 0, run.stderr()[-2000:]
        executions = {e["trigger"]["offset"]: e for e in run.executions()}
        assert [executions[i]["state"] for i in range(5)] == [
            "FAILED",
            "FAILED",
            "FAILED",
            "SUCCESS",
            "SUCCESS",
        ]
        for i in range(3):
            error = executions[i]["error"]
            assert error.startswith("task get_product_from_cassandra"), error
            assert is_clear(error)
        docs = {d["order_id"]: d for d in db["detailed"].find({}, {"_id": 0})}
        assert set(docs) == {"inj-3", "inj-4"}
        for i in (3, 4):
            assert canonical(docs[f"inj-{i}"]) == canonical(
                expected_document(records[i], int(records[i]["product_id"]))
            )
        assert docs["inj-3"]["customer_name"] == name and "admin" not in docs["inj-3"]

    cluster = Cluster(["127.0.0.1"], port=cassandra_port)
    try:
        session = cluster.connect()
        rows = list(session.execute("SELECT product_id, product_name FROM kestra.products"))
    finally:
        cluster.shutdown()
    assert sorted(r.product_id for r in rows) == sorted(CATALOG)  # the table is intact
    assert {r.product_id: r.product_name for r in rows} == {
        p: row["product_name"] for p, row in CATALOG.items()
    }


def test_deeply_nested_record_fails_alone_and_the_process_goes_on(
    kafka_bootstrap: str,
    mongo_uri: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """JSON nested deeper than Python's recursion limit is a bad record, not the end of the run."""
    topic, group, database = unique_name("deep"), unique_name("g"), unique_name("db")
    depth = 100_000
    records = [
        json.dumps(order("deep", 0)).encode(),
        b"[" * depth + b"]" * depth,
        json.dumps({**order("deep", 1), "customer_name": "a"}).encode()[:-1]
        + b', "extra": '
        + b"[" * depth
        + b"]" * depth
        + b"}",
        json.dumps(order("deep", 2)).encode(),
    ]
    create_topic(kafka_bootstrap, topic)
    send_all(kafka_bootstrap, topic, [(None, v) for v in records])
    flow = blog_flow(tmp_path, database)
    args = run_args(kafka_bootstrap, topic, group, "--max-executions", "4", "--timeout", "60")

    with fresh_database(mongo_uri, database) as db:
        with running(flow, args, tmp_path / "run", {"ENV_MONGO_URI": mongo_uri}) as run:
            code = run.wait(90)
        assert code == 0, run.stderr()[-2000:]
        executions = {e["trigger"]["offset"]: e for e in run.executions()}
        assert [executions.get(i, {}).get("state") for i in range(4)] == [
            "SUCCESS",
            "FAILED",
            "FAILED",
            "SUCCESS",
        ]
        for i in (1, 2):
            error = executions[i]["error"]
            assert "cannot deserialize the value" in error and f"{topic}[0]@{i}" in error
            assert is_clear(error)
        assert sorted(d["order_id"] for d in db["detailed"].find({})) == ["deep-0", "deep-2"]
