"""Axes: the facilitator groups the diagnosis' problems into named axes, participants may
retain a few with dots (overall or per theme), and the retained axes go forward carrying the
problems they group.

Unit tests of handle/reduce (every refusal), of retention and outputs, of the suggestions,
of the views rendered in French and English; then a real server running ideas → axes → a vote
on the retained axes."""

from __future__ import annotations

import copy
import html as html_lib
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from pydantic import ValidationError

from palabre.engine import ALL, Action, Actor, Event, Item, Rejection
from palabre.engine.plugins import LOAD_PLUGINS_ENV, collect_activities, get_plugin_manager
from palabre.engine.render import Renderer
from palabre.plugins.axes.activity import Axes
from palabre.plugins.axes.config import AxesConfig
from palabre.plugins.axes.model import AxesState
from palabre.plugins.axes.suggest import suggest_clusters, suggest_moves, words
from support import Client, Server, attr_values, close_all, eventually, read_events, run

FACILITATOR = Actor("facilitator")
ZOE = Actor("participant", "p-zoe", "Zoé")
INES = Actor("participant", "p-ines", "Inès")
LOGEMENT, MOBILITE, CADRE = "Se loger", "Se déplacer", "Cadre de vie"


def problem(pid: str, title: str, theme: str, description: str = "") -> Item:
    """A diagnosis output: group = the theme's title, `theme` its id, and its own origin."""
    seed = Item(id=f"note-{pid}", title=f"Note de table {pid}")
    return Item(id=pid, title=title, description=description, kind="problem", group=theme,
                theme=theme.lower().replace(" ", "-"), origin=[seed])


PROBLEMS = [
    problem("p1", "Loyers trop chers", LOGEMENT),
    problem("p2", "Pas assez de logements sociaux", LOGEMENT),
    problem("p3", "Bus trop rares le soir", MOBILITE),
    problem("p4", "Pistes cyclables dangereuses", MOBILITE),
    problem("p5", "Logements mal isolés, loyers en hausse", LOGEMENT),
    problem("p6", "Bus bondés le matin", MOBILITE),
    problem("p7", "Parc mal éclairé", CADRE),
    problem("p8", "Parc sans bancs", CADRE),
]


class Step:
    """One axes step driven as the engine drives it: handle, then reduce each event."""

    def __init__(self, inputs: list[Item] | None = None, **config: Any) -> None:
        self.activity = Axes(AxesConfig(**config))
        self.state: AxesState = self.activity.initial_state(
            PROBLEMS if inputs is None else inputs)

    def act(self, action: str, actor: Actor = FACILITATOR, /, **data: Any) -> list[Event]:
        events = self.activity.handle(self.state, Action(action, data), actor)
        for event in events:
            self.state = self.activity.reduce(self.state, Event(event.kind, event.data, actor.key))
        return events

    def refused(self, action: str, actor: Actor = FACILITATOR, /, **data: Any) -> Rejection:
        before = copy.deepcopy(self.state)
        with pytest.raises(Rejection) as caught:
            self.activity.handle(self.state, Action(action, data), actor)
        assert self.state == before, "a refused action changed the state"
        return caught.value

    def axis(self, name: str, theme: str = "", items: str = "") -> str:
        events = self.act("create", name=name, theme=theme, items=items)
        return str(events[0].data["axis"])

    def titles(self, axis_id: str) -> list[str]:
        return [i.title for i in self.state.items_of(axis_id)]

    def vote(self, actor: Actor, *axes: str) -> None:
        for axis in axes:
            self.act("vote", actor, axis=axis)


def voters(n: int) -> list[Actor]:
    return [Actor("participant", f"p{k}") for k in range(n)]


# -- grouping ---------------------------------------------------------------------------------
def test_the_facilitator_creates_an_axis_under_a_theme() -> None:
    step = Step()
    assert step.state.themes == [LOGEMENT, MOBILITE, CADRE]
    events = step.act("create", name="  Le logement  ", theme=LOGEMENT)
    assert events == [Event("axes.created", {"axis": "ax1", "name": "Le logement",
                                             "theme": LOGEMENT})]
    assert [(a.id, a.name, a.theme) for a in step.state.axes.values()] == [
        ("ax1", "Le logement", LOGEMENT)]
    assert len(step.state.unsorted()) == len(PROBLEMS)


def test_an_axis_may_have_no_theme() -> None:
    step = Step()
    step.act("create", name="Transversal")
    assert step.state.axes["ax1"].theme == ""


def test_creating_an_axis_with_items_moves_them_in_one_action() -> None:
    step = Step()
    events = step.act("create", name="Bus", theme=MOBILITE, items="p3 p6 p3")
    assert [e.kind for e in events] == ["axes.created", "axes.moved", "axes.moved"]
    assert step.titles("ax1") == ["Bus trop rares le soir", "Bus bondés le matin"]


def test_moving_items_in_and_back_to_the_unsorted_ones() -> None:
    step = Step()
    ax = step.axis("Logement", LOGEMENT)
    assert step.act("move", item="p1", axis=ax) == [
        Event("axes.moved", {"item": "p1", "axis": ax})]
    step.act("move", item="p2", axis=ax)
    assert step.titles(ax) == ["Loyers trop chers", "Pas assez de logements sociaux"]
    step.act("move", item="p1", axis="")
    step.act("move", item="p2")  # no axis at all also means "back to unsorted"
    assert step.titles(ax) == [] and len(step.state.unsorted()) == len(PROBLEMS)


def test_moving_an_item_where_it_already_is_does_nothing() -> None:
    step = Step()
    ax = step.axis("Logement", items="p1")
    assert step.act("move", item="p1", axis=ax) == []
    assert step.act("move", item="p2", axis="") == []


def test_an_item_moves_straight_from_one_axis_to_another() -> None:
    step = Step()
    one, two = step.axis("Un", items="p1"), step.axis("Deux")
    step.act("move", item="p1", axis=two)
    assert step.titles(one) == [] and step.titles(two) == ["Loyers trop chers"]


def test_renaming_and_changing_the_theme() -> None:
    step = Step()
    ax = step.axis("Logment")
    assert step.act("rename", axis=ax, name="Logement") == [
        Event("axes.renamed", {"axis": ax, "name": "Logement"})]
    assert step.act("rename", axis=ax, name="Logement") == []  # unchanged: nothing to log
    assert step.act("set_theme", axis=ax, theme=LOGEMENT) == [
        Event("axes.theme_set", {"axis": ax, "theme": LOGEMENT})]
    assert step.act("set_theme", axis=ax, theme=LOGEMENT) == []
    step.act("set_theme", axis=ax, theme="")
    assert step.state.axes[ax].name == "Logement" and step.state.axes[ax].theme == ""


def test_renaming_an_axis_to_another_case_of_its_own_name_is_allowed() -> None:
    step = Step()
    ax = step.axis("logement")
    step.act("rename", axis=ax, name="Logement")
    assert step.state.axes[ax].name == "Logement"


def test_deleting_an_axis_sends_its_items_back_to_be_sorted() -> None:
    step = Step()
    ax = step.axis("Logement", items="p1 p2")
    assert step.act("delete", axis=ax) == [Event("axes.deleted", {"axis": ax})]
    assert ax not in step.state.axes
    assert [i.id for i in step.state.unsorted()] == [i.id for i in PROBLEMS]


def test_a_deleted_axis_id_is_never_reused() -> None:
    step = Step()
    step.act("delete", axis=step.axis("Un"))
    assert step.axis("Deux") == "ax2"


def test_merging_two_axes_keeps_the_target_with_every_item() -> None:
    step = Step()
    loyers, social = step.axis("Loyers", items="p1 p5"), step.axis("Logement", items="p2")
    assert step.act("merge", axis=loyers, into=social) == [
        Event("axes.merged", {"axis": loyers, "into": social})]
    assert list(step.state.axes) == [social]
    # Items keep the order they came in, whichever axis they came from.
    assert [i.id for i in step.state.items_of(social)] == ["p1", "p2", "p5"]


def test_a_repeated_input_id_counts_once_and_themes_come_from_group_or_theme() -> None:
    inputs = [Item(id="a", title="A", theme="Ville"), Item(id="a", title="A bis"),
              Item(id="b", title="B", group="Quartier")]
    state = Axes(AxesConfig()).initial_state(inputs)
    assert [i.title for i in state.items.values()] == ["A", "B"]
    assert state.themes == ["Ville", "Quartier"]


# -- refusals while grouping ---------------------------------------------------------------------
def test_the_actions_and_their_roles() -> None:
    roles = {name: sorted(r) for name, r in Axes.actions.items()}
    assert roles.pop("vote") == roles.pop("unvote") == ["participant"]
    assert set(roles) == {"create", "rename", "set_theme", "delete", "merge", "move",
                          "open_vote", "close_vote", "reopen_vote", "back_to_grouping", "mark"}
    assert all(r == ["facilitator"] for r in roles.values())


def test_an_unknown_action_is_refused() -> None:
    assert Step().refused("explode").code == "unknown_action"


@pytest.mark.parametrize(("name", "code"), [
    ("", "empty_text"), ("   ", "empty_text"), ("\u200b", "empty_text"), (None, "empty_text"),
    (42, "invalid_text"), ("x" * 61, "too_long")])
def test_a_bad_axis_name_is_refused(name: Any, code: str) -> None:
    step = Step()
    rejection = step.refused("create", name=name)
    assert rejection.code == code and rejection.params["field"] == "name"
    ax = step.axis("Logement")
    assert step.refused("rename", axis=ax, name=name).code == code


def test_the_name_limit_follows_the_kit() -> None:
    step = Step(max_name=10)
    assert step.refused("create", name="Onze lettres").code == "too_long"
    step.axis("Dix lettre")


@pytest.mark.parametrize("twin", ["Logement", "logement", "  LOGEMENT ", "Logement\u00a0"])
def test_two_axes_cannot_share_a_name(twin: str) -> None:
    step = Step()
    step.axis("Logement")
    other = step.axis("Mobilité")
    rejection = step.refused("create", name=twin)
    assert (rejection.code, rejection.params) == ("duplicate_name", {"field": "name"})
    assert step.refused("rename", axis=other, name=twin).code == "duplicate_name"


def test_no_more_axes_than_the_kit_allows() -> None:
    step = Step(max_axes=2)
    step.axis("Un")
    step.axis("Deux")
    rejection = step.refused("create", name="Trois")
    assert (rejection.code, rejection.params) == ("too_many_axes", {"limit": 2})


@pytest.mark.parametrize("theme", ["Sport", LOGEMENT.upper(), 3])
def test_a_theme_outside_the_inputs_is_refused(theme: Any) -> None:
    step = Step()
    assert step.refused("create", name="Sport", theme=theme).code == "unknown_theme"
    ax = step.axis("Logement")
    assert step.refused("set_theme", axis=ax, theme=theme).code == "unknown_theme"


@pytest.mark.parametrize(("name", "data"), [
    ("rename", {"name": "X"}), ("set_theme", {"theme": ""}), ("delete", {}),
    ("merge", {"into": "ax1"}), ("mark", {"mark": "retained"})])
@pytest.mark.parametrize("axis", ["ax9", None, "", ["ax1"]])
def test_an_unknown_axis_is_refused(name: str, data: dict[str, Any], axis: Any) -> None:
    step = Step(retain=1)
    step.axis("Un")
    assert step.refused(name, axis=axis, **data).code == "unknown_axis"


def test_merging_into_an_unknown_axis_or_into_itself_is_refused() -> None:
    step = Step()
    ax = step.axis("Un")
    assert step.refused("merge", axis=ax, into="ax9").code == "unknown_axis"
    assert step.refused("merge", axis=ax, into=ax).code == "bad_merge"


def test_moving_to_an_unknown_axis_is_refused() -> None:
    assert Step().refused("move", item="p1", axis="ax9").code == "unknown_axis"


@pytest.mark.parametrize("item", ["p99", None, "", 7])
def test_an_unknown_item_is_refused(item: Any) -> None:
    step = Step()
    assert step.refused("move", item=item, axis="").code == "unknown_item"


@pytest.mark.parametrize("items", ["p1 p99", 7, ["p1"]])
def test_creating_with_an_unknown_item_creates_nothing(items: Any) -> None:
    assert Step().refused("create", name="Un", items=items).code == "unknown_item"


# -- the vote ---------------------------------------------------------------------------------
def voting(**config: Any) -> tuple[Step, str, str, str]:
    step = Step(**({"retain": 2, "dots": 4, "max_per_item": 2} | config))
    a = step.axis("Logement", LOGEMENT, "p1 p2 p5")
    b = step.axis("Transports", MOBILITE, "p3 p6")
    c = step.axis("Cadre de vie", CADRE, "p7 p8")
    step.act("open_vote")
    return step, a, b, c


def test_participants_spend_dots_on_axes() -> None:
    step, a, b, _ = voting()
    assert step.act("vote", ZOE, axis=a) == [Event("axes.voted", {"axis": a})]
    step.act("vote", ZOE, axis=a)
    step.act("vote", INES, axis=b)
    assert step.act("unvote", ZOE, axis=a) == [Event("axes.unvoted", {"axis": a})]
    assert step.state.dots.tally == {a: 1, b: 1}
    assert step.state.dots.held(ZOE.key, a) == 1


def test_voting_before_the_vote_opens_is_refused() -> None:
    step = Step(retain=2)
    ax = step.axis("Logement")
    assert step.refused("vote", ZOE, axis=ax).code == "not_voting"
    assert step.refused("unvote", ZOE, axis=ax).code == "not_voting"


def test_voting_on_an_unknown_axis_is_refused() -> None:
    step, *_ = voting()
    assert step.refused("vote", ZOE, axis="ax9").code == "unknown_axis"
    assert step.refused("vote", ZOE).code == "unknown_axis"


def test_a_closed_vote_refuses_dots_and_reopens() -> None:
    step, a, *_ = voting()
    step.act("vote", ZOE, axis=a)
    step.act("close_vote")
    assert step.refused("vote", ZOE, axis=a).code == "closed"
    assert step.refused("unvote", ZOE, axis=a).code == "closed"
    step.act("reopen_vote")
    step.act("unvote", ZOE, axis=a)


def test_the_budget_the_cap_and_taking_back_are_the_shared_rules() -> None:
    step, a, b, c = voting()
    step.vote(ZOE, a, a)
    assert step.refused("vote", ZOE, axis=a).code == "item_full"
    step.vote(ZOE, b, c)
    assert step.refused("vote", ZOE, axis=b).code == "no_dots_left"
    assert step.refused("unvote", INES, axis=a).code == "no_dot_here"


def test_a_per_theme_budget_stops_dots_in_a_full_theme_only() -> None:
    step = Step(retain=1, retain_per_theme=True, dots=4, dots_per_theme=2, max_per_item=2)
    a1 = step.axis("Loyers", LOGEMENT, "p1")
    a2 = step.axis("Logement social", LOGEMENT, "p2")
    b = step.axis("Bus", MOBILITE, "p3")
    step.act("open_vote")
    step.vote(ZOE, a1, a2)
    rejection = step.refused("vote", ZOE, axis=a1)
    assert rejection.code == "no_dots_left_in_group"
    assert rejection.params == {"group": LOGEMENT, "limit": 2}
    step.vote(ZOE, b)


@pytest.mark.parametrize("name", ["create", "delete", "merge", "set_theme"])
@pytest.mark.parametrize("phase", ["voting", "closed"])
def test_axes_cannot_be_added_removed_merged_or_rethemed_once_the_vote_started(
    name: str, phase: str
) -> None:
    step, a, b, _ = voting()
    if phase == "closed":
        step.act("close_vote")
    data = {"create": {"name": "Nouvel axe"}, "delete": {"axis": a},
            "merge": {"axis": a, "into": b}, "set_theme": {"axis": a, "theme": ""}}[name]
    assert step.refused(name, **data).code == "voting_started"


def test_names_and_misplaced_items_can_still_be_fixed_during_the_vote() -> None:
    step, a, b, _ = voting()
    step.vote(ZOE, a)
    step.act("rename", axis=a, name="Logement abordable")
    step.act("move", item="p5", axis=b)
    step.act("move", item="p1", axis="")
    assert step.state.axes[a].name == "Logement abordable"
    assert step.titles(b) == ["Bus trop rares le soir", "Logements mal isolés, loyers en hausse",
                              "Bus bondés le matin"]
    assert step.state.dots.score(a) == 1  # dots stay where people put them


def test_a_step_without_a_vote_cannot_open_one_nor_mark_axes() -> None:
    step = Step(retain=0)
    ax = step.axis("Un")
    assert step.refused("open_vote").code == "no_vote"
    assert step.refused("mark", axis=ax, mark="retained").code == "no_vote"


def test_the_vote_needs_an_axis() -> None:
    assert Step(retain=1).refused("open_vote").code == "no_axes"


@pytest.mark.parametrize(("phase", "name"), [
    ("grouping", "close_vote"), ("grouping", "reopen_vote"), ("grouping", "back_to_grouping"),
    ("voting", "open_vote"), ("voting", "reopen_vote"),
    ("closed", "open_vote"), ("closed", "close_vote")])
def test_a_phase_change_from_the_wrong_phase_is_refused(phase: str, name: str) -> None:
    step = Step(retain=1)
    step.axis("Un")
    if phase != "grouping":
        step.act("open_vote")
    if phase == "closed":
        step.act("close_vote")
    assert step.refused(name).code == "wrong_phase"


def test_back_to_grouping_only_while_no_dot_is_placed() -> None:
    step, a, *_ = voting()
    step.act("back_to_grouping")
    assert step.state.phase == "grouping"
    step.act("delete", axis=a)  # grouping again: the structure may change
    step.act("open_vote")
    step.act("vote", ZOE, axis="ax2")
    assert step.refused("back_to_grouping").code == "dots_cast"
    step.act("unvote", ZOE, axis="ax2")
    step.act("close_vote")
    step.act("back_to_grouping")


@pytest.mark.parametrize("mark", ["yes", None, 1, "RETAINED"])
def test_a_mark_must_be_retained_dropped_or_automatic(mark: Any) -> None:
    step, a, *_ = voting()
    assert step.refused("mark", axis=a, mark=mark).code == "bad_mark"


# -- retention and outputs ------------------------------------------------------------------------
def out(step: Step) -> list[tuple[str, str, float | None]]:
    return [(i.title, i.group, i.score) for i in step.activity.outputs(step.state)]


def test_without_a_vote_every_axis_goes_forward_with_its_problems() -> None:
    step = Step(retain=0)
    step.axis("Logement", LOGEMENT, "p1 p5")
    step.axis("Vide")
    outputs = step.activity.outputs(step.state)
    assert [(i.id, i.title, i.kind, i.group, i.score) for i in outputs] == [
        ("ax1", "Logement", "axis", LOGEMENT, None), ("ax2", "Vide", "axis", "", None)]
    # The problems exactly as received (extra fields and their own origin included)...
    assert [p.model_dump() for p in outputs[0].origin] == [
        PROBLEMS[0].model_dump(), PROBLEMS[4].model_dump()]
    # ...so the trail reaches back to the diagnosis and beyond.
    assert [i.id for i in outputs[0].trail()] == ["p1", "note-p1", "p5", "note-p5"]
    assert outputs[0].model_extra == {"theme": LOGEMENT, "rank": 1}
    # And it survives the trip through the event log (JSON) into the next step.
    again = Item.model_validate(outputs[0].model_dump(mode="json"))
    assert again.origin[0].model_extra == {"theme": "se-loger"}
    assert again.trail()[1].title == "Note de table p1"


def test_the_top_axes_by_dots_are_retained() -> None:
    step, a, b, c = voting(retain=2)
    step.vote(ZOE, b, b, c)
    step.vote(INES, c, c, a)
    step.act("close_vote")
    assert out(step) == [("Cadre de vie", CADRE, 3.0), ("Transports", MOBILITE, 2.0)]
    assert [p.id for p in step.activity.outputs(step.state)[1].origin] == ["p3", "p6"]


def test_equal_dots_are_separated_by_voters_then_size_and_the_reason_is_said() -> None:
    step, a, b, c = voting(retain=1, dots=4)
    step.vote(ZOE, a, a)  # a: 2 dots, 1 voter
    step.vote(INES, b)
    step.vote(Actor("participant", "p-ali"), b)  # b: 2 dots, 2 voters
    rows = step.activity.standings(step.state)
    assert [(r.axis.id, r.rank, r.tie_break, r.retained) for r in rows] == [
        (b, 1, "", True), (a, 2, "more people voted for that one", False), (c, 3, "", False)]
    step.act("move", item="p8", axis="")
    step.vote(Actor("participant", "p-bob"), c)
    step.vote(Actor("participant", "p-eve"), c)  # c: 2 dots, 2 voters, but fewer items than b
    rows = step.activity.standings(step.state)
    assert [(r.axis.id, r.tie_break) for r in rows][:2] == [
        (b, ""), (c, "that one groups more items")]


def test_a_tie_across_the_limit_is_flagged_and_the_first_created_is_kept() -> None:
    step, a, b, c = voting(retain=2)
    step.vote(ZOE, a, a)
    step.vote(INES, b)
    step.vote(Actor("participant", "p-ali"), c)  # b and c: 1 dot, 1 voter, 2 items each
    rows = step.activity.standings(step.state)
    assert [(r.axis.id, r.rank, r.tied, r.tied_at_cut, r.retained) for r in rows] == [
        (a, 1, False, False, True), (b, 2, True, True, True), (c, 2, True, True, False)]
    assert [i.id for i in step.activity.outputs(step.state)] == [a, b]


def test_the_facilitator_overrides_the_dots_both_ways() -> None:
    step, a, b, c = voting(retain=2)
    step.vote(ZOE, a, a, b)
    assert step.act("mark", axis=c, mark="retained") == [
        Event("axes.marked", {"axis": c, "mark": "retained"})]
    step.act("mark", axis=a, mark="dropped")
    assert {t for t, _, _ in out(step)} == {"Transports", "Cadre de vie"}
    assert step.act("mark", axis=a, mark="dropped") == []
    step.act("mark", axis=a, mark="")  # back to what the dots say
    assert [t for t, _, _ in out(step)] == ["Logement", "Transports", "Cadre de vie"]


def test_per_theme_retention_keeps_two_axes_in_each_theme() -> None:
    """The national format: three themes, two axes each, six axes in all."""
    inputs = [problem(f"q{t}{n}", f"Problème {n} du thème {t}", f"Thème {t}")
              for t in "ABC" for n in range(4)]
    step = Step(inputs, retain=2, retain_per_theme=True, dots=9, dots_per_theme=3,
                max_per_item=2)
    for t in "ABC":
        for n in range(3):
            step.axis(f"Axe {t}{n}", f"Thème {t}", f"q{t}{n}")
    step.act("open_vote")
    ballots = voters(3)
    for t in "ABC":  # in each theme, axes 2 and 1 get the most dots, axis 0 the fewest
        ids = [a.id for a in step.state.axes.values() if a.theme == f"Thème {t}"]
        step.vote(ballots[0], ids[2], ids[2], ids[1])
        step.vote(ballots[1], ids[1], ids[2], ids[0])
    step.act("close_vote")
    outputs = step.activity.outputs(step.state)
    assert [(i.group, i.title, i.score) for i in outputs] == [
        (f"Thème {t}", f"Axe {t}{n}", s) for t in "ABC" for n, s in ((2, 3.0), (1, 2.0))]
    assert all(len(i.origin) == 1 and i.origin[0].group == i.group for i in outputs)


def test_per_theme_retention_without_dots_per_theme_still_ranks_within_themes() -> None:
    step, a, b, c = voting(retain=1, retain_per_theme=True)
    step.vote(ZOE, a, a)
    assert [t for t, _, _ in out(step)] == ["Logement", "Transports", "Cadre de vie"]
    axes_without_theme = Step(retain=1, retain_per_theme=True)
    axes_without_theme.axis("Sans thème")
    assert [t for t, _, _ in out(axes_without_theme)] == ["Sans thème"]


def test_the_export_tells_the_whole_story_without_device_ids() -> None:
    step, a, b, c = voting(retain=1)
    step.vote(ZOE, b)
    step.act("close_vote")
    export = step.activity.export(step.state)
    assert export["phase"] == "closed" and export["voters"] == 1
    assert export["axes"][0] == {"id": b, "name": "Transports", "theme": MOBILITE,
                                 "items": ["Bus trop rares le soir", "Bus bondés le matin"],
                                 "dots": 1, "rank": 1, "retained": True, "mark": ""}
    assert export["unsorted"] == ["Pistes cyclables dangereuses"]
    assert [o["id"] for o in export["outputs"]] == [b]
    assert ZOE.key not in repr(export)


@pytest.mark.parametrize(("config", "message"), [
    ({"dots": 2, "max_per_item": 3}, "max_per_item cannot be larger than dots"),
    ({"dots": 4, "dots_per_theme": 5}, "dots_per_theme cannot be larger than dots"),
    ({"dots": 6, "dots_per_theme": 2, "max_per_item": 3},
     "max_per_item cannot be larger than dots_per_theme"),
    ({"retain": -1}, "greater than or equal to 0"),
    ({"colour": "red"}, "Extra inputs are not permitted")])
def test_inconsistent_settings_are_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AxesConfig(**config)


# -- who is re-rendered ---------------------------------------------------------------------------
def test_only_what_changes_a_phone_re_renders_it() -> None:
    step = Step(retain=1)
    ax = step.axis("Un")
    affected = step.activity.affected_participants
    assert list(affected(step.state, Event("axes.renamed", {}, "facilitator"))) == []
    step.act("open_vote")
    assert affected(step.state, Event("axes.vote_opened", {}, "facilitator")) == ALL
    assert affected(step.state, Event("axes.renamed", {}, "facilitator")) == ALL
    assert list(affected(step.state, Event("axes.voted", {"axis": ax}, ZOE.key))) == [ZOE.key]
    step.act("back_to_grouping")
    assert affected(step.state, Event("axes.grouping_reopened", {}, "facilitator")) == ALL


# -- suggestions ----------------------------------------------------------------------------------
def test_significant_words_ignore_stop_words_accents_and_plurals() -> None:
    assert words("Les logements sociaux de l’École") == {"logement", "sociau", "ecole"}
    assert words("Pas assez de bus, trop de problèmes !") == {"bus"}


def test_an_unsorted_item_is_suggested_for_the_axis_it_shares_words_with() -> None:
    step = Step()
    logement = step.axis("Logement", LOGEMENT, "p1")
    step.axis("Bus", MOBILITE, "p3")
    moves = {m.item.id: (m.axis_id, m.shared) for m in suggest_moves(step.state)}
    assert moves["p2"] == (logement, ("logement",))
    assert moves["p5"] == (logement, ("logement", "loyer"))
    assert moves["p6"] == ("ax2", ("bus",))
    assert "p4" not in moves and "p7" not in moves  # nothing in common with any axis
    assert [m.item.id for m in suggest_moves(step.state)][0] == "p5"  # most shared words first


def test_unsorted_items_sharing_a_word_are_suggested_as_a_new_axis() -> None:
    step = Step()
    clusters = suggest_clusters(step.state)
    assert [(c.word, [i.id for i in c.items], c.theme) for c in clusters] == [
        ("loyer", ["p1", "p5"], LOGEMENT),  # as big as "logement" (p2, p5), and came first
        ("bus", ["p3", "p6"], MOBILITE),
        ("parc", ["p7", "p8"], CADRE),
    ]
    assert clusters[0].name == "Loyer" and clusters[0].item_ids == "p1 p5"
    # An item already suggested for an axis is left out; a word already an axis name too.
    step.axis("Parc")
    assert [c.word for c in suggest_clusters(step.state, taken=["p1"])] == ["logement", "bus"]


def test_suggestions_are_shown_never_applied() -> None:
    step = Step()
    step.axis("Logement", LOGEMENT, "p1")
    before = copy.deepcopy(step.state)
    board = step.activity.view(step.state, "facilitator")
    assert board["moves"] and board["clusters"]
    assert step.state == before
    # A suggested new axis is one ordinary create action, with its items.
    cluster = board["clusters"][0]
    step.act("create", name=cluster.name, theme=cluster.theme, items=cluster.item_ids)
    assert step.titles("ax2") == [i.title for i in cluster.items]


def test_each_move_menu_opens_on_the_likeliest_axis() -> None:
    step = Step()
    step.axis("Cadre", CADRE)
    logement = step.axis("Logement", LOGEMENT, "p1")
    bus = step.axis("Bus", MOBILITE, "p3")
    preselect = step.activity.view(step.state, "facilitator")["preselect"]
    assert preselect["p5"] == logement  # shares words with it
    assert preselect["p4"] == bus  # nothing shared: the first axis of its theme
    assert preselect["p2"] == logement
    assert "p1" not in preselect  # already sorted
    no_theme = Step([Item(id="z", title="Zzz")])
    no_theme.axis("Premier")
    no_theme.axis("Second")
    assert no_theme.activity.view(no_theme.state, "facilitator")["preselect"] == {"z": "ax1"}


def test_no_suggestions_once_the_vote_started() -> None:
    step, *_ = voting()
    board = step.activity.view(step.state, "facilitator")
    assert board["moves"] == [] and board["clusters"] == []


# -- views, rendered in French and English ---------------------------------------------------------
@pytest.fixture(scope="module")
def renderer() -> Renderer:
    with mock.patch.dict(os.environ):
        os.environ.pop(LOAD_PLUGINS_ENV, None)
        pm = get_plugin_manager(load_entry_points=False)
    return Renderer(collect_activities(pm), pm)


STEP = SimpleNamespace(id="axes", title="Axes")


def render(renderer: Renderer, step: Step, lang: str, audience: str,
           me: Actor | None = None) -> str:
    if me is not None:
        view = step.activity.personal_view(step.state, me)
        template = "axes/personal.html"
    else:
        view = step.activity.view(step.state, audience)
        template = f"axes/{audience}.html"
    return html_lib.unescape(renderer.render(lang, template, {"view": view, "step": STEP}))


def test_the_panel_shows_items_to_sort_axes_and_suggestions(renderer: Renderer) -> None:
    step = Step(retain=2)
    step.axis("Logement", LOGEMENT, "p1")
    fr = render(renderer, step, "fr", "facilitator")
    en = render(renderer, step, "en", "facilitator")
    assert "7 éléments à classer" in fr and "Ouvrir le vote" in fr and "Créer l’axe" in fr
    assert "Mots en commun\u00a0: logement" in fr and "Suggestions" in fr
    assert "Créer l’axe «\u00a0Bus\u00a0» avec eux" in fr
    assert "7 items left to sort" in en and "Open the vote" in en and "Shared words: logement" in en
    assert 'data-action="move"' in en and 'data-arg-items="p3 p6"' in en
    assert attr_values(en, "data-key").count("item-p2") == 1
    assert "Ouvrir" not in en


def test_the_panel_explains_the_standings(renderer: Renderer) -> None:
    step, a, b, c = voting(retain=2)
    step.vote(ZOE, a, a)
    step.vote(INES, b)
    step.vote(Actor("participant", "p-ali"), c)
    step.act("mark", axis=a, mark="retained")
    fr = render(renderer, step, "fr", "facilitator")
    en = render(renderer, step, "en", "facilitator")
    assert "Classement" in fr and "Retenu par vous." in fr and "Égalité à la limite" in fr
    assert "3 personnes ont voté" in fr and "4 gommettes posées" in fr
    assert "Tie at the limit" in en and "Retained by you." in en and "Not retained." in en
    assert "Close the vote" in en and "Back to grouping" not in en  # dots are down
    step.vote(Actor("participant", "p-bob"), b)
    en = render(renderer, step, "en", "facilitator")
    assert "Same number of dots as the axis above; more people voted for that one." in en
    fr = render(renderer, step, "fr", "facilitator")
    assert "Autant de gommettes que l’axe au-dessus\u202f; plus de personnes ont voté" in fr


def test_a_step_without_a_vote_says_so(renderer: Renderer) -> None:
    step = Step(retain=0)
    assert "Pas de vote dans cette étape" in render(renderer, step, "fr", "facilitator")
    assert "Rien à regrouper" in render(renderer, Step([], retain=0), "fr", "facilitator")
    assert render(renderer, step, "en", "facilitator", me=None)
    assert "dots left" not in render(renderer, step, "en", "", me=ZOE)


def test_the_screen_shows_axes_forming_without_identities(renderer: Renderer) -> None:
    step = Step(prompt="Regroupons les problèmes")
    step.axis("Logement", LOGEMENT, "p1 p2 p5")
    fr = render(renderer, step, "fr", "screen")
    en = render(renderer, step, "en", "screen")
    assert "Regroupons les problèmes" in fr and "3 éléments" in fr
    assert "1 axe · 5 éléments à classer" in fr
    assert "Loyers trop chers" in fr and "1 axis · 5 items left to sort" in en
    for page in (fr, en):
        assert "Zoé" not in page and ZOE.key not in page


def test_the_screen_shows_a_selection_when_there_are_many_axes(renderer: Renderer) -> None:
    inputs = [problem(f"x{n}", f"Problème {n}", "") for n in range(20)]
    step = Step(inputs)
    step.axis("Grand axe", "", " ".join(f"x{n}" for n in range(7)))
    for n in range(14):
        step.axis(f"Axe {n}")
    view = step.activity.view(step.state, "screen")
    assert len(view["axes"]) == 12 and view["hidden_axes"] == 3
    assert [i.title for i in view["axes"][0].shown] == [f"Problème {n}" for n in range(3)]
    fr = render(renderer, step, "fr", "screen")
    assert "+ 4" in fr and "et 3 autres axes" in fr and "Axe 10" in fr and "Axe 11" not in fr
    assert "and 3 more axes" in render(renderer, step, "en", "screen")


def test_results_reach_the_screen_when_the_vote_closes(renderer: Renderer) -> None:
    step, a, b, c = voting(retain=1)
    step.vote(ZOE, b, b)
    voting_fr = render(renderer, step, "fr", "screen")
    assert "Votez sur votre téléphone" in voting_fr and 'class="bars"' not in voting_fr
    assert '<span class="count">1</span> personne a voté' in voting_fr
    step.act("close_vote")
    fr = render(renderer, step, "fr", "screen")
    en = render(renderer, step, "en", "screen")
    assert "Les axes retenus" in fr and 'class="bar bar--out"' in fr
    assert "The retained axes" in en
    assert re.search(r'data-key="bar-ax2">.*?✓</span> Transports.*?bar__value">2<', en, re.S)


def test_live_results_show_while_voting(renderer: Renderer) -> None:
    step, a, *_ = voting(results="live")
    step.vote(ZOE, a)
    assert 'class="bars"' in render(renderer, step, "en", "screen")
    assert 'class="bars"' in render(renderer, step, "en", "participant")


def test_phones_follow_the_grouping_then_vote(renderer: Renderer) -> None:
    step = Step(retain=1)
    step.axis("Logement", LOGEMENT, "p1")
    fr = render(renderer, step, "fr", "participant")
    assert "L’animation regroupe les éléments" in fr and "Loyers trop chers" in fr
    assert "gommette" not in render(renderer, step, "fr", "", me=ZOE)
    step.axis("Bus", MOBILITE)
    step.act("open_vote")
    step.vote(ZOE, "ax1")
    fr = render(renderer, step, "fr", "", me=ZOE)
    en = render(renderer, step, "en", "", me=ZOE)
    assert "Il vous reste 4 gommettes" in fr and "Ajouter une gommette" in fr
    assert "4 dots left" in en and "Add a dot" in en
    assert attr_values(en, "data-arg-axis") == ["ax1", "ax1", "ax2", "ax2"]
    assert "Placez vos gommettes sur les axes" in render(renderer, step, "fr", "participant")


def test_a_phone_cannot_press_plus_where_a_dot_would_be_refused(renderer: Renderer) -> None:
    step = Step(retain=1, retain_per_theme=True, dots=4, dots_per_theme=2, max_per_item=2)
    step.axis("Loyers", LOGEMENT, "p1")
    step.axis("Bus", MOBILITE, "p3")
    step.act("open_vote")
    step.vote(ZOE, "ax1", "ax1")
    en = render(renderer, step, "en", "", me=ZOE)
    plus = re.findall(r'<button[^>]*data-action="vote"[^>]*>', en)
    assert ["disabled" in b for b in plus] == [True, False]
    assert re.search(r"Se loger</h2>\s*<p[^>]*>0 dots left for this theme", en)
    assert re.search(r"Se déplacer</h2>\s*<p[^>]*>2 dots left for this theme", en)
    fr = render(renderer, step, "fr", "", me=ZOE)
    assert "Il vous reste 2 gommettes pour cette thématique" in fr
    step.act("close_vote")
    en = render(renderer, step, "en", "", me=ZOE)
    assert all("disabled" in b for b in re.findall(r"<button[^>]*>", en))


# -- a real server: ideas → axes → a vote on the retained axes ---------------------------------
KIT = """
[workshop]
title = "Atelier axes"
language = "fr"

[[steps]]
id = "ideas"
activity = "ideation"
title = "Problèmes"

[[steps]]
id = "axes"
activity = "axes"
title = "Axes"
from = "ideas"
[steps.config]
retain = 1
dots = 2
max_per_item = 2

[[steps]]
id = "vote"
activity = "dot_voting"
title = "Vote"
from = "axes"
"""
POSTS = {
    "Zoé": ["Bus trop rares le soir", "Loyers trop chers"],
    "Inès": ["Bus bondés le matin"],
    "Ali": ["Parc mal éclairé"],
}


def test_a_workshop_groups_posted_problems_into_axes_and_votes_on_them(tmp_path: Path) -> None:
    kit = tmp_path / "axes.toml"
    kit.write_text(KIT, encoding="utf-8")
    server = Server(tmp_path / "w.db", kit=str(kit)).start()
    try:
        run(_workshop(server))
    finally:
        server.stop()


async def _workshop(server: Server) -> None:
    facilitator = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()
    phones = {name: await Client(server, "participant").join(name).connect() for name in POSTS}
    try:
        for name, titles in POSTS.items():
            for title in titles:
                ack = await phones[name].act("post", {"title": title}, step="ideas")
                assert ack["ok"], ack
        assert (await facilitator.act("next"))["ok"]
        await eventually(facilitator, lambda: "item-" in facilitator.regions["main"],
                         "the panel lists the posted problems to sort")
        ids = _items(facilitator.regions["main"])
        assert sorted(ids) == sorted(t for ts in POSTS.values() for t in ts)
        await eventually(facilitator, lambda: "cluster-bus" in facilitator.regions["main"],
                         "the panel suggests an axis for the two bus problems")

        zoe = phones["Zoé"]
        assert (await zoe.act("create", {"name": "Bus"}, step="axes"))["error"]["code"] == \
            "forbidden"
        ack = await facilitator.act("create", {"name": "  "}, step="axes")
        assert ack["error"] == {"code": "empty_text", "field": "name",
                                "message": "Merci d’écrire quelque chose."}
        bus = " ".join(ids[t] for t in ("Bus trop rares le soir", "Bus bondés le matin"))
        assert (await facilitator.act("create", {"name": "Transports", "items": bus},
                                      step="axes"))["ok"]
        assert (await facilitator.act("create", {"name": "Logement"}, step="axes"))["ok"]
        ack = await facilitator.act("create", {"name": "logement"}, step="axes")
        assert ack["error"]["code"] == "duplicate_name"
        ack = await facilitator.act("move", {"item": ids["Loyers trop chers"], "axis": "ax2"},
                                    step="axes")
        assert ack["ok"], ack
        await eventually(screen, lambda: "Loyers trop chers" in screen.regions["main"]
                         and "Transports" in screen.regions["main"],
                         "the screen shows the axes forming with their problems")
        for name in POSTS:
            assert name not in screen.regions["main"]
        await eventually(zoe, lambda: "Transports" in zoe.regions["main"],
                         "phones follow the axes read-only")

        ack = await zoe.act("vote", {"axis": "ax1"}, step="axes")
        assert ack["error"]["code"] == "not_voting"
        assert (await facilitator.act("open_vote", step="axes"))["ok"]
        await eventually(zoe, lambda: 'data-arg-axis="ax1"' in zoe.regions.get("personal", ""),
                         "the phone gets its dot buttons")
        assert (await zoe.act("vote", {"axis": "ax1"}, step="axes"))["ok"]
        assert (await zoe.act("vote", {"axis": "ax1"}, step="axes"))["ok"]
        ack = await zoe.act("vote", {"axis": "ax2"}, step="axes")
        assert ack["error"]["code"] == "no_dots_left"
        assert ack["error"]["message"].startswith("Vous avez posé toutes vos gommettes")
        assert (await phones["Inès"].act("vote", {"axis": "ax2"}, step="axes"))["ok"]
        assert (await facilitator.act("close_vote", step="axes"))["ok"]
        await eventually(screen, lambda: "Les axes retenus" in screen.regions["main"],
                         "the screen shows the retained axes")

        assert (await facilitator.act("next"))["ok"]
        await eventually(zoe, lambda: 'data-arg-item="ax1"' in zoe.regions.get("personal", ""),
                         "the next step votes on the retained axis")
        assert 'data-arg-item="ax2"' not in zoe.regions["personal"]
    finally:
        await close_all(facilitator, screen, *phones.values())
    _check_log(server.db, ids)


def _items(main: str) -> dict[str, str]:
    """Unsorted problems on the panel: title -> item id."""
    found = re.findall(r'data-key="item-([^"]+)">\s*<p class="card__title" dir="auto">(.*?)</p>',
                       main, re.S)
    return {html_lib.unescape(title): item for item, title in found}


def _check_log(db: Path, ids: dict[str, str]) -> None:
    events = read_events(db)
    kinds = [e["kind"] for e in events if e["step"] == "axes"]
    assert kinds == ["axes.created", "axes.moved", "axes.moved", "axes.created", "axes.moved",
                     "axes.vote_opened", "axes.voted", "axes.voted", "axes.voted",
                     "axes.vote_closed"]
    opened = [e for e in events if e["kind"] == "workshop.step_opened"
              and e["data"]["step"] == "vote"]
    (axis,) = opened[0]["data"]["inputs"]
    assert (axis["id"], axis["title"], axis["kind"], axis["score"]) == (
        "ax1", "Transports", "axis", 2.0)
    assert [(o["id"], o["title"]) for o in axis["origin"]] == [
        (ids["Bus trop rares le soir"], "Bus trop rares le soir"),
        (ids["Bus bondés le matin"], "Bus bondés le matin")]
