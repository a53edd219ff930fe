"""One run: a fresh server (Palabre or the baseline), then every scenario in turn on it.

    join storm + memory -> votes to projector -> step changes -> durable ingest (at the
    ingest phone count only)

Each returns plain figures (floats) for the report. How each is measured:

- join storm: every phone joins (POST /j/<code>) then connects, as fast as the bounds on
  concurrent joins and connects allow, all starting at one instant; the figure is the time
  until the last phone has its first view of both streams.
- memory: server RSS after the storm minus RSS before it (screen and facilitator already
  on), divided by the phones connected; the same for every watched process (edge workers).
- votes to projector: after a `reset`, phones spend their dots (one per item: never refused)
  at the given aggregate rate. Only votes happen, so the bars' sum on the screen only grows,
  and the vote whose ack carries event seq s is the (s - s0)-th, s0 the seq before the first:
  its screen latency is from its send to the first screen view whose bars add up to at least
  (s - s0). Server CPU is its CPU clock (user + system) over the sending window.
- step change: the facilitator goes previous/next; for each phone the time from the send of
  the action to the first view of both streams after it; per change the last phone's time.
- durable ingest: results hidden, phones vote then unvote (budgets never run out) at rising
  offered rates; a level is sustained if acks (sent after the commit, synchronous=FULL) come
  back at >= 95 % of the offered rate with p99 <= the bound and nothing refused (a level
  that breaks is run a second time before the ramp stops).

Each scenario also reports, over the same window, the CPU of every watched process
(targets.Watch: the server alone, or the writer, each edge worker, Redis and PostgreSQL) and
the broker's counters: `<name>_cpu_pct` and `<counter>_per_s` over time, and per phone in the
storm, per change for step changes.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import time
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phones import Fleet
from targets import (
    Room,
    Target,
    Watch,
    change,
    each,
    over_time,
    prepare,
    start,
    stop,
    target_of,
    watch_of,
)

DOTS = 5  # quick-start's budget per participant (one dot per item in `spend` mode)


@dataclass
class Options:
    phones: list[int]
    runs: int
    vote_rate: float
    vote_seconds: float
    step_changes: int
    ingest_phones: int
    ingest_rates: list[int]
    ingest_seconds: float
    ingest_p99_ms: float
    joins_at_once: int
    connects_at_once: int
    storm_timeout: float
    folder: Path
    templates: Path
    profile: Path | None = None
    profile_phones: int = 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


async def run_once(fleet: Fleet, kind: str, n: int, opts: Options) -> dict[str, Any]:
    server = start(kind, opts.folder, opts.templates)
    out: dict[str, Any] = {"load_1min": os.getloadavg()[0]}
    try:
        watch = watch_of(server)
        pid = watch.server
        room = await prepare(server)
        await fleet.all("forget")
        profiling = opts.profile is not None and kind == "palabre" and n == opts.profile_phones
        spy = Profiler(opts, pid, f"storm-{n}", profiling)
        out["storm"], out["memory"] = await storm(fleet, server, watch, n, opts)
        spy.stop()
        out["votes"] = await votes(fleet, room, watch, n, opts, profiling)
        out["steps"] = await steps(fleet, room, watch, n, opts, profiling)
        if n == opts.ingest_phones:
            spy = Profiler(opts, pid, f"ingest-{n}", opts.profile is not None and kind == "palabre")
            out["ingest"] = await ingest(fleet, room, watch, opts)
            spy.stop()
        await room.close()
    finally:
        stop(server)
        await fleet.all("forget")
    return out


async def live_per_worker(fleet: Fleet) -> list[int]:
    return [s["live"] for s in await fleet.all("stats")]


# -- join storm and memory ------------------------------------------------------------------
async def storm(
    fleet: Fleet, server: Target, watch: Watch, n: int, opts: Options
) -> tuple[dict[str, float], dict[str, float]]:
    await asyncio.sleep(0.5)
    before, used = watch.rss(), watch.read()
    names = [f"Habitant {i + 1}" for i in range(n)]
    chunks, at = [], 0
    for size in fleet.split(n):
        chunks.append(names[at : at + size])
        at += size
    joins = max(1, opts.joins_at_once // fleet.size)
    connects = max(1, opts.connects_at_once // fleet.size)
    begin = time.monotonic() + 0.3
    answers = await fleet.each(
        [
            ("storm", target_of(server), chunk, begin, joins, connects, opts.storm_timeout)
            for chunk in chunks
        ]
    )
    joined = [t for a in answers for t in a["joined"]]
    ready = [t for a in answers for t in a["ready"]]
    failures: dict[str, int] = {}
    for a in answers:
        for reason, count in a["failures"].items():
            failures[reason] = failures.get(reason, 0) + count
    if not ready:
        raise RuntimeError(f"no phone connected with a view; failures: {failures}")
    await asyncio.sleep(1.0)  # let the last views leave the server's buffers
    after, used = watch.rss(), change(used, watch.read())
    storm_figures: dict[str, float] = {
        "all_ready_s": max(ready) - begin if ready else math.nan,
        "half_ready_s": percentile(ready, 50) - begin,
        "all_joined_s": max(joined) - begin if joined else math.nan,
        "ready": float(len(ready)),
        "failed": float(n - len(ready)),
        "failures": failures,  # type: ignore[dict-item]
        **each(used, len(ready), "phone"),
    }
    memory = {
        "kib_per_phone": (after["server"] - before["server"]) / len(ready),
        "rss_before_mib": before["server"] / 1024,
        "rss_after_mib": after["server"] / 1024,
    }
    for name in sorted(after.keys() - {"server"}):
        memory[f"{name}_kib_per_phone"] = (after[name] - before[name]) / len(ready)
        memory[f"{name}_rss_after_mib"] = after[name] / 1024
    return storm_figures, memory


# -- votes to projector ---------------------------------------------------------------------
async def votes(
    fleet: Fleet, room: Room, watch: Watch, n: int, opts: Options, profiling: bool
) -> dict[str, float]:
    screen = room.screen
    await fleet.all("reset_ballots")
    await room.facilitator.act("reset", step="vote")
    await screen.until(lambda: screen.total() == 0)
    live = await live_per_worker(fleet)
    phones = sum(live)
    received = await received_by_phones(fleet)
    seconds = min(opts.vote_seconds, 0.9 * phones * DOTS / opts.vote_rate)
    spy = Profiler(opts, watch.server, f"votes-{n}", profiling)
    begin = time.monotonic() + 0.5
    mark = len(screen.log)
    shares = [opts.vote_rate * k / max(1, phones) for k in live]
    used, answers = await asyncio.gather(
        window(watch, begin, seconds),
        fleet.each(
            [("vote", begin, seconds, r, "spend", "vote", room.items, DOTS, 5.0) for r in shares]
        ),
    )
    spy.stop()
    # Messages to the phones (views and acks), from the window's start to the last ack.
    received = change(received, await received_by_phones(fleet))
    acks = [a for answer in answers for a in answer["acks"]]
    ok = sorted((seq, sent) for sent, _, seq, code in acks if not code)
    try:  # the screen's last view may still be on its way when the last ack is in
        await screen.until(lambda: (screen.total() or 0) >= len(ok), 10)
    except TimeoutError:
        pass
    shown = [(t, total) for t, total, _ in screen.log[mark:] if total is not None and t >= begin]
    times, highest, top = [], [], 0
    for t, total in shown:
        top = max(top, total)
        times.append(t)
        highest.append(top)
    latencies, unmatched = [], 0
    base = ok[0][0] - 1 if ok else 0
    for seq, sent in ok:
        i = bisect_left(highest, seq - base)
        if i < len(times):
            latencies.append(times[i] - sent)
        else:
            unmatched += 1
    ack_ms = [1000 * (acked - sent) for sent, acked, _, code in acks if not code]
    return {
        "screen_p50_ms": 1000 * percentile(latencies, 50),
        "screen_p99_ms": 1000 * percentile(latencies, 99),
        "ack_p50_ms": percentile(ack_ms, 50),
        "ack_p99_ms": percentile(ack_ms, 99),
        **over_time(used, seconds),
        "votes_per_s": len(ok) / seconds,
        "phone_msgs_per_s": received["msgs"] / seconds,
        "phone_bytes_per_s": received["bytes"] / seconds,
        "screen_views_per_s": len(shown) / seconds,
        "phones_cpu_pct": 100 * sum(a["cpu"] for a in answers) / seconds,
        "seconds": seconds,
        "refused": float(len(acks) - len(ok)),
        "unacked": float(sum(a["unacked"] for a in answers)),
        "unmatched": float(unmatched),
        "seq_gaps": float((ok[-1][0] - base) - len(ok)) if ok else 0.0,
    }


async def window(watch: Watch, begin: float, seconds: float) -> dict[str, float]:
    """What the watched processes used (and the counters counted) from `begin` on."""
    await asyncio.sleep(max(0.0, begin - time.monotonic()))
    before = watch.read()
    await asyncio.sleep(seconds)
    return change(before, watch.read())


async def received_by_phones(fleet: Fleet) -> dict[str, float]:
    stats = await fleet.all("stats")
    return {"msgs": sum(s["received"] for s in stats), "bytes": sum(s["bytes"] for s in stats)}


class Profiler:
    """py-spy on the server during one phase, when --profile is given (raw collapsed stacks
    with idle samples, read by profile_top.py); stopped with SIGINT, which makes it write."""

    def __init__(self, opts: Options, pid: int, name: str, active: bool) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        if not active or opts.profile is None:
            return
        opts.profile.mkdir(parents=True, exist_ok=True)
        spy = os.environ.get("PY_SPY", "/tmp/v2/bin/py-spy")
        self.proc = subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--nonblocking", "--idle", "--rate", "200",
             "--format", "raw", "-o", str(opts.profile / f"{name}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(30)


# -- step change ----------------------------------------------------------------------------
async def steps(
    fleet: Fleet, room: Room, watch: Watch, n: int, opts: Options, profiling: bool
) -> dict[str, float]:
    screen, lasts, everyone, on_screen, missing = room.screen, [], [], [], 0
    at_vote, busy, phones_cpu = True, 0.0, 0.0
    used: dict[str, float] = {}
    spy = Profiler(opts, watch.server, f"steps-{n}", profiling)
    for _ in range(opts.step_changes):
        await asyncio.sleep(0.5)  # quiet: no view in flight when the phones are armed
        await fleet.all("arm")
        mark, shown_before = len(screen.log), screen.step_title()
        phones_before = sum(s["cpu"] for s in await fleet.all("stats"))
        before, sent = watch.read(), time.monotonic()
        await room.facilitator.act("previous" if at_vote else "next")
        at_vote = not at_vote
        arrivals = await fleet.all("arrivals", 60.0)
        for key, value in change(before, watch.read()).items():
            used[key] = used.get(key, 0.0) + value
        phones_cpu += sum(s["cpu"] for s in await fleet.all("stats")) - phones_before
        busy += time.monotonic() - sent
        times = [a - sent for worker in arrivals for a in worker if a]
        missing += sum(1 for worker in arrivals for a in worker if not a)
        everyone += times
        lasts.append(max(times) if times else math.nan)
        new = [t for t, _, title in screen.log[mark:] if title != shown_before]
        on_screen.append(new[0] - sent if new else math.nan)
    spy.stop()
    if not at_vote:
        await room.facilitator.act("next")
    return {
        "last_p50_ms": 1000 * percentile(lasts, 50),
        "last_p99_ms": 1000 * percentile(lasts, 99),
        "phone_p50_ms": 1000 * percentile(everyone, 50),
        "phone_p99_ms": 1000 * percentile(everyone, 99),
        "screen_p50_ms": 1000 * percentile(on_screen, 50),
        **over_time(used, busy),
        **each(used, opts.step_changes, "change"),
        "phones_cpu_pct": 100 * phones_cpu / busy if busy else math.nan,
        "missing": float(missing),
    }


# -- durable ingest -------------------------------------------------------------------------
async def ingest(fleet: Fleet, room: Room, watch: Watch, opts: Options) -> dict[str, Any]:
    await room.facilitator.act("hide_results", step="vote")
    await room.facilitator.act("reset", step="vote")
    await fleet.all("reset_ballots")
    levels: list[dict[str, float]] = []
    for rate in opts.ingest_rates:
        # A rate that breaks is tried once more: on a shared machine one hiccup of another
        # process can push a 3 s window's p99 over the bound.
        level = await ingest_level(fleet, room, watch, opts, rate)
        if not level["sustained"]:
            level = await ingest_level(fleet, room, watch, opts, rate)
        levels.append(level)
        if not level["sustained"]:
            break
    best = max((lv for lv in levels if lv["sustained"]), key=lambda lv: lv["offered"], default=None)
    return {
        "max_sustained_per_s": best["acked_per_s"] if best else 0.0,
        "ack_p50_ms_at_max": best["ack_p50_ms"] if best else math.nan,
        "ack_p99_ms_at_max": best["ack_p99_ms"] if best else math.nan,
        # 1: even the highest offered rate held, so the maximum is a lower bound
        "never_broke": float(bool(levels) and bool(levels[-1]["sustained"])),
        "levels": levels,
    }


async def ingest_level(
    fleet: Fleet, room: Room, watch: Watch, opts: Options, rate: int
) -> dict[str, float]:
    await asyncio.sleep(0.5)
    live = await live_per_worker(fleet)
    shares = [rate * k / max(1, sum(live)) for k in live]
    begin = time.monotonic() + 0.3
    used, answers = await asyncio.gather(
        window(watch, begin, opts.ingest_seconds),
        fleet.each(
            [
                ("vote", begin, opts.ingest_seconds, r, "toggle", "vote", room.items, DOTS, 5.0)
                for r in shares
            ]
        ),
    )
    acks = [a for answer in answers for a in answer["acks"]]
    ok = [(sent, acked) for sent, acked, _, code in acks if not code]
    ms = [1000 * (acked - sent) for sent, acked in ok]
    # The rate acks came out at: a server falling behind stretches their span.
    span = max((a for _, a in ok), default=begin) - min((a for _, a in ok), default=begin)
    level = {
        "offered": float(rate),
        "acked_per_s": len(ok) / max(span, opts.ingest_seconds - 0.1),
        "ack_p50_ms": percentile(ms, 50),
        "ack_p99_ms": percentile(ms, 99),
        "refused": float(len(acks) - len(ok)),
        "unacked": float(sum(a["unacked"] for a in answers)),
        "phones_late_ms": max(a["late_ms"] for a in answers),
        **over_time(used, opts.ingest_seconds),
    }
    level["sustained"] = float(
        level["acked_per_s"] >= 0.95 * rate
        and level["ack_p99_ms"] <= opts.ingest_p99_ms
        and not level["refused"]
        and not level["unacked"]
    )
    return level
