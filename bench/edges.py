"""Palabre beyond one process (issue 9): the load scenarios with 1, 2 and 4 edge workers on
one machine, and the single process for reference, on PostgreSQL and Redis.

    /tmp/v2/bin/python bench/edges.py --quick                   # 1,000 phones, < 3 minutes
    /tmp/v2/bin/python bench/edges.py --phones 1000,5000 --edges 0,1,2,4 --runs 2 \\
        --json edges.json

For each phone count, run and edge count (interleaved, so that the configurations compared
are measured minutes apart at most), with a fresh workshop `bench-<hex>`:
- 0 edges: `palabre serve --store postgresql://…`, one process holding every socket, as
  bench/load.py runs it but on the same store as the edges, so that only the edges differ;
- N edges: tests/cluster.py's Cluster: the writer (`--broker redis://…`), N `palabre edge`
  and nginx running docs/deployment.md's tested block.
Then bench/scenarios.py's join storm, votes to projector and step changes (and at
`--ingest-phones`, the durable ingest ramp), with the screen and the facilitator on the
first edge (as nginx would place them) and every process watched: the writer, each edge,
Redis, PostgreSQL (and nginx when used), plus what Redis carries (bench/redis_tap.py).

Where the phones connect: by default straight to the edges' ports, round-robin, as an L4
load balancer (or DNS round-robin) would spread them; joins and pages go to the writer's
port. On this 2-core machine nginx would be one more process on the same cores, relaying
every byte twice (its CPU would blur the edges' own, and with one nginx worker it would
serialise every socket through one more event loop); what the edges cost is the question
here. `--front nginx` sends everything through the documented nginx instead.

Prints one table per phone count (median [min-max] of the runs), then unit costs per socket,
per view and per action for the capacity model in docs/performance.md; `--json` keeps every
figure of every run. Needs PostgreSQL and Redis (`--store`, `--broker`, or the
PALABRE_TEST_POSTGRES and PALABRE_TEST_REDIS that tests/cluster.py reads) and nginx.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from load import log, machine, machine_line, measure, phone_counts, run_all, write_json
from phones import Fleet, raise_open_files
from report import aggregate, cell, fmt, ingest_levels
from scenarios import Options

QUICK = {
    "phones": "1000", "edges": "0,1,2,4", "runs": 1, "vote_seconds": 4.0, "step_changes": 2,
    "ingest_phones": 0,
}  # fmt: skip
STORE = "postgresql://palabre:palabre@127.0.0.1:5432/palabre"
BROKER = "redis://127.0.0.1:6379/0"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phones", default="1000,5000", help="phone counts, comma-separated")
    p.add_argument("--edges", default="0,1,2,4", help="edge workers; 0: the single process")
    p.add_argument("--runs", type=int, default=1, help="runs per phone count and edge count")
    p.add_argument("--front", choices=("direct", "nginx"), default="direct",
                   help="phones straight to the edges' ports, or through nginx")  # fmt: skip
    p.add_argument("--vote-rate", type=float, default=500.0, help="votes per second, in all")
    p.add_argument("--vote-seconds", type=float, default=10.0, help="per run")
    p.add_argument("--step-changes", type=int, default=6, help="per run (made even)")
    p.add_argument("--ingest-phones", type=int, default=1000, help="0: no ingest ramp")
    p.add_argument("--ingest-rates", default="500,1000,2000,3000,4000,5000,6000,7500")
    p.add_argument("--ingest-seconds", type=float, default=3.0, help="per rate")
    p.add_argument("--ingest-p99-ms", type=float, default=100.0, help="latency that breaks")
    p.add_argument("--per-worker", type=int, default=2500, help="phones per worker process")
    p.add_argument("--joins-at-once", type=int, default=64, help="join requests in flight")
    p.add_argument("--connects-at-once", type=int, default=256, help="handshakes in flight")
    p.add_argument("--store", default=os.environ.get("PALABRE_TEST_POSTGRES") or STORE)
    p.add_argument("--broker", default=os.environ.get("PALABRE_TEST_REDIS") or BROKER)
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--quick", action="store_true", help="1,000 phones, short windows, no ramp")
    p.set_defaults(**QUICK if "--quick" in (argv if argv is not None else sys.argv) else {})
    args = p.parse_args(argv)
    args.step_changes += args.step_changes % 2
    return args


def kind_of(edges: int, front: str) -> str:
    if edges == 0:
        return "postgres"
    return f"edges:{edges}" + (":nginx" if front == "nginx" else "")


def label(kind: str) -> str:
    return "0 (one process)" if kind == "postgres" else kind.split(":")[1]


# -- figures that add up several processes, per run ---------------------------------------
def derive(out: dict[str, Any], n: int) -> None:
    """Edge workers summed, and the costs per socket, per view and per vote the capacity
    model needs; added to each run's figures before the medians are taken."""
    votes, steps, storm, memory = out["votes"], out["steps"], out["storm"], out["memory"]
    ready = storm["ready"] or math.nan
    edges = sorted({k.split("_")[0] for k in votes if k.startswith("edge")})
    holder = "edges" if edges else "server"  # who holds the sockets
    if edges:
        votes["edges_cpu_pct"] = sum(votes[f"{e}_cpu_pct"] for e in edges)
        steps["edges_cpu_ms_per_change"] = sum(steps[f"{e}_cpu_ms_per_change"] for e in edges)
        storm["edges_cpu_ms_per_phone"] = sum(storm[f"{e}_cpu_ms_per_phone"] for e in edges)
        memory["edges_kib_per_phone"] = sum(memory[f"{e}_kib_per_phone"] for e in edges)
        memory["edges_rss_after_mib"] = sum(memory[f"{e}_rss_after_mib"] for e in edges)
    to_phones = votes["phone_msgs_per_s"]
    votes["msgs_per_phone_per_s"] = to_phones / ready
    votes["holder_us_per_msg"] = 1e4 * votes[f"{holder}_cpu_pct"] / to_phones
    votes["server_us_per_vote"] = 1e4 * votes["server_cpu_pct"] / votes["votes_per_s"]
    steps["holder_us_per_phone"] = 1000 * steps[f"{holder}_cpu_ms_per_change"] / ready
    steps["server_us_per_phone"] = 1000 * steps["server_cpu_ms_per_change"] / ready
    if edges:
        for kind in ("views", "batch", "inbox"):
            votes[f"redis_{kind}_bytes_per_vote"] = (
                votes[f"redis_{kind}_bytes_per_s"] / votes["votes_per_s"]
            )
        votes["redis_views_bytes_per_msg"] = votes["redis_views_bytes_per_s"] / max(
            votes["redis_views_msgs_per_s"], 1e-9
        )
        steps["redis_bytes_per_change"] = sum(
            steps[f"redis_{kind}_bytes_per_change"] for kind in ("views", "batch", "inbox")
        )


# -- tables ---------------------------------------------------------------------------------
MAIN = [
    ("storm", "ready", "phones with a view"),
    ("storm", "all_ready_s", "join: all with a view (s)"),
    ("votes", "screen_p50_ms", "vote -> screen p50 (ms)"),
    ("votes", "screen_p99_ms", "vote -> screen p99 (ms)"),
    ("votes", "ack_p50_ms", "vote -> ack p50 (ms)"),
    ("votes", "ack_p99_ms", "vote -> ack p99 (ms)"),
    ("votes", "server_cpu_pct", "writer CPU (%)"),
    ("votes", "edges_cpu_pct", "edges CPU, sum (%)"),
    ("votes", "redis_cpu_pct", "Redis CPU (%)"),
    ("votes", "postgres_cpu_pct", "PostgreSQL CPU (%)"),
    ("votes", "nginx_cpu_pct", "nginx CPU (%)"),
    ("votes", "phones_cpu_pct", "phone workers CPU (%)"),
    ("steps", "last_p99_ms", "step change: last phone p99 (ms)"),
]
UNITS = [
    ("votes", "msgs_per_phone_per_s", "messages to each phone / s (votes)"),
    ("votes", "holder_us_per_msg", "socket holders' CPU per message sent (µs)"),
    ("steps", "holder_us_per_phone", "socket holders' CPU per phone per step change (µs)"),
    ("steps", "server_us_per_phone", "writer CPU per phone per step change (µs)"),
    ("votes", "server_us_per_vote", "writer CPU per vote at 500/s, ticks included (µs)"),
    ("storm", "server_cpu_ms_per_phone", "writer CPU per join, HTTP + socket (ms)"),
    ("storm", "edges_cpu_ms_per_phone", "edges' CPU per join, socket (ms)"),
    ("memory", "kib_per_phone", "writer RSS per phone (KiB)"),
    ("memory", "edges_kib_per_phone", "edges' RSS per phone (KiB)"),
    ("votes", "redis_views_msgs_per_s", "Redis: shared-view publishes / s"),
    ("votes", "redis_views_bytes_per_msg", "Redis: bytes per shared-view publish"),
    ("votes", "redis_views_bytes_per_vote", "Redis: shared-view bytes per vote"),
    ("votes", "redis_batch_bytes_per_vote", "Redis: edge-batch bytes per vote"),
    ("votes", "redis_inbox_bytes_per_vote", "Redis: inbox bytes per vote"),
    ("votes", "redis_out_bytes_per_s", "Redis: bytes out / s, all clients"),
    ("steps", "redis_bytes_per_change", "Redis: bytes published per step change"),
]


def table(agg: dict[str, Any], n: int, kinds: list[str], rows: list[tuple[str, str, str]]) -> str:
    head = "| figure | " + " | ".join(f"edges: {label(k)}" for k in kinds) + " |"
    lines = [head, "|---|" + "---:|" * len(kinds)]
    for scenario, key, text in rows:
        by_kind = agg.get(scenario, {}).get(str(n), {})
        cells = [cell(by_kind.get(k, {}).get(key)) for k in kinds]
        if any(c != "-" for c in cells):
            lines.append(f"| {text} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ingest_costs(results: dict[str, dict[int, list[dict[str, Any]]]]) -> str:
    """Writer CPU against acknowledged rate, level by level (first run): its slope is the
    writer's cost per action."""
    lines = ["", "### Writer CPU during the ingest ramp (first run)", "",
             "| edges | acked / s | writer CPU (%) | edges CPU, sum (%) | Redis CPU (%) | "
             "PostgreSQL CPU (%) | writer µs per ack |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    found = False
    for kind, by_n in results.items():
        for runs in by_n.values():
            first = next((r["ingest"] for r in runs if "ingest" in r), None)
            for level in first["levels"] if first else []:
                found = True
                parts = [v for k, v in level.items() if k.startswith("edge") and "cpu" in k]
                edges = sum(parts) if parts else math.nan
                rate = level["acked_per_s"]
                lines.append(
                    f"| {label(kind)} | {fmt(rate)} | {fmt(level['server_cpu_pct'])} | "
                    f"{fmt(edges)} | {fmt(level.get('redis_cpu_pct', math.nan))} | "
                    f"{fmt(level.get('postgres_cpu_pct', math.nan))} | "
                    f"{fmt(1e4 * level['server_cpu_pct'] / rate if rate else math.nan)} |"
                )
    return "\n".join(lines) if found else ""


# -- the run --------------------------------------------------------------------------------
async def bench(fleet: Fleet, opts: Options, kinds: list[str]) -> dict[str, Any]:
    return await run_all(fleet, opts, kinds, brief, derive)


def brief(out: dict[str, Any]) -> str:
    s, v, t = out["storm"], out["votes"], out["steps"]
    return (
        f"{s['ready']:.0f} with a view in {s['all_ready_s']:.1f} s; vote->screen p50/p99 "
        f"{v['screen_p50_ms']:.0f}/{v['screen_p99_ms']:.0f} ms, ack p99 {v['ack_p99_ms']:.0f} ms;"
        f" cpu writer {v['server_cpu_pct']:.0f} %, edges {v.get('edges_cpu_pct', 0):.0f} %; "
        f"step last p99 {t['last_p99_ms']:.0f} ms"
    )


def services(store: str, broker: str) -> str:
    import psycopg
    import redis

    with psycopg.connect(store) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    version = redis.Redis.from_url(broker).info("server")["redis_version"]
    return f"PostgreSQL {pg}, Redis {version}, both on loopback"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # tests/cluster.py reads these when the first edge deployment imports it.
    os.environ["PALABRE_TEST_POSTGRES"], os.environ["PALABRE_TEST_REDIS"] = args.store, args.broker
    hard = raise_open_files()
    phones = phone_counts(args)
    kinds = [kind_of(int(e), args.front) for e in args.edges.split(",") if e]
    facts = machine(hard) | {"services": services(args.store, args.broker)}
    log(f"machine: {facts}")
    workers, outcome = measure(args, phones, kinds, bench, facts, "palabre-edges-")
    agg = aggregate(outcome["results"])
    print(f"# Palabre with edge workers ({'quick' if args.quick else 'full'}), phones "
          f"{'through nginx' if args.front == 'nginx' else 'straight to the edges'}")  # fmt: skip
    print(machine_line(facts, hard, workers, outcome["seconds"]))
    print(f"engine: {facts['engine']}; {facts['services']}")
    print(f"votes: {args.vote_rate:g}/s in all for {args.vote_seconds:g} s, results revealed; "
          f"{args.step_changes} step changes; median [min-max] of {args.runs} run(s)")  # fmt: skip
    for n in phones:
        if n == args.ingest_phones and str(n) not in agg.get("votes", {}):
            continue
        print(f"\n## {n:,} phones\n\n{table(agg, n, kinds, MAIN)}")
        print(f"\n### Unit costs, {n:,} phones\n\n{table(agg, n, kinds, UNITS)}")
    print(ingest_levels(outcome["results"]))
    print(ingest_costs(outcome["results"]))
    for error in outcome["errors"]:
        print(f"\nERROR {error}")
    write_json(args, facts, outcome, agg)
    return 1 if outcome["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
