"""The jury: jurors score pitched projects on weighted criteria, conflicts of interest are
respected, the audience's dots mix in, ties are explained; every refusal has its code; and a
real server runs a jury of three, then the restitution of its awards."""

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
from palabre.plugins.jury.activity import Jury
from palabre.plugins.jury.config import JuryConfig
from palabre.plugins.jury.scoring import TIE_AUDIENCE, TIE_FIRST_CRITERION, TIE_MORE_JURORS
from palabre.plugins.jury.state import JuryState
from support import Client, Server, close_all, eventually, read_events, run

ACTIVITIES = collect_activities(get_plugin_manager(load_entry_points=False))
CRITERIA = [
    {"id": "impact", "label": "Utilité sociale", "weight": 2},
    {"id": "feasibility", "label": "Faisabilité", "weight": 1},
]
JURORS = {"j1": "Maryse Dupont", "j2": "Karim Benali", "j3": "Lucie Martin"}
FACILITATOR = Actor("facilitator")


# -- helpers ----------------------------------------------------------------------------------
def projects(n: int = 4) -> list[Item]:
    titles = ["Jardin partagé", "Café des aînés", "Boîte à livres", "Piste cyclable"]
    return [Item(id=f"p{i}", title=titles[i % 4], kind="pitch") for i in range(n)]


def make(n_items: int = 4, **config: Any) -> tuple[Jury, JuryState]:
    jury = Jury(JuryConfig.model_validate({"criteria": CRITERIA} | config))
    jury.roster = {pid: Actor("juror", pid, name) for pid, name in JURORS.items()} | {
        f"a{n}": Actor("participant", f"a{n}", f"Habitant {n}") for n in range(4)
    }
    return jury, jury.initial_state(projects(n_items))


def act(jury: Jury, state: JuryState, who: str, name: str, **data: Any) -> JuryState:
    actor = jury.roster.get(who, FACILITATOR)
    for event in jury.handle(state, Action(name, data), actor):
        state = jury.reduce(state, Event(event.kind, event.data, actor.key))
    return state


def refusal(jury: Jury, state: JuryState, who: str, name: str, **data: Any) -> str:
    before = copy.deepcopy(state)
    with pytest.raises(Rejection) as caught:
        jury.handle(state, Action(name, data), jury.roster.get(who, FACILITATOR))
    assert state == before, "a refused action must leave the state as it was"
    return caught.value.code


def sheet(jury: Jury, state: JuryState, juror: str, item: str, **marks: int) -> JuryState:
    for criterion, mark in marks.items():
        state = act(jury, state, juror, "score", item=item, criterion=criterion, score=str(mark))
    return state


def workshop_on_jury(config: str = "") -> tuple[Workshop, dict[str, Actor]]:
    """A real Workshop (the engine's role checks included) sitting on a jury step."""
    kit = parse_kit(
        f"""
[workshop]
title = "Jury"
[[steps]]
id = "jury"
activity = "jury"
title = "Jury"
[steps.config]
items = [{{id = "p0", title = "Jardin"}}, {{id = "p1", title = "Café"}}]
{config}
""",
        "test.toml",
        ACTIVITIES,
    )
    workshop = Workshop(kit, "w")
    for event in workshop.open_first_step():
        workshop.apply(event)
    people = {}
    for name, role in (("Maryse", "juror"), ("Zoé", "participant")):
        joined = workshop.join_event(name, "fr", role)
        workshop.apply(joined)
        people[role] = workshop.actor_for(role, joined.actor)
    people["facilitator"] = FACILITATOR
    return workshop, people


def engine_refusal(workshop: Workshop, actor: Actor, name: str, **data: Any) -> str:
    with pytest.raises(Rejection) as caught:
        workshop.decide(actor, "jury", name, data, "x1")
    return caught.value.code


# -- who may do what --------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["participant", "facilitator"])
def test_only_jurors_score(who: str) -> None:
    workshop, people = workshop_on_jury()
    data = {"item": "p0", "criterion": "overall", "score": "3"}
    assert engine_refusal(workshop, people[who], "score", **data) == "forbidden"
    assert engine_refusal(workshop, people[who], "declare_conflict", item="p0") == "forbidden"
    assert workshop.decide(people["juror"], "jury", "score", data, "x2")


def test_a_juror_cannot_spend_audience_dots() -> None:
    workshop, people = workshop_on_jury("audience_weight = 0.5")
    assert engine_refusal(workshop, people["juror"], "vote", item="p0") == "forbidden"
    assert workshop.decide(people["participant"], "jury", "vote", {"item": "p0"}, "x2")
    # Even past the engine's role check, the activity keeps jurors out of the audience.
    jury, state = make(audience_weight=0.5)
    assert refusal(jury, state, "j1", "vote", item="p0") == "jurors_not_audience"


def test_the_audience_cannot_vote_when_only_the_jury_decides() -> None:
    jury, state = make()
    assert refusal(jury, state, "a0", "vote", item="p0") == "no_audience_vote"
    assert refusal(jury, state, "a0", "unvote", item="p0") == "no_audience_vote"


# -- refusals ---------------------------------------------------------------------------------
def test_a_mark_for_an_unknown_project_is_refused() -> None:
    jury, state = make()
    assert refusal(jury, state, "j1", "score", item="p9", criterion="impact", score="3") == (
        "unknown_item"
    )
    assert refusal(jury, state, "j1", "declare_conflict", item=None) == "unknown_item"


def test_an_unknown_criterion_is_refused() -> None:
    jury, state = make()
    assert refusal(jury, state, "j1", "score", item="p0", criterion="beauty", score="3") == (
        "unknown_criterion"
    )


@pytest.mark.parametrize("mark", ["6", "-1", "99", 6])
def test_a_mark_outside_the_scale_is_refused(mark: Any) -> None:
    jury, state = make()
    assert refusal(jury, state, "j1", "score", item="p0", criterion="impact", score=mark) == (
        "out_of_scale"
    )


@pytest.mark.parametrize("mark", ["3.5", "", "trois", "²", None, True, 2.0, " "])
def test_a_mark_must_be_a_whole_number(mark: Any) -> None:
    jury, state = make()
    assert refusal(jury, state, "j1", "score", item="p0", criterion="impact", score=mark) == (
        "bad_score"
    )


def test_a_juror_cannot_score_their_own_team() -> None:
    jury, state = make()
    state = act(jury, state, "j1", "declare_conflict", item="p0")
    assert refusal(jury, state, "j1", "score", item="p0", criterion="impact", score="5") == (
        "conflict_of_interest"
    )
    state = sheet(jury, state, "j2", "p0", impact=5, feasibility=5)  # others still can
    assert state.sheet("j2", "p0") == {"impact": 5, "feasibility": 5}


def test_nobody_scores_or_votes_once_the_jury_has_closed() -> None:
    jury, state = make(audience_weight=0.5)
    state = act(jury, state, "", "close")
    assert refusal(jury, state, "j1", "score", item="p0", criterion="impact", score="3") == "closed"
    assert refusal(jury, state, "j1", "declare_conflict", item="p0") == "closed"
    assert refusal(jury, state, "a0", "vote", item="p0") == "closed"
    state = act(jury, state, "", "reopen")
    assert act(jury, state, "j1", "score", item="p0", criterion="impact", score="3")


def test_an_audience_member_cannot_spend_more_dots_than_given() -> None:
    jury, state = make(audience_weight=0.5, audience_dots=2, audience_max_per_item=1)
    assert refusal(jury, state, "a0", "unvote", item="p0") == "no_dot_here"
    state = act(jury, state, "a0", "vote", item="p0")
    assert refusal(jury, state, "a0", "vote", item="p0") == "item_full"
    state = act(jury, state, "a0", "vote", item="p1")
    assert refusal(jury, state, "a0", "vote", item="p2") == "no_dots_left"
    assert refusal(jury, state, "a0", "vote", item="p9") == "unknown_item"
    state = act(jury, state, "a0", "unvote", item="p1")  # moving a dot is allowed
    assert act(jury, state, "a0", "vote", item="p2").dots.spent("a0") == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"scale_min": 5, "scale_max": 5}, "scale_min must be smaller"),
        ({"scale_min": 0, "scale_max": 20}, "at most 11 steps"),
        ({"criteria": [{"id": "a", "weight": 0}]}, "greater than 0"),
        ({"criteria": [{"id": "a"}, {"id": "a"}]}, "its own id"),
        ({"criteria": []}, "at least 1"),
        ({"audience_weight": 1.5}, "less than or equal to 1"),
        ({"audience_dots": 2, "audience_max_per_item": 3}, "cannot be larger"),
        ({"jurors": 3}, "Extra inputs"),
    ],
)
def test_a_kit_with_impossible_jury_settings_is_refused(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        JuryConfig.model_validate(config)


# -- the maths --------------------------------------------------------------------------------
def by_id(jury: Jury, state: JuryState) -> dict[str, Item]:
    return {item.id: item for item in jury.outputs(state)}


def test_the_jury_score_is_the_mean_of_each_jurors_weighted_average() -> None:
    jury, state = make()
    state = sheet(jury, state, "j1", "p0", impact=4, feasibility=1)  # (2×4 + 1) / 3 = 3
    state = sheet(jury, state, "j2", "p0", impact=5, feasibility=5)  # 5
    p0 = by_id(jury, state)["p0"]
    assert p0.jury_score == 4.0 and p0.jurors_count == 2
    assert p0.criteria_scores == {"impact": 4.5, "feasibility": 3.0}
    assert p0.combined == 0.8 and p0.score == 80.0  # 4 on a 0–5 scale


def test_a_half_filled_sheet_does_not_count_yet() -> None:
    jury, state = make()
    state = sheet(jury, state, "j1", "p0", impact=5, feasibility=5)
    state = sheet(jury, state, "j2", "p0", impact=0)  # feasibility still to come
    assert by_id(jury, state)["p0"].jurors_count == 1
    state = sheet(jury, state, "j2", "p0", feasibility=2)
    p0 = by_id(jury, state)["p0"]
    assert p0.jurors_count == 2 and p0.jury_score == pytest.approx((5 + 2 / 3) / 2, abs=1e-3)


def test_a_juror_may_change_a_mark_until_scoring_closes() -> None:
    jury, state = make(criteria=[{"id": "overall"}])
    state = sheet(jury, state, "j1", "p0", overall=1)
    state = sheet(jury, state, "j1", "p0", overall=4)
    assert by_id(jury, state)["p0"].jury_score == 4.0


def test_the_scale_sets_the_normalised_score() -> None:
    jury, state = make(criteria=[{"id": "overall"}], scale_min=1, scale_max=10)
    state = sheet(jury, state, "j1", "p0", overall=10)
    state = sheet(jury, state, "j1", "p1", overall=1)
    state = sheet(jury, state, "j1", "p2", overall=4)
    out = by_id(jury, state)
    assert (out["p0"].combined, out["p1"].combined, out["p2"].combined) == (1.0, 0.0, 0.3333)
    assert refusal(jury, state, "j1", "score", item="p0", criterion="overall", score="0") == (
        "out_of_scale"
    )


def test_a_conflicted_jurors_marks_are_left_out_and_come_back_when_withdrawn() -> None:
    jury, state = make()
    state = sheet(jury, state, "j1", "p0", impact=5, feasibility=5)
    state = sheet(jury, state, "j2", "p0", impact=1, feasibility=1)
    state = act(jury, state, "j1", "declare_conflict", item="p0")
    p0 = by_id(jury, state)["p0"]
    assert (p0.jury_score, p0.jurors_count) == (1.0, 1)
    state = act(jury, state, "j1", "withdraw_conflict", item="p0")
    assert by_id(jury, state)["p0"].jury_score == 3.0


def test_jury_and_audience_combine_with_the_kits_weighting() -> None:
    jury, state = make(criteria=[{"id": "overall"}], scale_max=4, audience_weight=0.4)
    state = sheet(jury, state, "j1", "p0", overall=4)  # jury 1.0, no dots
    state = sheet(jury, state, "j1", "p1", overall=2)  # jury 0.5, the most dots
    for voter in ("a0", "a1"):
        state = act(jury, state, voter, "vote", item="p1")
    state = act(jury, state, "a2", "vote", item="p2")  # no jury mark, half the top dots
    out = jury.outputs(state)
    assert [(i.id, i.combined, i.audience_dots) for i in out] == [
        ("p1", 0.7, 2),  # 0.6 × 0.5 + 0.4 × 1
        ("p0", 0.6, 0),  # 0.6 × 1
        ("p2", 0.2, 1),  # 0.4 × 0.5
        ("p3", 0.0, 0),
    ]
    assert [i.rank for i in out] == [1, 2, 3, 4]


def test_a_tie_is_broken_by_the_number_of_jurors_who_scored() -> None:
    jury, state = make()
    for juror in ("j1", "j2"):
        state = sheet(jury, state, juror, "p1", impact=4, feasibility=4)
    state = sheet(jury, state, "j3", "p0", impact=4, feasibility=4)
    rows = jury.ranked(state)
    assert [(r.item.item.id, r.rank, r.tie_break) for r in rows[:2]] == [
        ("p1", 1, ""),
        ("p0", 2, TIE_MORE_JURORS),
    ]


def test_a_tie_is_then_broken_by_the_first_criterion() -> None:
    jury, state = make(criteria=[{"id": "a"}, {"id": "b"}])
    state = sheet(jury, state, "j1", "p0", a=3, b=5)
    state = sheet(jury, state, "j1", "p1", a=5, b=3)
    rows = jury.ranked(state)
    assert [(r.item.item.id, r.rank, r.tie_break, r.tied) for r in rows[:2]] == [
        ("p1", 1, "", False),
        ("p0", 2, TIE_FIRST_CRITERION, False),
    ]


def test_a_tie_is_then_broken_by_the_audience_dots() -> None:
    jury, state = make(criteria=[{"id": "a"}, {"id": "b"}], scale_max=4, audience_weight=0.5)
    state = sheet(jury, state, "j1", "p0", a=2, b=4)  # jury 0.75, no dots: 0.375
    state = sheet(jury, state, "j1", "p1", a=2, b=2)  # jury 0.5, 1 dot of the top 4: 0.375
    for voter in ("a0", "a1", "a2", "a3"):
        state = act(jury, state, voter, "vote", item="p2")
    state = act(jury, state, "a0", "vote", item="p1")
    rows = {r.item.item.id: r for r in jury.ranked(state)}
    assert rows["p0"].score == rows["p1"].score == 0.375
    assert rows["p1"].rank < rows["p0"].rank and rows["p0"].tie_break == TIE_AUDIENCE


def test_projects_equal_on_every_count_share_a_rank() -> None:
    jury, state = make()
    for item in ("p2", "p3"):
        state = sheet(jury, state, "j1", item, impact=3, feasibility=2)
    out = by_id(jury, state)
    assert (out["p2"].rank, out["p2"].tied) == (out["p3"].rank, out["p3"].tied) == (1, True)
    assert (out["p0"].rank, out["p0"].tied, out["p0"].jury_score) == (3, True, None)


def test_outputs_rank_the_projects_and_keep_their_origin() -> None:
    axis = Item(id="x", title="Lien social", kind="axis")
    team = Item(id="t", title="Les Tilleuls", kind="team", origin=[axis], members=["a0"])
    jury = Jury(JuryConfig())
    state = jury.initial_state([team])
    jury.roster = {"j1": Actor("juror", "j1", "Maryse")}
    state = act(jury, state, "j1", "score", item="t", criterion="overall", score="5")
    [out] = jury.outputs(state)
    assert out.origin == [axis] and out.members == ["a0"] and out.kind == "team"
    assert (out.rank, out.tied, out.jurors_count, out.score) == (1, False, 1, 100.0)
    assert jury.export(state)["jurors"] == 1
    assert "j1" not in str(jury.export(state)) and "Maryse" not in str(jury.export(state))


def test_the_jury_scores_what_was_pitched_and_the_export_keeps_no_device_id() -> None:
    base = {"kind": "team", "members": ["a0", "a1"], "captain": "a0"}
    pitched = [
        Item(id="t1", title="Les Tilleuls", pitched=True, **base),
        Item(id="t2", title="Les Œillets", pitched=False, skipped=True, **base),
        Item(id="t3", title="Les Lilas", **base),  # not from a pitches step: kept
    ]
    jury = Jury(JuryConfig())
    state = jury.initial_state(pitched)
    assert list(state.items) == ["t1", "t3"] and [i.id for i in state.unpitched] == ["t2"]
    assert "Les Œillets" in str(jury.view(state, "facilitator")["unpitched"])
    # Nobody pitched (the timer was not used): every project is scored rather than none.
    nobody = [i.model_copy(update={"pitched": False}) for i in pitched]
    assert list(jury.initial_state(nobody).items) == ["t1", "t2", "t3"]
    exported = str(jury.export(state))
    assert "a0" not in exported and "a1" not in exported and "Les Tilleuls" in exported
    assert jury.outputs(state)[0].members == ["a0", "a1"]  # later steps still need them


# -- views ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def renderer() -> Renderer:
    pm = get_plugin_manager(load_entry_points=False)
    return Renderer(collect_activities(pm), pm)


def render(renderer: Renderer, lang: str, jury: Jury, state: JuryState, audience: str,
           me: Actor | None = None) -> str:
    step = SimpleNamespace(id="jury", title="Jury")
    if me is not None:
        view = jury.personal_view(state, me)
        page = renderer.render(lang, "jury/personal.html", {"view": view, "step": step})
    else:
        view = jury.view(state, audience)
        page = renderer.render(lang, f"jury/{audience}.html", {"view": view, "step": step})
    return html.unescape(page)


def text(page: str) -> str:
    """What a reader sees: tags dropped, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def scored_example() -> tuple[Jury, JuryState]:
    jury, state = make(audience_weight=0.25)
    state = sheet(jury, state, "j1", "p0", impact=5, feasibility=4)
    state = sheet(jury, state, "j2", "p0", impact=3)
    state = act(jury, state, "j3", "declare_conflict", item="p0")
    state = act(jury, state, "a0", "vote", item="p1")
    return jury, state


def test_the_facilitator_sees_who_scored_what_and_the_screen_sees_no_names(
    renderer: Renderer,
) -> None:
    jury, state = scored_example()
    panel = render(renderer, "fr", jury, state, "facilitator")
    assert all(name in panel for name in JURORS.values())
    assert "✓ 4,7" in panel and "1/2" in panel and "conflit" in panel
    state = act(jury, state, "", "reveal")
    for audience in ("screen", "participant"):
        page = render(renderer, "fr", jury, state, audience)
        assert not any(name in page for name in JURORS.values()), audience
        assert "Jardin partagé" in page


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_jury_template_renders(renderer: Renderer, lang: str) -> None:
    jury, state = scored_example()
    fr = lang == "fr"
    panel = render(renderer, lang, jury, state, "facilitator")
    assert ("Qui a noté quoi" if fr else "Who has scored what") in panel
    assert ("Clore la notation" if fr else "Close scoring") in panel
    screen = text(render(renderer, lang, jury, state, "screen"))
    assert ("Le jury note les projets." if fr else "The jury is scoring the projects.") in screen
    assert ("1 / 11 grilles remplies" if fr else "1 / 11 score sheets completed") in screen
    phone = render(renderer, lang, jury, state, "participant")
    assert ("du public pour 25\u00a0%" if fr else "the audience’s dots for 25%") in phone
    sheet_page = render(renderer, lang, jury, state, "", me=jury.roster["j1"])
    assert ("1 projet sur 4 entièrement noté" if fr else "1 of 4 projects fully scored") in (
        sheet_page
    )
    assert sheet_page.count('data-action="score"') == 2 * 6 * 4
    assert 'data-arg-criterion="impact" data-arg-score="5" aria-pressed="true"' in sheet_page
    conflicted = render(renderer, lang, jury, state, "", me=jury.roster["j3"])
    assert 'data-action="withdraw_conflict"' in conflicted
    assert conflicted.count('data-action="score"') == 2 * 6 * 3
    dots = render(renderer, lang, jury, state, "", me=jury.roster["a0"])
    assert ("Il vous reste 2 gommettes" if fr else "2 dots left") in dots
    state = act(jury, state, "", "reveal")
    state = act(jury, state, "", "close")
    screen = render(renderer, lang, jury, state, "screen")
    assert 'data-key="jury-p0"' in screen and ("Score sur 100" if fr else "Score out of") in screen
    assert ("Le jury a terminé." if fr else "The jury has finished.") in render(
        renderer, lang, jury, act(jury, state, "", "hide_results"), "participant"
    )


def test_a_participant_without_an_audience_vote_has_no_personal_part(renderer: Renderer) -> None:
    jury, state = make()
    assert render(renderer, "fr", jury, state, "", me=jury.roster["a0"]).strip() == ""


def test_ties_are_explained_on_the_screen(renderer: Renderer) -> None:
    jury, state = make(results="live")
    for juror in ("j1", "j2"):
        state = sheet(jury, state, juror, "p1", impact=4, feasibility=4)
    state = sheet(jury, state, "j3", "p0", impact=4, feasibility=4)
    fr = render(renderer, "fr", jury, state, "screen")
    en = render(renderer, "en", jury, state, "screen")
    assert "Même score, départagés par le nombre de jurés qui l’ont noté" in fr
    assert "Same score, separated by the number of jurors who scored it" in en
    assert "ex æquo" in fr and "tied" in en  # p2 and p3: no marks at all


# -- a real server: a jury of three, the audience's dots, then the restitution ----------------
DAY_KIT = """
[workshop]
title = "Hackathon solidaire"
language = "fr"

[[steps]]
id = "shortlist"
activity = "dot_voting"
title = "Projets en lice"
[steps.config]
items = [
  {id = "a", title = "Jardin partagé"},
  {id = "b", title = "Café des aînés"},
  {id = "c", title = "Boîte à livres"},
  {id = "d", title = "Piste cyclable"},
]

[[steps]]
id = "jury"
activity = "jury"
title = "Délibération"
from = "shortlist"
[steps.config]
criteria = [
  {id = "impact", label = "Utilité sociale", weight = 2},
  {id = "feasibility", label = "Faisabilité"},
]
audience_weight = 0.25
audience_dots = 2
audience_max_per_item = 1

[[steps]]
id = "results"
activity = "results"
title = "Palmarès"
from = "jury"
[steps.config]
awards = [{id = "prize", label = "Prix du jury"}, {id = "prototype", label = "Prototype"}]
award_limits = {prize = 1}
festive = true
"""
# juror -> project -> mark on both criteria; Lucie declares a conflict with "a" (her team)
MARKS = {
    "Maryse Dupont": {"a": 5, "b": 3, "c": 2, "d": 4},
    "Karim Benali": {"a": 4, "b": 3, "c": 2, "d": 4},
    "Lucie Martin": {"b": 3, "c": 2, "d": 5},
}
AUDIENCE_DOTS = [("c", "d"), ("c", "d"), ("c", "b")]
# jury ×0.75 + dots ×0.25: d 4.33/5 & 2/3 dots, a 4.5/5 & 0, c 2/5 & 3/3, b 3/5 & 1/3
EXPECTED = [("d", "81,7"), ("a", "67,5"), ("c", "55,0"), ("b", "53,3")]


def join_jury(server: Server, name: str) -> Client:
    found = re.search(r"^Jury:\s+(\S+)$", server.output, re.M)
    assert found, server.output
    path = re.sub(r"^https?://[^/]+", "", found.group(1))
    juror = Client(server, "participant")
    assert "name=\"name\"" in juror.http.get(path).text
    response = juror.http.post(path, data={"name": name})
    assert response.status_code == 200 and response.url.path == "/p", response.text
    return juror


def ranking_on(page: str) -> list[tuple[str, str]]:
    return re.findall(r'data-key="jury-([^"]+)".*?class="bar__value">([^<]+)<', page, re.S)


def test_a_jury_of_three_ranks_four_projects_and_the_screen_shows_the_awards(
    tmp_path: Path, start_server: Any
) -> None:
    kit = tmp_path / "jury.toml"
    kit.write_text(DAY_KIT, encoding="utf-8")
    server = start_server(tmp_path / "jury.db", kit=str(kit))
    run(_jury_day(server), timeout=120)
    events = read_events(server.db)
    assert sum(e["kind"] == "jury.scored" for e in events) == 22
    assert [e["data"] for e in events if e["kind"] == "jury.conflict_declared"] == [{"item": "a"}]


async def _jury_day(server: Server) -> None:
    facilitator = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()
    jurors = {name: join_jury(server, name) for name in MARKS}
    audience = [Client(server, "participant").join(f"Habitant {n}") for n in range(3)]
    try:
        for phone in [*jurors.values(), *audience]:
            await phone.connect()
        assert (await facilitator.act("next"))["ok"]
        await _deliberate(jurors, audience, screen)
        assert (await facilitator.act("reveal", step="jury"))["ok"]
        await eventually(screen, lambda: len(ranking_on(screen.regions["main"])) == 4,
                         "the screen shows the ranking")
        assert ranking_on(screen.regions["main"]) == EXPECTED
        panel = facilitator.regions["main"]
        assert all(name in panel for name in MARKS) and "conflit" in panel
        await _restitution(facilitator, screen, audience[0])
    finally:
        await close_all(facilitator, screen, *jurors.values(), *audience)


async def _deliberate(jurors: dict[str, Client], audience: list[Client], screen: Client) -> None:
    lucie = jurors["Lucie Martin"]
    await eventually(lucie, lambda: 'data-action="score"' in lucie.regions.get("personal", ""),
                     "a juror gets the score sheet")
    assert (await lucie.act("declare_conflict", {"item": "a"}, "jury"))["ok"]
    refused = await lucie.act("score", {"item": "a", "criterion": "impact", "score": "5"}, "jury")
    assert refused["error"]["code"] == "conflict_of_interest"
    refused = await lucie.act("score", {"item": "b", "criterion": "impact", "score": "7"}, "jury")
    assert refused["error"]["code"] == "out_of_scale"
    refused = await lucie.act("vote", {"item": "b"}, "jury")
    assert refused["error"]["code"] == "forbidden"
    refused = await audience[0].act("score", {"item": "b", "criterion": "impact", "score": "3"},
                                    "jury")
    assert refused["error"]["code"] == "forbidden"

    async def score(name: str) -> None:
        for item, mark in MARKS[name].items():
            for criterion in ("impact", "feasibility"):
                data = {"item": item, "criterion": criterion, "score": str(mark)}
                assert (await jurors[name].act("score", data, "jury"))["ok"]

    async def vote(phone: Client, items: tuple[str, ...]) -> None:
        for item in items:
            assert (await phone.act("vote", {"item": item}, "jury"))["ok"]

    for name in MARKS:
        await score(name)
    for phone, items in zip(audience, AUDIENCE_DOTS, strict=True):
        await vote(phone, items)
    await eventually(screen, lambda: re.search(r'class="count">11</span>\s*/ 11',
                                               screen.regions["main"]) is not None,
                     "the screen counts 11 complete sheets (one conflict)")
    assert not any(name in screen.regions["main"] for name in MARKS)


async def _restitution(facilitator: Client, screen: Client, phone: Client) -> None:
    assert (await facilitator.act("next"))["ok"]
    await eventually(facilitator, lambda: 'data-action="give_award"' in facilitator.regions["main"],
                     "the facilitator gets the award buttons")
    for item, award in (("d", "prize"), ("a", "prototype"), ("c", "prototype")):
        ack = await facilitator.act("give_award", {"item": item, "award": award}, "results")
        assert ack["ok"], ack
    ack = await facilitator.act("give_award", {"item": "a", "award": "prize"}, "results")
    assert ack["error"]["code"] == "award_full"
    assert (await facilitator.act("publish", step="results"))["ok"]
    await eventually(screen, lambda: "winner-" in screen.regions["main"], "the first award")
    main = screen.regions["main"]
    assert "Prototype" in main and "Prix du jury" not in main and "confetti" in main
    assert re.findall(r'data-key="winner-(\w)"', main) == ["a", "c"]
    assert (await facilitator.act("publish", step="results"))["ok"]
    await eventually(screen, lambda: 'data-key="winner-d"' in screen.regions["main"],
                     "the main prize comes last")
    assert (await facilitator.act("publish", step="results"))["ok"]
    await eventually(screen, lambda: "results-ranking" in screen.regions["main"], "the ranking")
    rows = re.findall(r'data-key="row-(\w)".*?</li>', screen.regions["main"], re.S)
    assert rows == ["d", "a", "c", "b"]
    assert screen.regions["main"].count('class="badge"') == 3
    await eventually(phone, lambda: "results-ranking" in phone.regions["main"],
                     "phones show the same restitution")
    assert re.findall(r'data-key="row-(\w)"', phone.regions["main"]) == ["d", "a", "c", "b"]
    again = await facilitator.act("publish", step="results")
    assert again["error"]["code"] == "all_published"
