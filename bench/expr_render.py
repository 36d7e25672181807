"""µs per render of the blog's MongoDB document, against a json.dumps baseline.

Run: .venv/bin/python bench/expr_render.py [--events N]

Each iteration renders the document for a new event string (as a Kafka
trigger delivers them: a fresh string per event, so the parse cache does not
hide the parse), with the Cassandra row of the blog.
"""

from __future__ import annotations

import argparse
import json
import time

from kflow.expr import compile_cql, compile_document

DOCUMENT = """{
  "order_id": "{{ trigger.value | jq('.order_id') | first }}",
  "customer_name": "{{ trigger.value | jq('.customer_name') | first }}",
  "customer_email": "{{ trigger.value | jq('.customer_email') | first }}",
  "product_id": "{{ trigger.value | jq('.product_id') | first }}",
  "price": "{{ trigger.value | jq('.price') | first }}",
  "quantity": "{{ trigger.value | jq('.quantity') | first }}",
  "total": "{{ trigger.value | jq('.total') | first }}",
  "product": {
    "id": "{{ outputs.get_product_from_cassandra.row.product_id }}",
    "name": "{{ outputs.get_product_from_cassandra.row.product_name }}",
    "brand": "{{ outputs.get_product_from_cassandra.row.brand }}",
    "category": "{{ outputs.get_product_from_cassandra.row.product_category }}"
  }
}
"""
CQL = (
    "SELECT * FROM kestra.products WHERE product_id = "
    "{{ trigger.value | jq('.product_id') | first }}"
)
ROW = {
    "product_id": 20,
    "product_name": "wolfe",
    "brand": "envisioneer cross-media convergence",
    "product_category": "Electronics",
}


def events(n: int) -> list[str]:
    return [
        json.dumps(
            {
                "order_id": str(i),
                "customer_name": "Kelly Olsen",
                "customer_email": "jenniferschneider@example.com",
                "product_id": str(i % 20 + 1),
                "price": "166.89",
                "quantity": "1",
                "total": "166.89",
            }
        )
        for i in range(n)
    ]


def per_call_us(fn, items: list[str]) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    items = events(args.events)

    start = time.perf_counter()
    document = compile_document(DOCUMENT)
    compile_ms = (time.perf_counter() - start) * 1e3
    cql = compile_cql(CQL)
    outputs = {"get_product_from_cassandra": {"row": ROW}}

    def render(value: str) -> object:
        return document.render({"trigger": {"value": value}, "outputs": outputs})

    def params(value: str) -> object:
        return cql.params({"trigger": {"value": value}})

    def baseline(value: str) -> object:
        event = json.loads(value)
        return json.dumps({**event, "product": ROW})

    render(items[0])  # warm up (compiles nothing more, fills caches)
    doc_us = per_call_us(render, items)
    cql_us = per_call_us(params, items)
    base_us = per_call_us(baseline, items)
    print(f"document compile (once per flow): {compile_ms:8.1f} ms")
    print(f"document render per event:        {doc_us:8.1f} µs  (mode: {document.mode})")
    print(f"cql params per event:              {cql_us:8.1f} µs")
    print(f"baseline json.loads + json.dumps:  {base_us:8.1f} µs")
    print(f"render / baseline:                 {doc_us / base_us:8.1f} x")


if __name__ == "__main__":
    main()
