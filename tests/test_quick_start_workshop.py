"""A whole quick-start workshop against a real server: 30 phones post ideas, the
facilitator tidies them, everyone spends dots, the screen reveals the bars, and the
event log tells the same story as the screens."""

from __future__ import annotations

import asyncio
import html as html_lib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import (
    Client,
    Server,
    ballot,
    bars,
    cards,
    close_all,
    dots_spent,
    eventually,
    read_events,
    run,
)

PARTICIPANTS = 30
SEED = 20250312
DOTS, MAX_PER_ITEM = 5, 3  # facilitator_kits/quick-start.toml
SCREEN_CARDS = 12  # the projector shows the newest visible ideas, and the count of all

TITLES = [
    "Un jardin partagé 🌱",
    "Des bancs à l'ombre",
    "Piste cyclable sûre 🚲",
    "Café des aînés ☕",
    "Boîte à livres 📚",
    'Vélos & "trottinettes" <partagés>',
    "Fête des voisins 🎉",
    "Éclairage de l'allée des Tilleuls",
    "Atelier répar’café",
    "Cours de français pour adultes",
]
DESCRIPTIONS = [
    "",
    "Près de l'école, le samedi matin 🙂",
    "Avec les habitants de la résidence « Les Œillets ».",
    "",
    "Ligne 1\nLigne 2 : à côté du marché",
]
NAMES = ["Zoé", "Anaïs", "", "Jérôme", "Aïcha", "Łukasz", "", "Nguyễn", "Björn 🙂", "Inès"]


@dataclass
class Idea:
    id: str
    title: str
    description: str
    author: int
    seq: int


def test_a_quick_start_workshop_runs_from_ideas_to_revealed_dots(
    tmp_path: Path, start_server: Any
) -> None:
    server = start_server(tmp_path / "workshop.db")
    run(_workshop(server, tmp_path / "workshop.db"), timeout=150)


async def _workshop(server: Server, db: Path) -> None:
    rng = random.Random(SEED)
    facilitator = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()
    phones = [Client(server, "participant").join(_name(i)) for i in range(PARTICIPANTS)]
    try:
        await _connect_all(phones)
        await eventually(
            facilitator,
            lambda: (
                re.search(
                    rf'data-testid="connected">{PARTICIPANTS}<', facilitator.regions["chrome"]
                )
                is not None
            ),
            "the facilitator sees every phone connected",
        )
        ideas = await _post_ideas(phones, rng)
        visible = await _tidy_ideas(facilitator, screen, phones, ideas)
        expected, voters = await _vote(facilitator, screen, phones, visible, rng)
        await _reveal(facilitator, screen, phones, visible, expected)
        _check_log(db, ideas, visible, expected, phones, voters)
        _check_screen_is_anonymous(db, screen)
    finally:
        await close_all(facilitator, screen, *phones)


def _name(i: int) -> str:
    """Pseudonyms are optional: some phones join without one."""
    base = NAMES[i % len(NAMES)]
    return f"{base} n°{i}" if base else ""


async def _connect_all(phones: list[Client]) -> None:
    await asyncio.gather(*(p.connect() for p in phones))


# -- ideas ----------------------------------------------------------------------------------
async def _post_ideas(phones: list[Client], rng: random.Random) -> list[Idea]:
    plans = []
    for i in range(PARTICIPANTS):
        count = rng.choice((1, 2))
        plans.append(
            [(f"{rng.choice(TITLES)} n°{i}.{j}", rng.choice(DESCRIPTIONS)) for j in range(count)]
        )

    async def post(i: int) -> list[Idea]:
        phone, mine = phones[i], []
        for title, description in plans[i]:
            ack = await phone.act(
                "post", {"title": title, "description": description}, step="ideas"
            )
            assert ack["ok"], (title, ack)
            mine.append((title, description, ack["seq"]))
        # The phone's own list is where it learns its ideas' ids.
        await eventually(
            phone,
            lambda: (
                sorted(cards(phone.regions.get("personal", "")).values())
                == sorted(t for t, _, _ in mine)
            ),
            f"participant {i} sees their {len(mine)} ideas",
        )
        by_title = {
            t: key.removeprefix("mine-") for key, t in cards(phone.regions["personal"]).items()
        }
        return [Idea(by_title[t], t, d, i, seq) for t, d, seq in mine]

    per_phone = await asyncio.gather(*(post(i) for i in range(PARTICIPANTS)))
    ideas = sorted((idea for mine in per_phone for idea in mine), key=lambda x: x.seq)
    assert len({idea.seq for idea in ideas}) == len(ideas), "two ideas acked with one seq"
    assert len({idea.id for idea in ideas}) == len(ideas)
    return ideas


async def _tidy_ideas(
    facilitator: Client, screen: Client, phones: list[Client], ideas: list[Idea]
) -> list[Idea]:
    # The facilitator sees every idea, newest first, with its text intact.
    await eventually(
        facilitator,
        lambda: list(cards(facilitator.regions["main"])) == [i.id for i in reversed(ideas)],
        "facilitator lists every idea",
    )
    assert cards(facilitator.regions["main"]) == {i.id: i.title for i in reversed(ideas)}

    hidden, merged, target = ideas[-1], ideas[-2], ideas[-3]
    ack = await facilitator.act("hide", {"idea": hidden.id}, step="ideas")
    assert ack["ok"], ack
    ack = await facilitator.act("merge", {"idea": merged.id, "into": target.id}, step="ideas")
    assert ack["ok"], ack
    visible = [i for i in ideas if i not in (hidden, merged)]

    newest = [i.id for i in reversed(visible)][:SCREEN_CARDS]
    await eventually(
        screen,
        lambda: list(cards(screen.regions["main"])) == newest,
        "screen shows the newest visible ideas without the hidden one",
    )
    main = screen.regions["main"]
    assert _count(main) == len(visible)
    assert cards(main) == {i.id: i.title for i in reversed(visible[-SCREEN_CARDS:])}
    assert hidden.id not in main and hidden.title not in cards(main).values()
    assert merged.id not in main
    assert re.search(rf'data-key="{target.id}">.*?\+1</p>', main, re.S), "merge not shown"
    # Phones list every visible idea (not only the newest).
    phone = phones[0]
    await eventually(
        phone,
        lambda: list(cards(phone.regions["main"])) == [i.id for i in reversed(visible)],
        "phones list the visible ideas",
    )
    # The authors see what happened to their own idea.
    author = phones[hidden.author]
    await eventually(
        author,
        lambda: "card--hidden" in author.regions["personal"],
        "the author sees their idea was hidden",
    )
    return visible


def _count(html: str) -> int:
    match = re.search(r'<span class="count">(\d+)</span>', html)
    assert match, html
    return int(match.group(1))


# -- vote -----------------------------------------------------------------------------------
async def _vote(
    facilitator: Client,
    screen: Client,
    phones: list[Client],
    visible: list[Idea],
    rng: random.Random,
) -> tuple[Counter[str], set[int]]:
    ack = await facilitator.act("next")
    assert ack["ok"], ack
    items = [i.id for i in visible]
    for n, phone in enumerate(phones):
        await eventually(
            phone,
            lambda p=phone: list(ballot(p.regions.get("personal", ""))) == items,
            f"participant {n} sees the vote's items",
        )
        assert ballot(phone.regions["personal"]) == dict.fromkeys(items, 0)
        assert dots_spent(phone.regions["personal"]) == 0
    await eventually(
        screen,
        lambda: "Vote par gommettes" in screen.regions["chrome"],
        "the screen moves to the vote",
    )

    # A seeded pattern, with popular items so that the per-item cap and the budget bite.
    popular = items[:4]
    plans = []
    for _ in phones:
        favourite = rng.choice(popular)
        plans.append(
            [
                (
                    "unvote" if rng.random() < 0.15 else "vote",
                    favourite if rng.random() < 0.4 else rng.choice(items),
                )
                for _ in range(rng.randint(0, 9))
            ]
        )
    outcomes: Counter[str] = Counter()
    tally: Counter[str] = Counter()
    ballots: list[Counter[str]] = [Counter() for _ in phones]

    async def cast(n: int) -> None:
        model: Counter[str] = Counter()
        for action, item in plans[n]:
            expected = _rule(model, action, item)
            ack = await phones[n].act(action, {"item": item}, step="vote")
            got = "ok" if ack["ok"] else ack["error"]["code"]
            assert got == expected, (n, action, item, ack)
            outcomes[got] += 1
            if ack["ok"]:
                step = 1 if action == "vote" else -1
                model[item] += step
                tally[item] += step
                ballots[n][item] += step

    await asyncio.gather(*(cast(n) for n in range(len(phones))))
    # The pattern must have exercised every rule, or this test proves less than it says.
    assert {"ok", "no_dots_left", "item_full", "no_dot_here"} <= set(outcomes), outcomes

    for n, phone in enumerate(phones):
        mine = {item: ballots[n][item] for item in items}
        await eventually(
            phone,
            lambda p=phone, m=mine: ballot(p.regions["personal"]) == m,
            f"participant {n}'s own dots",
        )
        personal = phone.regions["personal"]
        spent = sum(mine.values())
        assert dots_spent(personal) == spent
        assert len(re.findall(r'class="dot( dot--spent)?"', personal)) == DOTS
        left = re.search(r'class="dots-left".*?</p>', personal, re.S)
        assert left and re.findall(r"\d+", _text(left.group(0))) == [str(DOTS - spent)], personal

    voters = {n for n in range(len(phones)) if sum(ballots[n].values())}
    await eventually(
        screen,
        lambda: _count(screen.regions["main"]) == len(voters),
        "the screen counts the voters",
    )
    # Before the reveal, no number per item anywhere but the facilitator's panel.
    for html in (screen.regions["main"], phones[0].regions["main"]):
        assert "bar__value" not in html and 'data-key="bar-' not in html
        assert not any(item in html for item in items)
    await eventually(
        facilitator,
        lambda: bars(facilitator.regions["main"]) == {i: tally[i] for i in items},
        "the facilitator sees the live tally",
    )
    return Counter({i: tally[i] for i in items}), voters


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def _rule(model: Counter[str], action: str, item: str) -> str:
    if action == "unvote":
        return "ok" if model[item] > 0 else "no_dot_here"
    if sum(model.values()) >= DOTS:
        return "no_dots_left"
    if model[item] >= MAX_PER_ITEM:
        return "item_full"
    return "ok"


async def _reveal(
    facilitator: Client,
    screen: Client,
    phones: list[Client],
    visible: list[Idea],
    expected: Counter[str],
) -> None:
    ack = await facilitator.act("reveal", step="vote")
    assert ack["ok"], ack
    want = dict(expected)
    await eventually(
        screen, lambda: bars(screen.regions["main"]) == want, f"the screen's bars show {want}"
    )
    shown = list(bars(screen.regions["main"]).items())
    assert [n for _, n in shown] == sorted((n for _, n in shown), reverse=True), "not ranked"
    labels = re.findall(r'class="bar__label" dir="auto">(.*?)</span>', screen.regions["main"])
    titles = {i.id: i.title for i in visible}
    assert [html_lib.unescape(label) for label in labels] == [titles[k] for k, _ in shown]
    phone = phones[-1]
    await eventually(
        phone, lambda: bars(phone.regions["main"]) == want, "phones see the revealed results"
    )


# -- the log --------------------------------------------------------------------------------
def _check_log(
    db: Path,
    ideas: list[Idea],
    visible: list[Idea],
    expected: Counter[str],
    phones: list[Client],
    voters: set[int],
) -> None:
    events = read_events(db)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))

    replayed: Counter[str] = Counter()
    for e in events:
        if e["step"] == "vote" and e["kind"] == "dot_voting.voted":
            replayed[e["data"]["item"]] += 1
        elif e["step"] == "vote" and e["kind"] == "dot_voting.unvoted":
            replayed[e["data"]["item"]] -= 1
    assert {k: v for k, v in replayed.items() if v} == {k: v for k, v in expected.items() if v}

    posted = [e for e in events if e["kind"] == "ideation.posted"]
    assert [
        (e["seq"], e["data"]["idea"], e["data"]["title"], e["data"]["description"]) for e in posted
    ] == [(i.seq, i.id, i.title, i.description) for i in ideas]
    joined = [e for e in events if e["kind"] == "participant.joined"]
    assert len(joined) == len(phones)
    assert len({e["actor"] for e in posted}) == len(phones)  # everyone posted

    kinds = Counter(e["kind"] for e in events)
    assert kinds["ideation.hidden"] == 1 and kinds["ideation.merged"] == 1
    assert kinds["dot_voting.revealed"] == 1

    # The vote's material, as recorded when the step opened: exactly the visible ideas.
    opened = [
        e for e in events if e["kind"] == "workshop.step_opened" and e["data"]["step"] == "vote"
    ]
    assert len(opened) == 1
    inputs = opened[0]["data"]["inputs"]
    assert [(i["id"], i["title"]) for i in inputs] == [(i.id, i.title) for i in visible]

    # No action was applied twice: each (actor, client id) caused one run of consecutive
    # events (only the facilitator's "next" causes two: step_changed, step_opened).
    runs: dict[tuple[str, str], list[int]] = {}
    for e in events:
        if e["action_id"]:
            runs.setdefault((e["actor"], e["action_id"]), []).append(e["seq"])
    for key, seqs in runs.items():
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (key, seqs)
        assert len(seqs) == 1 or key[0] == "facilitator", (key, seqs)
    acked = sum(1 for p in phones for a in p.acks.values() if a["ok"])
    assert (
        sum(
            1
            for e in events
            if e["actor"] not in ("", "facilitator") and e["kind"] != "participant.joined"
        )
        == acked
    )
    vote_actors = {e["actor"] for e in events if e["kind"] == "dot_voting.voted"}
    assert len(vote_actors) >= len(voters)


def _check_screen_is_anonymous(db: Path, screen: Client) -> None:
    """Nothing the projector ever received names or identifies a participant."""
    joined = [e for e in read_events(db) if e["kind"] == "participant.joined"]
    secrets = {e["actor"] for e in joined} | {
        e["data"]["name"] for e in joined if e["data"]["name"]
    }
    # The screen is sent a view only when it changed: one per idea batch, step and reveal.
    assert len(screen.views) >= 5
    for view in screen.views:
        text = json.dumps(view, ensure_ascii=False)
        leaked = [s for s in secrets if s in text]
        assert not leaked, leaked
