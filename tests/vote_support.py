"""Shared by the vote-integrity tests: a quick-start workshop brought to its vote, and what
the state machine checks the server against (a model, a fold of the log, a phone's pace)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import tomllib
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from palabre.engine.live import BURST, RATE_PER_SECOND
from support import Client, Server, close_all, read_events

KIT = Path(__file__).parent.parent / "facilitator_kits" / "quick-start.toml"
VOTE = next(s for s in tomllib.loads(KIT.read_text("utf-8"))["steps"] if s["id"] == "vote")
DOTS, MAX_PER_ITEM = VOTE["config"]["dots"], VOTE["config"]["max_per_item"]
IDEAS = ["Un jardin partagé 🌱", "Des bancs à l'ombre", "Boîte à livres 📚", "Idée en double"]
PHONES = 2  # a small pool: the same people meet their budget and the cap often


# -- a real quick-start workshop, brought to its vote ------------------------------------------
@dataclass
class Box:
    """The module's workshop on its vote step, results revealed."""

    server: Server
    items: list[str]  # the ideas on the ballot, in input order
    hidden: str  # an idea of the ideas step, hidden before the vote: not on the ballot
    foreign: str  # an idea of another workshop


async def bring_to_the_vote(server: Server, titles: list[str], hide: int = 0) -> list[str]:
    """Post the ideas, hide the last `hide` of them, go to the vote and reveal; return the
    ids of every posted idea, in the order of `titles`."""
    facilitator = await Client(server, "facilitator").login().connect()
    author = await Client(server, "participant").join("Autrice").connect()
    try:
        for title in titles:
            assert (await author.act("post", {"title": title}, step="ideas"))["ok"]
        posted = {
            e["data"]["title"]: e["data"]["idea"]
            for e in read_events(server.db)
            if e["kind"] == "ideation.posted"
        }
        ids = [posted[t] for t in titles]
        for idea in ids[len(ids) - hide :] if hide else []:
            assert (await facilitator.act("hide", {"idea": idea}, step="ideas"))["ok"]
        assert (await facilitator.act("next"))["ok"]
        assert (await facilitator.act("reveal", step="vote"))["ok"]
        return ids
    finally:
        await close_all(facilitator, author)


def participant_ids(db: Path) -> dict[str, str]:
    """Name -> participant id, from the log."""
    return {
        e["data"]["name"]: e["actor"] for e in read_events(db) if e["kind"] == "participant.joined"
    }


# -- what the state machine checks the server against -----------------------------------------
@dataclass
class LogFold:
    """The vote step's log folded by hand, not by the engine, from `seq` on (an open, empty
    ballot box): dots per voter, and every rule the log broke (a dot while closed, above the
    budget or the cap, below 0)."""

    seq: int = 0
    open: bool = True
    ballots: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    broken: list[str] = field(default_factory=list)

    def catch_up(self, db: Path) -> None:
        with closing(sqlite3.connect(db)) as conn:
            rows = conn.execute(
                "SELECT seq, step, kind, actor, data FROM events WHERE seq > ? ORDER BY seq",
                (self.seq,),
            ).fetchall()
        for seq, step, kind, actor, data in rows:
            self.seq = seq
            if step == "vote":
                self._apply(seq, kind, actor, data)
        assert not self.broken, self.broken

    def _apply(self, seq: int, kind: str, actor: str, data: str) -> None:
        if kind in ("dot_voting.voted", "dot_voting.unvoted"):
            item = json.loads(data)["item"]
            mine = self.ballots[actor]
            mine[item] += 1 if kind == "dot_voting.voted" else -1
            if not self.open:
                self.broken.append(f"event {seq}: {kind} while the vote was closed")
            if not 0 <= mine[item] <= MAX_PER_ITEM:
                self.broken.append(f"event {seq}: {mine[item]} dots on one item")
            if sum(mine.values()) > DOTS:
                self.broken.append(f"event {seq}: {sum(mine.values())} dots spent")
        elif kind in ("dot_voting.closed", "dot_voting.reopened"):
            self.open = kind == "dot_voting.reopened"
        elif kind == "dot_voting.reset":
            self.ballots.clear()

    def tally(self, items: list[str]) -> dict[str, int]:
        return {i: sum(b[i] for b in self.ballots.values()) for i in items}


class Pace:
    """A phone's message allowance as the server counts it (engine/live.py), mirrored so the
    machine never sends faster than a phone may: `slow_down` is a refusal no model predicts."""

    SPARE = 10  # tokens kept in hand against clock differences

    def __init__(self) -> None:
        self.tokens, self.stamp = BURST, time.monotonic()

    async def take(self, n: int) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(BURST, self.tokens + (now - self.stamp) * RATE_PER_SECOND)
            self.stamp = now
            if self.tokens - n >= self.SPARE:
                self.tokens -= n
                return
            await asyncio.sleep((n + self.SPARE - self.tokens) / RATE_PER_SECOND)


class Model:
    """What the vote should be: each phone's dots, and whether the vote is open."""

    def __init__(self, items: list[str]) -> None:
        self.items = items
        self.open = True
        self.ballots: list[Counter[str]] = [Counter() for _ in range(PHONES)]
        self.resets = 0

    def act(self, phone: int, item: str, add: bool) -> str | None:
        """Apply one vote or unvote; return the refusal code expected, None if accepted. The
        order of checks is the documented one."""
        mine = self.ballots[phone]
        if item not in self.items:
            return "unknown_item"
        if not self.open:
            return "closed"
        if add and sum(mine.values()) >= DOTS:
            return "no_dots_left"
        if add and mine[item] >= MAX_PER_ITEM:
            return "item_full"
        if not add and mine[item] <= 0:
            return "no_dot_here"
        mine[item] += 1 if add else -1
        return None

    def tally(self) -> dict[str, int]:
        return {i: sum(b[i] for b in self.ballots) for i in self.items}

    def ballot(self, phone: int) -> dict[str, int]:
        return {i: self.ballots[phone][i] for i in self.items}
