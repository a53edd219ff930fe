"""Every built-in activity keeps the `ActivityContract` on a state with content, and every check
of the contract can fail: each is shown failing on a small specimen with one deliberate defect.
(A whole kit keeping the contract step after step: test_rehearsal.py.)"""

from __future__ import annotations

import random
import sys
import time
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ConfigDict, Field

from palabre.engine import N_, Action, Activity, ActivityConfig, Actor, Event, Item, Rejection
from palabre.engine.contract import ActivityContract
from palabre.engine.testing import Rehearsal
from palabre.plugins.axes.activity import Axes
from palabre.plugins.diagnosis.activity import Diagnosis
from palabre.plugins.dot_voting.activity import DotVoting
from palabre.plugins.ideation.activity import Ideation
from palabre.plugins.jury.activity import Jury
from palabre.plugins.pitches.activity import Pitches
from palabre.plugins.results.activity import Results
from palabre.plugins.teams.activity import Teams

# -- what earlier steps hand on, as a kit's chain makes it -----------------------------------------
MOB, JOB = "Se déplacer", "Premier emploi"
PROBLEMS = [  # as diagnosis outputs them: group is the theme's title, theme its id
    Item(id=i, title=t, kind="problem", group=g, theme="mob" if g == MOB else "job")
    for i, t, g in (("pb-bus", "Plus de bus après 21 h", MOB), ("pb-stage", "Peu de stages", JOB),
                    ("pb-velo", "Aucun garage à vélos", MOB), ("pb-cv", "Relire un CV", JOB))]
AXES = [Item(id=f"ax{n}", title=title, kind="axis", group=g, score=5.0 - n, rank=1, theme=g,
             origin=PROBLEMS[n - 1::2]) for n, title, g in ((1, "Rentrer le soir", MOB),
                                                            (2, "Un premier stage", JOB))]
CHALLENGES = [Item(id=i, title=t, score=n) for i, t, n in (
    ("velo", "Rendre le vélo plus sûr", 9.0), ("cantine", "Moins de gaspillage", 7.0),
    ("ados", "Occuper les ados l’été", 4.0))]
PROJECTS = [Item(id=f"idea-{n}", title=title, kind="project", group=axis.title, origin=[axis],
                 merged=0, need="Un local", table=n) for n, title, axis in (
    (1, "Navette du soir", AXES[0]), (2, "Des stages", AXES[1]), (3, "Vélo-école", AXES[0]))]
# People of an earlier step: ids and names of no one who joins a rehearsal below.
CREWS = [["earlier-1", "earlier-2"], ["earlier-3"], ["earlier-4"]]
NAMES = [["Anatole Brise", "Cunégonde Vaillant"], ["Eudoxie Marmotte"], ["Fulbert Grenade"]]
TEAMS = [
    Item(id=f"team-{p.id}", title=f"Équipe {p.title}", kind="team", group=p.group, origin=[p],
         item_id=p.id, name="", members=ids, member_names=names, size=len(ids),
         captain=ids[0], captain_name=names[0])
    for p, ids, names in zip(PROJECTS, CREWS, NAMES, strict=True)
]
PITCHED = [t.model_copy(update={"pitched": True, "pitch_seconds": 170, "skipped": False})
           for t in TEAMS]
RANKED = [p.model_copy(update={"rank": rank, "tied": False, "score": score}) for p, rank, score
          in zip((PITCHED[1], PITCHED[0], PITCHED[2]), (1, 2, 3), (84.0, 71.0, 40.0), strict=True)]


# -- the built-in activities, each played through its real actions ---------------------------------
class TestDiagnosisContract(ActivityContract):
    activity = Diagnosis
    config = {"themes": [{"id": "mob", "title": MOB}, {"id": "job", "title": JOB}],
              "prompt": "Qu’est-ce qui ne va pas ?", "max_problems_per_participant": 3}

    def play(self, room: Rehearsal) -> None:
        zephyrine, barnabe = room.join("Zéphyrine Quillard"), room.join("Barnabé Tournesol")
        first = zephyrine.act("post", title="Plus de bus le soir", theme="mob")[0].data["problem"]
        zephyrine.act("post", title="Trottoirs encombrés", description="Poussettes", theme="mob")
        again = barnabe.act("post", title="Le bus s’arrête tôt", theme="mob")[0].data["problem"]
        barnabe.act("post", title="Peu de stages en 3e", theme="job")
        doublon = barnabe.act("post", title="Doublon", theme="job")[0].data["problem"]
        barnabe.act("withdraw", problem=doublon)
        room.facilitator.act("merge", problem=again, into=first)
        assert barnabe.refused("post", title="Sans thème").code == "unknown_theme"


class TestAxesContract(ActivityContract):
    activity = Axes
    config = {"prompt": "Regroupons", "retain": 1, "dots": 3, "max_per_item": 2}
    inputs = PROBLEMS

    def play(self, room: Rehearsal) -> None:
        zephyrine, barnabe = room.join("Zéphyrine Quillard"), room.join("Barnabé Tournesol")
        panel = room.facilitator
        panel.act("create", name="Rentrer le soir", theme=MOB, items="pb-bus pb-velo")
        panel.act("create", name="Un premier stage", theme=JOB, items="pb-stage")
        panel.act("move", item="pb-cv", axis="ax2")
        panel.act("open_vote")
        for person, axis in ((zephyrine, "ax1"), (zephyrine, "ax1"), (barnabe, "ax2")):
            person.act("vote", axis=axis)
        panel.act("close_vote")


class TestIdeationContract(ActivityContract):
    activity = Ideation
    config = {"sheet": "table", "output_kind": "project", "prompt": "Un projet par table",
              "extra_fields": [{"name": "need", "label": "Le besoin", "required": True},
                               {"name": "budget", "label": "Le budget"}]}
    inputs = AXES
    tables = 3

    def play(self, room: Rehearsal) -> None:
        zephyrine = room.join("Zéphyrine Quillard", table=1, captain=True)
        barnabe = room.join("Barnabé Tournesol", table=1)
        ondine = room.join("Ondine Pastoureau", table=2)
        room.join("Hippolyte Farandole")  # not seated yet
        sheet = zephyrine.act("post", title="Navette solidaire", frame="ax1", need="Un minibus")
        barnabe.act("edit", idea=sheet[0].data["idea"], title="Navette du soir",
                    need="Un minibus, deux chauffeurs", budget="12 000 €")
        ondine.act("post", title="Parrainer des stages", frame="ax2", need="Des entreprises")
        assert ondine.refused("post", title="Autre", frame="ax2", need="x").code == "too_many"


class TestDotVotingContract(ActivityContract):
    activity = DotVoting
    config = {"dots": 3, "max_per_item": 2, "results": "on_reveal", "retain": 2}
    inputs = CHALLENGES

    def play(self, room: Rehearsal) -> None:
        zephyrine, barnabe = room.join("Zéphyrine Quillard"), room.join("Barnabé Tournesol")
        for person, item in ((zephyrine, "velo"), (zephyrine, "velo"), (zephyrine, "ados"),
                             (barnabe, "cantine"), (barnabe, "velo")):
            person.act("vote", item=item)
        barnabe.act("unvote", item="cantine")
        room.facilitator.act("close")
        room.facilitator.act("reveal")


class TestTeamsContract(ActivityContract):
    activity = Teams
    config = {"mode": "first_come", "min_size": 2, "max_size": 3, "prompt": "Choisissez"}
    inputs = CHALLENGES

    def play(self, room: Rehearsal) -> None:
        zephyrine, barnabe = room.join("Zéphyrine Quillard"), room.join("Barnabé Tournesol")
        ondine = room.join("Ondine Pastoureau")
        room.join("Hippolyte Farandole")  # still without a team
        for person, item in ((zephyrine, "velo"), (barnabe, "velo"), (ondine, "cantine")):
            person.act("join", item=item)
        zephyrine.act("volunteer")
        # The screen shows the name a team gives itself (teams/screen.html): nobody's name.
        zephyrine.act("name_team", name="Les Rayons")
        room.facilitator.act("move", participant=ondine.participant_id, team="team-ados")


class TestPitchesContract(ActivityContract):
    activity = Pitches
    config = {"duration_seconds": 180, "warn_seconds": 30, "questions_seconds": 60}
    inputs = TEAMS

    def play(self, room: Rehearsal) -> None:
        room.join("Zéphyrine Quillard")
        room.join("Barnabé Tournesol", lang="en")
        panel = room.facilitator
        for action, seconds in (("start", 100), ("pause", 20), ("resume", 130), ("done", 45),
                                ("next", 0)):
            panel.act(action)
            room.clock.advance(seconds)
        panel.act("add_time", seconds=30)
        panel.act("skip", mode="later")
        panel.act("start")
        room.clock.advance(12)  # the checks look while a pitch is being timed


class TestJuryContract(ActivityContract):
    activity = Jury
    config = {"criteria": [{"id": "besoin", "label": "Répond à un besoin", "weight": 2},
                           {"id": "faisable", "label": "Faisable en un an"}],
              "audience_weight": 0.25, "audience_dots": 2}
    inputs = PITCHED

    def play(self, room: Rehearsal) -> None:
        zephyrine = room.join("Zéphyrine Quillard", role="juror")
        barnabe = room.join("Barnabé Tournesol", role="juror", lang="en")
        ondine = room.join("Ondine Pastoureau")
        for juror, marks in ((zephyrine, (5, 3, 2)), (barnabe, (4, 4, 1))):
            for team, mark in zip(TEAMS, marks, strict=True):
                juror.act("score", item=team.id, criterion="besoin", score=str(mark))
                juror.act("score", item=team.id, criterion="faisable", score=mark)
        barnabe.act("declare_conflict", item=TEAMS[2].id)
        ondine.act("vote", item=TEAMS[1].id)
        room.facilitator.act("close")
        room.facilitator.act("reveal")


class TestResultsContract(ActivityContract):
    activity = Results
    config = {"title": "Les projets", "award_limits": {"proto": 1}, "festive": True,
              "awards": [{"id": "proto", "label": "Prototype"}, {"id": "etude", "label": "Étude"}]}
    inputs = RANKED

    def play(self, room: Rehearsal) -> None:
        room.join("Zéphyrine Quillard")
        room.join("Barnabé Tournesol", lang="en")
        for item, award in ((RANKED[0], "proto"), (RANKED[1], "etude"), (RANKED[2], "etude")):
            room.facilitator.act("give_award", item=item.id, award=award)
        room.facilitator.act("publish")  # "Étude" first, the main award last


# -- specimens: one deliberate defect each ---------------------------------------------------------
SPECIMENS = "palabre_contract_specimens"  # their templates: <tmp_path>/templates/<audience>.html
TEMPLATES = {"facilitator.html": "<p>{{ _('Count') }} {{ view.count }}</p>",
             "screen.html": "<p>{{ view.count }}</p>", "personal.html": "<p>{{ view.mine }}</p>",
             "participant.html": "<p>{{ view.count }}</p>"}


@pytest.fixture
def templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The specimens' module "lives" in tmp_path, beside the templates a test may rewrite."""
    (tmp_path / "templates").mkdir()
    for name, text in TEMPLATES.items():
        (tmp_path / "templates" / name).write_text(text, encoding="utf-8")
    module = types.ModuleType(SPECIMENS)
    module.__file__ = str(tmp_path / "specimens.py")
    monkeypatch.setitem(sys.modules, SPECIMENS, module)
    return tmp_path / "templates"


class TallyConfig(ActivityConfig):
    step: int = Field(default=1, ge=1, le=9)


class Tally(Activity):
    """A sound activity: participants add 1 to 9 to a shared count."""

    __module__ = SPECIMENS
    slug, name, Config = "tally", "Tally", TallyConfig
    actions = {"add": frozenset({"participant"})}

    def initial_state(self, inputs: list[Item]) -> dict[str, Any]:
        return {"count": 0, "by": {}, "tries": 0}

    def handle(self, state: Any, action: Action, actor: Actor) -> list[Event]:
        n = action.data.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 9:
            raise Rejection("bad_n", N_("Give a whole number from 1 to 9."), field="n")
        return [Event("tally.added", {"n": n * self.config.step})]

    def reduce(self, state: Any, event: Event) -> Any:
        state["count"] += event.data["n"]
        state["by"][event.actor] = state["by"].get(event.actor, 0) + event.data["n"]
        return state

    def view(self, state: Any, audience: Any) -> dict[str, Any]:
        return {"count": state["count"]}

    def personal_view(self, state: Any, me: Actor) -> dict[str, Any]:
        return {"mine": state["by"].get(me.key, 0)}

    def export(self, state: Any) -> dict[str, Any]:
        return {"count": state["count"], "people": len(state["by"])}


@pytest.mark.usefixtures("templates")
class TestTallyContract(ActivityContract):
    """The sound specimen keeps the contract: each failure below comes of one defect."""

    activity = Tally

    def play(self, room: Rehearsal) -> None:
        room.join("Zéphyrine d’Aubigné-Quillard").act("add", n=3)
        room.join('Barnabé "Babar" O\'Tournesol', lang="en").act("add", n=4)


def fails(activity: type[Activity], check: str, match: str, **settings: Any) -> str:
    contract = type("Checked", (TestTallyContract,), {"activity": activity, **settings})()
    with pytest.raises(AssertionError, match=match) as caught:
        getattr(contract, f"test_{check}")()
    return str(caught.value)


def specimen(class_name: str, /, **members: Any) -> type[Activity]:
    return type(class_name, (Tally,), {"__module__": SPECIMENS, **members})


@pytest.mark.parametrize(("only", "shown"), [("", "Zéphyrine d’Aubigné-Quillard"),
                                             ("Babar", "Barnabé &#34;Babar&#34; O&#39;Tournesol")])
def test_a_screen_that_shows_a_participants_name_fails_the_contract(
    templates: Path, only: str, shown: str
) -> None:
    # Found as the template escapes it (&#39;), not only as html.escape would (&#x27;).
    (templates / "screen.html").write_text("{% for a in workshop.roster.actors.values() %}"
                                           f"{{% if '{only}' in a.name %}}{{{{ a.name }}}}"
                                           "{% endif %}{% endfor %}", encoding="utf-8")
    fails(Tally, "screen_views_carry_no_participant_identity", rf"the screen \(fr\) shows '{shown}")


@pytest.mark.parametrize("held", ["ids", "names"])
def test_a_screen_view_model_holding_who_took_part_fails_the_contract(
    templates: Path, held: str
) -> None:
    who = specimen("Who", view=lambda self, state, audience: {"count": state["count"], "who": (
        sorted(state["by"]) if held == "ids"  # never shown, still held
        else [a.name for a in self.roster.values() if "Babar" in a.name])})
    message = fails(who, "screen_views_carry_no_participant_identity", "view model holds")
    assert held == "ids" or r'\\"Babar' in message  # found as JSON writes it


@pytest.mark.parametrize(("value", "match"), [
    (lambda state: {"Zéphyrine"}, "not JSON: Object of type set"),
    (lambda state: ("a", "b"), "tuples become lists"),
    (lambda state: datetime(2026, 1, 1, tzinfo=UTC), "not JSON: Object of type datetime"),
    (lambda state: float("nan"), "not JSON: Out of range float"),
    (lambda state: dict(state["by"]), r"the export holds Person\('participant'")],  # device ids
    ids=["set", "tuple", "datetime", "nan", "device-ids"])
def test_an_export_that_json_cannot_keep_or_that_holds_device_ids_fails_the_contract(
    templates: Path, value: Any, match: str
) -> None:
    odd = specimen("Exporting", export=lambda self, state: {"n": state["count"], "v": value(state)})
    fails(odd, "export_is_json_serialisable", match)


def paired(self: Tally, state: Any, action: Action, actor: Actor) -> list[Event]:
    events = Tally.handle(self, state, action, actor)
    return [Event(e.kind, e.data | {"pair": (1, 2)}) for e in events]


@pytest.mark.parametrize(("handle", "luck"), [
    (Tally.handle, lambda event: random.random()), (Tally.handle, lambda event: time.time()),
    # The store writes event data as JSON: after a restart, a tuple comes back as a list.
    (paired, lambda event: isinstance(event.data["pair"], tuple))],
    ids=["random", "time.time", "a-tuple-in-event-data"])
def test_a_reduce_that_is_not_deterministic_fails_the_replay(
    templates: Path, handle: Any, luck: Any
) -> None:
    dice = specimen("Dice", handle=handle, export=lambda self, state: dict(state),
                    reduce=lambda self, state, event: Tally.reduce(self, state, event)
                    | {"lucky": luck(event)})
    fails(dice, "replay_is_deterministic", "replaying the log gives another export")


def fragile(self: Tally, state: Any, action: Action, actor: Actor) -> list[Event]:
    return Tally.handle(self, state, action, actor) if action.data["n"] else []  # KeyError


def counting(self: Tally, state: Any, action: Action, actor: Actor) -> list[Event]:
    state["tries"] += 1  # shown nowhere: only the state itself tells
    return Tally.handle(self, state, action, actor)


@pytest.mark.parametrize(("handle", "match"), [
    (fragile, r"'add' by participant with \{\} raised KeyError\('n'\): refuse bad input with"),
    (counting, r"'add' by participant with \{\}: `handle` changed the state")],
    ids=["raises-on-missing-data", "changes-the-state-then-refuses"])
def test_a_handle_that_crashes_or_changes_the_state_fails_the_contract(
    templates: Path, handle: Any, match: str
) -> None:
    fails(specimen("Handling", handle=handle), "odd_data_is_refused_not_crashed", match)


class ZeroStep(ActivityConfig):
    step: int = Field(default=0, ge=1, le=9)  # a default its own rule refuses


class Loose(TallyConfig):
    model_config = ConfigDict(extra="allow")


class LooseLabelled(Loose):
    label: str  # refused without it: the unknown setting must be what is refused


@pytest.mark.parametrize(("config_class", "check", "match", "config"), [
    (ZeroStep, "default_config_is_valid", "a default value breaks", {}),
    (Loose, "config_refuses_unknown_settings", "misspelt", {}),
    (LooseLabelled, "config_refuses_unknown_settings", "misspelt", {"label": "x"})])
def test_a_config_that_breaks_its_own_rules_or_takes_unknown_settings_fails_the_contract(
    templates: Path, config_class: type[ActivityConfig], check: str, match: str, config: Any
) -> None:
    fails(specimen("Configured", Config=config_class), check, match, config=config)


@pytest.mark.parametrize(
    ("template", "text", "match"),
    [("screen.html", None, r"no template 'tally/screen.html' .*/templates/<audience>.html"),
     ("screen.html", "{% if lang == 'en' %}{{ view.total }}{% endif %}.", "screen/en .*Undefined"),
     ("personal.html", "{{ view.mine }}{{ me.nmae }}", "personal/.* UndefinedError"),
     ("screen.html", "  ", "the screen view is empty after play")],
    ids=["missing", "fails-in-english", "personal-typo", "empty"],
)
def test_a_template_that_is_missing_fails_or_shows_nothing_fails_the_contract(
    templates: Path, template: str, text: str | None, match: str
) -> None:
    if text is None:
        (templates / template).unlink()
    else:
        (templates / template).write_text(text, encoding="utf-8")
    fails(Tally, "every_audience_renders", match)


@pytest.mark.parametrize(
    ("members", "match"),
    [({"slug": "Tally-2"}, "slug 'Tally-2'"), ({"name": ""}, "name must be a short text"),
     ({"actions": {"add": "participant"}}, "roles go in a frozenset"),
     ({"actions": {"add": frozenset({"admin"})}}, "unknown roles {'admin'}")],
)
def test_a_badly_declared_activity_fails_the_contract(members: dict[str, Any], match: str) -> None:
    fails(specimen("Badly", **members), "slug_name_and_actions_are_well_formed", match)
