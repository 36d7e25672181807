"""Reading a registry the way Prometheus does: through the client library's own parser."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset[tuple[str, str]]


def scrape(registry: CollectorRegistry) -> dict[tuple[str, Labels], float]:
    """Every sample of the text exposition, by (sample name, labels)."""
    text = generate_latest(registry).decode("utf-8")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def labels(**pairs: str) -> Labels:
    return frozenset(pairs.items())
