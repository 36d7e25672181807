"""``bench/group_join.py``: how long fresh members take to share a topic's partitions.

Each trial creates a topic and starts MEMBERS Kafka triggers of one flow at the same moment,
in one group (each with its own consumer, as separate ``kflow run`` processes would have), and
measures the seconds until every partition is assigned to exactly one of them and every
member has some. A trial in
which that takes longer than ``--stuck-after`` seconds counts as stuck. ``--no-nudge`` turns
off the nudge of joins the Kafka client leaves pending and ``--no-warmup`` the reading of the
topics' metadata before the first poll (``kflow.connectors.kafka_group``), to see what each
prevents. The last line is one JSON object.

    .venv/bin/python -m bench.group_join --trials 10
    .venv/bin/python -m bench.group_join --trials 10 --no-nudge
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import textwrap
import time

from kflow.flow import load_flow_text
from kflow.plugins import kafka_trigger
from kflow.plugins.kafka_trigger import RealtimeTrigger
from testkit.kafka import create_topic, delete_topics


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/group_join.py", description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10, help="trials (default 10)")
    parser.add_argument("--members", type=int, default=3, help="members started at once")
    parser.add_argument("--partitions", type=int, default=12, help="partitions of each topic")
    parser.add_argument("--stuck-after", type=float, default=20.0, help="seconds (default 20)")
    parser.add_argument("--no-nudge", action="store_true", help="do not drive pending joins")
    parser.add_argument("--no-warmup", action="store_true", help="poll without topic metadata")
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    return parser.parse_args(argv)


def trigger(bootstrap: str, topic: str, group: str) -> RealtimeTrigger:
    flow = load_flow_text(
        textwrap.dedent(f"""
        id: join
        namespace: bench
        tasks:
          - {{id: log, type: io.kestra.plugin.core.log.Log, message: hi}}
        triggers:
          - id: t
            type: io.kestra.plugin.kafka.RealtimeTrigger
            topic: {topic}
            groupId: {group}
            properties:
              bootstrap.servers: {bootstrap}
        """)
    ).flow
    assert flow is not None
    return RealtimeTrigger(flow.triggers[0])


async def trial(args: argparse.Namespace, topic: str) -> tuple[float | None, int, int]:
    members = [trigger(args.bootstrap_servers, topic, f"{topic}_g") for _ in range(args.members)]
    start = time.monotonic()
    await asyncio.gather(*(m.start() for m in members))
    settled: float | None = None
    try:
        while time.monotonic() - start < args.stuck_after:
            owned = [tp for m in members for tp in m.assigned]
            everyone = all(m.assigned for m in members[: args.partitions])
            if everyone and len(owned) == args.partitions == len(set(owned)):
                settled = time.monotonic() - start
                break
            await asyncio.sleep(0.05)
        return settled, sum(m.nudges for m in members), sum(m.replaced for m in members)
    finally:
        await asyncio.gather(*(m.stop() for m in members))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.no_nudge:
        kafka_trigger.nudge_pending_join = lambda consumer: False  # type: ignore[assignment]
    if args.no_warmup:
        kafka_trigger.warm_metadata = lambda consumer, topics: None  # type: ignore[assignment]
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    results = []
    print(f"{'trial':>5}  {'settled s':>9}  {'nudges':>6}  {'replaced':>8}", flush=True)
    for n in range(1, args.trials + 1):
        topic = f"join_{stamp}_{n}"
        create_topic(args.bootstrap_servers, topic, args.partitions)
        try:
            settled, nudges, replaced = asyncio.run(trial(args, topic))
        finally:
            delete_topics(args.bootstrap_servers, [topic])
        shown = "stuck" if settled is None else f"{settled:.2f}"
        print(f"{n:>5}  {shown:>9}  {nudges:>6}  {replaced:>8}", flush=True)
        results.append({"trial": n, "settled_s": settled, "nudges": nudges, "replaced": replaced})
    times = [r["settled_s"] for r in results if r["settled_s"] is not None]
    summary = {
        "nudge": not args.no_nudge,
        "warmup": not args.no_warmup,
        "members": args.members,
        "partitions": args.partitions,
        "trials": results,
        "stuck": sum(1 for r in results if r["settled_s"] is None),
        "median_settled_s": statistics.median(times) if times else None,
        "max_settled_s": max(times) if times else None,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
