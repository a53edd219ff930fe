"""Teams: people join a challenge's team, rank their choices, or sit at a table whose captain
picks; every refusal says why; outputs carry the trail back to the challenge; the screen
never names anyone; and against a real server a team of seven takes exactly seven people."""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from palabre.engine import ALL, Action, Actor, Event, Item, Rejection, StoredEvent
from palabre.engine.kits import load_kit, parse_kit
from palabre.engine.plugins import collect_activities, get_plugin_manager
from palabre.engine.render import Renderer
from palabre.engine.workshop import Workshop
from palabre.plugins.teams import activity as teams_activity
from palabre.plugins.teams.activity import Teams
from palabre.plugins.teams.model import TeamsConfig, TeamsState
from support import Client, Server, close_all, eventually, read_events, run

FAC = Actor("facilitator")
SCREEN = Actor("screen")
PROBLEM = Item(id="pb1", title="Les jeunes n’ont nulle part où aller le soir", kind="problem")
CHALLENGES = [
    Item(id="c1", title="Un lieu pour les ados", group="Jeunesse", origin=[PROBLEM]),
    Item(id="c2", title="Un jardin partagé", group="Cadre de vie"),
    Item(id="c3", title="Des bancs à l’ombre", group="Cadre de vie"),
]


class Room:
    """One teams step with its roster, driven the way the engine drives it."""

    def __init__(self, mode: str = "first_come", items: list[Item] | None = None, **config: Any):
        self.activity = Teams(TeamsConfig(mode=mode, **config))
        self.roster: dict[str, Actor] = {}
        self.activity.roster = self.roster
        self.state: TeamsState = self.activity.initial_state(CHALLENGES if items is None else items)

    def person(
        self,
        pid: str,
        name: str | None = None,
        table: int | None = None,
        captain: bool = False,
        role: str = "participant",
    ) -> Actor:
        name = pid.capitalize() if name is None else name
        actor = Actor(role, pid, name, table, captain)  # type: ignore[arg-type]
        self.roster[pid] = actor
        return actor

    def people(self, count: int, prefix: str = "p") -> list[Actor]:
        return [self.person(f"{prefix}{n}") for n in range(count)]

    def act(self, actor: Actor, action: str, /, **data: Any) -> list[Event]:
        events = self.activity.handle(self.state, Action(action, data), actor)
        for event in events:
            stamped = Event(event.kind, event.data, event.actor or actor.key)
            self.state = self.activity.reduce(self.state, stamped)
        return events

    def refused(self, actor: Actor, action: str, /, **data: Any) -> str:
        with pytest.raises(Rejection) as caught:
            self.activity.handle(self.state, Action(action, data), actor)
        assert caught.value.message, "a refusal always says why"
        return caught.value.code

    def members(self, item_id: str) -> list[str]:
        return list(self.state.teams[f"team-{item_id}"].members)


# -- first come, first served -----------------------------------------------------------------
def test_a_participant_joins_a_team_and_the_screen_counts_them_without_names() -> None:
    room = Room()
    ana = room.person("ana", "Ana")
    room.act(ana, "join", item="c1")
    assert room.members("c1") == ["ana"]
    screen = room.activity.view(room.state, "screen")
    card = next(t for t in screen["teams"] if t["id"] == "team-c1")
    assert (card["size"], card["max"], card["full"]) == (1, 7, False)
    assert "members" not in card and "Ana" not in repr(screen)


def test_a_full_team_refuses_the_next_person() -> None:
    room = Room(max_size=3, min_size=1)
    for actor in room.people(3):
        room.act(actor, "join", item="c1")
    late = room.person("late")
    assert room.refused(late, "join", item="c1") == "team_full"
    assert room.members("c1") == ["p0", "p1", "p2"]
    assert room.activity.view(room.state, "participant")["teams"][0]["full"]


def test_joining_a_second_team_without_leaving_the_first_is_refused() -> None:
    room = Room()
    ana = room.person("ana")
    room.act(ana, "join", item="c1")
    assert room.refused(ana, "join", item="c2") == "already_in_team"
    assert room.refused(ana, "join", item="c1") == "already_in_team"


def test_a_participant_leaves_and_joins_another_team() -> None:
    room = Room()
    ana = room.person("ana")
    room.act(ana, "join", item="c1")
    room.act(ana, "leave")
    room.act(ana, "join", item="c2")
    assert (room.members("c1"), room.members("c2")) == ([], ["ana"])


def test_leaving_without_a_team_is_refused() -> None:
    room = Room()
    assert room.refused(room.person("ana"), "leave") == "not_in_team"


def test_closed_teams_refuse_joining_and_leaving_until_reopened() -> None:
    room = Room()
    ana, bob = room.person("ana"), room.person("bob")
    room.act(ana, "join", item="c1")
    room.act(FAC, "close")
    assert room.refused(bob, "join", item="c1") == "closed"
    assert room.refused(ana, "leave") == "closed"
    room.act(FAC, "reopen")
    room.act(bob, "join", item="c1")
    assert room.members("c1") == ["ana", "bob"]


@pytest.mark.parametrize("item", ["nope", "", None, 3, ["c1"]])
def test_an_unknown_item_is_refused(item: Any) -> None:
    room = Room()
    assert room.refused(room.person("ana"), "join", item=item) == "unknown_item"


def test_a_member_volunteers_as_captain_and_a_second_volunteer_is_refused() -> None:
    room = Room()
    ana, bob, cyd = room.person("ana"), room.person("bob"), room.person("cyd")
    assert room.refused(ana, "volunteer") == "not_in_team"
    room.act(ana, "join", item="c1")
    room.act(bob, "join", item="c1")
    room.act(ana, "volunteer")
    assert room.state.teams["team-c1"].captain == "ana"
    assert room.act(ana, "volunteer") == []  # already captain: nothing changes
    assert room.refused(bob, "volunteer") == "captain_taken"
    assert room.refused(cyd, "volunteer") == "not_in_team"
    screen = room.activity.view(room.state, "screen")["teams"][0]
    assert screen["has_captain"] and "Ana" not in repr(screen)


def test_the_facilitator_designates_a_captain_in_place_of_another() -> None:
    room = Room()
    ana, bob = room.person("ana"), room.person("bob")
    for actor in (ana, bob):
        room.act(actor, "join", item="c2")
    room.act(ana, "volunteer")
    room.act(FAC, "designate", participant="bob")
    assert room.state.teams["team-c2"].captain == "bob"
    room.person("cyd")
    assert room.refused(FAC, "designate", participant="cyd") == "not_in_team"
    assert room.refused(FAC, "designate", participant="ghost") == "unknown_participant"
    room.person("judge", role="juror")
    assert room.refused(FAC, "designate", participant="judge") == "unknown_participant"


def test_a_captain_who_leaves_leaves_the_team_without_a_captain() -> None:
    room = Room()
    ana, bob = room.person("ana"), room.person("bob")
    room.act(ana, "join", item="c1")
    room.act(bob, "join", item="c1")
    room.act(ana, "volunteer")
    room.act(ana, "leave")
    assert room.state.teams["team-c1"].captain is None
    room.act(bob, "volunteer")
    assert room.state.teams["team-c1"].captain == "bob"


def test_only_the_captain_names_the_team_and_the_facilitator_can_clear_it() -> None:
    room = Room()
    ana, bob = room.person("ana"), room.person("bob")
    assert room.refused(ana, "name_team", name="Les Castors") == "not_in_team"
    room.act(ana, "join", item="c1")
    room.act(bob, "join", item="c1")
    room.act(ana, "volunteer")
    assert room.refused(bob, "name_team", name="Les Castors") == "not_captain"
    assert room.refused(ana, "name_team", name="x" * 41) == "too_long"
    room.act(ana, "name_team", name="  Les Castors 🦫 ")
    team = room.activity.view(room.state, "screen")["teams"][0]
    assert (team["title"], team["name"]) == ("Les Castors 🦫", "Les Castors 🦫")
    assert room.refused(FAC, "name_team", team="team-zz", name="") == "unknown_team"
    room.act(FAC, "name_team", team="team-c1", name="")
    assert room.activity.view(room.state, "screen")["teams"][0]["title"] == "Un lieu pour les ados"


def test_the_facilitator_moves_someone_even_into_a_full_team_or_out_of_any() -> None:
    room = Room(max_size=2, min_size=1)
    ana, bob, cyd = room.person("ana"), room.person("bob"), room.person("cyd")
    room.act(ana, "join", item="c1")
    room.act(bob, "join", item="c1")
    room.act(cyd, "join", item="c2")
    room.act(cyd, "volunteer")
    room.act(FAC, "move", participant="cyd", team="team-c1")
    assert room.members("c1") == ["ana", "bob", "cyd"] and room.members("c2") == []
    assert room.state.teams["team-c2"].captain is None
    facilitator = room.activity.view(room.state, "facilitator")
    assert next(t for t in facilitator["teams"] if t["id"] == "team-c1")["over"]
    assert room.act(FAC, "move", participant="cyd", team="team-c1") == []
    room.act(FAC, "move", participant="cyd", team="")
    assert room.state.team_of("cyd") is None
    assert room.refused(FAC, "move", participant="cyd", team="") == "not_in_team"
    assert room.refused(FAC, "move", participant="cyd", team="team-zz") == "unknown_team"
    assert room.refused(FAC, "move", participant="ghost", team="team-c1") == "unknown_participant"


@pytest.mark.parametrize(
    ("mode", "action", "data"),
    [
        ("first_come", "rank", {"choice1": "c1"}),
        ("first_come", "pick", {"item": "c1"}),
        ("first_come", "assign", {}),
        ("ranked", "join", {"item": "c1"}),
        ("ranked", "leave", {}),
        ("tables", "join", {"item": "c1"}),
        ("tables", "volunteer", {}),
        ("tables", "designate", {"participant": "ana"}),
        ("tables", "move", {"participant": "ana", "team": ""}),
    ],
)
def test_an_action_of_another_mode_is_refused(mode: str, action: str, data: dict[str, Any]) -> None:
    room = Room(mode)
    ana = room.person("ana", table=1, captain=True)
    actor = FAC if action in ("assign", "designate", "move") else ana
    assert room.refused(actor, action, **data) == "wrong_mode"


KIT = """
[workshop]
title = "Défis"
tables = 3

[[steps]]
id = "teams"
activity = "teams"
title = "Équipes"
[steps.config]
mode = "{mode}"
items = [{{id = "c1", title = "Un lieu pour les ados"}}]
"""


@pytest.mark.parametrize(
    ("mode", "role", "action"),
    [
        ("first_come", "participant", "close"),
        ("first_come", "participant", "move"),
        ("first_come", "participant", "designate"),
        ("first_come", "screen", "join"),
        ("first_come", "juror", "join"),
        ("first_come", "facilitator", "join"),
        ("ranked", "participant", "assign"),
        ("ranked", "juror", "rank"),
        ("tables", "screen", "pick"),
        ("tables", "juror", "name_team"),
    ],
)
def test_the_wrong_role_is_refused_before_the_activity_sees_the_action(
    mode: str, role: str, action: str
) -> None:
    activities = collect_activities(get_plugin_manager(load_entry_points=False))
    workshop = Workshop(parse_kit(KIT.format(mode=mode), "kit.toml", activities), "w")
    for event in workshop.open_first_step():
        workshop.apply(event)
    actor = Actor(role, "someone" if role in ("participant", "juror") else None)  # type: ignore[arg-type]
    with pytest.raises(Rejection) as caught:
        workshop.decide(actor, "teams", action, {"item": "c1"}, "a1")
    assert caught.value.code == "forbidden"


def test_an_action_the_activity_does_not_know_is_refused() -> None:
    assert Room().refused(FAC, "participant", participant="x") == "unknown_action"


def test_affected_participants_are_the_team_before_and_after() -> None:
    room = Room()
    ana, bob, cyd = room.person("ana"), room.person("bob"), room.person("cyd")
    room.act(ana, "join", item="c1")
    room.act(bob, "join", item="c1")
    [event] = room.act(cyd, "join", item="c1")
    stamped = Event(event.kind, event.data, "cyd")
    assert set(room.activity.affected_participants(room.state, stamped)) == {"ana", "bob", "cyd"}
    [moved] = room.act(FAC, "move", participant="bob", team="team-c2")
    stamped = Event(moved.kind, moved.data, "facilitator")
    assert set(room.activity.affected_participants(room.state, stamped)) == {"ana", "bob", "cyd"}
    [closed] = room.act(FAC, "close")
    assert room.activity.affected_participants(room.state, closed) == ALL


# -- outputs --------------------------------------------------------------------------------
def test_each_team_with_people_becomes_an_item_that_leads_back_to_its_problem() -> None:
    room = Room()
    ana, bob, cyd = room.person("ana", "Ana"), room.person("bob", "Bob"), room.person("cyd", "")
    for actor in (ana, bob, cyd):
        room.act(actor, "join", item="c1")
    room.act(bob, "volunteer")
    room.act(bob, "name_team", name="Les Castors")
    [team] = room.activity.outputs(room.state)  # empty teams are not outputs
    assert (team.id, team.kind, team.title, team.group) == (
        "team-c1",
        "team",
        "Les Castors",
        "Jeunesse",
    )
    assert team.origin == [CHALLENGES[0]]
    assert [i.id for i in team.trail()] == ["c1", "pb1"]
    extra = team.model_dump()
    assert extra["members"] == ["ana", "bob", "cyd"]
    assert extra["member_names"] == ["Ana", "Bob", ""]
    assert (extra["size"], extra["captain"], extra["captain_name"]) == (3, "bob", "Bob")
    assert extra["item_id"] == "c1" and "table" not in extra
    exported = room.activity.export(room.state)
    assert "ana" not in repr(exported) and "Ana" in repr(exported)


def test_a_shortlist_keeps_the_first_items_of_the_previous_step() -> None:
    room = Room(shortlist=2)
    assert list(room.state.items) == ["c1", "c2"]
    assert [t["id"] for t in room.activity.view(room.state, "screen")["teams"]] == [
        "team-c1",
        "team-c2",
    ]


def test_without_a_previous_step_the_kit_items_are_used() -> None:
    activity = Teams(TeamsConfig(items=[{"id": "k1", "title": "Défi du kit"}]))  # type: ignore[list-item]
    assert [i.title for i in activity.initial_state([]).items.values()] == ["Défi du kit"]
    assert list(activity.initial_state(CHALLENGES[:1]).items) == ["c1"]


def test_a_kit_cannot_ask_for_a_min_size_above_the_max_size() -> None:
    with pytest.raises(ValueError, match="min_size"):
        TeamsConfig(min_size=8, max_size=7)


# -- ranked choices ---------------------------------------------------------------------------
def test_a_participant_ranks_distinct_items_and_can_change_them() -> None:
    room = Room("ranked")
    ana = room.person("ana")
    room.act(ana, "rank", choice1="c2", choice2="", choice3="c1")
    assert room.state.rankings["ana"] == ["c2", "c1"]
    room.act(ana, "rank", choice1="c3")
    assert room.state.rankings["ana"] == ["c3"]
    personal = room.activity.personal_view(room.state, ana)
    assert [i.id for i in personal["ranking"]] == ["c3"] and personal["slots"] == 3


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"choice1": "c1", "choice2": "c1"}, "duplicate_choice"),
        ({"choice1": "c1", "choice2": "c2", "choice3": "c3", "choice4": "c1"}, "too_many_choices"),
        ({"choice1": "", "choice2": ""}, "no_choice"),
        ({}, "no_choice"),
        ({"choice1": "zz"}, "unknown_item"),
        ({"choice1": 7}, "unknown_item"),
    ],
)
def test_a_bad_ranking_is_refused(data: dict[str, Any], code: str) -> None:
    room = Room("ranked")
    assert room.refused(room.person("ana"), "rank", **data) == code


def test_rankings_close_with_the_step_and_for_good_once_the_teams_are_made() -> None:
    room = Room("ranked", min_size=1)
    ana = room.person("ana")
    room.act(FAC, "close")
    assert room.refused(ana, "rank", choice1="c1") == "closed"
    room.act(FAC, "reopen")
    room.act(ana, "rank", choice1="c1")
    room.act(FAC, "assign")
    assert room.refused(ana, "rank", choice1="c2") == "already_assigned"


def test_the_assignment_is_one_event_with_the_whole_result_and_replay_never_reruns_it() -> None:
    room = Room("ranked", min_size=2, max_size=3)
    people = room.people(6)
    wishes = [("c1", "c2")] * 4 + [("c2", "c1"), ("c3", "c2")]
    for actor, (first, second) in zip(people, wishes, strict=True):
        room.act(actor, "rank", choice1=first, choice2=second)
    late = room.person("late")  # ranked nothing: goes to the least-full team
    [event] = room.act(FAC, "assign")
    assert event.kind == "teams.assigned"
    assert event.data["satisfaction"] == {"1": 5, "2": 1, "unranked": 1}
    assert event.data["dropped"] == []
    assert room.members("c1") == ["p0", "p1", "p2"]
    assert room.members("c2") == ["p3", "p4"]
    assert room.members("c3") == ["p5", "late"]  # the least-full team
    assert room.refused(FAC, "assign") == "already_assigned"
    # Replaying the log folds the stored result: the algorithm is not called again.
    fresh = Room("ranked", min_size=2, max_size=3)
    fresh.roster.update(room.roster)
    with mock.patch.object(teams_activity, "assign", side_effect=AssertionError("re-run")):
        fresh.state = fresh.activity.reduce(
            fresh.state, Event(event.kind, event.data, "facilitator")
        )
    assert fresh.state.member_of == room.state.member_of
    assert fresh.activity.affected_participants(fresh.state, event) == ALL
    report = room.activity.view(room.state, "facilitator")["satisfaction"]
    assert report == [("1", 5), ("2", 1), ("unranked", 1)]
    assert late.key in room.state.member_of


def test_there_is_nothing_to_assign_without_people_or_items() -> None:
    assert Room("ranked").refused(FAC, "assign") == "nothing_to_assign"
    empty = Room("ranked", items=[])
    empty.person("ana")
    assert empty.refused(FAC, "assign") == "nothing_to_assign"


def test_moving_people_waits_for_the_assignment_then_works() -> None:
    room = Room("ranked", min_size=1)
    ana, bob = room.person("ana"), room.person("bob")
    assert room.refused(FAC, "move", participant="ana", team="team-c1") == "not_assigned"
    room.act(ana, "rank", choice1="c1")
    room.act(bob, "rank", choice1="c2")
    room.act(FAC, "assign")
    room.act(FAC, "move", participant="bob", team="team-c1")
    assert room.members("c1") == ["ana", "bob"]
    room.act(bob, "volunteer")
    assert room.state.teams["team-c1"].captain == "bob"


def test_too_few_people_drop_the_least_wanted_items_unless_the_kit_keeps_them_all() -> None:
    for keep_all, teams in ((False, ["team-c1"]), (True, ["team-c1", "team-c2", "team-c3"])):
        room = Room("ranked", min_size=3, keep_all_items=keep_all)
        for actor in room.people(4):
            room.act(actor, "rank", choice1="c1")
        room.act(FAC, "assign")
        shown = [t["id"] for t in room.activity.view(room.state, "screen")["teams"]]
        assert shown == (teams if not keep_all else ["team-c1", "team-c2", "team-c3"])
        outputs = [i.id for i in room.activity.outputs(room.state)]
        assert outputs == [t for t in teams if room.state.teams[t].members]


# -- tables -----------------------------------------------------------------------------------
def seated(mode: str = "tables", **config: Any) -> tuple[Room, dict[str, Actor]]:
    room = Room(mode, **config)
    people = {
        "cap1": room.person("cap1", "Capucine", 1, True),
        "ana": room.person("ana", "Ana", 1),
        "cap2": room.person("cap2", "Côme", 2, True),
        "bob": room.person("bob", "Bob", 2),
        "cap3": room.person("cap3", "Céleste", 3, True),
        "dan": room.person("dan", "Dan", 4),
        "nomad": room.person("nomad", "Nomade"),
        "judge": room.person("judge", "Juge", 1, role="juror"),
    }
    return room, people


def test_a_table_captain_picks_the_item_and_the_table_is_the_team() -> None:
    room, p = seated()
    room.act(p["cap1"], "pick", item="c2")
    mine = room.activity.personal_view(room.state, p["ana"])
    assert mine["team"]["item"].id == "c2" and mine["table"] == 1
    assert mine["mates"] == ["Capucine"] and mine["captain_name"] == "Capucine"
    [team] = room.activity.outputs(room.state)
    assert team.model_dump()["members"] == ["cap1", "ana"]  # the juror is no member
    assert (team.id, team.model_dump()["table"], team.origin[0].id) == ("table-1", 1, "c2")
    assert team.model_dump()["captain"] == "cap1"


def test_several_tables_pick_the_same_item_up_to_the_limit() -> None:
    room, p = seated(max_tables_per_item=2)
    room.act(p["cap1"], "pick", item="c1")
    room.act(p["cap2"], "pick", item="c1")
    assert room.refused(p["cap3"], "pick", item="c1") == "item_full"
    assert room.act(p["cap1"], "pick", item="c1") == []  # its own choice again: nothing new
    room.act(p["cap3"], "pick", item="c3")
    screen = room.activity.view(room.state, "screen")
    assert [(r["item"].id, r["tables"], r["full"]) for r in screen["by_item"]] == [
        ("c1", [1, 2], True),
        ("c2", [], False),
        ("c3", [3], False),
    ]
    assert screen["unpicked"] == 1  # table 4 has no captain and no choice yet
    assert "Ana" not in repr(screen) and "Capucine" not in repr(screen)


def test_only_a_seated_captain_picks_for_the_table_while_it_is_open() -> None:
    room, p = seated()
    assert room.refused(p["ana"], "pick", item="c1") == "not_captain"
    assert room.refused(p["nomad"], "pick", item="c1") == "no_table"
    assert room.refused(p["cap1"], "pick", item="zz") == "unknown_item"
    room.act(FAC, "close")
    assert room.refused(p["cap1"], "pick", item="c1") == "closed"


def test_the_facilitator_picks_for_a_table_without_a_captain() -> None:
    room, p = seated()
    room.act(FAC, "pick", table="4", item="c3")
    assert room.activity.personal_view(room.state, p["dan"])["team"]["item"].id == "c3"
    assert room.refused(FAC, "pick", table="9", item="c3") == "unknown_table"
    assert room.refused(FAC, "pick", table="quatre", item="c3") == "unknown_table"


def test_a_table_captain_names_the_table_and_others_cannot() -> None:
    room, p = seated()
    room.act(p["cap2"], "name_team", name="Les Hérons")
    assert room.refused(p["bob"], "name_team", name="Les Canards") == "not_captain"
    assert room.refused(p["nomad"], "name_team", name="Seul") == "no_table"
    room.act(p["cap2"], "pick", item="c1")
    [team] = room.activity.outputs(room.state)
    assert (team.title, team.model_dump()["name"]) == ("Les Hérons", "Les Hérons")
    room.act(FAC, "name_team", team="table-2", name="")
    assert room.activity.outputs(room.state)[0].title == "Un lieu pour les ados"


def test_people_without_a_table_are_counted_for_the_facilitator() -> None:
    room, p = seated()
    view = room.activity.view(room.state, "facilitator")
    assert [x["name"] for x in view["unassigned_people"]] == ["Nomade"]
    assert [t["table"] for t in view["teams"]] == [1, 2, 3, 4]
    assert room.activity.personal_view(room.state, p["nomad"])["team"] is None


# -- rendering --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def renderer() -> Renderer:
    pm = get_plugin_manager(load_entry_points=False)
    return Renderer(collect_activities(pm), pm)


def _rooms() -> dict[str, tuple[Room, Actor]]:
    first = Room()
    ana = first.person("ana", "Ana <b>")
    first.act(ana, "join", item="c1")
    first.act(ana, "volunteer")
    first.act(ana, "name_team", name="Les <Castors>")
    first.act(first.person("bob", "Bob"), "join", item="c1")
    ranked = Room("ranked", min_size=1)
    cyd = ranked.person("cyd", "Cyd")
    ranked.act(cyd, "rank", choice1="c2", choice2="c1")
    assigned = Room("ranked", min_size=1)
    dee = assigned.person("dee", "Dee")
    assigned.act(dee, "rank", choice1="c2")
    assigned.act(FAC, "assign")
    tables, p = seated()
    tables.act(p["cap1"], "pick", item="c1")
    return {
        "first_come": (first, ana),
        "ranked": (ranked, cyd),
        "assigned": (assigned, dee),
        "tables": (tables, p["cap1"]),
        "empty": (Room(items=[]), Actor("participant", "x")),
    }


def _render(renderer: Renderer, lang: str, template: str, view: dict[str, Any]) -> str:
    step = SimpleNamespace(id="teams")
    return html.unescape(
        renderer.render(lang, f"teams/{template}.html", {"view": view, "step": step})
    )


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("case", ["first_come", "ranked", "assigned", "tables", "empty"])
def test_every_template_renders_in_both_languages_and_the_screen_names_nobody(
    renderer: Renderer, lang: str, case: str
) -> None:
    room, me = _rooms()[case]
    a = room.activity
    for audience in ("facilitator", "screen", "participant"):
        assert _render(renderer, lang, audience, a.view(room.state, audience))
    assert _render(renderer, lang, "personal", a.personal_view(room.state, me))
    screen = _render(renderer, lang, "screen", a.view(room.state, "screen"))
    for name in ("Ana", "Bob", "Cyd", "Dee", "Capucine"):
        assert name not in screen


def test_first_come_views_read_naturally_in_french_and_english(renderer: Renderer) -> None:
    room, ana = _rooms()["first_come"]
    a = room.activity
    fr_screen = _render(renderer, "fr", "screen", a.view(room.state, "screen"))
    en_screen = _render(renderer, "en", "screen", a.view(room.state, "screen"))
    assert "Les <Castors>" in fr_screen and "2/7" in fr_screen and "capitaine ✓" in fr_screen
    assert "2 personnes en équipe" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fr_screen))
    assert "captain ✓" in en_screen and "capitaine" not in en_screen
    personal = a.personal_view(room.state, ana)
    fr_me = _render(renderer, "fr", "personal", personal)
    assert "Vous êtes le capitaine" in fr_me and "Bob" in fr_me and "Nom de l’équipe" in fr_me
    assert "You are the captain" in _render(renderer, "en", "personal", personal)
    participant = _render(renderer, "fr", "participant", a.view(room.state, "participant"))
    assert "Rejoindre" in participant and 'data-arg-item="c2"' in participant
    board = _render(renderer, "fr", "facilitator", a.view(room.state, "facilitator"))
    assert "Ana <b>" in board and "Clore les équipes" in board and "Nommer capitaine" in board
    raw = renderer.render(
        "fr",
        "teams/facilitator.html",
        {"view": a.view(room.state, "facilitator"), "step": SimpleNamespace(id="t")},
    )
    assert "Ana <b>" not in raw and "Ana &lt;b&gt;" in raw  # escaped


def test_ranked_and_tables_views_read_naturally_in_french_and_english(renderer: Renderer) -> None:
    rooms = _rooms()
    ranked, cyd = rooms["ranked"]
    form = _render(renderer, "fr", "personal", ranked.activity.personal_view(ranked.state, cyd))
    assert 'name="choice3"' in form and "Modifier mes choix" in form and "Vos choix" in form
    assert re.search(r'<option value="c2" selected>', form)
    en = _render(renderer, "en", "personal", ranked.activity.personal_view(ranked.state, cyd))
    assert "Change my choices" in en
    assigned, _ = rooms["assigned"]
    board = _render(
        renderer, "fr", "facilitator", assigned.activity.view(assigned.state, "facilitator")
    )
    assert "choix n°\u00a01" in board and "Comment les choix ont été respectés" in board
    tables, cap1 = rooms["tables"]
    me = _render(renderer, "fr", "personal", tables.activity.personal_view(tables.state, cap1))
    assert "Votre table\u00a0: 1" in me and "Choisir pour ma table" in me and "Ana" in me
    screen = _render(renderer, "en", "screen", tables.activity.view(tables.state, "screen"))
    assert "Table 1" in screen and "still choosing" in screen


# -- against a real server --------------------------------------------------------------------
CHALLENGE_TITLES = [
    "Un lieu pour les ados",
    "Jardin partagé",
    "Bancs à l’ombre",
    "Fête des voisins",
    "Boîte à livres",
    "Café des aînés",
    "Piste cyclable sûre",
    "Éclairage de l’allée",
    "Atelier réparation",
    "Cours de français",
    "Aire de jeux",
    "Marché du soir",
]
CREATIVITY_KIT = """
[workshop]
title = "Journée créativité"
language = "fr"

[[steps]]
id = "shortlist"
activity = "dot_voting"
title = "Les défis"
[steps.config]
dots = 3
max_per_item = 1
results = "live"
items = [{items}]

[[steps]]
id = "teams"
activity = "teams"
title = "Les équipes"
from = "shortlist"
[steps.config]
mode = "first_come"
shortlist = 3
min_size = 3
max_size = 7
"""


def _kit(path: Path, text: str, items: list[str], prefix: str) -> Path:
    entries = ", ".join(
        f'{{id = "{prefix}{n + 1:02d}", title = "{t}"}}' for n, t in enumerate(items)
    )
    path.write_text(text.format(items=entries), encoding="utf-8")
    return path


def _replay(db: Path, kit: Path) -> Workshop:
    """The workshop as the log tells it, rebuilt in this process."""
    activities = collect_activities(get_plugin_manager(load_entry_points=False))
    workshop = Workshop(load_kit(kit, activities), "replay")
    for row in read_events(db):
        workshop.apply(
            StoredEvent(
                row["seq"],
                row["ts"],
                row["step"],
                row["kind"],
                row["actor"],
                row["action_id"],
                row["data"],
            )
        )
    return workshop


def _ids_by_name(db: Path) -> dict[str, str]:
    return {
        e["data"]["name"]: e["actor"] for e in read_events(db) if e["kind"] == "participant.joined"
    }


def _text(region: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", region)))


def test_ten_phones_racing_for_a_team_of_seven_get_exactly_seven_places(
    tmp_path: Path, start_server: Any
) -> None:
    kit = _kit(tmp_path / "creativite.toml", CREATIVITY_KIT, CHALLENGE_TITLES, "c")
    server: Server = start_server(tmp_path / "w.db", kit=str(kit))
    names = [f"Zoé {n}" for n in range(10)]

    async def main() -> None:
        facilitator = await Client(server, "facilitator").login().connect()
        screen = await Client(server, "screen").login().connect()
        phones = [Client(server, "participant").join(name) for name in names]
        try:
            await asyncio.gather(*(p.connect() for p in phones))
            # The vote shortlists c07, c11 and c03 (in that order) out of twelve.
            for phone, items in ((phones[0], ["c07", "c11", "c03"]), (phones[1], ["c07", "c11"])):
                for item in items:
                    assert (await phone.act("vote", {"item": item}, "shortlist"))["ok"]
            assert (await facilitator.act("next"))["ok"]
            for phone in phones:
                await eventually(
                    phone,
                    lambda p=phone: 'data-action="join"' in p.regions["main"],
                    "the teams step reaches the phone",
                )
            shown = re.findall(r'data-arg-item="(c\d+)"', phones[0].regions["main"])
            assert shown == ["c07", "c11", "c03"]

            ids = await asyncio.gather(*(p.send("join", {"item": "c07"}, "teams") for p in phones))
            for phone, action_id in zip(phones, ids, strict=True):
                await eventually(phone, lambda p=phone, i=action_id: i in p.acks, "an answer")
            acks = [p.acks[i] for p, i in zip(phones, ids, strict=True)]
            inside = [p for p, a in zip(phones, acks, strict=True) if a["ok"]]
            refused = [a["error"] for a in acks if not a["ok"]]
            assert len(inside) == 7, acks
            assert [e["code"] for e in refused] == ["team_full"] * 3
            assert all("complète" in e["message"] for e in refused)
            joined = [e for e in read_events(server.db) if e["kind"] == "teams.joined"]
            assert len(joined) == 7 and {e["data"]["team"] for e in joined} == {"team-c07"}

            await eventually(screen, lambda: "7/7" in screen.regions["main"], "7/7 on screen")
            assert "complète" in _text(screen.regions["main"])
            outside = [p for p in phones if p not in inside]
            for phone in outside:
                assert (await phone.act("join", {"item": "c11"}, "teams"))["ok"]

            captain, mate = inside[0], inside[1]
            assert (await captain.act("volunteer", {}, "teams"))["ok"]
            second = await mate.act("volunteer", {}, "teams")
            assert second["error"]["code"] == "captain_taken"
            assert (await captain.act("name_team", {"name": "Les Castors"}, "teams"))["ok"]
            await eventually(
                screen,
                lambda: "Les Castors" in screen.regions["main"],
                "the team's chosen name on the screen",
            )
            assert not any(name in _text(screen.regions["main"]) for name in names)
            by_phone = {p: n for p, n in zip(phones, names, strict=True)}
            await eventually(
                mate,
                lambda: "Les Castors" in mate.regions["personal"],
                "the team-mate sees the team's name",
            )
            personal = _text(mate.regions["personal"])
            assert f"Capitaine : {by_phone[captain]}" in personal.replace("\u00a0", " ")
            assert all(by_phone[p] in personal for p in inside[2:])
            await eventually(
                facilitator,
                lambda: all(n in _text(facilitator.regions["main"]) for n in names),
                "the facilitator sees everyone's name in their team",
            )

            assert (await facilitator.act("close", {}, "teams"))["ok"]
            late = await mate.act("leave", {}, "teams")
            assert late["error"]["code"] == "closed"
        finally:
            await close_all(facilitator, screen, *phones)

    run(main())
    server.stop()
    ids = _ids_by_name(server.db)
    outputs = _replay(server.db, kit).step_by_id("teams")
    assert outputs is not None
    teams = {t.id: t for t in outputs.activity.outputs(outputs.state)}
    assert list(teams) == ["team-c07", "team-c11"]  # nobody chose c03: no team
    castors = teams["team-c07"]
    assert castors.title == "Les Castors" and castors.origin[0].id == "c07"
    assert castors.origin[0].score == 2.0  # the challenge, as the vote ranked it
    assert castors.model_dump()["size"] == 7 and len(teams["team-c11"].model_dump()["members"]) == 3
    assert castors.model_dump()["captain"] in {ids[n] for n in names}


TABLES_KIT = """
[workshop]
title = "Hackathon citoyen"
language = "fr"
tables = 4

[[steps]]
id = "axes"
activity = "dot_voting"
title = "Les axes"
[steps.config]
items = [{items}]

[[steps]]
id = "tables"
activity = "teams"
title = "Chaque table choisit son axe"
from = "axes"
[steps.config]
mode = "tables"
max_tables_per_item = 2
"""
SEATS = [
    ("Capucine", 1, True),
    ("Ana", 1, False),
    ("Côme", 2, True),
    ("Bob", 2, False),
    ("Céleste", 3, True),
    ("Dan", 3, False),
    ("Élise", 4, False),
    ("Fred", 4, False),
]
AXES = ["Mobilité", "Logement", "Santé", "Culture", "Emploi", "Environnement"]


def test_table_captains_pick_an_axis_for_their_table_and_the_roster_makes_the_teams(
    tmp_path: Path, start_server: Any
) -> None:
    kit = _kit(tmp_path / "tables.toml", TABLES_KIT, AXES, "a")
    server: Server = start_server(tmp_path / "w.db", kit=str(kit))

    async def main() -> None:
        facilitator = await Client(server, "facilitator").login().connect()
        screen = await Client(server, "screen").login().connect()
        phones: dict[str, Client] = {}
        try:
            for name, table, captain in SEATS:
                client = Client(server, "participant")
                form = {"name": name, "table": str(table)} | ({"captain": "on"} if captain else {})
                response = client.http.post(f"/j/{server.join_code}", data=form)
                assert response.status_code == 200 and response.url.path == "/p", response.text
                phones[name] = client
            await asyncio.gather(*(p.connect() for p in phones.values()))
            assert (await facilitator.act("next"))["ok"]
            cap1, cap2, cap3, ana = (phones[n] for n in ("Capucine", "Côme", "Céleste", "Ana"))
            await eventually(
                cap1,
                lambda: 'data-action="pick"' in cap1.regions["personal"],
                "the captain's choice form",
            )
            await eventually(ana, lambda: "team-mine" in ana.regions["personal"], "Ana's table")
            assert 'data-action="pick"' not in ana.regions["personal"]

            assert (await cap1.act("pick", {"item": "a01"}, "tables"))["ok"]
            assert (await cap2.act("pick", {"item": "a01"}, "tables"))["ok"]
            third = await cap3.act("pick", {"item": "a01"}, "tables")
            assert third["error"]["code"] == "item_full", third
            assert (await cap3.act("pick", {"item": "a02"}, "tables"))["ok"]
            not_mine = await ana.act("pick", {"item": "a03"}, "tables")
            assert not_mine["error"]["code"] == "not_captain"
            assert (await facilitator.act("pick", {"table": "4", "item": "a03"}, "tables"))["ok"]
            assert (await cap1.act("name_team", {"name": "Les Hérons"}, "tables"))["ok"]

            await eventually(
                ana,
                lambda: "Les Hérons" in ana.regions["personal"],
                "Ana sees her table's choice and name",
            )
            mine = _text(ana.regions["personal"]).replace("\u00a0", " ")
            assert "Votre table : 1" in mine and "Mobilité" in mine and "Capucine" in mine
            await eventually(
                screen, lambda: "Table\u00a04" in screen.regions["main"], "every table's choice"
            )
            wall = _text(screen.regions["main"]).replace("\u00a0", " ")
            assert "Table 1" in wall and "Table 2" in wall and "Table 4" in wall
            assert not any(name in wall for name, _, _ in SEATS)

            ids = _ids_by_name(server.db)
            fred = phones["Fred"]
            await eventually(
                fred, lambda: "Santé" in fred.regions["personal"], "table 4's axis, on Fred's phone"
            )
            moved = await facilitator.act("set_table", {"participant": ids["Fred"], "table": "3"})
            assert moved["ok"], moved
            await eventually(
                fred,
                lambda: "Logement" in fred.regions["personal"],
                "Fred now works on table 3's axis",
            )
            assert "Votre table : 3" in _text(fred.regions["personal"]).replace("\u00a0", " ")
        finally:
            await close_all(facilitator, screen, *phones.values())

    run(main())
    server.stop()
    ids = _ids_by_name(server.db)
    runtime = _replay(server.db, kit).step_by_id("tables")
    assert runtime is not None
    teams = [t.model_dump() for t in runtime.activity.outputs(runtime.state)]
    assert [(t["id"], t["table"], t["item_id"], t["title"]) for t in teams] == [
        ("table-1", 1, "a01", "Les Hérons"),
        ("table-2", 2, "a01", "Mobilité"),
        ("table-3", 3, "a02", "Logement"),
        ("table-4", 4, "a03", "Santé"),
    ]
    assert teams[0]["members"] == [ids["Capucine"], ids["Ana"]]
    assert teams[0]["captain"] == ids["Capucine"] and teams[3]["captain"] is None
    assert teams[2]["member_names"] == ["Céleste", "Dan", "Fred"]
    assert teams[3]["member_names"] == ["Élise"]
