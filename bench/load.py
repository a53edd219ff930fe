"""Palabre under load (issue 6): every scenario, on a real `palabre serve` and on a minimal
`websockets` baseline, in one invocation; prints one table per scenario.

    .venv/bin/python bench/load.py                        # 1,000, 5,000, 10,000 phones
    .venv/bin/python bench/load.py --phones 1000,5000 --runs 3 --json load.json
    .venv/bin/python bench/load.py --smoke                # 200 phones, a few seconds each

For each phone count and run, Palabre then the baseline (minutes apart at most): a fresh
server on loopback; the facilitator, the screen and a probe phone set up quick-start (six
ideas, then the dot-vote with results revealed); then the join storm (memory measured
around it), votes to projector, step changes, and at `--ingest-phones` the durable ingest.
Phones live in worker processes (bench/phones.py); the baseline's views are the bytes
Palabre sent in a calibration run first (bench/baseline.py). See scenarios.py for how each
figure is measured, bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from phones import Fleet, raise_open_files
from report import aggregate, ingest_levels, tables
from scenarios import Options, run_once
from targets import prepare, start

# The smoke proves the harness, not the speed: its ingest latency bound is loose, so that a
# loaded machine never turns the ingest figure into zero.
SMOKE = {
    "phones": "200", "runs": 1, "vote_rate": 100.0, "vote_seconds": 2.0, "step_changes": 2,
    "ingest_phones": 200, "ingest_rates": "200,400", "ingest_seconds": 1.0,
    "ingest_p99_ms": 1000.0,
}  # fmt: skip


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phones", default="1000,5000,10000", help="phone counts, comma-separated")
    p.add_argument("--runs", type=int, default=3, help="runs per phone count and server")
    p.add_argument("--vote-rate", type=float, default=500.0, help="votes per second, in all")
    p.add_argument(
        "--vote-seconds",
        type=float,
        default=10.0,
        help="per run (capped so that no phone runs out of dots)",
    )
    p.add_argument("--step-changes", type=int, default=6, help="per run (made even)")
    p.add_argument("--ingest-phones", type=int, default=1000, help="0: no ingest scenario")
    p.add_argument(
        "--ingest-rates",
        default="250,500,1000,2000,3000,5000,7500,8750,10000,12500,15000,17500,19000",
    )
    p.add_argument("--ingest-seconds", type=float, default=3.0, help="per rate")
    p.add_argument("--ingest-p99-ms", type=float, default=100.0, help="latency that breaks")
    p.add_argument("--per-worker", type=int, default=2500, help="phones per worker process")
    p.add_argument("--joins-at-once", type=int, default=64, help="join requests in flight")
    p.add_argument("--connects-at-once", type=int, default=256, help="handshakes in flight")
    p.add_argument("--storm-timeout", type=float, default=0.0, help="0: 60 s + 30 ms a phone")
    p.add_argument("--servers", default="palabre,baseline", help="which servers to run")
    p.add_argument("--profile", type=Path, help="py-spy raw stacks of Palabre into this folder")
    p.add_argument("--profile-phones", type=int, default=5000, help="phone count to profile")
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--smoke", action="store_true", help="200 phones, a few seconds each")
    p.set_defaults(**{k: v for k, v in SMOKE.items()} if "--smoke" in (argv or sys.argv) else {})
    args = p.parse_args(argv)
    args.step_changes += args.step_changes % 2
    return args


def machine(hard: int) -> dict[str, Any]:
    mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
    import uvicorn
    import websockets

    return {
        "cpus": os.cpu_count(), "ram_gib": round(int(mem) / 1024**2, 1),
        "open_files": hard, "load_at_start": os.getloadavg(),
        "python": platform.python_version(), "kernel": platform.release(),
        "uvicorn": uvicorn.__version__, "websockets": websockets.__version__,
        "engine": engine_source(),
    }  # fmt: skip


def engine_source() -> str:
    """Which Palabre the servers run: the folder imported, and the checkout's commit."""
    where = subprocess.run(
        [sys.executable, "-c", "import palabre.engine as e; print(e.__file__)"],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    repo = Path(__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "-C", str(repo), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    return f"{Path(where).parent} (checkout {commit})"


async def calibrate(opts: Options) -> dict[str, Any]:
    """A short Palabre run whose views become the baseline's pre-rendered bytes."""
    server = start("palabre", opts.folder, opts.templates)
    try:
        room = await prepare(server)
        opts.templates.write_text(json.dumps(room.templates, ensure_ascii=False))
        await room.close()
        return {step: views["bytes"] for step, views in room.templates["steps"].items()}
    finally:
        server.stop()


async def bench(fleet: Fleet, opts: Options, kinds: list[str]) -> dict[str, Any]:
    sizes = await calibrate(opts)
    log(f"view sizes in bytes (Palabre, calibration): {sizes}")
    return {"sizes": sizes, **await run_all(fleet, opts, kinds, brief)}


async def run_all(
    fleet: Fleet,
    opts: Options,
    kinds: list[str],
    brief: Callable[[dict[str, Any]], str],
    derive: Callable[[dict[str, Any], int], None] | None = None,
) -> dict[str, Any]:
    """Every phone count, run and kind (interleaved, so that the kinds compared are
    measured minutes apart at most); DERIVE adds figures to each run's output."""
    results: dict[str, dict[int, list[dict[str, Any]]]] = {k: {} for k in kinds}
    errors: list[str] = []
    began = time.monotonic()
    for n in opts.phones:
        for run in range(opts.runs):
            for kind in kinds:
                log(f"[{time.monotonic() - began:5.0f} s] {kind}, {n:,} phones, run {run + 1}/"
                    f"{opts.runs}, load {os.getloadavg()[0]:.2f}")  # fmt: skip
                try:
                    out = await run_once(fleet, kind, n, opts)
                    if derive is not None:
                        derive(out, n)
                except (OSError, EOFError):  # a phone worker is gone: nothing left to measure
                    errors.append(f"{kind} {n} run {run + 1}: {traceback.format_exc()}")
                    log(errors[-1])
                    return {"results": results, "errors": errors, "seconds": 0}
                except Exception:
                    errors.append(f"{kind} {n} run {run + 1}: {traceback.format_exc()}")
                    log(errors[-1])
                    continue
                results[kind].setdefault(n, []).append(out)
                log("    " + brief(out))
    return {"results": results, "errors": errors, "seconds": time.monotonic() - began}


def brief(out: dict[str, Any]) -> str:
    s, v, t = out["storm"], out["votes"], out["steps"]
    text = (
        f"storm {s['all_ready_s']:.1f} s ({s['ready']:.0f} ready {s['failures'] or ''}); "
        f"{out['memory']['kib_per_phone']:.1f} KiB/phone; vote->screen p99 "
        f"{v['screen_p99_ms']:.0f} ms, cpu {v['server_cpu_pct']:.0f} %; step last p99 "
        f"{t['last_p99_ms']:.0f} ms"
    )
    if "ingest" in out:
        text += f"; ingest {out['ingest']['max_sustained_per_s']:,.0f}/s"
    return text


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def phone_counts(args: argparse.Namespace) -> list[int]:
    """`--phones`, and the ingest scenario's count if it is not among them."""
    phones = [int(x) for x in args.phones.split(",") if x]
    if args.ingest_phones and args.ingest_phones not in phones:
        phones.append(args.ingest_phones)
    return phones


def measure(
    args: argparse.Namespace,
    phones: list[int],
    kinds: list[str],
    bench: Callable[[Fleet, Options, list[str]], Awaitable[dict[str, Any]]],
    facts: dict[str, Any],
    prefix: str,
    **extra: Any,
) -> tuple[int, dict[str, Any]]:
    """BENCH over PHONES and KINDS with the scenario options of ARGS (shared by this bench and
    bench/edges.py), in a fresh folder, with phone workers enough for the largest count;
    EXTRA goes to Options. Returns the number of phone workers and what BENCH returned."""
    workers = max(2, math.ceil(max(phones) / args.per_worker))
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        opts = Options(
            phones=phones, runs=args.runs, vote_rate=args.vote_rate,
            vote_seconds=args.vote_seconds, step_changes=args.step_changes,
            ingest_phones=args.ingest_phones,
            ingest_rates=[int(x) for x in args.ingest_rates.split(",") if x],
            ingest_seconds=args.ingest_seconds, ingest_p99_ms=args.ingest_p99_ms,
            joins_at_once=args.joins_at_once, connects_at_once=args.connects_at_once,
            storm_timeout=getattr(args, "storm_timeout", 0.0) or 60 + 0.03 * max(phones),
            folder=Path(tmp), templates=Path(tmp) / "templates.json", **extra,
        )  # fmt: skip
        fleet = Fleet(workers)
        try:
            outcome = asyncio.run(bench(fleet, opts, kinds))
        finally:
            fleet.close()
    facts["load_at_end"] = os.getloadavg()
    return workers, outcome


def machine_line(facts: dict[str, Any], hard: int, workers: int, seconds: float) -> str:
    return (
        f"machine: {facts['cpus']} CPUs, {facts['ram_gib']} GiB RAM, open files {hard}, "
        f"load {facts['load_at_start'][0]:.2f} at start, {facts['load_at_end'][0]:.2f} at "
        f"end; {workers} phone workers; {seconds:.0f} s"
    )


def write_json(args: argparse.Namespace, facts: dict[str, Any], outcome: dict[str, Any],
               agg: dict[str, Any], **extra: Any) -> None:  # fmt: skip
    """Every figure of every run, and how they were obtained, into `--json`."""
    if args.json:
        args.json.write_text(json.dumps(
            {"machine": facts, "args": {k: str(v) for k, v in vars(args).items()}, **extra,
             "figures": agg, "runs": outcome["results"], "errors": outcome["errors"]},
            indent=1, default=str,
        ))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    hard = raise_open_files()
    phones = phone_counts(args)
    kinds = [k for k in args.servers.split(",") if k]
    facts = machine(hard)
    log(f"machine: {facts}")
    profile = {"profile": args.profile, "profile_phones": args.profile_phones}
    workers, outcome = measure(args, phones, kinds, bench, facts, "palabre-load-", **profile)
    agg = aggregate(outcome["results"])
    notes = {
        "votes": f"{args.vote_rate:g} votes/s in all, results revealed (bars live)",
        "steps": f"{args.step_changes} changes a run (previous/next)",
        "ingest": f"{args.ingest_phones:,} phones, results hidden, vote/unvote, rising rates "
        f"{args.ingest_rates}/s, {args.ingest_seconds:g} s each, breaks at p99 > "
        f"{args.ingest_p99_ms:g} ms",
        "memory": "(RSS after the storm - RSS before) / phones with a view",
        "storm": f"all phones at once, {args.joins_at_once} joins and "
        f"{args.connects_at_once} handshakes in flight at most",
    }
    print(f"# Palabre load bench ({'smoke' if args.smoke else 'full'})")
    print(machine_line(facts, hard, workers, outcome["seconds"]))
    print(f"engine: {facts['engine']}")
    print(tables(agg, args.runs, notes))
    print(ingest_levels(outcome["results"]))
    for error in outcome["errors"]:
        print(f"\nERROR {error}")
    write_json(args, facts, outcome, agg, sizes=outcome["sizes"])
    return 1 if outcome["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
