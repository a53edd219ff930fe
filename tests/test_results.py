"""The restitution: awards given from the panel and revealed one at a time, then the ranking;
every project traced back to the problems it answers; a team sees its own result; every
refusal has its code."""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from palabre.engine import Action, Actor, Event, Item, Rejection
from palabre.engine.kits import parse_kit
from palabre.engine.plugins import collect_activities, get_plugin_manager
from palabre.engine.render import Renderer
from palabre.engine.workshop import Workshop
from palabre.plugins.results.activity import Results, ResultsConfig, ResultsState
from palabre.plugins.results.trail import trail_of

ACTIVITIES = collect_activities(get_plugin_manager(load_entry_points=False))
AWARDS = [
    {"id": "prize", "label": "Prix du jury"},
    {"id": "prototype", "label": "Prototype"},
    {"id": "study", "label": "Conservé pour étude"},
]
FACILITATOR = Actor("facilitator")
TEAMS = {"t1": "Les Tilleuls", "t2": "Les Œillets"}
ROOT = Path(__file__).resolve().parent.parent


# -- a day's chain: problems → axis → idea → team → pitch, ranked by a jury -------------------
def problems() -> list[Item]:
    return [
        Item(id="pb1", title="Personnes âgées isolées", kind="problem", group="Isolement"),
        Item(id="pb2", title="Aucun lieu <pour> se retrouver", kind="problem"),
        Item(id="pb3", title="Bancs cassés", kind="problem"),
        Item(id="pb4", title="Pas de transport le soir", kind="problem"),
    ]


def chain(title: str, item_id: str, members: list[Any], rank: int) -> Item:
    axis = Item(id=f"ax-{item_id}", title="Lien social", kind="axis", origin=problems())
    idea = Item(id=f"idea-{item_id}", title=title, kind="idea", origin=[axis])
    team = Item(id=f"team-{item_id}", title=TEAMS[item_id], kind="team", origin=[idea],
                members=members)
    return Item(id=item_id, title=title, kind="pitch", origin=[team], rank=rank, tied=False,
                score=100.0 - 10 * rank)


def ranked_projects() -> list[Item]:
    return [
        chain("Café des voisins", "t1", ["me", "p2"], 1),
        chain("Jardin partagé", "t2", [{"participant": "p3"}], 2),
        Item(id="t3", title="Boîte à livres", rank=3, tied=True),
        Item(id="t4", title="Piste cyclable", rank=3, tied=True),
    ]


def make(**config: Any) -> tuple[Results, ResultsState]:
    results = Results(ResultsConfig.model_validate({"awards": AWARDS} | config))
    return results, results.initial_state(ranked_projects())


def act(results: Results, state: ResultsState, name: str, **data: Any) -> ResultsState:
    for event in results.handle(state, Action(name, data), FACILITATOR):
        state = results.reduce(state, Event(event.kind, event.data, "facilitator"))
    return state


def refusal(results: Results, state: ResultsState, name: str, **data: Any) -> str:
    before = copy.deepcopy(state)
    with pytest.raises(Rejection) as caught:
        results.handle(state, Action(name, data), FACILITATOR)
    assert state == before, "a refused action must leave the state as it was"
    return caught.value.code


# -- trail --------------------------------------------------------------------------------------
def test_a_project_is_traced_back_to_its_team_axis_and_problems() -> None:
    trail = trail_of(chain("Café des voisins", "t1", ["me"], 1))
    assert trail.team == "Les Tilleuls"
    assert trail.project == ""  # the headline already says it
    assert trail.axis == "Lien social"
    assert trail.problems == (
        "Personnes âgées isolées", "Aucun lieu <pour> se retrouver", "Bancs cassés",
        "Pas de transport le soir",
    )
    assert trail.members == {"me"}


def test_a_team_headline_names_its_project_and_an_item_without_origin_has_no_trail() -> None:
    pitch = chain("Café des voisins", "t1", ["me"], 1)
    team = pitch.origin[0]
    trail = trail_of(team)
    assert (trail.team, trail.project, trail.axis) == ("", "Café des voisins", "Lien social")
    assert not trail_of(Item(id="x", title="Seul"))


# -- refusals -----------------------------------------------------------------------------------
def results_workshop() -> tuple[Workshop, dict[str, Actor]]:
    kit = parse_kit(
        """
[workshop]
title = "Palmarès"
[[steps]]
id = "vote"
activity = "dot_voting"
title = "Vote"
[steps.config]
items = [{id = "a", title = "Jardin"}, {id = "b", title = "Café"}]
[[steps]]
id = "results"
activity = "results"
title = "Palmarès"
from = "vote"
[steps.config]
awards = [{id = "prize", label = "Prix"}]
""",
        "test.toml",
        ACTIVITIES,
    )
    workshop = Workshop(kit, "w")
    for event in workshop.open_first_step():
        workshop.apply(event)
    for event in workshop.decide(FACILITATOR, None, "next", {}, "n1"):
        workshop.apply(event)
    people = {"facilitator": FACILITATOR}
    for name, role in (("Maryse", "juror"), ("Zoé", "participant")):
        joined = workshop.join_event(name, "fr", role)
        workshop.apply(joined)
        people[role] = workshop.actor_for(role, joined.actor)
    return workshop, people


@pytest.mark.parametrize("who", ["participant", "juror"])
@pytest.mark.parametrize(
    ("name", "data"),
    [("give_award", {"item": "a", "award": "prize"}), ("remove_award", {"item": "a"}),
     ("publish", {}), ("unpublish", {})],
)
def test_only_the_facilitator_hands_out_awards(who: str, name: str, data: dict[str, Any]) -> None:
    workshop, people = results_workshop()
    with pytest.raises(Rejection) as caught:
        workshop.decide(people[who], "results", name, data, "x1")
    assert caught.value.code == "forbidden"
    assert workshop.decide(people["facilitator"], "results", "give_award",
                           {"item": "a", "award": "prize"}, "x2")


def test_an_unknown_project_or_award_is_refused() -> None:
    results, state = make()
    assert refusal(results, state, "give_award", item="t9", award="prize") == "unknown_project"
    assert refusal(results, state, "remove_award", item=None) == "unknown_project"
    assert refusal(results, state, "give_award", item="t1", award="gold") == "unknown_award"
    assert refusal(results, state, "give_award", item="t1") == "unknown_award"


def test_an_award_goes_to_no_more_projects_than_its_limit() -> None:
    results, state = make(award_limits={"prize": 1, "prototype": 2})
    state = act(results, state, "give_award", item="t1", award="prize")
    assert refusal(results, state, "give_award", item="t2", award="prize") == "award_full"
    state = act(results, state, "give_award", item="t2", award="prototype")
    state = act(results, state, "give_award", item="t3", award="prototype")
    assert refusal(results, state, "give_award", item="t4", award="prototype") == "award_full"
    # Moving the prize from t1 to t2 frees its place; a project holds one award at a time.
    state = act(results, state, "remove_award", item="t1")
    state = act(results, state, "give_award", item="t2", award="prize")
    assert state.awards == {"t2": "prize", "t3": "prototype"}


def test_a_project_without_an_award_has_none_to_remove() -> None:
    results, state = make()
    assert refusal(results, state, "remove_award", item="t1") == "no_award"


def test_giving_the_same_award_twice_changes_nothing() -> None:
    results, state = make()
    state = act(results, state, "give_award", item="t1", award="study")
    assert results.handle(state, Action("give_award", {"item": "t1", "award": "study"}),
                          FACILITATOR) == []


def test_publishing_stops_once_everything_is_shown_and_hiding_needs_something_shown() -> None:
    results, state = make()
    assert refusal(results, state, "unpublish") == "nothing_published"
    state = act(results, state, "publish")  # no award given: straight to the ranking
    assert state.ranking_shown
    assert refusal(results, state, "publish") == "all_published"
    state = act(results, state, "unpublish")
    assert not state.ranking_shown and not state.published


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"awards": AWARDS, "award_limits": {"gold": 1}}, "not in awards"),
        ({"awards": AWARDS, "award_limits": {"prize": 0}}, "at least 1"),
        ({"awards": [AWARDS[0], AWARDS[0]]}, "its own id"),
        ({"awards": [{"id": "x", "label": ""}]}, "at least 1 character"),
        ({"show": 0}, "greater than or equal to 1"),
        ({"confetti": True}, "Extra inputs"),
    ],
)
def test_a_kit_with_impossible_results_settings_is_refused(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ResultsConfig.model_validate(config)


# -- the reveal ---------------------------------------------------------------------------------
def test_awards_are_revealed_least_important_first_then_the_ranking() -> None:
    results, state = make()
    state = act(results, state, "give_award", item="t1", award="prize")
    state = act(results, state, "give_award", item="t2", award="study")
    state = act(results, state, "publish")
    assert state.published == ["study"]  # "prototype" went to nobody: skipped
    state = act(results, state, "publish")
    assert state.published == ["study", "prize"] and not state.ranking_shown
    state = act(results, state, "publish")
    assert state.ranking_shown


def test_outputs_carry_award_and_rank_and_keep_the_origin() -> None:
    results, state = make()
    state = act(results, state, "give_award", item="t2", award="prototype")
    out = results.outputs(state)
    assert [(i.id, i.rank, i.tied, i.award) for i in out] == [
        ("t1", 1, False, ""), ("t2", 2, False, "prototype"), ("t3", 3, True, ""),
        ("t4", 3, True, ""),
    ]
    assert out[1].award_label == "Prototype" and out[1].origin == ranked_projects()[1].origin
    exported = results.export(state)
    assert exported["awards"]["prototype"] == ["Jardin partagé"]
    assert "'me'" not in str(exported) and "p3" not in str(exported)  # members are device ids


def test_a_dot_vote_is_ranked_here_and_unscored_projects_stay_unranked() -> None:
    results = Results(ResultsConfig())
    dots = [Item(id="a", title="A", score=5.0), Item(id="b", title="B", score=7.0),
            Item(id="c", title="C", score=5.0)]
    state = results.initial_state(dots)
    assert [(r.item.id, r.rank, r.tied) for r in state.rows] == [
        ("b", 1, False), ("a", 2, True), ("c", 2, True)]
    state = results.initial_state([Item(id="x", title="X"), Item(id="y", title="Y")])
    assert [(r.item.id, r.rank) for r in state.rows] == [("x", 0), ("y", 0)]


# -- views --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def renderer() -> Renderer:
    pm = get_plugin_manager(load_entry_points=False)
    return Renderer(collect_activities(pm), pm)


def render(renderer: Renderer, lang: str, results: Results, state: ResultsState, audience: str,
           me: Actor | None = None) -> str:
    step = SimpleNamespace(id="results", title="Palmarès")
    if me is not None:
        context = {"view": results.personal_view(state, me), "step": step}
        return renderer.render(lang, "results/personal.html", context)
    context = {"view": results.view(state, audience), "step": step}
    return renderer.render(lang, f"results/{audience}.html", context)


def text(page: str) -> str:
    """What a reader sees: tags dropped, spaces collapsed (no-break spaces kept)."""
    return html.unescape(re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_the_screen_shows_each_award_with_its_trail_and_no_member(renderer: Renderer) -> None:
    results, state = make(festive=True)
    state = act(results, state, "give_award", item="t1", award="prize")
    state = act(results, state, "give_award", item="t3", award="study")
    state = act(results, state, "publish")
    screen = render(renderer, "fr", results, state, "screen")
    assert "Conservé pour étude" in screen and "Boîte à livres" in screen
    assert "Prix du jury" not in screen and "Café des voisins" not in screen
    state = act(results, state, "publish")
    screen = render(renderer, "fr", results, state, "screen")
    assert "Équipe Les Tilleuls Axe Lien social répond à\u00a0: Personnes âgées isolées / " \
        "Aucun lieu <pour> se retrouver / Bancs cassés (+1)" in text(screen)
    assert "me" not in re.findall(r"\w+", text(screen)) and "p2" not in screen
    assert screen.count("<i></i>") == 24  # confetti
    panel = render(renderer, "fr", results, state, "facilitator")
    assert "Pas de transport le soir" in panel  # the panel lists every problem


def test_confetti_only_when_festive_and_never_for_reduced_motion(renderer: Renderer) -> None:
    results, state = make()
    state = act(results, state, "publish")
    assert "confetti" not in render(renderer, "fr", results, state, "screen")
    css = (ROOT / "plugins" / "results" / "static" / "results.css").read_text(encoding="utf-8")
    reduced = css.split("@media (prefers-reduced-motion: reduce)", 1)[1]
    assert ".confetti { display: none; }" in reduced.split("}", 1)[0] + "}"


def test_a_phone_highlights_its_own_team_once_revealed(renderer: Renderer) -> None:
    results, state = make()
    state = act(results, state, "give_award", item="t1", award="prize")
    state = act(results, state, "give_award", item="t2", award="study")
    me, other = Actor("participant", "me"), Actor("participant", "p3")
    page = render(renderer, "fr", results, state, "", me=me)
    assert "Votre équipe" in page and "Café des voisins" in page and "Prix du jury" not in page
    assert "Jardin partagé" in render(renderer, "fr", results, state, "", me=other)
    assert render(renderer, "fr", results, state, "", me=Actor("participant", "nobody")) == ""
    state = act(results, state, "publish")  # study
    state = act(results, state, "publish")  # prize
    page = render(renderer, "en", results, state, "", me=me)
    assert "Your team" in page and "Prix du jury" in page and "Congratulations!" in page
    state = act(results, state, "publish")  # ranking
    assert "Rang\u00a0: 1" in render(renderer, "fr", results, state, "", me=me)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_results_template_renders_at_every_stage(renderer: Renderer, lang: str) -> None:
    fr = lang == "fr"
    results, state = make(title="Palmarès du hackathon", festive=True, show=3)
    panel = text(render(renderer, lang, results, state, "facilitator"))
    assert ("Dévoiler le classement complet" if fr else "Reveal the full ranking") in panel
    waiting = text(render(renderer, lang, results, state, "screen"))
    assert ("4 projets en lice" if fr else "4 projects in the running") in waiting
    state = act(results, state, "give_award", item="t2", award="prototype")
    panel = text(render(renderer, lang, results, state, "facilitator"))
    assert ("Dévoiler à l’écran\u00a0: Prototype" if fr else "Reveal on the screen: Prototype") \
        in panel
    state = act(results, state, "publish")
    for audience in ("screen", "participant"):
        page = text(render(renderer, lang, results, state, audience))
        assert "Prototype" in page and "Jardin partagé" in page and "Palmarès du hackathon" in page
    panel = text(render(renderer, lang, results, state, "facilitator"))
    assert ("À l’écran\u00a0: Prototype." if fr else "On the screen: Prototype.") in panel
    state = act(results, state, "publish")
    screen = render(renderer, lang, results, state, "screen")
    assert re.findall(r'data-key="row-(\w+)"', screen) == ["t1", "t2", "t3"]
    assert ("et 1 autre projet" if fr else "and 1 more project") in text(screen)
    assert ("ex æquo" if fr else "tied") in screen
    panel = text(render(renderer, lang, results, state, "facilitator"))
    assert ("Tout est à l’écran" if fr else "Everything is on the screen") in panel


def test_a_named_team_on_a_kit_challenge_keeps_the_challenge_in_its_trail() -> None:
    from palabre.engine import Item
    from palabre.plugins.results.trail import trail_of

    challenge = Item(id="velo", title="Rendre le vélo plus sûr", score=9.0)  # a kit item
    subject = Item(id="s1", title="Les bancs publics", kind="subject")
    for origin in (challenge, subject):
        team = Item(id="t", title="Les Rayons", kind="team", members=["p1"], origin=[origin])
        assert trail_of(team).project == origin.title
