"""A message flood beside a room of normal phones (RELIABILITY row 9), measured.

Starts a real `palabre serve` on loopback with one dot-voting step and joins `--clients`
phones that each tap (vote, take the dot back) every 0.5 to 1.5 s. One flooder, in a process
of its own so that its loop does not slow the phones' measurements, sends acts as fast as
its socket takes them, never waiting for an ack, and reconnects each time it is cut off.
Prints the normal phones' ack latencies (send to ack: p50/p95/p99/max) and the flooder's
fate. The same scenario, shorter, is asserted by counting in tests/test_limits.py; figures
are only printed here.

    .venv/bin/python bench/flood.py --seconds 30 --clients 100
    .venv/bin/python bench/flood.py --seconds 30 --clients 100 --no-flooder  # baseline
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_limits import (  # noqa: E402
    FLOOD_ITEMS,
    Flood,
    connect_phones,
    flood_scenario,
    join_many,
    keep_flooding,
    memory_kib,
    participant_id,
    vote_kit,
)

from support import Client, Server, close_all, read_events  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def flooder_process(port: int, cookie: str, until: float, out: Any) -> None:
    """The flooder's own process (CLOCK_MONOTONIC is shared, so `until` means the same)."""

    async def flood() -> Flood:
        flooder = Client(Server(Path("unused"), port=port), "participant")
        flooder.http.cookies.set("palabre_p", cookie)
        result = Flood()
        await keep_flooding(flooder, until, FLOOD_ITEMS[9][0], result)
        flooder.http.close()
        return result

    result = asyncio.run(flood())
    out.put((result.sockets, result.flooding))


def report(flood: Flood, seconds: float, written: int | None) -> None:
    ms = [1000 * s for s in flood.latencies]
    refused = sum(1 for a in flood.normal_acks if not a["ok"])
    print(f"normal phones: {len(ms)} taps acknowledged in {seconds:.0f} s, {refused} refused")
    print(
        f"ack latency ms: p50 {percentile(ms, 50):.1f}  p95 {percentile(ms, 95):.1f}  "
        f"p99 {percentile(ms, 99):.1f}  max {max(ms):.1f}  mean {statistics.fmean(ms):.1f}"
    )
    if written is None:
        return
    sockets = flood.sockets
    sent = sum(f["sent"] for f in sockets)
    told = sum(1 for f in sockets if f["slow_downs"])
    codes = sorted({str(f["close_code"]) for f in sockets})
    lived = 1000 * statistics.fmean(f["seconds"] for f in sockets)
    print(
        f"flooder: {sent} messages ({sent / flood.flooding:.0f}/s) on {len(sockets)} sockets; "
        f"{written} of its actions written ({written / flood.flooding:.1f}/s; "
        "allowance: 40, then 20/s)"
    )
    print(
        f"flooder: told to slow down on {told}/{len(sockets)} sockets, each closed with "
        f"{', '.join(codes)} after {lived:.0f} ms on average"
    )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "flood.db", kit=vote_kit(Path(tmp), FLOOD_ITEMS)).start()
        try:
            names = [f"Habitant {n}" for n in range(args.clients)]
            phones = await connect_phones(server, await join_many(server, names))
            [cookie] = await join_many(server, ["Inondeur"])
            before = memory_kib(server)
            out: Any = multiprocessing.get_context("spawn").Queue()
            child = multiprocessing.get_context("spawn").Process(
                target=flooder_process,
                args=(server.port, cookie, time.monotonic() + args.seconds + 1, out),
            )
            if not args.no_flooder:
                child.start()
                await asyncio.sleep(1)  # the child's interpreter starts; then both go
            try:
                flood = await flood_scenario(phones, None, args.seconds)
            finally:
                await close_all(*phones)
            written = None
            if not args.no_flooder:
                flood.sockets, flood.flooding = await asyncio.to_thread(out.get, True, 60)
                child.join(10)
                flooder_id = participant_id(server.db, "Inondeur")
                written = sum(
                    e["actor"] == flooder_id and e["kind"] != "participant.joined"
                    for e in read_events(server.db)
                )
            print(
                f"server RSS: {before / 1024:.0f} MiB before, "
                f"{memory_kib(server) / 1024:.0f} MiB after, "
                f"peak {memory_kib(server, 'VmHWM') / 1024:.0f} MiB"
            )
            report(flood, args.seconds, written)
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--no-flooder", action="store_true", help="the baseline: no flood")
    started = time.monotonic()
    asyncio.run(main(parser.parse_args()))
    print(f"(bench ran {time.monotonic() - started:.0f} s)")
