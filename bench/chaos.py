"""``bench/chaos.py``: consumer-group churn for N rounds; nothing may be lost.

Each round runs ``testkit.churn``: PROCESSES ``kflow run`` processes of the blog flow in one
group on a PARTITIONS-partition topic, ORDERS orders at RATE/s (every one acknowledged by the
broker), one random action (``kill`` = kill -9, ``stop`` = SIGTERM, ``start``) every few
seconds while they stream; then the group must commit to the end and MongoDB must hold every
order. Prints a table (one row per round) and, last, one JSON line with every figure.

    .venv/bin/python -m bench.chaos --rounds 10
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from testkit.churn import ACTIONS, ChurnConfig, ChurnRound, run_round
from testkit.stack import seed_products

BOOTSTRAP = "127.0.0.1:9092"
MONGO_URI = "mongodb://127.0.0.1:27017/"
COLUMNS = (
    "round",
    "sent",
    "acked",
    "stored",
    "lost",
    "dups",
    "kills",
    "stops",
    "starts",
    "rebalances",
    "rejoins",
    "nudges",
    "commit s",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/chaos.py", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds to run (default 10)")
    parser.add_argument("--processes", type=int, default=3, help="processes at the start")
    parser.add_argument("--max-processes", type=int, default=4, help="most alive at once")
    parser.add_argument("--partitions", type=int, default=12, help="partitions of the topic")
    parser.add_argument("--orders", type=int, default=20_000, help="orders per round")
    parser.add_argument("--rate", type=float, default=1_500.0, help="orders per second")
    parser.add_argument(
        "--every", default="2.5,4.5", help="seconds between actions, MIN,MAX (default 2.5,4.5)"
    )
    parser.add_argument(
        "--actions", default=",".join(ACTIONS), help="the mix of actions (kill,stop,start)"
    )
    parser.add_argument(
        "--assignor",
        default="",
        help="partition.assignment.strategy of the trigger (default: kflow's own)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the first round")
    parser.add_argument("--bootstrap-servers", default=BOOTSTRAP)
    parser.add_argument("--mongo-uri", default=MONGO_URI)
    return parser.parse_args(argv)


def row(n: int, r: ChurnRound) -> list[str]:
    commit = "-" if r.commit_seconds is None else f"{r.commit_seconds:.1f}"
    figures = [r.sent, r.acked, r.stored, r.lost, r.duplicates, r.kills, r.stops, r.starts]
    return [str(n), *map(str, figures), str(r.rebalances), str(r.rejoins), str(r.nudges), commit]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    low, high = (float(x) for x in args.every.split(","))
    actions = tuple(a.strip() for a in args.actions.split(",") if a.strip())
    unknown = set(actions) - set(ACTIONS)
    if unknown:
        print(f"bench/chaos.py: unknown actions {sorted(unknown)}", file=sys.stderr)
        return 2
    config = ChurnConfig(
        processes=args.processes,
        max_processes=args.max_processes,
        partitions=args.partitions,
        orders=args.orders,
        rate=args.rate,
        every=(low, high),
        actions=actions,
        properties=(("partition.assignment.strategy", args.assignor),) if args.assignor else (),
    )
    seed_products()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    widths = [max(len(c), 8) for c in COLUMNS]
    print("  ".join(c.rjust(w) for c, w in zip(COLUMNS, widths, strict=True)), flush=True)
    rounds: list[dict[str, object]] = []
    for n in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="kflow_chaos_") as tmp:
            result = run_round(
                replace(config, seed=args.seed + n - 1),
                bootstrap=args.bootstrap_servers,
                mongo_uri=args.mongo_uri,
                workdir=Path(tmp),
                name=f"chaos_{stamp}_{n}",
                log=lambda line: print(line, file=sys.stderr, flush=True),
            )
        cells = row(n, result)
        print("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)), flush=True)
        for problem in result.problems:
            print(f"    round {n}: {problem}", flush=True)
        if result.lost:
            print(f"    round {n}: lost ranges {result.lost_ranges}", flush=True)
        rounds.append({"round": n, "seed": args.seed + n - 1, **result.as_dict()})
    lost = sum(int(r["lost"]) for r in rounds)  # type: ignore[call-overload]
    failed = [r["round"] for r in rounds if r["lost"] or r["problems"]]
    summary = {
        "config": {
            "processes": args.processes,
            "max_processes": args.max_processes,
            "partitions": args.partitions,
            "orders": args.orders,
            "rate": args.rate,
            "every": [low, high],
            "actions": list(actions),
            "assignor": args.assignor or "default",
        },
        "rounds": rounds,
        "lost": lost,
        "failed_rounds": failed,
    }
    print(json.dumps(summary), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
