"""Vote integrity (RELIABILITY row 3): no dot more than given, no dot after close, no dot
from the wrong person, and a facilitator's reset that really empties the ballot box.

Proven against a real server on the quick-start kit (ideas, then a dot vote):

- the facilitator's `reset` over the wire (its unit tests are in test_dot_voting.py): every
  phone gets its dots back at once, and a server killed with SIGKILL replays it at restart;
- a Hypothesis state machine of votes, unvotes, abrupt reconnects, close, reopen and reset
  by a few phones, checked after every step against a plain Python model: the tally the
  event log holds (folded by the test, independently of the engine), the projector's bars, the
  facilitator's bars and each phone's own ballot all equal the model; no one ever holds
  more than the budget or the cap, and no dot is recorded while the vote is closed;
- a table of invalid ballots, each refused with its documented code, the database left
  byte-identical.

One participant with 20 sockets sending 500 votes at once is in test_vote_concurrency.py.
`PALABRE_LONG=1` runs the state machine longer. The workshop, the model and the fold of the
log are in vote_support.py.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from vote_support import (
    DOTS,
    IDEAS,
    MAX_PER_ITEM,
    PHONES,
    Box,
    LogFold,
    Model,
    Pace,
    bring_to_the_vote,
    participant_ids,
)

from support import (
    Client,
    ballot,
    bars,
    close_all,
    dots_spent,
    events_dump,
    eventually,
    read_events,
    run,
)

LONG = os.environ.get("PALABRE_LONG") == "1"


@pytest.fixture(scope="module")
def box(module_servers: Any) -> Box:
    elsewhere = module_servers("elsewhere")
    foreign = run(bring_to_the_vote(elsewhere, ["Une idée d'un autre atelier"]))[0]
    elsewhere.stop()
    server = module_servers("vote")
    ids = run(bring_to_the_vote(server, IDEAS, hide=1))
    return Box(server, ids[:-1], ids[-1], foreign)


# -- the reset over the wire -------------------------------------------------------------------
def reset_button(panel: str) -> str:
    """The facilitator's reset button as rendered, unescaped."""
    found = re.search(r'<button[^>]*data-action="reset".*?</button>', panel, re.S)
    assert found, "no reset button on the panel"
    return html.unescape(found.group(0))


def test_a_reset_gives_every_phone_its_dots_back_and_survives_a_kill(
    tmp_path: Path, start_server: Any
) -> None:
    server = start_server(tmp_path / "reset.db")

    async def main() -> tuple[Client, list[str]]:
        ids = await bring_to_the_vote(server, IDEAS[:2])
        facilitator = await Client(server, "facilitator").login().connect()
        screen = await Client(server, "screen").login().connect()
        phones = [await Client(server, "participant").join(n).connect() for n in ("A", "B")]
        try:
            assert " disabled>" in reset_button(facilitator.regions["main"]), "nothing to clear"
            empty = await facilitator.act("reset", step="vote")
            assert empty["ok"] and empty["seq"] == 0, empty
            for phone in phones:
                for item in (ids[0], ids[0], ids[1]):
                    assert (await phone.act("vote", {"item": item}, step="vote"))["ok"]
            await eventually(
                facilitator,
                lambda: " disabled>" not in reset_button(facilitator.regions["main"]),
                "the reset button comes alive",
            )
            # It asks before clearing, in the workshop's language.
            assert 'data-confirm="Retirer les gommettes de tout le monde' in reset_button(
                facilitator.regions["main"]
            )

            ack = await facilitator.act("reset", step="vote")
            assert ack["ok"] and ack["seq"] > 0, ack
            (event,) = [e for e in read_events(server.db) if e["kind"] == "dot_voting.reset"]
            assert (event["seq"], event["data"]) == (ack["seq"], {"dots": 6, "voters": 2})
            zero = dict.fromkeys(ids, 0)
            await eventually(screen, lambda: bars(screen.regions["main"]) == zero, "no dot left")
            for phone in phones:
                await eventually(
                    phone,
                    lambda p=phone: (
                        ballot(p.regions["personal"]) == zero
                        and dots_spent(p.regions["personal"]) == 0
                    ),
                    "all dots back",
                )
            assert (await phones[0].act("vote", {"item": ids[1]}, step="vote"))["ok"]
        finally:
            await close_all(facilitator, screen, *phones)
        return phones[0], ids

    first, ids = run(main())
    server.kill()  # SIGKILL: the restart rebuilds everything from the log
    server.start()

    async def after_restart() -> None:
        screen = await Client(server, "screen").login().connect()
        phone = await first.copy(server).connect()
        try:  # the reset replayed, then the one dot placed after it
            assert bars(screen.regions["main"]) == {ids[0]: 0, ids[1]: 1}
            await eventually(
                phone,
                lambda: ballot(phone.regions.get("personal", "")) == {ids[0]: 0, ids[1]: 1},
                "the phone's one dot after the reset",
            )
        finally:
            await close_all(screen, phone)

    run(after_restart())


# -- invalid ballots ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Bad:
    action: str
    data: Callable[[Box], Any]  # the act's data, given the module's ballot box
    code: str  # the documented refusal
    sender: str = "phone"  # or screen, juror, facilitator
    step: str | None = "vote"
    first: str = ""  # what happens before: see `prepare`


def _first(box: Box) -> dict[str, Any]:
    return {"item": box.items[0]}


def bad(name: str, action: str, data: Any, code: str, **how: Any) -> Any:
    """One row: `data` is the act's data, or a function of the module's Box giving it."""
    return pytest.param(
        Bad(action, data if callable(data) else lambda b: data, code, **how), id=name
    )


BAD_BALLOTS = [
    bad("no item", "vote", {}, "unknown_item"),
    bad("item null", "vote", {"item": None}, "unknown_item"),
    bad("item a number", "vote", {"item": 1}, "unknown_item"),
    bad("item a list", "vote", lambda b: {"item": b.items[:1]}, "unknown_item"),
    bad("item an object", "vote", lambda b: {"item": {"id": b.items[0]}}, "unknown_item"),
    bad("unknown item", "vote", {"item": "piscine"}, "unknown_item"),
    bad("item id and a space", "vote", lambda b: {"item": b.items[0] + " "}, "unknown_item"),
    bad("huge item", "vote", {"item": "x" * 60_000}, "unknown_item"),
    bad("item of another workshop", "vote", lambda b: {"item": b.foreign}, "unknown_item"),
    bad("idea hidden before the vote", "vote", lambda b: {"item": b.hidden}, "unknown_item"),
    bad("unvote an unknown item", "unvote", {"item": "piscine"}, "unknown_item"),
    bad("data not an object", "vote", lambda b: [b.items[0]], "bad_message"),
    bad("for the past step", "vote", _first, "step_over", step="ideas"),
    bad("as a workshop action", "vote", _first, "unknown_action", step=None),
    bad("unknown action", "vote_twice", _first, "unknown_action"),
    bad("vote after close", "vote", _first, "closed", first="close"),
    bad("unvote after close", "unvote", _first, "closed", first="vote, close"),
    bad("by the screen", "vote", _first, "forbidden", sender="screen"),
    bad("by a juror", "vote", _first, "forbidden", sender="juror"),
    bad("by the facilitator", "vote", _first, "forbidden", sender="facilitator"),
    bad("reset by a phone", "reset", {}, "forbidden", first="vote"),
    bad("close by a phone", "close", {}, "forbidden"),
    bad("unvote with no dot", "unvote", _first, "no_dot_here"),
    bad("unvote someone else's dot", "unvote", _first, "no_dot_here", first="someone votes"),
    bad("over the cap", "vote", _first, "item_full", first="fill the item"),
    bad(
        "over the budget",
        "vote",
        lambda b: {"item": b.items[2]},
        "no_dots_left",
        first="spend every dot",
    ),
]


async def prepare(box: Box, first: str, phone: Client, facilitator: Client) -> None:
    """Bring the ballot to the case's starting point (all of it accepted)."""
    one, two = box.items[:2]
    votes = {
        "vote": [one],
        "vote, close": [one],
        "fill the item": [one] * MAX_PER_ITEM,
        "spend every dot": [one] * MAX_PER_ITEM + [two] * (DOTS - MAX_PER_ITEM),
    }
    for item in votes.get(first, []):
        assert (await phone.act("vote", {"item": item}, step="vote"))["ok"]
    if first == "someone votes":
        other = await Client(box.server, "participant").join("Quelqu'un").connect()
        assert (await other.act("vote", {"item": one}, step="vote"))["ok"]
        await other.close()
    if "close" in first:
        assert (await facilitator.act("close", step="vote"))["ok"]


async def sender_for(box: Box, who: str, phone: Client, facilitator: Client) -> Client:
    if who == "phone":
        return phone
    if who == "facilitator":
        return facilitator
    if who == "screen":
        return await Client(box.server, "screen").login().connect()
    juror = Client(box.server, "participant")  # jurors use the participant socket
    assert juror.http.post(box.server.urls["jury"], data={"name": "Juré"}).status_code == 200
    return await juror.connect()


@pytest.mark.parametrize("case", BAD_BALLOTS)
def test_an_invalid_ballot_is_refused_with_its_code_and_the_database_is_untouched(
    box: Box, case: Bad
) -> None:
    async def main() -> None:
        db = box.server.db
        facilitator = await Client(box.server, "facilitator").login().connect()
        phone = await Client(box.server, "participant").join("Votante").connect()
        sender = await sender_for(box, case.sender, phone, facilitator)
        try:
            await prepare(box, case.first, phone, facilitator)
            before = events_dump(db)
            ack = await sender.act(case.action, case.data(box), step=case.step)
            assert not ack["ok"] and ack["error"]["code"] == case.code, ack
            assert ack["error"]["message"], ack
            # A barrier: this ack comes after the next commit, so anything the refused act
            # might have written is on disk by now.
            barrier = await facilitator.act("reveal", step="vote")
            after = events_dump(db)
            assert after[:-1] == before and after[-1].startswith(f"({barrier['seq']}, "), after[
                len(before) - 1 :
            ]
        finally:  # open again for the next case, even if this one closed it by mistake
            assert (await facilitator.act("reopen", step="vote"))["ok"]
            await close_all(facilitator, phone, sender)

    run(main())


# -- the state machine -------------------------------------------------------------------------
PHONE = st.integers(0, PHONES - 1)
# An index in the vote's items, now and then the hidden idea (not on the ballot).
ITEM = st.sampled_from([*range(len(IDEAS) - 1)] * 3 + [len(IDEAS) - 1])


class VoteMachine(RuleBasedStateMachine):
    box: ClassVar[Box]
    examples: ClassVar[int] = 0
    answers: ClassVar[Counter[str]] = Counter()  # what the server said, printed at the end

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.model = Model(self.box.items)
        self.fold = LogFold()
        self.pace = [Pace() for _ in range(PHONES)]  # per person: reconnecting does not refill
        self.phones: list[Client] = []
        self.people: list[str] = []  # participant ids, by phone
        self.others: list[Client] = []  # facilitator, screen

    def do(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 60))

    @initialize()
    def a_clean_ballot_box_and_fresh_phones(self) -> None:
        VoteMachine.examples += 1
        self.do(self._start(f"ex{VoteMachine.examples}"))

    async def _start(self, tag: str) -> None:
        server = self.box.server
        self.facilitator = await Client(server, "facilitator").login().connect()
        self.screen = await Client(server, "screen").login().connect()
        self.others = [self.facilitator, self.screen]
        for action in ("reset", "reopen", "reveal"):  # whatever the previous example left
            ack = await self.facilitator.act(action, step="vote")
            assert ack["ok"], ack
        self.fold.seq = ack["seq"]  # the log from here on is this example's
        names = [f"{tag}-{n}" for n in range(PHONES)]
        self.phones = [await Client(server, "participant").join(n).connect() for n in names]
        ids = participant_ids(server.db)
        self.people = [ids[n] for n in names]

    def teardown(self) -> None:
        self.do(close_all(*self.others, *self.phones))
        self.loop.close()

    # -- rules --------------------------------------------------------------------------------
    @rule(phone=PHONE, item=ITEM, times=st.integers(1, 4))
    def vote(self, phone: int, item: int, times: int) -> None:
        self._send(phone, [("vote", item)] * times)

    @rule(phone=PHONE, item=ITEM, times=st.integers(1, 2))
    def unvote(self, phone: int, item: int, times: int) -> None:
        self._send(phone, [("unvote", item)] * times)

    @rule(phone=PHONE)
    def spend_everything_and_one_more(self, phone: int) -> None:
        """A greedy phone: a dot on each item in turn, one more than the budget."""
        self._send(phone, [("vote", n % len(self.box.items)) for n in range(DOTS + 1)])

    @rule(phone=PHONE)
    def take_one_back(self, phone: int) -> None:
        """Unvote where this phone has the most dots (random unvotes mostly miss)."""
        mine = self.model.ballots[phone]
        item = max(range(len(self.box.items)), key=lambda i: mine[self.box.items[i]])
        self._send(phone, [("unvote", item)])

    @rule(phone=PHONE, source=ITEM, destination=ITEM)
    def move_a_dot(self, phone: int, source: int, destination: int) -> None:
        self._send(phone, [("unvote", source), ("vote", destination)])

    def _send(self, phone: int, acts: list[tuple[str, int]]) -> None:
        """Acts sent at once on one socket (handled in order), then every ack checked
        against the model's expected answer."""
        on_ballot = [*self.box.items, self.box.hidden]
        acts_by_id = [(name, on_ballot[item]) for name, item in acts]
        expected = [self.model.act(phone, item, name == "vote") for name, item in acts_by_id]
        client = self.phones[phone]

        async def send() -> list[dict[str, Any]]:
            await self.pace[phone].take(len(acts_by_id))
            sent = [await client.send(n, {"item": i}, step="vote") for n, i in acts_by_id]
            await client.wait_for(lambda: all(i in client.acks for i in sent))
            return [client.acks[i] for i in sent]

        acks = self.do(send())
        got = [None if a["ok"] else a["error"]["code"] for a in acks]
        assert got == expected, (acts_by_id, acks)
        self.answers.update(f"{n}: {g or 'ok'}" for (n, _), g in zip(acts_by_id, got, strict=True))

    @rule(phone=PHONE)
    def reconnect(self, phone: int) -> None:
        """The phone's Wi-Fi drops (no close frame); it comes back with the same cookie."""
        old = self.phones[phone]

        async def again() -> Client:
            old.ws.transport.abort()
            await old.close()
            return await old.copy().connect()

        self.phones[phone] = self.do(again())
        self.answers["reconnect"] += 1

    @precondition(lambda self: self.model.open)
    @rule()
    def close(self) -> None:
        self._facilitator("close")
        self.model.open = False

    @precondition(lambda self: not self.model.open)
    @rule()
    def reopen(self) -> None:
        self._facilitator("reopen")
        self.model.open = True

    @precondition(lambda self: any(self.model.tally().values()) or self.model.resets == 0)
    @rule()
    def reset(self) -> None:
        """Clears every dot; on an empty box (once per example at most, or it would crowd out
        the resets that matter) it is accepted with no event."""
        ack = self._facilitator("reset")
        assert (ack["seq"] > 0) == any(self.model.tally().values()), ack
        self.model.resets += 1
        self.answers["reset: " + ("cleared" if ack["seq"] else "empty, no event")] += 1
        self.model.ballots = [Counter() for _ in range(PHONES)]

    def _facilitator(self, action: str) -> dict[str, Any]:
        ack: dict[str, Any] = self.do(self.facilitator.act(action, step="vote"))
        assert ack["ok"], ack
        return ack

    # -- after every step ---------------------------------------------------------------------
    @invariant()
    def log_projector_panel_and_phones_equal_the_model(self) -> None:
        if not self.phones:
            return
        self.fold.catch_up(self.box.server.db)  # acks come after commit: the log is complete
        want = self.model.tally()
        assert self.fold.tally(self.box.items) == want
        for k, person in enumerate(self.people):
            assert +self.fold.ballots[person] == +self.model.ballots[k], f"phone {k}"
        self.do(self._views_agree(want))

    async def _views_agree(self, want: dict[str, int]) -> None:
        for who in self.others:  # the projector (revealed) and the facilitator's panel
            await eventually(
                who,
                lambda w=who: bars(w.regions["main"]) == want,
                f"the {who.audience}'s bars show {want}",
            )
        for k, phone in enumerate(self.phones):
            mine = self.model.ballot(k)
            await eventually(
                phone,
                lambda p=phone, m=mine: (
                    ballot(p.regions.get("personal", "")) == m
                    and dots_spent(p.regions.get("personal", "")) == sum(m.values())
                ),
                f"phone {k} shows its own dots {mine}",
            )


def test_votes_unvotes_reconnects_closes_and_resets_keep_log_screen_and_model_equal(
    box: Box,
) -> None:
    VoteMachine.box, VoteMachine.examples = box, 0
    VoteMachine.answers.clear()
    run_state_machine_as_test(
        VoteMachine,
        settings=settings(
            max_examples=100 if LONG else 10,
            stateful_step_count=50 if LONG else 25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(f"\n{VoteMachine.examples} examples:", dict(sorted(VoteMachine.answers.items())))
