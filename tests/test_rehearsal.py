"""`Rehearsal` plays an activity (or a whole kit) in memory through the engine's real paths, on
a clock the test moves; the opt-in pytest plugin re-checks each rehearsal after the test.

The plugin's own tests run pytest inside pytest with the `pytester` fixture, which pytest
ships turned off. `pytest_plugins = ["pytester"]` turns it on from a test module (as here) or
from the top-level conftest (tests/conftest.py could, but it is the server tests' too); pytest
refuses it only in a conftest *below* the top-level one. `-p pytester` would do as well, but
every run of this file would need it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateNotFound, UndefinedError

from palabre.engine import Action, Activity, Actor, Event, Item
from palabre.engine.contract import ActivityContract
from palabre.engine.testing import START, Rehearsal
from palabre.plugins.dot_voting.activity import DotVoting

pytest_plugins = ["pytester"]

KITS = Path(__file__).resolve().parent.parent / "facilitator_kits"
VOTE = {"dots": 2, "max_per_item": 1, "items": [
    {"id": "velo", "title": "Des arceaux à vélos"}, {"id": "banc", "title": "Des bancs à l’ombre"}]}


class Stamp(Activity):
    """Records when each action arrived, as the server's clock said (`Action.at`)."""

    slug, name = "stamp", "Stamp"
    actions = {"stamp": frozenset({"participant"}), "tag": frozenset({"participant"})}

    def initial_state(self, inputs: list[Item]) -> dict[str, Any]:
        return {"at": []}

    def handle(self, state: Any, action: Action, actor: Actor) -> list[Event]:
        if action.name == "tag":  # a set: the log on disk (JSON) cannot hold it
            return [Event("stamp.tagged", {"tags": {"a", "b"}})]
        return [Event("stamp.stamped", {"at": action.at})]

    def reduce(self, state: Any, event: Event) -> Any:
        state["at"].append(event.data.get("at"))
        return state


# -- acting ----------------------------------------------------------------------------------------
def test_people_join_act_and_see_their_votes_counted() -> None:
    room = Rehearsal(DotVoting, VOTE)
    zephyrine = room.join("Zéphyrine Quillard")
    (voted,) = zephyrine.act("vote", item="velo")
    assert (voted.kind, voted.data, voted.actor) == ("dot_voting.voted", {"item": "velo"},
                                                    zephyrine.participant_id)
    room.join("Barnabé Tournesol", lang="en").act("vote", item="banc")
    assert [e.kind for e in room.events("dot_voting.")] == ["dot_voting.voted"] * 2
    assert zephyrine.view()["left"] == 1 and room.view("facilitator")["voters"] == 2
    assert room.export()["ranking"] == [{"id": "velo", "title": "Des arceaux à vélos", "dots": 1},
                                        {"id": "banc", "title": "Des bancs à l’ombre", "dots": 1}]
    assert [(i.id, i.score) for i in room.outputs()] == [("velo", 1.0), ("banc", 1.0)]
    assert zephyrine.name == "Zéphyrine Quillard" and room.step_id == "step"


def test_a_refusal_has_a_code_and_reads_in_french_and_in_english() -> None:
    room = Rehearsal(DotVoting, VOTE)
    zephyrine = room.join("Zéphyrine Quillard")
    zephyrine.act("vote", item="velo")
    full = zephyrine.refused("vote", item="velo")
    assert (full.code, full.params) == ("item_full", {"limit": 1})
    assert room.message(full, "fr") == (
        "Vous avez atteint le maximum de gommettes sur cette proposition (1).")
    assert room.message(full, "en") == "This item already has the most dots allowed (1)."
    assert room.message(full) == room.message(full, "fr")  # the kit's language
    with pytest.raises(AssertionError, match="'vote' by participant was accepted"):
        zephyrine.refused("vote", item="banc")


def test_roles_are_enforced_as_the_server_enforces_them() -> None:
    room = Rehearsal(DotVoting, VOTE)
    zephyrine, juror = room.join("Zéphyrine Quillard"), room.join("Gaspard Lumineux", role="juror")
    forbidden = zephyrine.refused("reveal")
    assert forbidden.code == "forbidden"
    assert room.message(forbidden, "en") == "You are not allowed to do that."
    assert room.message(forbidden, "fr") == "Vous ne pouvez pas faire cela."
    assert juror.refused("vote", item="velo").code == "forbidden"
    assert room.facilitator.refused("vote", item="velo").code == "forbidden"
    assert zephyrine.refused("no_such_action").code == "unknown_action"
    assert room.events() == []  # nothing refused left a trace
    room.facilitator.act("reveal")
    assert room.view("screen")["revealed"]


def test_the_clock_only_moves_forward_and_each_action_arrives_at_its_time() -> None:
    room = Rehearsal(Stamp)
    zephyrine = room.join("Zéphyrine Quillard")
    assert room.clock() == START  # 2026-01-01 00:00 UTC, for every rehearsal
    zephyrine.act("stamp")
    assert room.clock.advance(90.5) == START + 90.5
    zephyrine.act("stamp")
    room.clock.advance(0)
    zephyrine.act("stamp")
    for wrong in (-1, -0.001, math.nan, math.inf):
        with pytest.raises(ValueError, match="only moves forward"):
            room.clock.advance(wrong)
    assert room.state["at"] == [START, START + 90.5, START + 90.5] == [
        e.data["at"] for e in room.events()]
    assert [e.ts for e in room.log[-3:]] == room.state["at"]  # the log is stamped alike


def test_event_data_the_log_cannot_store_is_refused_at_once() -> None:
    room = Rehearsal(Stamp)
    with pytest.raises(TypeError, match="'stamp.tagged' cannot be written to the log"):
        room.join("Zéphyrine Quillard").act("tag")
    assert room.events() == []


# -- reading ---------------------------------------------------------------------------------------
def test_every_audience_renders_in_both_languages_with_a_personal_region() -> None:
    room = Rehearsal(DotVoting, VOTE | {"results": "live"})
    zephyrine = room.join("Zéphyrine Quillard")
    barnabe = room.join("Barnabé Tournesol", lang="en")
    zephyrine.act("vote", item="velo")
    assert "Des arceaux à vélos" in room.html("facilitator")
    assert "Des arceaux à vélos" in room.html("screen", "en")
    assert "Il vous reste 1 gommette" in zephyrine.html()
    assert "2 dots left" in barnabe.html("en")
    pages = room.every_html()
    assert set(pages) == {f"{where}/{lang}" for lang in ("fr", "en") for where in (
        "facilitator", "screen", "participant",
        f"personal/{zephyrine.participant_id}", f"personal/{barnabe.participant_id}")}
    with pytest.raises(ValueError, match="only people with a phone"):
        room.facilitator.html()


def test_an_unknown_audience_is_a_clear_error() -> None:
    room = Rehearsal(DotVoting, VOTE)
    with pytest.raises(ValueError, match=r"audience must be one of \('facilitator', 'screen'"):
        room.html("projector")
    with pytest.raises(ValueError, match="audience must be one of"):
        room.html("personal")


class Bare(DotVoting):
    """dot_voting's templates over a view that lacks what they read."""

    __module__ = DotVoting.__module__  # so its templates are found: plugins/dot_voting/templates

    def view(self, state: Any, audience: Any) -> dict[str, Any]:
        return {"open": True}


def test_template_errors_are_raised_not_hidden_behind_the_failure_region() -> None:
    room = Rehearsal(Bare, VOTE)
    with pytest.raises(UndefinedError, match="show_results"):
        room.html("screen")
    with pytest.raises(UndefinedError):
        room.every_html()
    # What the server shows instead, where the rehearsal raises:
    assert "This step cannot be shown right now." in room.views.shared("screen", "en")["main"]
    stamp = Rehearsal(Stamp)  # no templates at all next to this module
    with pytest.raises(TemplateNotFound, match="stamp/screen.html"):
        stamp.html("screen")


# -- the log ---------------------------------------------------------------------------------------
def test_a_replay_rebuilds_the_same_state_views_and_export() -> None:
    room = Rehearsal(DotVoting, VOTE)
    zephyrine, barnabe = room.join("Zéphyrine Quillard"), room.join("Barnabé Tournesol")
    zephyrine.act("vote", item="velo")
    room.clock.advance(30)
    barnabe.act("vote", item="banc")
    barnabe.act("unvote", item="banc")
    room.facilitator.act("close")
    again = room.replay()
    assert again.export() == room.export() and again.outputs() == room.outputs()
    assert again.every_html() == room.every_html()
    assert again.clock() == room.clock() and again.log == room.log
    assert [p.name for p in again.people] == ["Zéphyrine Quillard", "Barnabé Tournesol"]
    # The replayed room goes on where the first one stopped.
    assert again.people[1].refused("vote", item="velo").code == "closed"


def test_from_kit_takes_a_path_a_path_as_text_or_toml_text() -> None:
    path = KITS / "quick-start.toml"
    for kit in (path, str(path), path.read_text(encoding="utf-8")):
        room = Rehearsal.from_kit(kit)
        assert (room.step_id, room.activity.slug, room.language) == ("ideas", "ideation", "fr")


def test_a_quick_start_kit_plays_its_ideas_into_the_vote() -> None:
    room = Rehearsal.from_kit(KITS / "quick-start.toml")
    zephyrine = room.join("Zéphyrine Quillard")
    for title in ("Un composteur partagé", "Une fête des voisins"):
        zephyrine.act("post", title=title)
    ideas = room.outputs()
    room.next()
    assert room.step_id == "vote" and list(room.state.items) == [i.id for i in ideas]
    zephyrine.act("vote", item=ideas[1].id)
    room.previous()
    assert room.step_id == "ideas" and len(room.outputs()) == 2  # the step kept its state
    room.goto("vote")
    assert room.export()["ranking"][0]["title"] == "Une fête des voisins"


class _OnTheDay(ActivityContract):
    """The contract's checks on a room playing a whole kit, at its current step."""

    def __init__(self, room: Rehearsal) -> None:
        self.room = room

    def rehearsal(self) -> Rehearsal:
        return self.room


def test_a_whole_day_flows_step_to_step_and_keeps_the_contract_at_each() -> None:
    # The same people from the first step to the last: a team's members are in the room
    # when it is pitched, scored and awarded.
    room = Rehearsal.from_kit(KITS / "challenge-shortlist.toml")
    people = [room.join(n) for n in ("Zéphyrine Quillard", "Barnabé Tournesol", "Ondine Pastour")]
    juror, panel = room.join("Gaspard Lumineux", role="juror"), room.facilitator

    def checked(step: str) -> list[str]:
        assert room.step_id == step
        room.clock.advance(90)
        day = _OnTheDay(room)
        for check in ("screen_views_carry_no_participant_identity", "replay_is_deterministic",
                      "export_is_json_serialisable"):
            getattr(day, f"test_{check}")()
        handed_on = [item.id for item in room.outputs()]
        if step != "palmares":
            room.next()
        return handed_on

    for person in people:
        person.act("vote", item="velo")
        person.act("vote", item="ombre")
    shortlist = checked("defis")
    assert len(shortlist) == 7 and list(room.state.items) == shortlist
    for person, item in zip(people, ("velo", "velo", "ombre"), strict=True):
        person.act("join", item=item)
    people[0].act("volunteer")
    people[0].act("name_team", name="Les Rayons")
    teams = checked("equipes")
    assert teams == ["team-velo", "team-ombre"] and room.state.queue == teams
    for action in ("start", "done", "next", "start"):
        panel.act(action)
        room.clock.advance(90)
    pitched = checked("pitchs")
    assert list(room.state.items) == pitched == teams
    for item in room.state.items:
        for criterion in room.activity.config.criteria:
            juror.act("score", item=item, criterion=criterion.id, score=5 if item < "team-v" else 3)
    panel.act("reveal")
    assert checked("jury") == ["team-ombre", "team-velo"]
    assert [row.item.id for row in room.state.rows] == ["team-ombre", "team-velo"]
    panel.act("give_award", item="team-ombre", award="laureat")
    panel.act("publish")
    checked("palmares")
    assert room.outputs()[0].model_extra["award"] == "laureat"


# -- the opt-in pytest plugin ----------------------------------------------------------------------
AUTHOR_TESTS = '''
import random

from palabre.engine import Activity, Event


class Count(Activity):
    slug, name = "count", "Count"
    actions = {"add": frozenset({"participant"})}

    def initial_state(self, inputs):
        return {"n": 0, "babel": False}

    def handle(self, state, action, actor):
        return [Event("count.added")]

    def reduce(self, state, event):
        state["n"] += 1
        return state

    def view(self, state, audience):
        return dict(state)

    def export(self, state):
        return dict(state)


class Shaky(Count):
    def reduce(self, state, event):
        state["n"] += random.random()  # a replay gives another count
        return state


class Babel(Count):
    def initial_state(self, inputs):
        return {"n": 0, "babel": True}  # its screen fails in English only


def test_a_sound_activity(rehearse):
    room = rehearse(Count)
    room.join("Zéphyrine Quillard").act("add")
    assert room.export()["n"] == 1


def test_a_reduce_that_is_not_deterministic(rehearse):
    room = rehearse(Shaky)
    room.join("Zéphyrine Quillard").act("add")


def test_a_screen_that_fails_in_english(rehearse):
    room = rehearse(Babel)
    assert "0" in room.html("screen", "fr")


def test_a_test_that_fails_on_its_own(rehearse):
    rehearse(Shaky).join("Zéphyrine Quillard").act("add")
    assert False, "the test's own failure"
'''
SCREEN = "<p>{{ view.n }}{% if view.babel and lang == 'en' %}{{ view.missing }}{% endif %}</p>"


@pytest.fixture
def author_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """An activity author's project: a test module and, beside it, the activity's templates."""
    pytester.makepyfile(test_count=AUTHOR_TESTS)
    templates = pytester.mkdir("templates")
    for audience in ("facilitator", "participant"):
        (templates / f"{audience}.html").write_text("<p>{{ view.n }}</p>", encoding="utf-8")
    (templates / "screen.html").write_text(SCREEN, encoding="utf-8")
    return pytester


def test_the_rehearse_fixture_checks_rendering_and_replay_after_each_test(
    author_project: pytest.Pytester,
) -> None:
    # In a subprocess: in-process, the plugin module and palabre.engine.testing are already
    # imported by this run, so pytest could not rewrite their asserts.
    result = author_project.runpytest_subprocess("-p", "palabre.engine.pytest_plugin")
    result.assert_outcomes(passed=3, failed=1, errors=2)
    result.stdout.fnmatch_lines([
        "palabre *; other plugins: *",
        "*ERROR at teardown of test_a_reduce_that_is_not_deterministic*",
        "E*AssertionError: after this test, a replay gives another export",
        "*ERROR at teardown of test_a_screen_that_fails_in_english*",
        "E*UndefinedError: 'dict object' has no attribute 'missing'",
        "*test_a_test_that_fails_on_its_own*",
        "E*AssertionError: the test's own failure",
    ])
    # A test that failed on its own is not reported twice; a sound one has nothing to report.
    for name in ("test_a_test_that_fails_on_its_own", "test_a_sound_activity"):
        assert f"teardown of {name}" not in result.stdout.str()


def test_without_the_plugin_there_is_no_rehearse_fixture(author_project: pytest.Pytester) -> None:
    result = author_project.runpytest_subprocess("-k", "sound")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'rehearse' not found*"])
    assert "other plugins:" not in result.stdout.str()
