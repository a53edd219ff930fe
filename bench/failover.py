"""How long a workshop is unreachable when its worker dies and its standby takes it over
(PostgreSQL store, docs/deployment.md section 3): from SIGKILL of the owner to the first
action acknowledged by the standby, and whether every action acknowledged before was kept.

    PALABRE_TEST_POSTGRES=postgresql://palabre:palabre@127.0.0.1/palabre \\
        .venv/bin/python bench/failover.py --rounds 10 --phones 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_postgres_store import fresh_name  # noqa: E402

from palabre.engine.pg_store import read_postgres_log  # noqa: E402
from support import Client, Server, close_all, run  # noqa: E402


async def acted(server: Server, phones: int) -> int:
    clients = [await Client(server, "participant").join(f"P{n}").connect() for n in range(phones)]
    try:
        posts = [c.act("post", {"title": f"Idée {n}"}, step="ideas") for n, c in enumerate(clients)]
        acks = await asyncio.gather(*posts)
        return sum(1 for a in acks if a["ok"])
    finally:
        await close_all(*clients)


async def first_ack(server: Server) -> None:
    facilitator = await Client(server, "facilitator").login().connect()
    try:
        assert (await facilitator.act("toggle_join"))["ok"]
    finally:
        await facilitator.close()


def one_round(url: str, folder: Path, phones: int) -> tuple[float, bool]:
    name = fresh_name()
    args = ["--store", url, "--workshop", name]
    owner = Server(folder / "unused.db", args=args).start()
    standby = Server(folder / "unused.db", args=[*args, "--wait-for-lock", "120"])
    waiting = threading.Thread(target=lambda: standby.start(timeout=150), daemon=True)
    try:
        acknowledged = run(acted(owner, phones))
        waiting.start()
        time.sleep(1.0)
        killed = time.monotonic()
        owner.kill()
        waiting.join(timeout=150)
        run(first_ack(standby))
        gap = time.monotonic() - killed
        kept = sum(1 for e in read_postgres_log(url, name).events if e.kind == "ideation.posted")
        return gap, kept == acknowledged
    finally:
        owner.stop()
        standby.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--phones", type=int, default=20)
    args = parser.parse_args()
    url = os.environ.get("PALABRE_TEST_POSTGRES")
    if not url:
        print("set PALABRE_TEST_POSTGRES=postgresql://…", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="palabre-bench-failover-"))
    gaps, lost = [], 0
    for _ in range(args.rounds):
        gap, kept = one_round(url, folder, args.phones)
        gaps.append(gap)
        lost += not kept
    print(f"{args.rounds} take-overs, {args.phones} phones acting before each kill")
    print(
        f"kill -> first ack by the standby: median {statistics.median(gaps):.2f} s, "
        f"min {min(gaps):.2f} s, max {max(gaps):.2f} s"
    )
    print(f"rounds that lost an acknowledged action: {lost}")
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
