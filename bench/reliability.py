"""Crash and reconnect rounds, run for long (RELIABILITY rows 11, 12 and 14), with figures.

The same scenarios as tests/test_crash_rounds.py and tests/test_reconnect.py, with bigger
parameters; they are asserted there (briefly) and only printed here. The exit status is 1 if
any acknowledged action was lost, applied twice, the file failed `PRAGMA integrity_check`, or
a client ended differing from the log.

    .venv/bin/python bench/reliability.py crash --rounds 200 --clients 50
    .venv/bin/python bench/reliability.py reconnect --drops 100 --max-offline 30
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from crash_harness import Figures  # noqa: E402
from test_crash_rounds import crash_rounds  # noqa: E402
from test_reconnect import drop_rounds  # noqa: E402


def table(rows: list[tuple[str, object]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def failures(f: Figures) -> list[tuple[str, object]]:
    return [
        ("lost (acked, not in the log)", len(f.lost)),
        ("duplicated (applied twice)", len(f.duplicated)),
        ("integrity failures", len(f.integrity_failures)),
        ("other problems", len(f.problems)),
    ]


def crash_table(f: Figures) -> str:
    return table(
        [
            ("rounds (SIGKILL + restart)", f.rounds),
            ("kills with actions in flight", f.mid_flight),
            ("actions sent (distinct ids)", f.actions),
            ("act frames sent (with resends)", f.frames),
            ("acknowledged before the kill", f.acked_before_cut),
            ("acknowledged in all", f.acknowledged),
            ("unacknowledged at the kill, resent", f.resent),
            ("  of which already committed", f.found_applied),
            ("  of which not committed", f.uncommitted),
            *failures(f),
            ("wall time", f"{f.seconds:.0f} s ({f.seconds / max(1, f.rounds):.2f} s a round)"),
        ]
    )


def reconnect_table(f: Figures) -> str:
    return table(
        [
            ("abrupt drops", f.rounds),
            ("drops with taps in flight", f.mid_flight),
            ("time offline, summed", f"{f.offline:.0f} s"),
            ("actions sent (distinct ids)", f.actions),
            ("act frames sent (with resends)", f.frames),
            ("acknowledged", f.acknowledged),
            ("pending at a drop, resent", f.resent),
            ("  of which already committed", f.found_applied),
            ("repeated acks received (each equal to the first)", f.repeats),
            ("views received", f.views),
            *failures(f),
            ("wall time", f"{f.seconds:.0f} s"),
        ]
    )


def show_failures(f: Figures) -> int:
    for line in f.failures()[:20]:
        print("  !", line)
    return 1 if f.failures() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="scenario", required=True)
    crash = sub.add_parser("crash", help="SIGKILL the server at random while phones act")
    crash.add_argument("--rounds", type=int, default=200)
    crash.add_argument("--clients", type=int, default=50)
    crash.add_argument("--seed", type=int, default=1)
    drops = sub.add_parser("reconnect", help="abrupt drops of 0 to T s while others vote")
    drops.add_argument("--drops", type=int, default=100)
    drops.add_argument("--max-offline", type=float, default=30.0)
    drops.add_argument("--sleepers", type=int, default=20)
    drops.add_argument("--voters", type=int, default=30)
    drops.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp(prefix="palabre-reliability-")) / "workshop.db"

    if args.scenario == "crash":
        every, shown = max(1, args.rounds // 20), [0]

        def progress(r: int, f: Figures) -> None:
            found = f.failures()
            for line in found[shown[0] : shown[0] + 5]:  # as they happen, a few a round
                print(f"  ! round {r}: {line}", flush=True)
            shown[0] = len(found)
            if (r + 1) % every == 0:
                print(
                    f"  round {r + 1}/{args.rounds}: {f.acknowledged} acked, {len(found)} failures",
                    flush=True,
                )

        print(f"crash: {args.rounds} rounds x {args.clients} phones, seed {args.seed}, {db}")
        figures = asyncio.run(crash_rounds(db, args.rounds, args.clients, args.seed, progress))
        print(crash_table(figures))
    else:
        print(
            f"reconnect: {args.drops} drops of 0-{args.max_offline:g} s, {args.sleepers} "
            f"sleepers + the screen, {args.voters} voters, seed {args.seed}, {db}",
            flush=True,
        )
        figures = asyncio.run(
            drop_rounds(db, args.drops, args.max_offline, args.sleepers, args.voters, args.seed)
        )
        print(reconnect_table(figures))
    return show_failures(figures)


if __name__ == "__main__":
    sys.exit(main())
