"""Simulated phones (the demo's and the day-long tests'): they read the HTML they are sent
and use its forms and buttons, through the real join flow and WebSocket."""

import asyncio
from collections import Counter
from pathlib import Path

from palabre.engine.simulate import controls_in, make_phones, play
from support import Client, Server, read_events, run

HTML = """
<form data-action="post" data-step="ideas">
  <input type="hidden" name="idea" value="i7">
  <input name="title" data-sim="idea"><textarea name="description"></textarea>
  <select name="frame"><option value="">—</option><option value="a1">Axe 1</option></select>
  <button type="submit">Envoyer</button>
</form>
<button data-action="vote" data-step="vote" data-arg-item="x">+</button>
<button data-action="vote" data-step="vote" data-arg-item="y" disabled>+</button>
<button data-action="withdraw" data-step="ideas" data-arg-idea="i7" data-sim="skip">×</button>
<button data-action="next" data-step="">→</button>
"""


def test_the_parser_finds_usable_forms_and_buttons_only() -> None:
    form, vote, nav = controls_in(HTML)
    assert (form.kind, form.action, form.step) == ("form", "post", "ideas")
    assert [f["name"] for f in form.fields] == ["idea", "title", "description", "frame"]
    assert form.fields[3]["options"] == ["a1"]  # the empty choice is not a choice
    assert (vote.action, vote.data) == ("vote", {"item": "x"})  # disabled and skip left out
    assert nav.step is None  # data-step="" means workshop-level


def test_simulated_phones_post_ideas_then_vote_within_their_budget(tmp_path: Path) -> None:
    server = Server(tmp_path / "w.db").start()

    async def play_until(phones: list, done: object, limit: float = 30.0) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(play(phones, stop))
        deadline = asyncio.get_running_loop().time() + limit
        while not done() and asyncio.get_running_loop().time() < deadline:  # type: ignore[operator]
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, 10)

    def count(kind: str) -> int:
        return sum(1 for e in read_events(server.db) if e["kind"] == kind)

    async def main() -> None:
        phones = make_phones(server.base, server.join_code, 15, "fr", 0, seed=7, pace=0.05)
        await play_until(phones, lambda: count("ideation.posted") >= 15)
        assert count("participant.joined") == 15
        assert count("ideation.posted") >= 15
        facilitator = await Client(server, "facilitator").login().connect()
        assert (await facilitator.act("next"))["ok"]
        for phone in phones:  # they rejoin with the same cookie: no new participants
            phone.regions.clear()
        await play_until(phones, lambda: count("dot_voting.voted") >= 40)
        await facilitator.close()
        outcomes = sum((p.results for p in phones), Counter())
        assert outcomes["ok"] >= 55
        assert set(outcomes) <= {"ok", "no_dots_left", "item_full", "no_dot_here",
                                 "duplicate", "step_over", "too_many"}, outcomes

    try:
        run(main(), timeout=120)
        spent: Counter[str] = Counter()
        for event in read_events(server.db):
            if event["kind"] == "dot_voting.voted":
                spent[event["actor"]] += 1
            elif event["kind"] == "dot_voting.unvoted":
                spent[event["actor"]] -= 1
        assert spent and max(spent.values()) <= 5
        assert count("participant.joined") == 15
    finally:
        server.stop()
