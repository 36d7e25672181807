"""Presenting a bench run: rich tables, the latency chart, the results file, the last line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

COLORS = {"kflow": "tab:blue", "naive": "tab:red", "optimized": "tab:green", "tuned": "tab:olive"}
BASELINES = ("naive", "optimized", "tuned")
SERVERS = ("kafka", "cassandra", "ferretdb")


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
    columns = ("contender", "records", "events/s", "rounds", "x naive", "x optimized", "x tuned")
    for col in (*columns, "CPU s / 1k"):
        t.add_column(col, justify="right" if col != "contender" else "left")
    t.add_column("peak RSS MB", justify="right")
    t.add_column("verified")
    eps = {r["contender"]: r["eps"] for r in results["throughput"]}
    for r in results["throughput"]:
        t.add_row(
            r["contender"],
            f"{r['records']:,}",
            _fmt(r["eps"] if r["verified"] else r["measured_eps"]),
            " ".join(_fmt(x, 0) for x in r.get("eps_rounds", [])),
            *(_fmt(_ratio(r["eps"], eps.get(name)), 2) for name in BASELINES),
            _fmt(r["cpu_s_per_1000"], 3),
            _fmt(r["peak_rss_mb"]),
            "yes" if r["verified"] else f"[red]NO: {'; '.join(r['problems'])}[/]",
        )
    console.print(t)
    for r in results["throughput"]:
        for failure in r.get("failed_rounds", []):
            console.print(f"[yellow]round without a result[/] {failure[:400]}")
    print_cpu_table(console, results)

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


def print_cpu_table(console: Console, results: dict[str, Any]) -> None:
    """Client and servers' CPU per 1,000 events of each contender's best round, and the
    rate at which they would use every core of the machine."""
    cpus = results["environment"]["cpus"]
    st = Table(
        title="CPU seconds per 1,000 events, client and servers (same round as above); "
        f"physical limit = {cpus} CPUs / total CPU s per event"
    )
    columns = ("contender", "client", *SERVERS, "total", "limit events/s", "events/s / limit")
    for col in (*columns, "servers before s/s"):
        st.add_column(col, justify="right" if col != "contender" else "left")
    for r in results["throughput"]:
        servers = r.get("server_cpu_s_per_1000") or {}
        limit = r.get("physical_limit_eps")
        rate = r["eps"] if r["verified"] else r["measured_eps"]
        st.add_row(
            r["contender"],
            _fmt(r["cpu_s_per_1000"], 3),
            *(_fmt(servers.get(name), 3) for name in SERVERS),
            _fmt(r.get("total_cpu_s_per_1000"), 3),
            _fmt(limit, 0),
            _fmt(_ratio(rate, limit), 2),
            _busy(r.get("server_cpu_before_s_per_s") or {}),
        )
    console.print(st)


def _busy(before: dict[str, float | None]) -> str:
    """The servers' CPU s/s in the second before the contender: ``kafka/cassandra/ferretdb``."""
    if not before:
        return "-"
    return "/".join(_fmt(before.get(name), 2) for name in SERVERS)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


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
    rows = results["throughput"]
    eps = {r["contender"]: r["eps"] for r in rows}
    kflow_eps = eps.get(results["kflow_figure"])
    naive, optimized, tuned = eps.get("naive"), eps.get("optimized"), eps.get("tuned")

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
        for name in BASELINES
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
        "tuned_eps": tuned,
        "ratio_naive": _ratio(kflow_eps, naive),
        "ratio_optimized": _ratio(kflow_eps, optimized),
        "ratio_tuned": _ratio(kflow_eps, tuned),
        "latency": latency,
        "latency_baselines": others,
        "kflow_cpu_s_per_1000": kflow_row.get("cpu_s_per_1000"),
        "kflow_peak_rss_mb": kflow_row.get("peak_rss_mb"),
        "cpu_s_per_1000": {r["contender"]: r.get("cpu_s_per_1000") for r in rows},
        "server_cpu_s_per_1000": {r["contender"]: r.get("server_cpu_s_per_1000") for r in rows},
        "total_cpu_s_per_1000": {r["contender"]: r.get("total_cpu_s_per_1000") for r in rows},
        "physical_limit_eps": {r["contender"]: r.get("physical_limit_eps") for r in rows},
        "validate_ratio": results["validate"]["validate_ratio"],
        "results_file": results.get("results_file"),
    }
    return json.dumps(summary, separators=(",", ":"))
