"""Reading ``kflow run --metrics-port`` as a monitoring system does: plain HTTP GETs, and
``/metrics`` parsed by the Prometheus client's own parser."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, frozenset[tuple[str, str]]]  # (name, labels)


def get(url: str) -> tuple[int, str]:
    """Status and body of a GET (an HTTP error status is returned, not raised)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode("utf-8")


def scrape(base: str) -> dict[Sample, float]:
    """Every sample ``base``/metrics serves, by name and labels."""
    status, text = get(base + "/metrics")
    assert status == 200, (status, text)
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
