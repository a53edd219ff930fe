"""Dot-voting on the shared ballot: same actions, events, refusals and results as before."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from palabre.engine import Action, Actor, Event, Item, Rejection
from palabre.plugins.dot_voting.activity import DotVoting, DotVotingConfig

ZOE, INES = Actor("participant", "zoe"), Actor("participant", "ines")
FACILITATOR = Actor("facilitator")
ITEMS = [{"id": "parc", "title": "Un parc"}, {"id": "bibli", "title": "Bibliothèque"},
         {"id": "banc", "title": "Des bancs"}]


def vote(**config: Any) -> tuple[DotVoting, Any]:
    activity = DotVoting(DotVotingConfig(**({"items": ITEMS} | config)))
    return activity, activity.initial_state([])


def act(activity: DotVoting, state: Any, name: str, data: dict[str, Any] | None = None,
        actor: Actor = ZOE) -> list[Event]:
    events = activity.handle(state, Action(name, data or {}), actor)
    for event in events:
        activity.reduce(state, Event(event.kind, event.data, actor.key))
    return events


def refused(activity: DotVoting, state: Any, name: str, data: dict[str, Any],
            actor: Actor = ZOE) -> str:
    with pytest.raises(Rejection) as caught:
        activity.handle(state, Action(name, data), actor)
    return caught.value.code


def test_a_vote_and_an_unvote_are_the_same_events_as_ever() -> None:
    activity, state = vote()
    assert act(activity, state, "vote", {"item": "parc"}) == [
        Event("dot_voting.voted", {"item": "parc"})]
    assert act(activity, state, "unvote", {"item": "parc"}) == [
        Event("dot_voting.unvoted", {"item": "parc"})]


@pytest.mark.parametrize(("name", "kind"), [
    ("close", "dot_voting.closed"), ("reopen", "dot_voting.reopened"),
    ("reveal", "dot_voting.revealed"), ("hide_results", "dot_voting.results_hidden")])
def test_the_facilitator_controls_keep_their_events(name: str, kind: str) -> None:
    activity, state = vote()
    assert act(activity, state, name, actor=FACILITATOR) == [Event(kind)]


def test_the_actions_and_their_roles_are_unchanged() -> None:
    assert {n: sorted(r) for n, r in DotVoting.actions.items()} == {
        "vote": ["participant"], "unvote": ["participant"], "close": ["facilitator"],
        "reopen": ["facilitator"], "reveal": ["facilitator"], "hide_results": ["facilitator"],
        "reset": ["facilitator"]}


def test_an_item_outside_the_vote_is_refused() -> None:
    activity, state = vote()
    assert refused(activity, state, "vote", {"item": "piscine"}) == "unknown_item"
    assert refused(activity, state, "vote", {}) == "unknown_item"


def test_a_closed_vote_refuses_dots() -> None:
    activity, state = vote()
    act(activity, state, "vote", {"item": "parc"})
    act(activity, state, "close", actor=FACILITATOR)
    assert refused(activity, state, "vote", {"item": "parc"}) == "closed"
    assert refused(activity, state, "unvote", {"item": "parc"}) == "closed"
    act(activity, state, "reopen", actor=FACILITATOR)
    act(activity, state, "unvote", {"item": "parc"})


def test_a_participant_cannot_spend_more_than_their_dots() -> None:
    activity, state = vote(dots=3, max_per_item=2)
    for item in ("parc", "parc", "bibli"):
        act(activity, state, "vote", {"item": item})
    assert refused(activity, state, "vote", {"item": "banc"}) == "no_dots_left"
    act(activity, state, "vote", {"item": "banc"}, actor=INES)  # others keep their own


def test_one_item_takes_at_most_max_per_item_dots_from_one_person() -> None:
    activity, state = vote(dots=5, max_per_item=2)
    act(activity, state, "vote", {"item": "parc"})
    act(activity, state, "vote", {"item": "parc"})
    assert refused(activity, state, "vote", {"item": "parc"}) == "item_full"


def test_taking_back_a_dot_you_never_placed_is_refused() -> None:
    activity, state = vote()
    act(activity, state, "vote", {"item": "parc"}, actor=INES)
    assert refused(activity, state, "unvote", {"item": "parc"}) == "no_dot_here"


def test_the_cap_cannot_exceed_the_budget() -> None:
    with pytest.raises(ValidationError, match="max_per_item cannot be larger than dots"):
        DotVotingConfig(dots=2, max_per_item=3)


def test_results_rank_by_dots_with_ties_in_input_order() -> None:
    activity, state = vote()
    act(activity, state, "vote", {"item": "banc"})
    act(activity, state, "vote", {"item": "bibli"}, actor=INES)
    act(activity, state, "vote", {"item": "bibli"}, actor=INES)
    act(activity, state, "vote", {"item": "banc"}, actor=INES)
    assert [(i.id, n) for i, n in state.ranking()] == [("bibli", 2), ("banc", 2), ("parc", 0)]
    assert [(i.id, i.score) for i in activity.outputs(state)] == [
        ("bibli", 2.0), ("banc", 2.0), ("parc", 0.0)]
    board = activity.view(state, "facilitator")
    assert (board["voters"], board["dots_spent"]) == (2, 4)
    assert [(i.id, n, pct) for i, n, pct in board["ranking"]] == [
        ("bibli", 2, 100), ("banc", 2, 100), ("parc", 0, 0)]
    assert activity.export(state)["voters"] == 2


def test_the_screen_sees_no_results_until_revealed_unless_live() -> None:
    activity, state = vote()
    act(activity, state, "vote", {"item": "parc"})
    assert activity.view(state, "screen")["ranking"] == []
    act(activity, state, "reveal", actor=FACILITATOR)
    assert activity.view(state, "screen")["ranking"][0][1] == 1
    live, live_state = vote(results="live")
    assert live.view(live_state, "screen")["show_results"] is True


def test_a_phone_sees_its_own_dots_left() -> None:
    activity, state = vote(dots=4, max_per_item=2)
    act(activity, state, "vote", {"item": "parc"})
    act(activity, state, "vote", {"item": "parc"})
    mine = activity.personal_view(state, ZOE)
    assert (mine["left"], mine["spent"]) == (2, 2)
    assert [(i.id, n) for i, n in mine["entries"]] == [("parc", 2), ("bibli", 0), ("banc", 0)]
    assert activity.personal_view(state, INES)["left"] == 4


def test_inputs_from_an_earlier_step_replace_the_kit_items() -> None:
    activity = DotVoting(DotVotingConfig(items=ITEMS))
    state = activity.initial_state([Item(id="x1", title="Idée")])
    assert list(state.items) == ["x1"]
    act(activity, state, "vote", {"item": "x1"})
    assert refused(activity, state, "vote", {"item": "parc"}) == "unknown_item"


def test_a_shortlist_keeps_only_the_items_with_the_most_dots() -> None:
    from palabre.engine import Action, Actor, Event
    from palabre.plugins.dot_voting.activity import DotVoting, DotVotingConfig

    items = [{"id": f"c{n}", "title": f"Défi {n}"} for n in range(1, 13)]
    activity = DotVoting(DotVotingConfig(dots=3, max_per_item=1, retain=7, items=items))
    state = activity.initial_state([])
    for voter, picks in (("p1", ("c12", "c3", "c5")), ("p2", ("c12", "c3", "c9"))):
        for item in picks:
            for event in activity.handle(state, Action("vote", {"item": item}),
                                         Actor("participant", voter)):
                state = activity.reduce(state, Event(event.kind, event.data, voter))
    kept = activity.outputs(state)
    assert len(kept) == 7
    assert [i.id for i in kept[:4]] == ["c3", "c12", "c5", "c9"]  # ties keep kit order
    assert [i.score for i in kept[:4]] == [2.0, 2.0, 1.0, 1.0]


# -- the facilitator's reset (over the wire: tests/test_vote_integrity.py) --------------------
def test_a_reset_takes_back_every_dot_in_one_event_and_everyone_can_vote_again() -> None:
    activity, state = vote(dots=3, max_per_item=2)
    for item in ("parc", "parc", "banc"):
        act(activity, state, "vote", {"item": item})
    act(activity, state, "vote", {"item": "banc"}, actor=INES)
    assert act(activity, state, "reset", actor=FACILITATOR) == [
        Event("dot_voting.reset", {"dots": 4, "voters": 2})]
    assert (state.dots.total(), state.dots.voters()) == (0, 0)
    assert [n for _, n in state.ranking()] == [0, 0, 0]
    assert activity.personal_view(state, ZOE)["left"] == 3
    for item in ("banc", "banc", "parc"):  # the whole budget again
        act(activity, state, "vote", {"item": item})
    assert refused(activity, state, "vote", {"item": "bibli"}) == "no_dots_left"


def test_a_reset_of_an_empty_ballot_box_is_accepted_with_no_event() -> None:
    activity, state = vote()
    assert act(activity, state, "reset", actor=FACILITATOR) == []
    act(activity, state, "vote", {"item": "parc"})
    act(activity, state, "unvote", {"item": "parc"})
    assert act(activity, state, "reset", actor=FACILITATOR) == []


def test_a_reset_leaves_the_vote_closed_or_open_and_the_results_shown_or_hidden() -> None:
    activity, state = vote()
    act(activity, state, "vote", {"item": "parc"})
    act(activity, state, "close", actor=FACILITATOR)
    act(activity, state, "reveal", actor=FACILITATOR)
    act(activity, state, "reset", actor=FACILITATOR)
    assert (state.open, state.revealed, state.dots.total()) == (False, True, 0)
    assert refused(activity, state, "vote", {"item": "parc"}) == "closed"
