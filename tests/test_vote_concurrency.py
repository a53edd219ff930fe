"""The dot budget holds however many sockets a participant opens, and an action id is
applied once however many times it is sent.

RELIABILITY row 3's figures: one participant, 20 sockets, 500 votes sent at once, 5 dots:
exactly 5 accepted, and the log, every tab and the projector agree."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from support import (
    Client,
    Server,
    ballot,
    bars,
    close_all,
    dots_spent,
    eventually,
    read_events,
    run,
)

DOTS = MAX_PER_ITEM = 5
ITEMS = [
    ("parc", "Un parc pour les chiens"),
    ("bibli", "Bibliothèque ouverte le dimanche"),
    ("velo", "Vélos en libre-service 🚲"),
    ("banc", "Des bancs"),
    ("four", "Four à pain"),
    ("fete", "Fête de quartier"),
    ("ecole", "Rue de l'école piétonne"),
]
TABS = 20  # one participant's sockets (RELIABILITY row 3)
VOTES = 500  # sent at once over those sockets, 25 each
# The phone's message allowance (engine/live.py) may refuse some with `slow_down` before they
# reach the ballot: a refusal like any other, as long as enough still race to the ballot.
RACING = 4 * DOTS
KIT = f"""
[workshop]
title = "Vote éclair"
language = "fr"

[[steps]]
id = "vote"
activity = "dot_voting"
title = "Vote"
[steps.config]
dots = {DOTS}
max_per_item = {MAX_PER_ITEM}
results = "live"
items = [{", ".join(f'{{id = "{i}", title = "{t}"}}' for i, t in ITEMS)}]
"""


@pytest.fixture(scope="module")
def server(module_servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:
    kit = tmp_path_factory.mktemp("kit") / "vote-eclair.toml"
    kit.write_text(KIT, encoding="utf-8")
    started: Server = module_servers("vote", kit=str(kit))
    return started


def participant_id(db: Path, name: str) -> str:
    joined = [
        e
        for e in read_events(db)
        if e["kind"] == "participant.joined" and e["data"]["name"] == name
    ]
    assert len(joined) == 1, joined
    return str(joined[0]["actor"])


async def open_tabs(name: str, server: Server, tabs: int = TABS) -> list[Client]:
    first = Client(server, "participant").join(name)
    clients = [first] + [first.copy() for _ in range(tabs - 1)]
    await asyncio.gather(*(c.connect() for c in clients))
    return clients


async def storm(clients: list[Client], actions: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Send every action at once, spread over the sockets; return every ack with its id."""
    per_socket: list[list[str]] = [[] for _ in clients]
    frames: list[list[str]] = [[] for _ in clients]
    for n, (action, item) in enumerate(actions):
        action_id = f"{action}-{n}-{uuid.uuid4().hex}"
        per_socket[n % len(clients)].append(action_id)
        frames[n % len(clients)].append(
            json.dumps(
                {
                    "type": "act",
                    "id": action_id,
                    "step": "vote",
                    "action": action,
                    "data": {"item": item},
                }
            )
        )

    async def burst(client: Client, texts: list[str]) -> None:
        for text in texts:
            await client.send_raw(text)

    await asyncio.gather(*(burst(c, f) for c, f in zip(clients, frames, strict=True)))
    for client, ids in zip(clients, per_socket, strict=True):
        await eventually(
            client,
            lambda c=client, i=ids: all(x in c.acks for x in i),
            f"acks for all {len(ids)} actions on one socket",
        )
    return [c.acks[i] for c, ids in zip(clients, per_socket, strict=True) for i in ids]


def test_a_participant_cannot_spend_more_dots_than_given_even_from_twenty_sockets(
    server: Server,
) -> None:
    name = "Vingt onglets"

    async def main() -> None:
        tabs = await open_tabs(name, server)
        screen = await Client(server, "screen").login().connect()
        try:
            actions = [("vote", ITEMS[n % len(ITEMS)][0]) for n in range(VOTES)]
            acks = await storm(tabs, actions)
            ok = [a for a in acks if a["ok"]]
            refused = Counter(a["error"]["code"] for a in acks if not a["ok"])
            assert len(ok) == DOTS, (len(ok), refused)
            assert set(refused) <= {"no_dots_left", "item_full", "slow_down"}, refused
            assert sum(refused.values()) == VOTES - DOTS
            assert VOTES - refused["slow_down"] >= RACING, refused
            assert all(a["error"]["message"] for a in acks if not a["ok"])
            assert len({a["seq"] for a in ok}) == DOTS

            pid = participant_id(server.db, name)
            voted = [
                e
                for e in read_events(server.db)
                if e["actor"] == pid and e["kind"] == "dot_voting.voted"
            ]
            assert len(voted) == DOTS
            assert sorted(e["action_id"] for e in voted) == sorted(a["id"] for a in ok)
            assert sorted(e["seq"] for e in voted) == sorted(a["seq"] for a in ok)
            per_item = dict(Counter(e["data"]["item"] for e in voted))
            # Every tab ends up showing the same, full ballot.
            want = {i: per_item.get(i, 0) for i, _ in ITEMS}
            for tab in tabs:
                await eventually(
                    tab,
                    lambda t=tab: ballot(t.regions.get("personal", "")) == want,
                    "every tab shows the five dots",
                )
                assert dots_spent(tab.regions["personal"]) == DOTS
            # The projector (results live) shows the tally of the whole log.
            tally = Counter({i: 0 for i, _ in ITEMS})
            for e in read_events(server.db):
                if e["kind"] in ("dot_voting.voted", "dot_voting.unvoted"):
                    tally[e["data"]["item"]] += 1 if e["kind"] == "dot_voting.voted" else -1
            await eventually(
                screen, lambda: bars(screen.regions["main"]) == dict(tally), "screen = log"
            )
        finally:
            await close_all(screen, *tabs)

    run(main())


def test_a_storm_of_votes_and_unvotes_never_breaks_the_budget_in_the_log(server: Server) -> None:
    name = "Tempête"
    rng = random.Random(99)

    async def main() -> None:
        tabs = await open_tabs(name, server)
        try:
            actions = [
                ("unvote" if rng.random() < 0.4 else "vote", rng.choice(ITEMS[:5])[0])
                for _ in range(VOTES)
            ]
            acks = await storm(tabs, actions)
            ok = {a["id"]: a for a in acks if a["ok"]}
            refused = Counter(a["error"]["code"] for a in acks if not a["ok"])
            assert set(refused) <= {"no_dots_left", "item_full", "no_dot_here", "slow_down"}
            assert VOTES - refused["slow_down"] >= RACING, refused
            assert ok and refused  # both happened, or the storm tested nothing

            pid = participant_id(server.db, name)
            mine = [
                e
                for e in read_events(server.db)
                if e["actor"] == pid and e["kind"] in ("dot_voting.voted", "dot_voting.unvoted")
            ]
            assert {e["action_id"]: e["seq"] for e in mine} == {i: a["seq"] for i, a in ok.items()}
            # Replaying the log in order, the participant never holds more than their dots,
            # more than the cap on an item, or fewer than zero anywhere.
            held: Counter[str] = Counter()
            for e in mine:
                held[e["data"]["item"]] += 1 if e["kind"] == "dot_voting.voted" else -1
                assert 0 <= held[e["data"]["item"]] <= MAX_PER_ITEM, e
                assert sum(held.values()) <= DOTS, e
            want = {i: held[i] for i, _ in ITEMS}
            for tab in tabs:
                await eventually(
                    tab,
                    lambda t=tab: ballot(t.regions.get("personal", "")) == want,
                    "every tab shows the ballot the log holds",
                )
        finally:
            await close_all(*tabs)

    run(main())


def test_the_same_action_id_sent_five_times_is_applied_once(server: Server) -> None:
    name = "Cinq fois"
    action_id = "0c1b3a6e-5f0d-4d5e-9a57-cinq-fois"

    async def main() -> None:
        first = await Client(server, "participant").join(name).connect()
        second = None
        try:
            for _ in range(3):  # at once, before the first one is even committed
                await first.send("vote", {"item": "parc"}, "vote", action_id=action_id)
            await eventually(
                first,
                lambda: sum(a["id"] == action_id for a in first.ack_log) == 3,
                "three acks on the first socket",
            )
            await first.close()
            second = await first.copy().connect()  # a reload: same cookie, new socket
            for _ in range(2):
                await second.send("vote", {"item": "parc"}, "vote", action_id=action_id)
            await eventually(
                second,
                lambda: sum(a["id"] == action_id for a in second.ack_log) == 2,
                "two acks on the second socket",
            )
            acks = [a for c in (first, second) for a in c.ack_log if a["id"] == action_id]
            assert len(acks) == 5
            assert all(a["ok"] for a in acks), acks
            assert len({a["seq"] for a in acks}) == 1, acks

            pid = participant_id(server.db, name)
            applied = [e for e in read_events(server.db) if e["action_id"] == action_id]
            assert [(e["actor"], e["seq"], e["kind"]) for e in applied] == [
                (pid, acks[0]["seq"], "dot_voting.voted")
            ]
            assert ballot(second.regions["personal"])["parc"] == 1
            assert dots_spent(second.regions["personal"]) == 1
            # And it stays applied once: a different action with a fresh id still counts.
            ack = await second.act("vote", {"item": "parc"}, step="vote")
            assert ack["ok"] and ack["seq"] > acks[0]["seq"], ack
            await eventually(
                second, lambda: ballot(second.regions["personal"])["parc"] == 2, "the second dot"
            )
        finally:
            await close_all(first, *([second] if second else []))

    run(main())


def test_an_action_id_belongs_to_its_sender(server: Server) -> None:
    """Two phones that happen to pick the same id each get their own action."""
    action_id = "same-id-on-two-phones"

    async def main() -> None:
        one = await Client(server, "participant").join("Un").connect()
        two = await Client(server, "participant").join("Deux").connect()
        try:
            a = await one.act("vote", {"item": "bibli"}, step="vote", action_id=action_id)
            b = await two.act("vote", {"item": "bibli"}, step="vote", action_id=action_id)
            assert a["ok"] and b["ok"] and a["seq"] != b["seq"], (a, b)
            actors = [e["actor"] for e in read_events(server.db) if e["action_id"] == action_id]
            assert sorted(actors) == sorted(
                [participant_id(server.db, "Un"), participant_id(server.db, "Deux")]
            )
        finally:
            await close_all(one, two)

    run(main())
