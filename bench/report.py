"""Presenting a bench run: rich tables, the latency chart, the results file, the last line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

COLORS = {"kflow": "tab:blue", "naive": "tab:red", "optimized": "tab:green"}


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def print_tables(console: Console, results: dict[str, Any]) -> None:
    env = results["environment"]
    console.print(
        f"[bold]kflow bench[/] {results['run_id']} ({results['mode']}): {env['cpus']} CPUs, "
        f"load average {env['load_before']} before, {env['load_after']} after; "
        f"commit {env.get('commit')}"
        + (" with uncommitted changes in kflow/" if env.get("kflow_changes") else "")
    )
    t = Table(
        title=f"Throughput ({results['throughput_records']:,} pre-produced orders, "
        f"best of {results['rounds']} rounds)"
    )
    for col in ("contender", "records", "events/s", "rounds", "x naive", "CPU s / 1k"):
        t.add_column(col, justify="right" if col != "contender" else "left")
    t.add_column("peak RSS MB", justify="right")
    t.add_column("verified")
    naive = next((r["eps"] for r in results["throughput"] if r["contender"] == "naive"), None)
    for r in results["throughput"]:
        ratio = r["eps"] / naive if r["eps"] and naive else None
        t.add_row(
            r["contender"],
            f"{r['records']:,}",
            _fmt(r["eps"] if r["verified"] else r["measured_eps"]),
            " ".join(_fmt(x, 0) for x in r.get("eps_rounds", [])),
            _fmt(ratio, 2),
            _fmt(r["cpu_s_per_1000"], 3),
            _fmt(r["peak_rss_mb"]),
            "yes" if r["verified"] else f"[red]NO: {'; '.join(r['problems'])}[/]",
        )
    console.print(t)
    for r in results["throughput"]:
        for failure in r.get("failed_rounds", []):
            console.print(f"[yellow]round without a result[/] {failure[:400]}")

    lt = Table(title="Latency: Kafka record timestamp -> document stored / execution finished")
    for col in ("rate/s", "contender", "records", "p50 ms", "p95 ms", "p99 ms", "max ms", "note"):
        lt.add_column(col, justify="left" if col in ("contender", "note") else "right")
    for r in results["latency"]:
        note = r.get("problem") or ("over capacity (backlog)" if r.get("saturated") else "")
        lt.add_row(
            str(r["rate"]),
            r["contender"],
            _fmt(r.get("done")),
            _fmt(r.get("p50_ms")),
            _fmt(r.get("p95_ms")),
            _fmt(r.get("p99_ms")),
            _fmt(r.get("max_ms")),
            note,
        )
    console.print(lt)
    v = results["validate"]
    console.print(
        f"kflow validate: {v['validate_ms']} ms median of {v['runs']} against python -c pass "
        f"{v['python_ms']} ms: ratio {v['validate_ratio']}"
    )
    prof = results.get("profile")
    if prof and prof.get("samples"):
        console.print(
            f"[bold]Profile of kflow run[/] ({prof['tool']}, {prof['samples']} samples, "
            f"{prof['records']:,} records): top self time"
        )
        for name, pct in prof["self_top"][:15]:
            console.print(f"  {pct:5.1f}%  {name}")
        console.print("  kflow functions, inclusive:")
        for name, pct in prof["kflow_inclusive"][:15]:
            console.print(f"  {pct:5.1f}%  {name}")
        console.print("  self time by package:")
        for name, pct in prof["packages"][:12]:
            console.print(f"  {pct:5.1f}%  {name}")
        console.print("  threads:")
        for name, pct in prof["threads"]:
            console.print(f"  {pct:5.1f}%  {name}")
    elif prof:
        console.print(f"profile: {prof.get('note')}")


def chart(results: dict[str, Any], path: Path) -> Path | None:
    """p50 (solid) and p99 (dashed) latency against rate, one colour per contender."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, color in COLORS.items():
        rows = [r for r in results["latency"] if r["contender"] == name]
        if not any(r.get("p50_ms") is not None for r in rows):
            continue
        rates = [r["rate"] for r in rows]  # a rate without a figure leaves a gap
        p50 = [r.get("p50_ms") if r.get("p50_ms") is not None else float("nan") for r in rows]
        p99 = [r.get("p99_ms") if r.get("p99_ms") is not None else float("nan") for r in rows]
        ax.plot(rates, p50, "-o", color=color, label=f"{name} p50")
        ax.plot(rates, p99, "--o", color=color, label=f"{name} p99")
        for r in rows:
            if r.get("p50_ms") is None:
                continue
            if r.get("saturated"):
                ax.annotate("over capacity", (r["rate"], r["p99_ms"]), fontsize=7, color=color)
    ax.plot([200], [10], "kx", label="goal p50 (200/s)")
    ax.plot([200], [50], "k+", markersize=10, label="goal p99 (200/s)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("produce rate (events/s)")
    ax.set_ylabel("latency, record timestamp -> done (ms)")
    env = results["environment"]
    ax.set_title(
        f"kflow bench {results['run_id']}: {env['cpus']} CPUs, "
        "Kafka + Cassandra + FerretDB on the same machine",
        fontsize=9,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def last_line(results: dict[str, Any]) -> str:
    eps = {r["contender"]: r["eps"] for r in results["throughput"]}
    kflow_eps = eps.get(results["kflow_figure"])
    naive, optimized = eps.get("naive"), eps.get("optimized")

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a and b else None

    latency = {
        str(r["rate"]): {
            "p50_ms": r.get("p50_ms"),
            "p95_ms": r.get("p95_ms"),
            "p99_ms": r.get("p99_ms"),
        }
        for r in results["latency"]
        if r["contender"] == "kflow"
    }
    others = {
        name: {
            str(r["rate"]): {"p50_ms": r.get("p50_ms"), "p99_ms": r.get("p99_ms")}
            for r in results["latency"]
            if r["contender"] == name
        }
        for name in ("naive", "optimized")
    }
    kflow_row: dict[str, Any] = next(
        (r for r in results["throughput"] if r["contender"] == results["kflow_figure"]), {}
    )
    summary = {
        "kflow_eps": kflow_eps,
        "kflow_eps_writer": results["kflow_figure"],
        "kflow_json_eps": eps.get("kflow"),
        "naive_eps": naive,
        "optimized_eps": optimized,
        "ratio_naive": ratio(kflow_eps, naive),
        "ratio_optimized": ratio(kflow_eps, optimized),
        "latency": latency,
        "latency_baselines": others,
        "kflow_cpu_s_per_1000": kflow_row.get("cpu_s_per_1000"),
        "kflow_peak_rss_mb": kflow_row.get("peak_rss_mb"),
        "validate_ratio": results["validate"]["validate_ratio"],
        "results_file": results.get("results_file"),
    }
    return json.dumps(summary, separators=(",", ":"))
