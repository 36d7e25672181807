"""Scenario 6: consumer-group churn. Processes of the blog flow are killed (``kill -9``),
stopped (SIGTERM) and started every few seconds while orders stream in; afterwards the group
commits to the end of the topic and every acknowledged order is in MongoDB.

Only work in flight at a kill or a rebalance may run twice; nothing may be skipped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from testkit.churn import ChurnConfig, run_round

IN_FLIGHT_BOUND = 64 * 4 + 500  # max pending of --concurrency 64, plus one poll


@pytest.mark.slow
@pytest.mark.usefixtures("seeded_products", "collect_leaked_sockets")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_no_order_is_lost_while_processes_are_killed_stopped_and_started(
    kafka_bootstrap: str,
    mongo_uri: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("KFLOW_CHURN_SEED", "0")) or int.from_bytes(os.urandom(4), "big")
    config = ChurnConfig(processes=3, partitions=12, orders=10_000, rate=500.0, seed=seed)
    result = run_round(
        config,
        bootstrap=kafka_bootstrap,
        mongo_uri=mongo_uri,
        workdir=tmp_path,
        name=unique_name("churn"),
    )
    print(f"\n[churn] seed {seed}: {result.as_dict()}", file=sys.stderr)
    assert result.acked == result.sent == config.orders, result.problems
    assert result.changes >= 4, "the stream ended before the churn got going"
    assert result.problems == []
    assert result.lost == 0, f"lost {result.lost} orders: {result.lost_ranges}"
    assert result.duplicates <= result.changes * config.max_processes * IN_FLIGHT_BOUND
