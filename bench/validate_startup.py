"""Wall time of ``kflow validate FLOW`` against ``python -c pass``, cold and warm.

Run: .venv/bin/python bench/validate_startup.py [--runs N] [FLOW ...]

Each flow (default: ``samples/*.yaml`` and ``tests/fixtures/flows/*.yaml``) is
validated by a new process, ``python -m kflow validate FLOW``, from this
repository (so it measures this checkout's code, whatever the venv's entry point
points at):

- **cold**: ``KFLOW_NO_CACHE=1``, every check runs;
- **warm**: the report cache of ``kflow.cli.validate_cache`` filled beforehand (in a
  temporary folder), so the run replays it.

The yardstick is ``python -c pass`` with the same interpreter, run in turn with the
measured command (yardstick, cold, warm, yardstick, cold, warm...), so that a
machine whose speed drifts moves both. Figures are medians over the runs; a
ratio is the median of the per-round ratios. Nothing is asserted: the suite
has no timed tests. ``PYTHONDONTWRITEBYTECODE`` set in the environment makes
every run compile kflow's sources: the script says so, since it changes the
cold figures a lot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FLOWS = sorted(
    str(p.relative_to(REPO))
    for folder in ("samples", "tests/fixtures/flows")
    for p in (REPO / folder).glob("*.yaml")
)


def wall(command: list[str], env: dict[str, str]) -> float:
    """Seconds from start to exit of ``command`` (its output thrown away)."""
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(flow: str, runs: int, cache: str) -> dict[str, list[float]]:
    python = sys.executable
    base_env = {k: v for k, v in os.environ.items() if k not in ("KFLOW_NO_CACHE",)}
    cold_env = {**base_env, "KFLOW_NO_CACHE": "1"}
    warm_env = {**base_env, "KFLOW_CACHE_DIR": cache}
    validate = [python, "-m", "kflow", "validate", flow]
    yardstick = [python, "-c", "pass"]
    wall(validate, warm_env)  # fills the cache (and writes bytecode when allowed)
    wall(validate, cold_env)
    out: dict[str, list[float]] = {"pass": [], "cold": [], "warm": []}
    for _ in range(runs):
        out["pass"].append(wall(yardstick, base_env))
        out["cold"].append(wall(validate, cold_env))
        out["warm"].append(wall(validate, warm_env))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds per flow (default 15)")
    parser.add_argument("flows", nargs="*", default=DEFAULT_FLOWS)
    args = parser.parse_args()
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set: every run compiles kflow's sources")
    print(f"{args.runs} rounds per flow; medians; ratios to `python -c pass`")
    header = f"{'flow':44} {'pass ms':>8} {'cold ms':>8} {'cold x':>7} {'warm ms':>8} {'warm x':>7}"
    print(header)
    cold_ratios: list[float] = []
    warm_ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="kflow-validate-bench-") as cache:
        for flow in args.flows:
            t = measure(flow, args.runs, cache)
            cold_x = statistics.median(c / p for c, p in zip(t["cold"], t["pass"], strict=True))
            warm_x = statistics.median(w / p for w, p in zip(t["warm"], t["pass"], strict=True))
            cold_ratios.append(cold_x)
            warm_ratios.append(warm_x)
            print(
                f"{flow:44} {statistics.median(t['pass']) * 1000:8.1f} "
                f"{statistics.median(t['cold']) * 1000:8.1f} {cold_x:7.2f} "
                f"{statistics.median(t['warm']) * 1000:8.1f} {warm_x:7.2f}"
            )
    print(
        f"median over {len(args.flows)} flows: cold x{statistics.median(cold_ratios):.2f}, "
        f"warm x{statistics.median(warm_ratios):.2f}"
    )


if __name__ == "__main__":
    main()
