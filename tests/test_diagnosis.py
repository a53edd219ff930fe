"""Diagnosis: problems posted under the kit's themes (by everyone, or by table captains only),
tidied by the facilitator, shown one column per theme — every refused path, the outputs the
next step clusters, views in French and English, and a real server with captains at tables."""

from __future__ import annotations

import copy
import html
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pluggy
import pytest
from pydantic import ValidationError

from palabre.engine import ALL, Action, Actor, Event, Rejection, hookspecs
from palabre.engine.plugins import LOAD_PLUGINS_ENV, collect_activities
from palabre.engine.render import Renderer
from palabre.plugins.common.posts import Board
from palabre.plugins.diagnosis.activity import Diagnosis, DiagnosisConfig
from support import Client, Server, close_all, eventually, read_events, run

THEMES = [
    {"id": "education", "title": "Éducation"},
    {"id": "orientation", "title": "Formation professionnelle et orientation"},
    {"id": "emploi", "title": "Emploi"},
]
FACILITATOR = Actor("facilitator")


def person(pid: str, table: int | None = None, captain: bool = False) -> Actor:
    return Actor("participant", pid, pid, table, captain)


def make(**config: Any) -> tuple[Diagnosis, Board]:
    activity = Diagnosis(DiagnosisConfig(**({"themes": THEMES} | config)))
    return activity, activity.initial_state([])


def act(activity: Diagnosis, state: Board, actor: Actor, name: str, **data: Any) -> list[Event]:
    events = activity.handle(state, Action(name, data), actor)
    for event in events:
        activity.reduce(state, Event(event.kind, event.data, event.actor or actor.key))
    return events


def post(
    activity: Diagnosis, state: Board, actor: Actor, title: str, theme: str = "emploi", **data: Any
) -> str:
    (event,) = act(activity, state, actor, "post", title=title, theme=theme, **data)
    return str(event.data["problem"])


def refused(activity: Diagnosis, state: Board, actor: Actor, name: str, **data: Any) -> Rejection:
    """The rejection an action gets; it must leave the state exactly as it was."""
    before = copy.deepcopy(state)
    with pytest.raises(Rejection) as caught:
        activity.handle(state, Action(name, data), actor)
    assert state == before
    return caught.value


# -- config -------------------------------------------------------------------------------------
def test_a_diagnosis_needs_at_least_one_theme_each_with_its_own_id() -> None:
    with pytest.raises(ValidationError):
        DiagnosisConfig(themes=[])
    with pytest.raises(ValidationError):
        DiagnosisConfig()  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="its own id"):
        DiagnosisConfig(themes=[{"id": "a", "title": "A"}, {"id": "a", "title": "B"}])
    with pytest.raises(ValidationError):
        DiagnosisConfig(themes=THEMES, who="jury")
    assert DiagnosisConfig(themes=THEMES).who == "everyone"


# -- posting ------------------------------------------------------------------------------------
def test_a_problem_becomes_an_output_filed_under_its_theme() -> None:
    activity, state = make()
    problem = post(
        activity,
        state,
        person("secret-ana", 2),
        " Pas de stage près d’ici ",
        theme="orientation",
        description="Les entreprises sont loin",
    )
    (item,) = activity.outputs(state)
    dumped = item.model_dump()
    assert (item.id, item.title, item.description, item.kind, item.group) == (
        problem,
        "Pas de stage près d’ici",
        "Les entreprises sont loin",
        "problem",
        "Formation professionnelle et orientation",
    )
    assert (dumped["theme"], dumped["merged"], item.origin) == ("orientation", 0, [])
    assert "secret-ana" not in repr(activity.view(state, "screen"))
    assert "secret-ana" not in repr(activity.export(state))


@pytest.mark.parametrize("theme", [None, "", "sport", 7])
def test_a_problem_needs_one_of_the_kits_themes(theme: Any) -> None:
    activity, state = make()
    data = {"title": "Pas de bus"} | ({} if theme is None else {"theme": theme})
    rejection = refused(activity, state, person("ana"), "post", **data)
    assert (rejection.code, rejection.params["field"]) == ("unknown_theme", "theme")


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"title": "  "}, "empty_text", "title"),
        ({"title": "x" * 81}, "too_long", "title"),
        ({"title": ["x"]}, "invalid_text", "title"),
        ({"title": "Bus", "description": "d" * 281}, "too_long", "description"),
    ],
)
def test_a_badly_written_problem_is_refused_naming_its_field(
    data: dict[str, Any], code: str, field: str
) -> None:
    activity, state = make()
    rejection = refused(activity, state, person("ana"), "post", theme="emploi", **data)
    assert (rejection.code, rejection.params["field"]) == (code, field)


def test_a_participant_cannot_post_more_problems_than_allowed() -> None:
    activity, state = make(max_problems_per_participant=2)
    ana = person("ana")
    post(activity, state, ana, "Un")
    post(activity, state, ana, "Deux", theme="education")
    rejection = refused(activity, state, ana, "post", title="Trois", theme="emploi")
    assert rejection.code == "too_many" and rejection.params == {"limit": 2}
    assert rejection.message == "You have reached the most problems allowed ({limit})."
    assert activity.personal_view(state, ana)["can_post"] is False


def test_the_same_problem_twice_from_one_person_is_a_duplicate() -> None:
    activity, state = make()
    post(activity, state, person("ana"), "Pas de bus le soir")
    rejection = refused(
        activity, state, person("ana"), "post", title="PAS de bus  le soir", theme="education"
    )
    assert (rejection.code, rejection.message) == ("duplicate", "You already posted this problem.")
    post(activity, state, person("bea"), "Pas de bus le soir")  # others may raise it too


def test_only_captains_post_when_the_kit_says_so() -> None:
    activity, state = make(who="captains")
    for actor in (person("ben", 1), person("dan")):
        rejection = refused(activity, state, actor, "post", title="Pas de bus", theme="emploi")
        assert rejection.code == "captains_only"
        assert activity.personal_view(state, actor)["allowed"] is False
    problem = post(activity, state, person("awa", 1, captain=True), "Pas de bus")
    assert activity.outputs(state)[0].id == problem


def test_a_captain_who_steps_down_can_no_longer_change_their_problems() -> None:
    activity, state = make(who="captains")
    problem = post(activity, state, person("awa", 1, captain=True), "Pas de bus")
    for name, data in (("edit", {"title": "Autre"}), ("withdraw", {})):
        rejection = refused(activity, state, person("awa", 1), name, problem=problem, **data)
        assert rejection.code == "captains_only"


def test_a_closed_diagnosis_refuses_every_participant_action_until_reopened() -> None:
    activity, state = make()
    ana = person("ana")
    problem = post(activity, state, ana, "Un")
    act(activity, state, FACILITATOR, "close")
    for name, data in (
        ("post", {"title": "Deux", "theme": "emploi"}),
        ("edit", {"problem": problem, "title": "X"}),
        ("withdraw", {"problem": problem}),
    ):
        rejection = refused(activity, state, ana, name, **data)
        assert (rejection.code, rejection.message) == ("closed", "The diagnosis is closed for now.")
    assert activity.personal_view(state, ana)["can_post"] is False
    act(activity, state, FACILITATOR, "reopen")
    post(activity, state, ana, "Deux")


# -- editing and withdrawing --------------------------------------------------------------------
def test_the_author_edits_a_problem_and_may_move_it_to_another_theme() -> None:
    activity, state = make()
    ana = person("ana")
    problem = post(activity, state, ana, "Pas de bus", theme="emploi")
    act(activity, state, ana, "edit", problem=problem, title="Pas de bus le soir")
    assert activity.outputs(state)[0].model_dump()["theme"] == "emploi"  # kept when absent
    act(activity, state, ana, "edit", problem=problem, title="Pas de bus", theme="education")
    item = activity.outputs(state)[0]
    assert (item.title, item.group) == ("Pas de bus", "Éducation")
    rejection = refused(activity, state, ana, "edit", problem=problem, title="X", theme="sport")
    assert rejection.code == "unknown_theme"


def test_only_the_author_changes_a_problem() -> None:
    activity, state = make()
    problem = post(activity, state, person("ana"), "Un")
    for name, data in (("edit", {"title": "Autre"}), ("withdraw", {})):
        rejection = refused(activity, state, person("bea"), name, problem=problem, **data)
        assert rejection.code == "not_yours"
    act(activity, state, person("ana"), "withdraw", problem=problem)
    assert activity.outputs(state) == []
    assert refused(activity, state, person("ana"), "withdraw", problem=problem).code == "not_yours"


@pytest.mark.parametrize("name", ["edit", "withdraw", "hide", "unhide", "merge"])
def test_an_unknown_problem_is_refused(name: str) -> None:
    activity, state = make()
    post(activity, state, person("ana"), "Un")
    actor = person("ana") if name in ("edit", "withdraw") else FACILITATOR
    for problem in (None, "nope", 3):
        rejection = refused(activity, state, actor, name, problem=problem, title="x")
        assert rejection.code == "unknown_problem"


# -- tidying ------------------------------------------------------------------------------------
def test_merging_across_themes_keeps_the_kept_problems_theme_and_counts_the_merge() -> None:
    activity, state = make()
    a = post(activity, state, person("ana"), "Pas de bus", theme="emploi")
    b = post(activity, state, person("bea"), "Transports absents", theme="education")
    c = post(activity, state, person("cyr"), "Bus rares", theme="emploi")
    act(activity, state, FACILITATOR, "merge", problem=a, into=b)
    act(activity, state, FACILITATOR, "merge", problem=c, into=b)
    (item,) = activity.outputs(state)
    assert (item.id, item.group, item.model_dump()["merged"]) == (b, "Éducation", 2)
    counts = {c["id"]: c["count"] for c in activity.view(state, "screen")["columns"]}
    assert counts == {"education": 1, "orientation": 0, "emploi": 0}
    assert refused(activity, state, person("ana"), "edit", problem=a, title="X").code == "merged"
    assert refused(activity, state, person("ana"), "withdraw", problem=a).code == "merged"


def test_a_merge_needs_two_different_visible_problems() -> None:
    activity, state = make()
    a, b = post(activity, state, person("ana"), "Un"), post(activity, state, person("ana"), "Deux")
    act(activity, state, FACILITATOR, "hide", problem=b)
    for data in ({"problem": a, "into": a}, {"problem": a, "into": b}, {"problem": b, "into": a}):
        rejection = refused(activity, state, FACILITATOR, "merge", **data)
        assert rejection.code == "bad_merge"
    assert refused(activity, state, FACILITATOR, "merge", problem=a, into="x").code == (
        "unknown_problem"
    )


def test_a_hidden_problem_leaves_outputs_and_screen_but_its_author_is_told() -> None:
    activity, state = make()
    problem = post(activity, state, person("ana"), "Hors sujet")
    (hidden,) = act(activity, state, FACILITATOR, "hide", problem=problem)
    assert activity.outputs(state) == [] and activity.view(state, "screen")["count"] == 0
    assert activity.view(state, "facilitator")["columns"][2]["problems"][0]["hidden"] is True
    assert activity.personal_view(state, person("ana"))["mine"][0]["hidden"] is True
    affected = activity.affected_participants(state, Event(hidden.kind, hidden.data, "facilitator"))
    assert "ana" in set(affected)
    act(activity, state, FACILITATOR, "unhide", problem=problem)
    assert len(activity.outputs(state)) == 1


def test_opening_and_closing_concern_every_phone() -> None:
    activity, state = make()
    (closed,) = act(activity, state, FACILITATOR, "close")
    assert activity.affected_participants(state, Event(closed.kind, {}, "facilitator")) == ALL


def test_only_the_facilitator_tidies_and_only_participants_post() -> None:
    roles = {name: sorted(r) for name, r in Diagnosis.actions.items()}
    assert roles == {
        **dict.fromkeys(["post", "edit", "withdraw"], ["participant"]),
        **dict.fromkeys(
            ["hide", "unhide", "merge", "unmerge", "close", "reopen"], ["facilitator"]
        ),
    }


# -- the screen ---------------------------------------------------------------------------------
def test_the_screen_shows_the_newest_problems_of_each_theme_and_counts_them_all() -> None:
    activity, state = make(screen_cards_per_theme=3)
    titles = [f"Problème {n}" for n in range(7)]
    for n, title in enumerate(titles):
        post(activity, state, person(f"p{n}"), title, theme="emploi")
    post(activity, state, person("x"), "Cantine", theme="education")
    columns = {c["id"]: c for c in activity.view(state, "screen")["columns"]}
    assert [c for c in columns] == ["education", "orientation", "emploi"]  # the kit's order
    assert columns["emploi"]["count"] == 7
    assert [p["title"] for p in columns["emploi"]["problems"]] == titles[:3:-1][:3]
    assert (columns["orientation"]["count"], columns["orientation"]["problems"]) == (0, [])
    export = activity.export(state)
    assert [(t["id"], t["count"]) for t in export["themes"]] == [
        ("education", 1),
        ("orientation", 0),
        ("emploi", 7),
    ]


# -- rendering in both languages ------------------------------------------------------------------
@pytest.fixture(scope="module")
def renderer() -> Renderer:
    with mock.patch.dict(os.environ):
        os.environ.pop(LOAD_PLUGINS_ENV, None)
        pm = pluggy.PluginManager("palabre")
        pm.add_hookspecs(hookspecs)
        for name in ("common", "ideation", "diagnosis"):
            module = __import__(f"palabre.plugins.{name}", fromlist=["_"])
            pm.register(module, name=f"palabre.plugins.{name}")
        return Renderer(collect_activities(pm), pm)


def render(
    renderer: Renderer,
    lang: str,
    audience: str,
    activity: Diagnosis,
    state: Board,
    me: Actor | None = None,
) -> str:
    step = SimpleNamespace(id="diag", title="Diagnostic")
    if audience == "personal":
        assert me is not None
        context = {"view": activity.personal_view(state, me), "step": step, "me": me}
        return html.unescape(renderer.render(lang, "diagnosis/personal.html", context))
    context = {"view": activity.view(state, audience), "step": step}
    return html.unescape(renderer.render(lang, f"diagnosis/{audience}.html", context))


def test_the_phone_offers_the_themes_in_both_languages(renderer: Renderer) -> None:
    activity, state = make()
    fr = render(renderer, "fr", "personal", activity, state, me=person("ana"))
    en = render(renderer, "en", "personal", activity, state, me=person("ana"))
    assert "Thématique" in fr and "Choisissez une thématique…" in fr and "Envoyer ce problème" in fr
    assert "Theme" in en and "Choose a theme…" in en and "Send this problem" in en
    select = re.search(r'<select[^>]*name="theme"[^>]*>(.*?)</select>', en, re.S)
    assert select and 'data-sim="theme"' in select.group(0) and "required" in select.group(0)
    assert re.findall(r'<option value="(\w*)"', select.group(1)) == [
        "",
        "education",
        "orientation",
        "emploi",
    ]
    assert re.search(r'<input id="problem-title" name="title"[^>]*data-sim="problem"', en)


def test_a_single_theme_needs_no_choice(renderer: Renderer) -> None:
    activity, state = make(themes=[{"id": "cadre", "title": "Cadre de vie"}])
    page = render(renderer, "fr", "personal", activity, state, me=person("ana"))
    assert '<input type="hidden" name="theme" value="cadre">' in page and "<select" not in page


def test_a_non_captain_reads_who_posts_for_the_table(renderer: Renderer) -> None:
    activity, state = make(who="captains")
    ben = person("ben", 1)
    fr = render(renderer, "fr", "personal", activity, state, me=ben)
    en = render(renderer, "en", "personal", activity, state, me=ben)
    assert "Votre capitaine de table signale les problèmes" in fr and "data-action" not in fr
    assert "Your table captain posts your table’s problems" in en
    awa = person("awa", 1, captain=True)
    fr = render(renderer, "fr", "personal", activity, state, me=awa)
    assert "Vous signalez au nom de la table 1." in fr and 'data-action="post"' in fr


def test_own_problems_are_listed_with_edit_and_a_skipped_withdraw(renderer: Renderer) -> None:
    activity, state = make()
    ana = person("ana")
    post(activity, state, ana, "Pas de bus", theme="education")
    fr = render(renderer, "fr", "personal", activity, state, me=ana)
    en = render(renderer, "en", "personal", activity, state, me=ana)
    assert "Vos problèmes" in fr and "Modifier" in fr and "Éducation" in fr
    assert "Your problems" in en and "Withdraw" in en
    assert re.search(r'data-action="withdraw"[^>]*data-arg-problem="\w+"[^>]*data-sim="skip"', fr)
    assert re.search(r'<option value="education" selected>', fr)


def test_the_screen_has_one_column_per_theme_in_both_languages(renderer: Renderer) -> None:
    activity, state = make(screen_cards_per_theme=2)
    for n in range(4):
        post(activity, state, person(f"p{n}"), f"Problème {n}", theme="emploi")
    fr = render(renderer, "fr", "screen", activity, state)
    en = render(renderer, "en", "screen", activity, state)
    assert fr.count('class="diagnosis-column"') == 3
    assert "et 2 autres" in fr and "4 problèmes" in re.sub(r"<[^>]+>", "", fr)
    assert "and 2 more" in en and "Problems will appear here." in en
    assert "Les problèmes apparaîtront ici." in fr
    assert re.findall(r'data-testid="theme-count">(\d+)<', en) == ["0", "0", "4"]


def test_the_panel_counts_per_theme_and_offers_hide_and_merge(renderer: Renderer) -> None:
    activity, state = make()
    a = post(activity, state, person("p1", 3), "Pas de bus", theme="emploi")
    post(activity, state, person("p2"), "Cantine chère", theme="education")
    fr = render(renderer, "fr", "facilitator", activity, state)
    en = render(renderer, "en", "facilitator", activity, state)
    assert "2 problèmes visibles" in re.sub(r"<[^>]+>", "", fr) and "Clore le diagnostic" in fr
    assert "Close the diagnosis" in en and "Table 3" in en
    assert f'data-action="hide" data-step="diag" data-arg-problem="{a}"' in en
    picker = re.search(r'id="merge-diag".*?</form>', en, re.S)
    assert picker and '<optgroup label="Éducation">' in picker.group(0)
    assert f'form="merge-diag" name="problem" value="{a}"' in en, "each card submits the picker"


def test_the_panel_grows_linearly_with_the_problems(renderer: Renderer) -> None:
    """One merge picker for the step, not a list of targets per card: 400 problems used to
    make a panel of megabytes, re-rendered on every tick."""
    activity, state = make()
    sizes = {}
    for n in range(1, 401):
        post(activity, state, person(f"p{n}"), f"Problème numéro {n}", theme="emploi")
        if n in (100, 400):
            sizes[n] = len(render(renderer, "fr", "facilitator", activity, state))
    assert sizes[400] < 5 * sizes[100], sizes
    act(activity, state, FACILITATOR, "close")
    assert "Rouvrir le diagnostic" in render(renderer, "fr", "facilitator", activity, state)
    assert "Le diagnostic est terminé" in render(renderer, "fr", "participant", activity, state)


# -- a real server: captains post for their tables ------------------------------------------------
KIT = """
[workshop]
title = "Hackathon citoyen"
tables = 3

[[steps]]
id = "diagnosis"
activity = "diagnosis"
title = "Diagnostic"
show_join = true
[steps.config]
who = "captains"
prompt = "Quels problèmes rencontrez-vous ?"
themes = [
  { id = "education", title = "Éducation" },
  { id = "orientation", title = "Formation professionnelle et orientation" },
  { id = "emploi", title = "Emploi" },
]

[[steps]]
id = "ideas"
activity = "ideation"
title = "Idées"
from = "diagnosis"
"""


def test_captains_post_their_tables_problems_on_a_real_server(
    tmp_path: Path, start_server: Any
) -> None:
    kit = tmp_path / "captains.toml"
    kit.write_text(KIT, encoding="utf-8")
    server = start_server(tmp_path / "w.db", kit=str(kit))
    run(_captains(server))


def _phone(server: Server, name: str, table: str, captain: bool = False) -> Client:
    phone = Client(server, "participant")
    form = {"name": name, "table": table} | ({"captain": "on"} if captain else {})
    response = phone.http.post(f"/j/{server.join_code}", data=form)
    assert response.status_code == 200 and response.url.path == "/p", response.text
    return phone


async def _captains(server: Server) -> None:
    facilitator = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()
    awa, ben, chloe = (
        _phone(server, "Awa", "1", True),
        _phone(server, "Ben", "1"),
        _phone(server, "Chloé", "2", True),
    )
    phones = [awa, ben, chloe]
    try:
        for phone in phones:
            await phone.connect()
        assert 'id="diagnosis-post"' in awa.regions["personal"]
        assert 'id="diagnosis-post"' not in ben.regions["personal"]
        ack = await ben.act("post", {"theme": "emploi", "title": "Pas de stage"}, step="diagnosis")
        assert ack["error"]["code"] == "captains_only"
        assert ack["error"]["message"] == (
            "Ici, seuls les capitaines de table signalent les problèmes."
        )
        posted = [
            (awa, "emploi", "Pas de bus pour la zone d’activité"),
            (awa, "education", "Pas de soutien scolaire"),
            (chloe, "emploi", "Offres d’emploi introuvables"),
        ]
        for phone, theme, title in posted:
            ack = await phone.act("post", {"theme": theme, "title": title}, step="diagnosis")
            assert ack["ok"], ack
        for phone, data, code in (
            (chloe, {"theme": "sport", "title": "Stade"}, "unknown_theme"),
            (chloe, {"theme": "emploi", "title": "offres d’emploi  INTROUVABLES"}, "duplicate"),
            (ben, {"problem": "x", "title": "y"}, "captains_only"),
        ):
            ack = await phone.act("post" if "theme" in data else "edit", data, step="diagnosis")
            assert ack["error"]["code"] == code, ack
        ack = await awa.act("hide", {"problem": "x"}, step="diagnosis")
        assert ack["error"]["code"] == "forbidden"

        await eventually(
            screen,
            lambda: (
                re.findall(r'data-testid="theme-count">(\d+)<', screen.regions["main"])
                == ["1", "0", "2"]
            ),
            "the screen counts problems per theme",
        )
        assert "Offres d’emploi introuvables" in html.unescape(screen.regions["main"])
        for secret in ("Awa", "Chloé"):
            assert secret not in screen.regions["main"]

        # The facilitator folds table 2's problem into table 1's, across themes.
        ids = {
            e["data"]["title"]: e["data"]["problem"]
            for e in read_events(server.db)
            if e["kind"] == "diagnosis.posted"
        }
        await eventually(
            facilitator,
            lambda: 'data-arg-problem="' in facilitator.regions["main"],
            "the panel lists the problems",
        )
        ack = await facilitator.act(
            "merge",
            {
                "problem": ids["Offres d’emploi introuvables"],
                "into": ids["Pas de soutien scolaire"],
            },
            step="diagnosis",
        )
        assert ack["ok"], ack
        await eventually(
            screen,
            lambda: (
                re.findall(r'data-testid="theme-count">(\d+)<', screen.regions["main"])
                == ["1", "0", "1"]
            ),
            "the merged problem leaves its column",
        )
        await eventually(
            chloe,
            lambda: (
                "Regroupé avec un problème semblable." in html.unescape(chloe.regions["personal"])
            ),
            "Chloé sees her problem was merged",
        )

        assert (await facilitator.act("next"))["ok"]
        opened = next(
            e
            for e in read_events(server.db)
            if e["kind"] == "workshop.step_opened" and e["data"]["step"] == "ideas"
        )
        inputs = {i["title"]: i for i in opened["data"]["inputs"]}
        assert set(inputs) == {"Pas de bus pour la zone d’activité", "Pas de soutien scolaire"}
        kept = inputs["Pas de soutien scolaire"]
        assert (kept["kind"], kept["group"], kept["theme"], kept["merged"]) == (
            "problem",
            "Éducation",
            "education",
            1,
        )
        assert inputs["Pas de bus pour la zone d’activité"]["group"] == "Emploi"
    finally:
        await close_all(facilitator, screen, *phones)


# -- undoing a merge ----------------------------------------------------------------------------
def test_unmerging_puts_the_problem_back_under_its_own_theme() -> None:
    activity, state = make()
    a = post(activity, state, person("ana"), "Pas de bus", theme="emploi")
    b = post(activity, state, person("bea"), "Transports absents", theme="education")
    act(activity, state, FACILITATOR, "merge", problem=a, into=b)
    (event,) = act(activity, state, FACILITATOR, "unmerge", problem=a)
    assert (event.kind, event.data) == ("diagnosis.unmerged", {"problem": a, "into": b})
    outputs = {i.id: (i.group, i.model_dump()["merged"]) for i in activity.outputs(state)}
    assert outputs == {a: ("Emploi", 0), b: ("Éducation", 0)}
    counts = {c["id"]: c["count"] for c in activity.view(state, "screen")["columns"]}
    assert counts == {"education": 1, "orientation": 0, "emploi": 1}
    affected = activity.affected_participants(state, Event(event.kind, event.data, "facilitator"))
    assert {"ana", "bea"} <= set(affected)
    act(activity, state, person("ana"), "edit", problem=a, title="Plus de bus le soir")


def test_unmerging_a_problem_that_is_not_merged_is_refused() -> None:
    activity, state = make()
    a = post(activity, state, person("ana"), "Un")
    rejection = refused(activity, state, FACILITATOR, "unmerge", problem=a)
    assert rejection.code == "not_merged"
    assert rejection.message == "This problem is not merged into another one."
    for problem in (None, "nope", 3):
        rejection = refused(activity, state, FACILITATOR, "unmerge", problem=problem)
        assert rejection.code == "unknown_problem"


def test_the_panel_offers_to_undo_a_merge_of_problems() -> None:
    from palabre.engine import Action, Actor, Event
    from palabre.engine.plugins import collect_activities, get_plugin_manager
    from palabre.engine.render import Renderer
    from palabre.plugins.diagnosis.activity import Diagnosis, DiagnosisConfig

    activity = Diagnosis(DiagnosisConfig(themes=[{"id": "a", "title": "Éducation"}]))
    state = activity.initial_state([])
    ids = []
    for title in ("Pas de cantine le mercredi", "Cantine fermée le mercredi"):
        (posted,) = activity.handle(state, Action("post", {"theme": "a", "title": title}),
                                    Actor("participant", "p1"))
        state = activity.reduce(state, Event(posted.kind, posted.data, "p1"))
        ids.append(posted.data["problem"])
    (merged,) = activity.handle(state, Action("merge", {"problem": ids[1], "into": ids[0]}),
                                Actor("facilitator"))
    state = activity.reduce(state, Event(merged.kind, merged.data, "facilitator"))
    pm = get_plugin_manager(load_entry_points=False)
    html = Renderer(collect_activities(pm), pm).render(
        "fr", "diagnosis/facilitator.html",
        {"view": activity.view(state, "facilitator"), "step": type("S", (), {"id": "d"})})
    assert f'data-action="unmerge" data-step="d" data-arg-problem="{ids[1]}"' in html
    assert "Défaire le regroupement" in html
