"""The bench's measurements: throughput, latency at fixed rates, validate start-up, profile."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import stack
from bench.contenders import Contender, Outcome
from bench.servers import KAFKA_PIPELINE, physical_limit_eps

WARMUP = 20
WARMUP_RATE = 50


def _slug(name: str) -> str:
    return name.replace("-", "_")


def throughput(
    name: str,
    *,
    rid: str,
    topic: str,
    truth: list[dict[str, Any]],
    catalog: dict[str, dict[str, str]],
    count: int,
    workdir: Path,
    wrap: list[str] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """One contender consumes ``count`` records of ``topic`` from the start; verified after."""
    label = label or name
    collection = f"tp_{_slug(label)}_{rid}"
    group = f"bench_{rid}_{_slug(label)}"
    stack.create_collection(collection)
    started = time.monotonic()
    contender = Contender(
        name,
        topic=topic,
        group=group,
        collection=collection,
        target=count,
        workdir=workdir,
        wrap=wrap,
        servers=True,
    )
    contender.wait_for(count, timeout=max(120.0, count / 20))
    outcome = contender.finish(timeout=60)
    wall = time.monotonic() - started
    problems = []
    if not outcome.complete:
        problems.append(f"only {outcome.count} of {count} records done")
    failed = {k: v for k, v in outcome.states.items() if k != "SUCCESS"}
    if failed:
        problems.append(f"executions not SUCCESS: {failed}")
    if outcome.exit_code != 0:
        problems.append(f"exit code {outcome.exit_code}: {outcome.stderr_tail[-300:]}")
    expected = truth if count >= len(truth) else None
    wrong = stack.verify(collection, truth, catalog, expected_count=count, subset=expected is None)
    if wrong:
        problems.append(wrong)
    lag = stack.committed_lag(topic, group)
    if lag != len(truth) - count:
        problems.append(
            f"committed offsets leave {lag} records, expected {len(truth) - count} "
            "(commit only what finished)"
        )
    stack.drop_collections([collection])
    ok = not problems
    eps = outcome.throughput()
    client = outcome.cpu_per_1000()
    servers = outcome.server_cpu_per_1000()
    total = client_and_servers(client, servers)
    return {
        "contender": name,
        "run": label,
        "records": count,
        "eps": round(eps, 1) if ok and eps else None,
        "measured_eps": round(eps, 1) if eps else None,
        "cpu_s_per_1000": _round(client, 3),
        "server_cpu_s_per_1000": servers,
        "server_cpu_before_s_per_s": outcome.servers_before,
        "server_cpu_window_s": outcome.servers_window_s,
        "total_cpu_s_per_1000": _round(total, 3),
        "physical_limit_eps": physical_limit_eps(total),
        "cpu_records": outcome.cpu_records,
        "server_cpu_records": outcome.servers_count_last - outcome.servers_count_first,
        "cpu_total_s": round(outcome.cpu_total, 2),
        "peak_rss_mb": round(outcome.max_rss_mb, 1),
        "wall_s": round(wall, 2),
        "verified": ok,
        "problems": problems,
    }


def client_and_servers(client: float | None, servers: dict[str, float | None]) -> float | None:
    """CPU seconds per 1,000 events of the contender and the pipeline's servers together
    (None unless every one of them was measured)."""
    figures = [client, *(servers.get(name) for name in KAFKA_PIPELINE)]
    if any(f is None for f in figures):
        return None
    return sum(f for f in figures if f is not None)


def latency(
    name: str,
    *,
    rid: str,
    rate: int,
    seconds: float,
    workdir: Path,
    capacity: float | None,
    drain_budget: float,
) -> dict[str, Any]:
    """p50/p95/p99 from record timestamp to done, with ``rate`` records/s for ``seconds``.

    A contender whose measured throughput is below ``rate`` gets fewer records
    (at most ``capacity * drain_budget``) so that its backlog stays bounded; its
    figures are then marked ``saturated``.
    """
    count = int(rate * seconds)
    saturated = capacity is not None and capacity < rate
    if saturated and capacity is not None:
        count = max(rate, min(count, int(capacity * drain_budget)))
    tag = f"lat{rate}_{_slug(name)}"
    topic = f"bench_{rid}_{tag}"
    collection = f"{tag}_{rid}"
    stack.create_topic(topic)
    stack.create_collection(collection)
    target = WARMUP + count
    contender = Contender(
        name,
        topic=topic,
        group=f"bench_{rid}_{tag}",
        collection=collection,
        target=target,
        workdir=workdir,
    )
    result: dict[str, Any] = {"contender": name, "rate": rate, "saturated": saturated}
    t0 = float("inf")
    try:
        stack.produce(topic, WARMUP, WARMUP_RATE)
        if not contender.wait_for(WARMUP, timeout=60):
            result["problem"] = f"warm-up not done ({contender.outcome.count}/{WARMUP})"
            return result
        t0 = time.time() * 1000
        produced = stack.produce(topic, count, rate)
        contender.wait_for(target, timeout=30 + count / max(capacity or rate, 1) + seconds)
    finally:
        outcome = contender.finish(timeout=15)
        stack.drop_collections([collection])
        stack.delete_topics([topic])
    measured = sorted(done - ts for _, _, ts, done in outcome.done if ts >= t0)
    result.update(
        {
            "records": count,
            "done": len(measured),
            "produce_s": round(produced.seconds, 2),
            **percentiles(measured),
        }
    )
    failed = {k: v for k, v in outcome.states.items() if k != "SUCCESS"}
    if failed:
        result["problem"] = f"executions not SUCCESS: {failed}"
    elif len(measured) < count:
        result["problem"] = f"only {len(measured)} of {count} records done"
    if "problem" in result:
        result.update(percentiles([]))  # no figures from a run that lost or failed records
    return result


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}

    def q(p: float) -> float:
        return round(values[min(len(values) - 1, int(p * len(values)))], 2)

    return {"p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99), "max_ms": round(values[-1], 2)}


def validate_startup(runs: int) -> dict[str, Any]:
    """Median wall time of ``kflow validate`` on the blog flow against ``python -c pass``."""

    def timed(cmd: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(cmd, cwd=stack.REPO, env=stack.KFLOW_ENV, capture_output=True, check=False)
        return time.perf_counter() - start

    validate = [*stack.KFLOW, "validate", str(stack.BLOG_FLOW)]
    bare = [str(stack.PYTHON), "-c", "pass"]
    timed(validate)  # warm the file cache once
    v = statistics.median(timed(validate) for _ in range(runs))
    p = statistics.median(timed(bare) for _ in range(runs))
    return {
        "runs": runs,
        "validate_ms": round(v * 1000, 1),
        "python_ms": round(p * 1000, 1),
        "validate_ratio": round(v / p, 2),
    }


# profile ------------------------------------------------------------------------------------

_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


@dataclass
class Profile:
    samples: int
    self_top: list[tuple[str, float]]
    kflow_inclusive: list[tuple[str, float]]
    packages: list[tuple[str, float]]
    threads: list[tuple[str, float]]


# Frames that only wrap everything below them (the CLI, the event loop, thread start).
_WRAPPERS = ("kflow/cli/", "kflow/run/session.py", "kflow/__main__", "(kflow)")


def _split(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame)
    if not m:
        return frame, ""
    func, path = m.groups()
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return func, path


def _package(path: str) -> str:
    if path.startswith("kflow/"):
        parts = path.split("/")
        return "/".join(parts[:2]) if len(parts) > 2 else "kflow"
    head = path.split("/", 1)[0]
    return head.removesuffix(".py") if head else "?"


def read_profile(raw: Path, top: int = 20) -> Profile:
    """Shares of samples from py-spy's raw output (``--threads``).

    - ``self_top``: functions where the sample was taken (compiled code, such as the
      Cassandra driver's Cython modules, counts in the Python function calling it);
    - ``kflow_inclusive``: kflow functions with everything they call;
    - ``packages``: self samples by package (``kflow/<subpackage>``, library, stdlib module);
    - ``threads``: samples per thread.
    """
    self_counts: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        stack_text, n = m.group(1), int(m.group(2))
        frames = stack_text.split(";")
        if frames and frames[0].startswith(("thread ", "process ")):
            threads[re.sub(r"\(\d+\)", "", frames[0]).replace("  ", " ")] += n
            frames = [f for f in frames if not f.startswith(("thread ", "process "))]
        if not frames:
            continue
        total += n
        func, path = _split(frames[-1])
        self_counts[f"{func} ({path})"] += n
        packages[_package(path)] += n
        seen = set()
        for frame in frames:
            func, path = _split(frame)
            name = f"{func} ({path})"
            if path.startswith("kflow/") and not any(w in name for w in _WRAPPERS):
                seen.add(name)
        for name in seen:
            incl[name] += n

    def share(c: Counter[str], k: int = top) -> list[tuple[str, float]]:
        return [(key, round(100 * v / total, 1)) for key, v in c.most_common(k)] if total else []

    return Profile(total, share(self_counts), share(incl), share(packages, 15), share(threads, 10))


def pyspy_path() -> str | None:
    path = stack.REPO / ".venv" / "bin" / "py-spy"
    return str(path) if path.exists() and os.access(path, os.X_OK) else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


__all__ = ["Outcome", "Profile", "latency", "read_profile", "throughput", "validate_startup"]
