"""Shared harness for the crash, reconnect and retry tests (RELIABILITY rows 11, 12, 14, 15).

Not a test module. The scenarios built on it live with their tests (`test_crash_rounds.py`:
kills; `test_reconnect.py`: drops and retries), which run them briefly; `bench/reliability.py`
runs the same scenarios for long (200 kills, 100 drops of up to 30 s) and prints the figures.

Phones behave like `displays/static/palabre.js`: one socket at a time; an action stays pending
until its ack and is sent again, with the same id, first thing on every new socket; a view
whose seq is lower than the last one applied on that socket is ignored (here: reported). The
truth is the events table: after every crash and at the end, every acknowledged action must be
in it exactly once, and every client must show what it holds.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from support import Client, Server, ballot, bars, cards, pragma, read_events

DOTS, MAX_PER_ITEM = 5, 3  # the quick-start kit's vote
KEEP = 4  # ideas a phone keeps at most (ideation allows 10; see `facilitate` for why fewer)
WINDOW = 4  # unacknowledged actions a phone keeps in flight
SETUP_ITEMS = 8  # ideas posted before the vote step first opens: they are its items
POSTS, EDITS, VOTES = 2, 2, 12  # actions per phone and round: ideas, edits, votes
PACE = 0.02  # at most this many seconds between a phone's actions: taps, not lockstep bursts


class Offline(Exception):
    """The phone's socket died while it waited."""


@dataclass(frozen=True)
class Msg:
    id: str
    action: str
    data: dict[str, Any]
    step: str | None

    def frame(self) -> str:
        return json.dumps(
            {
                "type": "act",
                "id": self.id,
                "step": self.step,
                "action": self.action,
                "data": self.data,
            }
        )


def same_result(first: dict[str, Any], again: dict[str, Any]) -> bool:
    """A repeated ack must say what the first one said: same ok, same seq or same error."""
    if first["ok"] != again["ok"]:
        return False
    return bool(first["seq"] == again["seq"] if first["ok"] else first["error"] == again["error"])


# -- a phone (or a screen) as palabre.js drives it --------------------------------------------
class Phone:
    """A participant's phone (or a screen, or the facilitator's panel) with its cookie. It
    keeps every action pending until its ack, records the first ack of each id and reports a
    repeat that differs, and reports a view whose seq goes back on one socket."""

    def __init__(self, name: str, server: Server, audience: str = "participant") -> None:
        self.name, self.audience = name, audience
        self.http = Client(server, audience)
        if audience == "participant":
            self.http.join(name)
        else:
            self.http.login()
        self.streams = {"shared", "personal"} if audience == "participant" else {"shared"}
        self.ws: Any = None
        self.pending: dict[str, Msg] = {}  # in sending order, like palabre.js's Map
        self.sent: dict[str, Msg] = {}  # every action this phone made, by id, in order
        self.first_ack: dict[str, dict[str, Any]] = {}
        self.ack_count: Counter[str] = Counter()
        self.sends: Counter[str] = Counter()  # frames sent per action id
        self.regions: dict[str, str] = {}
        self.fresh: dict[str, int] = {}  # stream -> last seq applied on the current socket
        self.opening: dict[str, int] = {}  # stream -> seq of the first view on that socket
        self.seen: dict[str, int] = {}  # stream -> last seq applied on any socket
        self.frames = self.sockets = self.views = self.repeats = 0
        self.problems: list[str] = []
        self.on_ack: Callable[[dict[str, Any]], None] = lambda ack: None
        self.model: Counter[str] = Counter()  # own dots once everything sent is applied
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def online(self) -> bool:
        return self.ws is not None and self.ws.close_code is None

    async def connect(self, server: Server) -> None:
        """A new socket: pending actions first (same ids), then the fresh views it is owed."""
        url = server.base.replace("http", "ws", 1) + f"/ws?as={self.audience}"
        self.ws = await websockets.connect(
            url,
            origin=server.base,  # type: ignore[arg-type]
            additional_headers={"Cookie": self.http.cookie_header()},
            max_size=2**24,  # the facilitator's panel grows with the ideas (see `facilitate`)
            open_timeout=20,
        )
        self.sockets += 1
        self.fresh, self.opening = {}, {}
        self._reader = asyncio.create_task(self._read(self.ws, self.fresh))
        for msg in list(self.pending.values()):
            await self.resend(msg)
        try:
            await self.wait(lambda: self.streams <= set(self.fresh), 20)
        except (TimeoutError, Offline):
            raise AssertionError(
                f"{self.name}: no fresh {self.streams - set(self.fresh)} view on a new socket"
            ) from None

    async def _read(self, ws: Any, last: dict[str, int]) -> None:
        try:
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "view":
                    self._on_view(message, last)
                elif message["type"] == "ack":
                    self._on_ack(message)
                self._changed.set()
        except (websockets.ConnectionClosed, OSError):
            pass
        finally:
            self._changed.set()

    def _on_view(self, view: dict[str, Any], last: dict[str, int]) -> None:
        stream, seq = view["stream"], view["seq"]
        self.views += 1
        if seq < last.get(stream, -1):
            self.problems.append(f"{self.name}: {stream} view seq {seq} after {last[stream]}")
            return
        self.opening.setdefault(stream, seq)
        last[stream] = self.seen[stream] = seq
        self.regions.update(view["regions"])

    def _on_ack(self, ack: dict[str, Any]) -> None:
        self.ack_count[ack["id"]] += 1
        first = self.first_ack.setdefault(ack["id"], ack)
        self.pending.pop(ack["id"], None)
        if first is ack:
            self.on_ack(ack)
            return
        self.repeats += 1
        if not same_result(first, ack):
            self.problems.append(f"{self.name}: ack {ack['id']} said {first}, then {ack}")

    async def send(self, msg: Msg) -> None:
        """palabre.js `act()`: pending until acknowledged; leaves now if the socket is up."""
        self.pending[msg.id] = msg
        self.sent[msg.id] = msg
        await self.resend(msg)

    async def resend(self, msg: Msg) -> bool:
        if not self.online:
            return False
        try:
            await self.ws.send(msg.frame())
        except websockets.ConnectionClosed:
            return False
        self.frames += 1
        self.sends[msg.id] += 1
        return True

    async def echo(self, msg: Msg, times: int) -> None:
        """Send an action `times` more times on this socket and wait for as many acks."""
        base = self.ack_count[msg.id]
        for _ in range(times):
            if not await self.resend(msg):
                raise Offline(self.name)
        await self.wait(lambda: self.ack_count[msg.id] >= base + times)

    async def wait(self, predicate: Callable[[], Any], timeout: float = 30.0) -> None:
        async def loop() -> None:
            while True:
                self._changed.clear()
                if predicate():
                    return
                if not self.online:
                    raise Offline(self.name)
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)

    async def run(self, plan: Iterable[Msg], window: int = WINDOW, pace: float = 0.0) -> None:
        """Send a plan in order, at most `window` unacknowledged, skipping what was sent
        before (acknowledged, or pending: connect() sent it again). Raises Offline."""
        for msg in plan:
            if msg.id in self.first_ack or msg.id in self.pending:
                continue
            await self.wait(lambda: len(self.pending) < window)
            if pace:
                await asyncio.sleep(random.uniform(0, pace))
            await self.send(msg)
        await self.wait(lambda: not self.pending)

    def drop(self) -> None:
        """The Wi-Fi goes: the TCP connection is cut with no close frame."""
        self.ws.transport.abort()

    async def settle(self) -> None:
        """Wait until the reader has seen the socket die."""
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def hang_up(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.settle()

    async def close(self) -> None:
        await self.hang_up()
        self.http.http.close()


# -- plans ------------------------------------------------------------------------------------
def next_vote(msg_id: str, items: list[str], model: Counter[str], rng: random.Random) -> Msg:
    """One vote or unvote that is valid after `model` (updated): a random walk of the ballot."""
    can_vote = [i for i in items if sum(model.values()) < DOTS and model[i] < MAX_PER_ITEM]
    can_unvote = [i for i in items if model[i] > 0]
    if can_vote and (not can_unvote or rng.random() < 0.6):
        action, item = "vote", rng.choice(can_vote)
    else:
        action, item = "unvote", rng.choice(can_unvote)
    model[item] += 1 if action == "vote" else -1
    return Msg(msg_id, action, {"item": item}, "vote")


def vote_plan(
    prefix: str,
    items: list[str],
    count: int,
    rng: random.Random,
    start: dict[str, int] | None = None,
) -> list[Msg]:
    """`count` votes and unvotes, all valid when applied in order from the ballot `start`."""
    model = Counter(start or {})
    return [next_vote(f"{prefix}-{j}", items, model, rng) for j in range(count)]


def ballot_after(plan: list[Msg], items: list[str]) -> dict[str, int]:
    mine = dict.fromkeys(items, 0)
    for m in plan:
        mine[m.data["item"]] += 1 if m.action == "vote" else -1
    return mine


def idea_plan(prefix: str, mine: list[str], round_no: int) -> list[Msg]:
    """Withdraw the oldest of one's ideas (at least one, enough to keep at most KEEP), edit
    up to EDITS of the others, then post POSTS new ones."""
    withdraw = max(1 if mine else 0, len(mine) + POSTS - KEEP)
    plan = [
        Msg(f"{prefix}-w{j}", "withdraw", {"idea": idea}, "ideas")
        for j, idea in enumerate(mine[:withdraw])
    ]
    plan += [
        Msg(
            f"{prefix}-e{j}",
            "edit",
            {"idea": idea, "title": f"Revue {round_no}.{j} de {prefix}", "description": "corrigée"},
            "ideas",
        )
        for j, idea in enumerate(mine[withdraw : withdraw + EDITS])
    ]
    return plan + [
        Msg(
            f"{prefix}-p{j}",
            "post",
            {"title": f"Idée {round_no}.{j} de {prefix} 💡", "description": "avant la panne"},
            "ideas",
        )
        for j in range(POSTS)
    ]


# -- the truth: the events table --------------------------------------------------------------
@dataclass
class Truth:
    names: dict[str, str] = field(default_factory=dict)  # participant name -> id
    applied: Counter[tuple[str, str]] = field(default_factory=Counter)  # (actor, action id)
    first_seq: dict[tuple[str, str], int] = field(default_factory=dict)
    ideas: dict[str, dict[str, str]] = field(default_factory=dict)  # pid -> {idea: title}
    ballots: dict[str, Counter[str]] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)  # the vote step's items
    step: str = ""

    def ballot_of(self, pid: str) -> dict[str, int]:
        mine = self.ballots.get(pid, Counter())
        return {i: mine[i] for i in self.items}

    def tally(self) -> dict[str, int]:
        return {i: sum(b[i] for b in self.ballots.values()) for i in self.items}


def truth(db: Path) -> Truth:
    t = Truth()
    for e in read_events(db):
        kind, d, actor = e["kind"], e["data"], e["actor"]
        # One application of an action writes one event here (a first `goto` adds
        # step_opened to its step_changed): count applications, not events.
        if e["action_id"] and kind != "workshop.step_opened":
            t.applied[(actor, e["action_id"])] += 1
            t.first_seq.setdefault((actor, e["action_id"]), e["seq"])
        if kind == "participant.joined":
            t.names[d["name"]] = actor
        elif kind == "workshop.step_changed":
            t.step = d["step"]
        elif kind == "workshop.step_opened" and d["step"] == "vote":
            t.items = [i["id"] for i in d["inputs"]]
        elif kind == "ideation.posted":
            t.ideas.setdefault(actor, {})[d["idea"]] = d["title"]
        elif kind == "ideation.edited":
            t.ideas[actor][d["idea"]] = d["title"]
        elif kind == "ideation.withdrawn":
            t.ideas[actor].pop(d["idea"])
        elif kind in ("dot_voting.voted", "dot_voting.unvoted"):
            t.ballots.setdefault(actor, Counter())[d["item"]] += (
                1 if kind == "dot_voting.voted" else -1
            )
    return t


async def truth_when(db: Path, ready: Callable[[Truth], bool], timeout: float = 10) -> Truth:
    """The log once `ready` holds: an ack promises its events are committed, but a test
    that trusted that here could not also prove it (with acks sent early, it would stop
    short instead of finding the lost actions)."""
    deadline = time.monotonic() + timeout
    while not ready(t := truth(db)) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return t


def check_file(db: Path) -> list[str]:
    problems = []
    if (found := pragma(db, "integrity_check")) != ["ok"]:
        problems.append(f"integrity_check: {found[:5]}")
    if (mode := pragma(db, "journal_mode")) != ["wal"]:
        problems.append(f"journal_mode: {mode}")
    return problems


def mine_ideas(personal: str) -> dict[str, str]:
    return {k.removeprefix("mine-"): v for k, v in cards(personal).items() if k.startswith("mine-")}


def idea_count(screen_main: str) -> int | None:
    match = re.search(r'<span class="count">(\d+)</span>', screen_main)
    return int(match.group(1)) if match else None


def shows_truth(phone: Phone, t: Truth) -> Callable[[], bool]:
    """Whether a phone or screen shows what the log holds, on the log's current step."""
    main, personal = (
        (lambda: phone.regions.get("main", "")),
        (lambda: phone.regions.get("personal", "")),
    )
    visible = sum(len(ideas) for ideas in t.ideas.values())
    if phone.audience == "screen":
        if t.step == "ideas":
            return lambda: idea_count(main()) == visible
        return lambda: bars(main()) == t.tally()
    pid = t.names[phone.name]
    if t.step == "ideas":
        return lambda: mine_ideas(personal()) == t.ideas.get(pid, {})
    return lambda: ballot(personal()) == t.ballot_of(pid) and bars(main()) == t.tally()


async def converge(phones: list[Phone], t: Truth, problems: list[str], timeout: float = 20) -> None:
    """Every phone and screen ends showing the log's state; those that do not are reported."""

    async def one(phone: Phone) -> None:
        try:
            await phone.wait(shows_truth(phone, t), timeout)
        except (TimeoutError, Offline):
            problems.append(f"{phone.name} never showed the log's state on step {t.step}")

    await asyncio.gather(*(one(p) for p in phones))


# -- figures --------------------------------------------------------------------------------
@dataclass
class Figures:
    """What a run did and what went wrong; every list must stay empty."""

    rounds: int = 0  # crash rounds, or drops
    mid_flight: int = 0  # kills or drops with actions sent and not yet acknowledged
    actions: int = 0  # distinct action ids sent
    frames: int = 0  # act frames sent, resends included
    acked_before_cut: int = 0  # ok acks received before a kill or drop (at risk)
    acknowledged: int = 0  # ok acks in all
    resent: int = 0  # actions pending at a kill or drop, sent again with the same id
    found_applied: int = 0  # of those, already in the log (their ack had been lost)
    uncommitted: int = 0  # of those, not in the log (killed before its commit)
    repeats: int = 0  # repeated acks received (each equal to the first)
    views: int = 0
    offline: float = 0.0  # seconds spent offline, summed (drops)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    integrity_failures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def failures(self) -> list[str]:
        return self.lost + self.duplicated + self.integrity_failures + self.problems


def check_applied(
    t: Truth, phones: list[Phone], ids: dict[str, list[str]], figures: Figures, complete: bool
) -> None:
    """Every ok-acknowledged id among `ids` (phone name -> ids) is applied exactly once with
    the acked seq; with `complete`, every id must also have been acknowledged by now."""
    for phone in phones:
        pid = t.names.get(phone.name, phone.audience)  # the facilitator acts as "facilitator"
        for action_id in ids.get(phone.name, []):
            ack, key = phone.first_ack.get(action_id), (pid, action_id)
            label = f"{phone.name} {action_id}"
            if ack is None:
                if complete:
                    figures.problems.append(f"{label}: never acknowledged")
            elif not ack["ok"]:
                if complete:  # said once, at the end of the round
                    figures.problems.append(f"{label}: refused {ack['error']}")
            elif t.applied[key] == 0:
                if label not in figures.lost:
                    figures.lost.append(label)
            elif ack["seq"] != t.first_seq[key]:
                figures.problems.append(
                    f"{label}: acked seq {ack['seq']}, logged {t.first_seq[key]}"
                )
    for key, n in t.applied.items():
        label = f"{key[0]} {key[1]} x{n}"
        if n > 1 and label not in figures.duplicated:
            figures.duplicated.append(label)


async def open_vote(facilitator: Phone, server: Server, phones: list[Phone]) -> None:
    """A few ideas, then the vote step opens on them with its results shown live."""
    await asyncio.gather(
        *(
            p.run([Msg(f"setup-{n}", "post", {"title": f"Sujet {n}"}, "ideas")])
            for n, p in enumerate(phones[:SETUP_ITEMS])
        )
    )
    await facilitate(facilitator, server, "goto", {"step": "vote"})
    await facilitate(facilitator, server, "reveal", {}, "vote")
    await truth_when(server.db, lambda t: bool(t.items))


async def facilitate(
    facilitator: Phone, server: Server, action: str, data: dict[str, Any], step: str | None = None
) -> None:
    """The facilitator's panel opens only to act: on the ideas step it lists every idea with a
    merge menu of every other idea (n² options, megabytes for a few hundred ideas), which
    would dwarf the phones' traffic."""
    await facilitator.connect(server)
    msg = Msg(f"{action}-{len(facilitator.sent)}", action, data, step)
    try:
        await facilitator.send(msg)
        await facilitator.wait(lambda: msg.id in facilitator.first_ack)
    finally:
        await facilitator.hang_up()
    if not facilitator.first_ack[msg.id]["ok"]:
        raise RuntimeError(f"the facilitator's {action} was refused: {facilitator.first_ack}")
