"""Kill -9 at random moments while 50 phones act: nothing acknowledged is lost, nothing is
applied twice, the file stays sound; and the start-up only runs on a database it can keep
durable (RELIABILITY rows 11 and 12).

Each round 50 phones act at once, each with up to four actions unacknowledged, as palabre.js
does: even rounds on the vote step (vote, unvote), odd rounds back on the ideas step
(withdraw, edit, post). The server is killed with SIGKILL after a random number of acks plus
a random delay of up to 50 ms, so the kill lands in any phase of the group commit (taking
actions, writing, rendering, sending acks), and restarted on the same file and port. The file
must pass `PRAGMA integrity_check` and still be in WAL mode; every action acknowledged before
the kill must be in the events table exactly once, with the seq its ack named. The phones then
reconnect, send their unacknowledged actions again with the same ids, finish their plans, and
must end showing what the log holds (their ideas or ballot, the bars, the screen count). An
ack sent before its commit makes this test fail: the acked action dies with the process.

Row 12 (power loss) rests on WAL with synchronous=FULL, which `EventStore` sets and checks at
start-up: a database that cannot be in WAL is refused, one left in another journal mode is put
back in WAL, and the connection the server writes with runs synchronous=FULL.

`bench/reliability.py crash --rounds 200 --clients 50` runs the same rounds for long.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
from crash_harness import (
    PACE,
    VOTES,
    Figures,
    Msg,
    Offline,
    Phone,
    Truth,
    check_applied,
    check_file,
    converge,
    facilitate,
    idea_plan,
    open_vote,
    truth,
    truth_when,
    vote_plan,
)

from palabre.engine.store import EventStore
from support import Server, events_dump, free_port, pragma, run

ROUNDS, CLIENTS, SEED = 3, 50, 11


def test_random_sigkills_while_fifty_phones_act_lose_no_acknowledged_action_and_apply_none_twice(
    tmp_path: Path,
) -> None:
    figures = run(crash_rounds(tmp_path / "workshop.db", ROUNDS, CLIENTS, SEED), timeout=150)
    assert figures.lost == [], "acknowledged, then gone after the kill"
    assert figures.duplicated == [], "applied more than once"
    assert figures.integrity_failures == []
    assert figures.problems == []
    assert figures.rounds == ROUNDS
    # The kills came mid-way, or the rounds proved nothing.
    assert figures.mid_flight >= 1, figures
    assert 0 < figures.acked_before_cut < figures.actions, figures
    assert figures.resent > 0, figures
    assert figures.acknowledged == figures.actions


def test_the_server_refuses_a_database_where_sqlite_cannot_keep_a_write_ahead_log(
    tmp_path: Path,
) -> None:
    # An in-memory database cannot be in WAL mode: the start-up check must refuse it rather
    # than take votes it could lose.
    command = [
        sys.executable,
        "-m",
        "palabre.engine.cli",
        "serve",
        "quick-start",
        "--db",
        ":memory:",
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port()),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "refused WAL with synchronous=FULL" in output, output
    assert "Uvicorn running" not in output and "Facilitator:" not in output, output


def test_a_database_left_in_rollback_journal_mode_is_put_back_in_wal_with_full_sync(
    tmp_path: Path, start_server: Any
) -> None:
    db = tmp_path / "workshop.db"
    start_server(db).stop()
    before = events_dump(db)
    with closing(sqlite3.connect(db)) as conn:  # say an admin tool or a backup left it so
        assert conn.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    assert pragma(db, "journal_mode") == ["delete"]

    store = EventStore(db)  # what the server opens at start-up
    try:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()
    assert pragma(db, "journal_mode") == ["wal"]  # WAL is stored in the file: it stays
    server = start_server(db)
    assert httpx.get(f"{server.base}/-/health", timeout=10).json()["step"] == "ideas"
    assert check_file(db) == []
    assert events_dump(db) == before


# -- the rounds (bench/reliability.py runs them for long) ----------------------------------------
class CrashRun:
    """Rounds on one database: phones act, the server dies by SIGKILL at a random moment, a
    new one starts on the same file, the phones reconnect and finish, everything is checked."""

    def __init__(self, db: Path, clients: int, rng: random.Random) -> None:
        self.db, self.clients, self.rng = db, clients, rng
        self.figures = Figures()
        self.server = Server(db)

    async def open(self) -> None:
        self.server.start()
        self.facilitator = Phone("Animatrice", self.server, "facilitator")
        self.screen = Phone("Écran", self.server, "screen")
        self.phones = [Phone(f"Tél {n}", self.server) for n in range(self.clients)]
        await asyncio.gather(*(p.connect(self.server) for p in [self.screen, *self.phones]))
        await open_vote(self.facilitator, self.server, self.phones)

    async def close(self) -> None:
        await asyncio.gather(
            *(p.close() for p in [self.facilitator, self.screen, *self.phones]),
            return_exceptions=True,
        )
        self.server.stop()

    def plans(self, r: int, step: str, t: Truth) -> dict[str, list[Msg]]:
        plans = {}
        for n, p in enumerate(self.phones):
            pid, prefix = t.names[p.name], f"r{r}-t{n}"
            if step == "ideas":
                plans[p.name] = idea_plan(prefix, list(t.ideas.get(pid, {})), r)
            else:
                plans[p.name] = vote_plan(prefix, t.items, VOTES, self.rng, t.ballot_of(pid))
        return plans

    async def round(self, r: int) -> None:
        step = "vote" if r % 2 == 0 else "ideas"
        if truth(self.db).step != step:
            await facilitate(self.facilitator, self.server, "goto", {"step": step})
        plans = self.plans(r, step, await truth_when(self.db, lambda t: t.step == step))
        ids = {name: [m.id for m in plan] for name, plan in plans.items()}
        frames_before = sum(p.frames for p in self.phones)
        await self._act_until_killed(plans)
        f = self.figures
        f.mid_flight += any(p.pending for p in self.phones)
        f.acked_before_cut += sum(
            1 for p in self.phones for i in ids[p.name] if p.first_ack.get(i, {}).get("ok")
        )
        pending = {p.name: list(p.pending) for p in self.phones}

        self.server.start()  # the same file, the same port: phones come back to the same URL
        f.integrity_failures += [f"round {r}: {x}" for x in check_file(self.db)]
        t = truth(self.db)
        check_applied(t, self.phones, ids, f, complete=False)
        f.resent += sum(len(x) for x in pending.values())
        found = sum(
            1 for p in self.phones for i in pending[p.name] if t.applied[(t.names[p.name], i)]
        )
        f.found_applied += found
        f.uncommitted += sum(len(x) for x in pending.values()) - found
        await self._resume(plans)

        t = truth(self.db)
        check_applied(t, self.phones, ids, f, complete=True)
        await converge([self.screen, *self.phones], t, f.problems)
        f.rounds += 1
        f.actions += sum(len(x) for x in ids.values())
        f.acknowledged += sum(
            1 for p in self.phones for i in ids[p.name] if p.first_ack.get(i, {}).get("ok")
        )
        f.frames += sum(p.frames for p in self.phones) - frames_before
        f.views = sum(p.views for p in [self.screen, *self.phones])
        f.repeats = sum(p.repeats for p in self.phones)
        f.problems += [x for p in [self.screen, *self.phones] for x in p.problems]
        for p in [self.screen, *self.phones]:
            p.problems.clear()

    async def _act_until_killed(self, plans: dict[str, list[Msg]]) -> None:
        """Every phone drives its plan; SIGKILL after a random number of acks plus a random
        delay of up to 50 ms: a few group-commit ticks, so the kill lands in any phase (taking
        actions, writing, rendering views, sending acks)."""
        total = sum(len(plan) for plan in plans.values())
        threshold = self.rng.randint(0, total * 9 // 10)
        acks, reached = [0], asyncio.Event()

        def on_ack(ack: dict[str, Any]) -> None:
            acks[0] += 1
            if acks[0] >= threshold:
                reached.set()

        for p in self.phones:
            p.on_ack = on_ack
        drivers = asyncio.gather(*(self._drive(p, plans[p.name]) for p in self.phones))
        if threshold == 0:
            reached.set()
        waiter = asyncio.ensure_future(reached.wait())
        await asyncio.wait([waiter, drivers], timeout=60, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        await asyncio.sleep(self.rng.uniform(0, 0.05))
        self.server.kill()
        await drivers
        await asyncio.gather(*(p.settle() for p in [self.screen, *self.phones]))

    async def _drive(self, phone: Phone, plan: list[Msg]) -> None:
        try:
            await phone.run(plan, pace=PACE)
        except Offline:
            pass  # the server died: what is pending leaves again on the next socket
        except TimeoutError:
            self.figures.problems.append(f"{phone.name}: stuck before the kill")

    async def _resume(self, plans: dict[str, list[Msg]]) -> None:
        await asyncio.gather(*(p.connect(self.server) for p in [self.screen, *self.phones]))

        async def finish(phone: Phone) -> None:
            try:
                await phone.run(plans[phone.name], pace=PACE)
            except (Offline, TimeoutError) as exc:
                self.figures.problems.append(f"{phone.name}: could not finish ({exc!r})")

        await asyncio.gather(*(finish(p) for p in self.phones))


async def crash_rounds(
    db: Path,
    rounds: int,
    clients: int,
    seed: int = 1,
    progress: Callable[[int, Figures], None] | None = None,
) -> Figures:
    crashes = CrashRun(db, clients, random.Random(seed))
    started = time.monotonic()
    await crashes.open()
    try:
        for r in range(rounds):
            try:
                await crashes.round(r)
            except Exception as exc:  # reported with the server's last words, then stop
                tail = "".join(crashes.server.later_output[-8:])
                crashes.figures.problems.append(f"round {r} stopped: {exc!r}\n{tail}")
                break
            finally:
                if progress:
                    progress(r, crashes.figures)
    finally:
        await crashes.close()
    crashes.figures.seconds = time.monotonic() - started
    return crashes.figures
