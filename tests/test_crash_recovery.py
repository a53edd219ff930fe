"""A server killed with SIGKILL mid-workshop loses nothing it acknowledged, applies nothing
twice, and resumes on the same step; a normal stop resumes too; a second server on the
same file refuses to start.

The ideas step and the vote step cannot be current at once, so the crash test kills the
server twice: once while phones post ideas, once while they spend dots. Phones behave like
palabre.js: at most a few actions unacknowledged at a time, and after a reconnect they send
every unacknowledged action again with the same id."""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets
from crash_harness import Msg, ballot_after, vote_plan

from support import (
    Client,
    Server,
    ballot,
    cards,
    close_all,
    events_dump,
    eventually,
    pragma,
    read_events,
    run,
)

PHONES = 8
WINDOW = 4  # unacknowledged actions a phone keeps in flight
IDEAS_EACH = 10  # the ideation default max_ideas_per_participant
VOTES_EACH = 24


@dataclass
class Phone:
    name: str
    client: Client
    plan: list[Msg]
    acked: dict[str, dict[str, Any]]  # every ack this phone got for its plan, by action id

    def collect(self) -> None:
        plan = {m.id for m in self.plan}
        self.acked.update({i: a for i, a in self.client.acks.items() if i in plan})


# -- phones -----------------------------------------------------------------------------------
async def drive(client: Client, plan: list[Msg], done: set[str], on_progress: Any) -> list[str]:
    """Send `plan` in order (skipping `done`), at most WINDOW unacknowledged; returns the ids
    sent. Stops quietly when the server dies."""
    sent: list[str] = []

    def in_flight() -> int:
        return sum(1 for i in sent if i not in client.acks)

    try:
        for msg in plan:
            if msg.id in done:
                continue
            await client.wait_for(lambda: in_flight() < WINDOW, timeout=30)
            on_progress()
            await client.send(msg.action, msg.data, msg.step, action_id=msg.id)
            sent.append(msg.id)
        await client.wait_for(lambda: in_flight() == 0, timeout=30)
        on_progress()
    except (ConnectionError, websockets.ConnectionClosed):
        pass
    return sent


async def run_until_killed(server: Server, phones: list[Phone], threshold: int) -> list[list[str]]:
    """Drive every phone at once; SIGKILL the server once `threshold` acks are in."""
    reached = asyncio.Event()

    def on_progress() -> None:
        if sum(1 for p in phones for m in p.plan if m.id in p.client.acks) >= threshold:
            reached.set()

    drivers = [asyncio.create_task(drive(p.client, p.plan, set(), on_progress)) for p in phones]
    await asyncio.wait_for(reached.wait(), 30)
    server.kill()
    sent = await asyncio.gather(*drivers)
    # Whatever reached the phones before the socket died counts as acknowledged.
    await asyncio.gather(*(p.client.close() for p in phones), return_exceptions=True)
    for p in phones:
        p.collect()
    return list(sent)


async def resume(server: Server, phones: list[Phone]) -> None:
    """Each phone reconnects to the new server with its cookie."""
    for p in phones:
        p.client = p.client.copy(server)
    await asyncio.gather(*(p.client.connect() for p in phones))


async def finish(phones: list[Phone]) -> None:
    """Each phone re-sends what was never acknowledged (same ids), then the rest of its plan."""
    await asyncio.gather(*(drive(p.client, p.plan, set(p.acked), lambda: None) for p in phones))
    for p in phones:
        missing = [m.id for m in p.plan if m.id not in p.acked and m.id not in p.client.acks]
        assert not missing, f"{p.name}: never acknowledged after the restart: {missing}"
        p.collect()


# -- checks -------------------------------------------------------------------------------------
def ids_by_actor(db: Path, step: str) -> tuple[dict[str, list[tuple[str, int]]], dict[str, str]]:
    """(participant id -> [(action id, seq)] on `step` in seq order, name -> participant id)."""
    events = read_events(db)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "gap in the log"
    names = {e["data"]["name"]: e["actor"] for e in events if e["kind"] == "participant.joined"}
    by_actor: dict[str, list[tuple[str, int]]] = {}
    for e in events:
        if e["step"] == step and e["action_id"] and e["actor"] not in ("facilitator", ""):
            by_actor.setdefault(e["actor"], []).append((e["action_id"], e["seq"]))
    return by_actor, names


def check_log_after_crash(
    db: Path, step: str, phones: list[Phone], sent: list[list[str]]
) -> list[int]:
    """Every acked action is in the log once; each phone's log is a prefix of its plan.
    Returns, per phone, how many of its actions the log holds."""
    by_actor, names = ids_by_actor(db, step)
    prefixes = []
    for p, phone_sent in zip(phones, sent, strict=True):
        logged = by_actor.get(names[p.name], [])
        ids = [i for i, _ in logged]
        plan_ids = [m.id for m in p.plan]
        assert len(ids) == len(set(ids)), f"{p.name}: an action was applied twice"
        assert ids == plan_ids[: len(ids)], f"{p.name}: the log is not a prefix of the plan"
        ok = {i for i, a in p.acked.items() if a["ok"]}
        assert not {i for i, a in p.acked.items() if not a["ok"]}, (p.name, p.acked)
        assert ok <= set(ids), f"{p.name}: acknowledged but lost: {ok - set(ids)}"
        assert set(ids) <= set(phone_sent), f"{p.name}: logged but never sent"
        seqs = dict(logged)
        for i in ok:
            assert p.acked[i]["seq"] == seqs[i], (p.name, i, p.acked[i], seqs[i])
        prefixes.append(len(ids))
    return prefixes


def check_log_complete(db: Path, step: str, phones: list[Phone]) -> None:
    by_actor, names = ids_by_actor(db, step)
    for p in phones:
        logged = by_actor.get(names[p.name], [])
        assert [i for i, _ in logged] == [m.id for m in p.plan], p.name
        seqs = dict(logged)
        for m in p.plan:
            assert p.acked[m.id]["ok"] and p.acked[m.id]["seq"] == seqs[m.id], (p.name, m)


def check_file(db: Path) -> None:
    assert pragma(db, "integrity_check") == ["ok"]
    assert pragma(db, "journal_mode") == ["wal"]


def health_step(server: Server) -> str:
    response = httpx.get(f"{server.base}/-/health", timeout=10)
    assert response.status_code == 200
    return str(response.json()["step"])


def current_step(facilitator_chrome: str) -> str:
    match = re.search(
        r'aria-current="step">\s*<button[^>]*data-arg-step="([^"]+)"', facilitator_chrome
    )
    assert match, facilitator_chrome
    return match.group(1)


# -- plans --------------------------------------------------------------------------------------
def idea_plan(n: int) -> list[Msg]:
    return [
        Msg(
            f"idea-{n}-{j}",
            "post",
            {
                "title": f"Idée n°{j} du téléphone {n} 💡",
                "description": "écrite avant la panne" if j % 2 else "",
            },
            "ideas",
        )
        for j in range(IDEAS_EACH)
    ]


# -- the tests --------------------------------------------------------------------------------
def test_a_sigkill_loses_no_acknowledged_idea_or_vote_and_applies_none_twice(
    tmp_path: Path, start_server: Any
) -> None:
    run(_crash_twice(tmp_path / "workshop.db", start_server), timeout=150)


async def _crash_twice(db: Path, start_server: Any) -> None:
    server = start_server(db)
    facilitator = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()
    phones = [
        Phone(f"Tél {n}", Client(server, "participant").join(f"Tél {n}"), idea_plan(n), {})
        for n in range(PHONES)
    ]
    await asyncio.gather(*(p.client.connect() for p in phones))
    clients = [facilitator, screen]
    try:
        # 1. Killed while ideas arrive.
        sent = await run_until_killed(server, phones, threshold=len(phones) * IDEAS_EACH * 2 // 5)
        await close_all(facilitator, screen)
        _assert_mid_flight(phones, sent)
        server = start_server(db)
        assert health_step(server) == "ideas"
        check_file(db)
        prefixes = check_log_after_crash(db, "ideas", phones, sent)
        await resume(server, phones)
        for p, k in zip(phones, prefixes, strict=True):
            titles = sorted(m.data["title"] for m in p.plan[:k])
            await eventually(
                p.client,
                lambda p=p, t=titles: (
                    sorted(cards(p.client.regions.get("personal", "")).values()) == t
                ),
                f"{p.name} sees their {k} ideas that survived",
            )
        screen = await screen.copy(server).connect()
        facilitator = await facilitator.copy(server).connect()
        clients = [facilitator, screen]
        assert f'<span class="count">{sum(prefixes)}</span>' in screen.regions["main"]
        await finish(phones)
        check_log_complete(db, "ideas", phones)
        await eventually(
            screen,
            lambda: f'<span class="count">{PHONES * IDEAS_EACH}</span>' in screen.regions["main"],
            "the screen counts every idea",
        )

        # 2. Killed while dots are spent.
        ack = await facilitator.act("next")
        assert ack["ok"], ack
        await eventually(
            phones[0].client,
            lambda: ballot(phones[0].client.regions.get("personal", "")),
            "the vote opens",
        )
        items = list(ballot(phones[0].client.regions["personal"]))
        assert len(items) == PHONES * IDEAS_EACH
        rng = random.Random(7)
        for n, p in enumerate(phones):
            p.plan, p.acked = vote_plan(f"vote-{n}", items[:6], VOTES_EACH, rng), {}
        sent = await run_until_killed(server, phones, threshold=len(phones) * VOTES_EACH * 2 // 5)
        await close_all(*clients)
        _assert_mid_flight(phones, sent)
        server = start_server(db)
        assert health_step(server) == "vote"
        check_file(db)
        prefixes = check_log_after_crash(db, "vote", phones, sent)
        await resume(server, phones)
        for p, k in zip(phones, prefixes, strict=True):
            want = ballot_after(p.plan[:k], items)
            await eventually(
                p.client,
                lambda p=p, w=want: ballot(p.client.regions.get("personal", "")) == w,
                f"{p.name} sees their dots",
            )
        facilitator = await facilitator.copy(server).connect()
        clients = [facilitator]
        assert current_step(facilitator.regions["chrome"]) == "vote"
        await finish(phones)
        check_log_complete(db, "vote", phones)
        for p in phones:
            want = ballot_after(p.plan, items)
            await eventually(
                p.client,
                lambda p=p, w=want: ballot(p.client.regions["personal"]) == w,
                f"{p.name}'s final dots",
            )
    finally:
        await close_all(*clients, *(p.client for p in phones))
    server.stop()
    check_file(db)


def _assert_mid_flight(phones: list[Phone], sent: list[list[str]]) -> None:
    """The kill must have come mid-way, or the test proves nothing."""
    planned = sum(len(p.plan) for p in phones)
    acked = sum(len(p.acked) for p in phones)
    unanswered = sum(1 for p, s in zip(phones, sent, strict=True) for i in s if i not in p.acked)
    assert 0 < acked < planned, (acked, planned)
    assert unanswered > 0, "no action was in flight at the kill"


def test_a_normal_stop_and_restart_resumes_on_the_same_step(
    tmp_path: Path, start_server: Any
) -> None:
    db = tmp_path / "workshop.db"
    run(_stop_and_restart(db, start_server))


async def _stop_and_restart(db: Path, start_server: Any) -> None:
    server = start_server(db)
    facilitator = await Client(server, "facilitator").login().connect()
    phone = await Client(server, "participant").join("Maëlle").connect()
    try:
        ack = await phone.act("post", {"title": "Un composteur collectif"}, step="ideas")
        assert ack["ok"], ack
        assert (await facilitator.act("next"))["ok"]
        await eventually(phone, lambda: ballot(phone.regions.get("personal", "")), "vote opens")
        item = next(iter(ballot(phone.regions["personal"])))
        for _ in range(2):
            assert (await phone.act("vote", {"item": item}, step="vote"))["ok"]
    finally:
        await close_all(facilitator, phone)
    server.stop()
    assert server.proc is not None and server.proc.returncode is not None
    before = events_dump(db)

    server = start_server(db)
    assert "step 2/2" in server.output
    assert health_step(server) == "vote"
    facilitator = await facilitator.copy(server).connect()
    phone = await phone.copy(server).connect()
    try:
        assert current_step(facilitator.regions["chrome"]) == "vote"
        await eventually(
            phone,
            lambda: ballot(phone.regions.get("personal", "")) == {item: 2},
            "the two dots are still there",
        )
        assert events_dump(db) == before, "starting again wrote to the log"
        assert (await phone.act("vote", {"item": item}, step="vote"))["ok"]
        ack = await phone.act("vote", {"item": item}, step="vote")
        assert ack["error"]["code"] == "item_full", ack
    finally:
        await close_all(facilitator, phone)


def test_a_second_server_on_the_same_file_refuses_to_start(
    tmp_path: Path, start_server: Any
) -> None:
    db = tmp_path / "workshop.db"
    first = start_server(db)
    before = events_dump(db)
    second = Server(db)
    result = subprocess.run(second.command(), capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert re.search(r"another .*server is (already )?running", output, re.I), output
    assert str(db) in output, output
    assert "Uvicorn running" not in output and "Facilitator:" not in output, output
    # The first server is untouched and still serves.
    assert first.proc is not None and first.proc.poll() is None
    assert health_step(first) == "ideas"
    assert events_dump(db) == before

    async def still_works() -> None:
        phone = await Client(first, "participant").join("Après").connect()
        try:
            ack = await phone.act("post", {"title": "Toujours là"}, step="ideas")
            assert ack["ok"], ack
        finally:
            await phone.close()

    run(still_works())
