"""Ideation: the shared posting rules (plugins/common/posts.py), ideas framed by an earlier
step's items, one shared sheet per table, the kit's extra fields — refused paths, outputs with
their provenance, views in French and English, and a real server running a table day."""

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

from palabre.engine import ALL, Action, Actor, Event, Item, Rejection, hookspecs
from palabre.engine.plugins import LOAD_PLUGINS_ENV, collect_activities
from palabre.engine.render import Renderer
from palabre.plugins.common import posts
from palabre.plugins.ideation.activity import Ideation, IdeationConfig, IdeationState
from support import Client, Server, cards, close_all, eventually, read_events, run

# A national-format project sheet: the labels come from the kit, in French.
SHEET_FIELDS = [
    {"name": "need", "label": "Besoin", "max_length": 300, "required": True, "multiline": True},
    {"name": "objective", "label": "Objectif", "max_length": 300, "multiline": True},
    {"name": "place", "label": "Lieu", "max_length": 80},
    {"name": "budget", "label": "Budget", "max_length": 40},
    {"name": "partners", "label": "Partenaires", "max_length": 200},
    {"name": "skills", "label": "Compétences", "max_length": 200},
]
AXES = [
    Item(
        id="ax1",
        title="Mobilité des jeunes",
        kind="axis",
        origin=[Item(id="pb1", title="Pas de bus le soir", kind="problem")],
    ),
    Item(id="ax2", title="Accès à l’emploi", kind="axis"),
]


# -- a tiny engine: decide, then fold, as the workshop does ------------------------------------
def person(pid: str, table: int | None = None, captain: bool = False) -> Actor:
    return Actor("participant", pid, pid, table, captain)


FACILITATOR = Actor("facilitator")


def make(
    inputs: list[Item] | None = None,
    roster: list[Actor] = (),
    **config: Any,  # type: ignore[assignment]
) -> tuple[Ideation, IdeationState]:
    activity = Ideation(IdeationConfig(**config))
    activity.roster = {a.key: a for a in roster}
    return activity, activity.initial_state(list(inputs or []))


def act(
    activity: Ideation, state: IdeationState, actor: Actor, name: str, **data: Any
) -> list[Event]:
    events = activity.handle(state, Action(name, data), actor)
    for event in events:
        activity.reduce(state, Event(event.kind, event.data, event.actor or actor.key))
    return events


def post(activity: Ideation, state: IdeationState, actor: Actor, title: str, **data: Any) -> str:
    (event,) = act(activity, state, actor, "post", title=title, **data)
    return str(event.data["idea"])


def refused(
    activity: Ideation, state: IdeationState, actor: Actor, name: str, **data: Any
) -> Rejection:
    """The rejection an action gets; it must leave the state exactly as it was."""
    before = copy.deepcopy(state)
    with pytest.raises(Rejection) as caught:
        activity.handle(state, Action(name, data), actor)
    assert state == before
    return caught.value


# -- posting, editing, withdrawing -------------------------------------------------------------
def test_a_posted_idea_becomes_an_output_without_its_author() -> None:
    activity, state = make()
    idea = post(
        activity,
        state,
        person("secret-ana"),
        "  Un jardin partagé  ",
        description="Près de l’école",
    )
    (item,) = activity.outputs(state)
    assert (item.id, item.title, item.description, item.kind) == (
        idea,
        "Un jardin partagé",
        "Près de l’école",
        "idea",
    )
    assert item.origin == [] and item.group == "" and item.model_dump()["merged"] == 0
    assert "secret-ana" not in repr(activity.view(state, "screen"))
    assert "secret-ana" not in repr(activity.export(state))


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"title": "   "}, "empty_text", "title"),
        ({"title": "\u200b\u202e"}, "empty_text", "title"),
        ({"title": "x" * 81}, "too_long", "title"),
        ({"title": 42}, "invalid_text", "title"),
        ({"title": "Bancs", "description": "y" * 281}, "too_long", "description"),
    ],
)
def test_a_badly_written_idea_is_refused_naming_its_field(
    data: dict[str, Any], code: str, field: str
) -> None:
    activity, state = make()
    rejection = refused(activity, state, person("ana"), "post", **data)
    assert (rejection.code, rejection.params["field"]) == (code, field)


def test_a_participant_cannot_post_more_ideas_than_allowed() -> None:
    activity, state = make(max_ideas_per_participant=2)
    ana = person("ana")
    post(activity, state, ana, "Un")
    post(activity, state, ana, "Deux")
    rejection = refused(activity, state, ana, "post", title="Trois")
    assert rejection.code == "too_many" and rejection.params == {"limit": 2}
    assert rejection.message == "You have reached the most ideas allowed ({limit})."
    post(activity, state, person("bea"), "Trois")  # the cap is per participant


def test_withdrawing_an_idea_frees_a_place_under_the_cap() -> None:
    activity, state = make(max_ideas_per_participant=1)
    ana = person("ana")
    idea = post(activity, state, ana, "Un")
    act(activity, state, ana, "withdraw", idea=idea)
    assert activity.outputs(state) == []
    post(activity, state, ana, "Deux")


def test_the_same_idea_twice_from_one_person_is_a_duplicate_but_not_from_two() -> None:
    activity, state = make()
    post(activity, state, person("ana"), "Des bancs à l’ombre")
    rejection = refused(activity, state, person("ana"), "post", title="  des BANCS   à l’ombre ")
    assert (rejection.code, rejection.params["field"]) == ("duplicate", "title")
    post(activity, state, person("bea"), "Des bancs à l’ombre")


def test_a_closed_step_refuses_posting_editing_and_withdrawing_until_reopened() -> None:
    activity, state = make()
    ana = person("ana")
    idea = post(activity, state, ana, "Un")
    assert act(activity, state, FACILITATOR, "close")[0].kind == "ideation.closed"
    for name, data in (
        ("post", {"title": "Deux"}),
        ("edit", {"idea": idea, "title": "X"}),
        ("withdraw", {"idea": idea}),
    ):
        assert refused(activity, state, ana, name, **data).code == "closed"
    act(activity, state, FACILITATOR, "reopen")
    post(activity, state, ana, "Deux")


def test_only_the_author_edits_or_withdraws_an_idea() -> None:
    activity, state = make()
    idea = post(activity, state, person("ana"), "Un")
    for name, data in (("edit", {"title": "Autre"}), ("withdraw", {})):
        assert refused(activity, state, person("bea"), name, idea=idea, **data).code == "not_yours"
    act(activity, state, person("ana"), "edit", idea=idea, title="Un banc", description="ombre")
    assert [(i.title, i.description) for i in activity.outputs(state)] == [("Un banc", "ombre")]


def test_a_withdrawn_idea_can_no_longer_be_changed() -> None:
    activity, state = make()
    ana = person("ana")
    idea = post(activity, state, ana, "Un")
    act(activity, state, ana, "withdraw", idea=idea)
    assert refused(activity, state, ana, "edit", idea=idea, title="Deux").code == "not_yours"
    assert refused(activity, state, ana, "withdraw", idea=idea).code == "not_yours"


@pytest.mark.parametrize("name", ["edit", "withdraw", "hide", "unhide", "merge"])
@pytest.mark.parametrize("idea", [None, "nope", 12])
def test_an_unknown_idea_is_refused(name: str, idea: Any) -> None:
    activity, state = make()
    post(activity, state, person("ana"), "Un")
    actor = person("ana") if name in ("edit", "withdraw") else FACILITATOR
    data = {"title": "x"} if name == "edit" else {}
    assert refused(activity, state, actor, name, idea=idea, **data).code == "unknown_idea"


def test_merging_into_an_unknown_idea_is_refused() -> None:
    activity, state = make()
    idea = post(activity, state, person("ana"), "Un")
    assert refused(activity, state, FACILITATOR, "merge", idea=idea, into="nope").code == (
        "unknown_idea"
    )


# -- the facilitator's tidying ------------------------------------------------------------------
def test_a_hidden_idea_leaves_the_outputs_and_comes_back_when_shown() -> None:
    activity, state = make()
    idea = post(activity, state, person("ana"), "Un")
    act(activity, state, FACILITATOR, "hide", idea=idea)
    assert activity.outputs(state) == [] and activity.view(state, "screen")["count"] == 0
    assert activity.personal_view(state, person("ana"))["mine"][0]["hidden"] is True
    act(activity, state, FACILITATOR, "unhide", idea=idea)
    assert [i.id for i in activity.outputs(state)] == [idea]


def test_merges_count_every_idea_folded_in_even_through_a_chain() -> None:
    activity, state = make()
    a, b, c = (
        post(activity, state, person(p), t)
        for p, t in (("ana", "Bancs"), ("bea", "Des bancs"), ("cyr", "Assises"))
    )
    act(activity, state, FACILITATOR, "merge", idea=a, into=b)
    act(activity, state, FACILITATOR, "merge", idea=b, into=c)
    (item,) = activity.outputs(state)
    assert item.id == c and item.model_dump()["merged"] == 2
    assert activity.view(state, "screen")["ideas"][0]["merged"] == 2


def test_a_merge_needs_two_different_visible_ideas() -> None:
    activity, state = make()
    a, b, c = (post(activity, state, person("ana"), t) for t in ("Un", "Deux", "Trois"))
    act(activity, state, FACILITATOR, "hide", idea=c)
    for data in ({"idea": a, "into": a}, {"idea": a, "into": c}, {"idea": c, "into": a}):
        assert refused(activity, state, FACILITATOR, "merge", **data).code == "bad_merge"
    act(activity, state, FACILITATOR, "merge", idea=a, into=b)
    assert refused(activity, state, FACILITATOR, "merge", idea=a, into=b).code == "bad_merge"
    assert refused(activity, state, person("ana"), "edit", idea=a, title="X").code == "merged"
    assert refused(activity, state, person("ana"), "withdraw", idea=a).code == "merged"


def test_only_the_facilitator_may_tidy_and_only_participants_may_post() -> None:
    # The engine refuses any other role before `handle` (tests/test_authorisation.py).
    roles = {name: sorted(r) for name, r in Ideation.actions.items()}
    assert roles == {
        **dict.fromkeys(["post", "edit", "withdraw"], ["participant"]),
        **dict.fromkeys(
            ["hide", "unhide", "merge", "unmerge", "close", "reopen"], ["facilitator"]
        ),
    }


def test_closing_concerns_everyone_and_a_merge_both_authors() -> None:
    activity, state = make()
    a = post(activity, state, person("ana"), "Un")
    b = post(activity, state, person("bea"), "Deux")
    (closed,) = act(activity, state, FACILITATOR, "close")
    assert (
        activity.affected_participants(state, Event(closed.kind, closed.data, "facilitator")) == ALL
    )
    act(activity, state, FACILITATOR, "reopen")
    (merged,) = act(activity, state, FACILITATOR, "merge", idea=a, into=b)
    affected = activity.affected_participants(state, Event(merged.kind, merged.data, "facilitator"))
    assert {"ana", "bea"} <= set(affected)


def test_replaying_the_same_events_rebuilds_the_same_outputs() -> None:
    activity, state = make(inputs=AXES, sheet="table", extra_fields=SHEET_FIELDS)
    log: list[Event] = []
    for n, table in enumerate((1, 2, 3)):
        actor = person(f"p{n}", table)
        for e in act(activity, state, actor, "post", title=f"Projet {n}", frame="ax1", need="x"):
            log.append(Event(e.kind, e.data, actor.key))
    log += [
        Event(e.kind, e.data, "facilitator")
        for e in act(activity, state, FACILITATOR, "hide", idea=log[1].data["idea"])
    ]
    again = activity.initial_state(AXES)
    for event in log:
        again = activity.reduce(again, event)
    assert activity.outputs(again) == activity.outputs(state)


# -- the shared rules, directly ----------------------------------------------------------------
def test_extra_field_names_cannot_shadow_a_post_or_item_field() -> None:
    for name in ("title", "group", "origin", "frame", "table", "merged"):
        with pytest.raises(ValidationError, match="already used"):
            posts.ExtraField(name=name, label="X")
    with pytest.raises(ValidationError, match="its own name"):
        IdeationConfig(
            extra_fields=[{"name": "need", "label": "A"}, {"name": "need", "label": "B"}]
        )


def test_table_owners_stand_for_everyone_seated_there() -> None:
    roster = {a.key: a for a in (person("a", 1), person("b", 1), person("c", 2), person("d"))}
    assert posts.members(posts.table_owner(1), roster) == {"a", "b"}
    assert posts.members("d", roster) == {"d"}


# -- framing by an earlier step's items ----------------------------------------------------------
def test_a_framed_idea_descends_from_the_item_it_answers() -> None:
    activity, state = make(inputs=AXES)
    idea = post(activity, state, person("ana"), "Navette de nuit", frame="ax1")
    (item,) = activity.outputs(state)
    assert item.id == idea and item.group == "Mobilité des jeunes"
    assert [i.id for i in item.origin] == ["ax1"]
    assert [i.id for i in item.trail()] == ["ax1", "pb1"]  # back to the diagnosis


@pytest.mark.parametrize(
    ("frame", "code"),
    [(None, "no_frame"), ("", "no_frame"), ("ax9", "unknown_frame"), (3, "unknown_frame")],
)
def test_a_framed_step_refuses_an_idea_without_a_known_frame(frame: Any, code: str) -> None:
    activity, state = make(inputs=AXES)
    data = {} if frame is None else {"frame": frame}
    rejection = refused(activity, state, person("ana"), "post", title="Navette", **data)
    assert (rejection.code, rejection.params["field"]) == (code, "frame")


def test_an_edit_keeps_the_frame_unless_it_names_another() -> None:
    activity, state = make(inputs=AXES)
    ana = person("ana")
    idea = post(activity, state, ana, "Navette", frame="ax1")
    act(activity, state, ana, "edit", idea=idea, title="Navette de nuit")
    assert activity.outputs(state)[0].group == "Mobilité des jeunes"
    assert refused(activity, state, ana, "edit", idea=idea, title="N", frame="ax9").code == (
        "unknown_frame"
    )
    act(activity, state, ana, "edit", idea=idea, title="Navette", frame="ax2")
    assert [i.id for i in activity.outputs(state)[0].origin] == ["ax2"]


def test_framing_can_be_turned_off_and_ideas_without_inputs_are_never_framed() -> None:
    activity, state = make(inputs=AXES, framed="never")
    post(activity, state, person("ana"), "Libre")
    assert (
        activity.outputs(state)[0].origin == []
        and activity.view(state, "participant")["frames"] == []
    )
    activity, state = make()
    post(activity, state, person("ana"), "Libre", frame="ax1")  # ignored: nothing to answer
    assert activity.outputs(state)[0].group == ""


# -- one sheet per table -------------------------------------------------------------------------
def table_day(**config: Any) -> tuple[Ideation, IdeationState, dict[str, Actor]]:
    people = {
        p.key: p
        for p in (person("awa", 1, True), person("ben", 1), person("chl", 2), person("dan"))
    }
    activity, state = make(
        inputs=AXES,
        roster=list(people.values()),
        sheet="table",
        extra_fields=SHEET_FIELDS,
        **config,
    )
    return activity, state, people


def test_everyone_at_a_table_edits_the_same_sheet_and_no_one_else_can() -> None:
    activity, state, p = table_day()
    sheet = post(activity, state, p["awa"], "Navette", frame="ax1", need="Rentrer le soir")
    assert activity.personal_view(state, p["ben"])["mine"][0]["id"] == sheet
    act(
        activity,
        state,
        p["ben"],
        "edit",
        idea=sheet,
        title="Navette solidaire",
        need="Rentrer du travail",
        budget="12 000 €",
    )
    (item,) = activity.outputs(state)
    dumped = item.model_dump()
    assert (item.title, dumped["need"], dumped["budget"], dumped["table"]) == (
        "Navette solidaire",
        "Rentrer du travail",
        "12 000 €",
        1,
    )
    for name, data in (("edit", {"title": "À nous"}), ("withdraw", {})):
        rejection = refused(activity, state, p["chl"], name, idea=sheet, **data)
        assert rejection.code == "not_yours"
        assert rejection.message == "You can only change your table’s ideas."


def test_a_table_gets_as_many_sheets_as_the_kit_allows() -> None:
    activity, state, p = table_day()
    post(activity, state, p["awa"], "Navette", frame="ax1", need="x")
    rejection = refused(activity, state, p["ben"], "post", title="Autre", frame="ax2", need="y")
    assert rejection.code == "too_many" and rejection.params == {"limit": 1}
    assert rejection.message == "Your table has reached the most ideas allowed ({limit})."
    assert activity.personal_view(state, p["ben"])["can_post"] is False
    assert activity.personal_view(state, p["chl"])["can_post"] is True


def test_a_table_cannot_post_the_same_sheet_twice() -> None:
    activity, state, p = table_day(max_ideas_per_table=3)
    post(activity, state, p["awa"], "Navette", frame="ax1", need="x")
    rejection = refused(activity, state, p["ben"], "post", title="NAVETTE", frame="ax1", need="y")
    assert rejection.code == "duplicate"
    assert rejection.message == "Your table already posted this idea."


def test_someone_without_a_table_is_told_so_on_every_sheet_action() -> None:
    activity, state, p = table_day()
    sheet = post(activity, state, p["awa"], "Navette", frame="ax1", need="x")
    for name, data in (
        ("post", {"title": "Moi", "frame": "ax1", "need": "x"}),
        ("edit", {"idea": sheet, "title": "Moi"}),
        ("withdraw", {"idea": sheet}),
    ):
        assert refused(activity, state, p["dan"], name, **data).code == "no_table"
    mine = activity.personal_view(state, p["dan"])
    assert (mine["seated"], mine["can_post"], mine["mine"]) == (False, False, [])


def test_a_required_sheet_field_left_empty_is_refused_naming_it() -> None:
    activity, state, p = table_day()
    rejection = refused(activity, state, p["awa"], "post", title="Navette", frame="ax1", need=" ")
    assert (rejection.code, rejection.params["field"]) == ("empty_text", "need")
    rejection = refused(
        activity, state, p["awa"], "post", title="Navette", frame="ax1", need="x", place="p" * 81
    )
    assert (rejection.code, rejection.params["field"]) == ("too_long", "place")


def test_a_table_sheet_change_reaches_every_member_of_the_table() -> None:
    activity, state, p = table_day()
    sheet = post(activity, state, p["awa"], "Navette", frame="ax1", need="x")
    (edited,) = act(activity, state, p["ben"], "edit", idea=sheet, title="Navette 2", need="y")
    affected = set(activity.affected_participants(state, Event(edited.kind, edited.data, "ben")))
    assert affected == {"awa", "ben"}


def test_the_screen_shows_sheets_by_table_and_the_export_keeps_every_field() -> None:
    activity, state, p = table_day()
    post(activity, state, p["awa"], "Navette", frame="ax1", need="Rentrer\nle soir")
    post(activity, state, p["chl"], "Jardin", frame="ax2", need="x")
    screen = activity.view(state, "screen")["ideas"]
    assert [(i["sheet_table"], i["title"]) for i in screen] == [(1, "Navette"), (2, "Jardin")]
    exported = activity.export(state)
    assert [f["label"] for f in exported["fields"]] == [f["label"] for f in SHEET_FIELDS]
    row = next(r for r in exported["ideas"] if r["title"] == "Navette")
    assert row["extra"]["need"] == "Rentrer\nle soir" and row["frame"] == "Mobilité des jeunes"
    assert "awa" not in repr(exported)


# -- views, rendered in French and English ---------------------------------------------------------
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
    activity: Ideation,
    state: Any,
    me: Actor | None = None,
) -> str:
    step = SimpleNamespace(id="projects", title="Projets")
    if audience == "personal":
        assert me is not None
        view = activity.personal_view(state, me)
        return html.unescape(
            renderer.render(lang, "ideation/personal.html", {"view": view, "step": step, "me": me})
        )
    return html.unescape(
        renderer.render(
            lang,
            f"ideation/{audience}.html",
            {"view": activity.view(state, audience), "step": step},
        )
    )


def test_a_framed_form_offers_the_inputs_in_both_languages(renderer: Renderer) -> None:
    activity, state = make(inputs=AXES)
    fr = render(renderer, "fr", "participant", activity, state)
    en = render(renderer, "en", "participant", activity, state)
    assert "Votre idée répond à" in fr and "Choisissez…" in fr and "Envoyer mon idée" in fr
    assert "Your idea answers" in en and "Choose…" in en and "Send my idea" in en
    select = re.search(r'<select[^>]*name="frame"[^>]*>(.*?)</select>', en, re.S)
    assert select and 'data-sim="frame"' in select.group(0) and "required" in select.group(0)
    assert re.findall(r'<option value="(\w*)"', select.group(1)) == ["", "ax1", "ax2"]
    assert "Mobilité des jeunes" in select.group(1)


def test_an_unframed_participant_page_still_reads_as_before(renderer: Renderer) -> None:
    activity, state = make()
    post(activity, state, person("ana"), "Un jardin")
    fr = render(renderer, "fr", "participant", activity, state)
    assert "Envoyer mon idée" in fr and "1 idée pour l’instant" in fr and 'name="frame"' not in fr
    assert 'data-sim="idea"' in fr


def test_a_table_sheet_is_on_every_members_phone_in_both_languages(renderer: Renderer) -> None:
    activity, state, p = table_day()
    fr = render(renderer, "fr", "personal", activity, state, me=p["ben"])
    en = render(renderer, "en", "personal", activity, state, me=p["ben"])
    assert "La fiche de votre table (table 1)" in fr and "Envoyer notre fiche" in fr
    assert "Your table’s sheet (table 1)" in en and "Send our sheet" in en
    assert re.search(r'<textarea id="idea-need" name="need" rows="3" required', en)
    assert re.search(r'<input id="idea-budget" name="budget"[^>]*data-sim="budget"', en)
    assert "Besoin" in en and "Compétences" in en  # the kit's labels, as written
    post(activity, state, p["awa"], "Navette", frame="ax1", need="Rentrer")
    fr = render(renderer, "fr", "personal", activity, state, me=p["ben"])
    assert "Envoyer notre fiche" not in fr and "Navette" in fr and "Besoin\u00a0:" in fr
    assert re.search(r'data-action="withdraw"[^>]*data-sim="skip"', fr)
    assert re.search(r'<option value="ax1" selected>', fr)
    main = render(renderer, "fr", "participant", activity, state)
    assert "Votre table remplit une fiche commune" in main and 'id="ideation-post"' not in main


def test_someone_without_a_table_reads_why_in_both_languages(renderer: Renderer) -> None:
    activity, state, p = table_day()
    fr = render(renderer, "fr", "personal", activity, state, me=p["dan"])
    en = render(renderer, "en", "personal", activity, state, me=p["dan"])
    assert "Vous n’avez pas encore de table\u00a0: demandez à l’équipe d’animation." in fr
    assert "You are not seated at a table yet: ask the facilitator." in en
    assert "data-action" not in fr


def test_screen_and_panel_show_sheets_by_table_with_their_fields(renderer: Renderer) -> None:
    activity, state, p = table_day()
    post(activity, state, p["chl"], "Jardin", frame="ax2", need="Cultiver", budget="800 €")
    for lang, sheets in (("fr", "1 fiche"), ("en", "1 sheet")):
        screen = render(renderer, lang, "screen", activity, state)
        assert re.search(r'dir="auto">Jardin</p><p class="card__meta sheet-table">Table 2<', screen)
        assert sheets in re.sub(r"<[^>]+>", "", screen) and "Accès à l’emploi" in screen
    fr = render(renderer, "fr", "facilitator", activity, state)
    en = render(renderer, "en", "facilitator", activity, state)
    assert "Besoin\u00a0:</strong> Cultiver" in fr and "Budget\u00a0:</strong> 800 €" in fr
    assert "Besoin:</strong> Cultiver" in en and "Masquer" in fr and "Hide" in en


# -- a real server: a table day, from problems to project sheets -----------------------------------
KIT = """
[workshop]
title = "Hackathon des quartiers"
tables = 3

[[steps]]
id = "problems"
activity = "diagnosis"
title = "Diagnostic"
[steps.config]
themes = [{ id = "mobilite", title = "Mobilité" }, { id = "emploi", title = "Emploi" }]

[[steps]]
id = "projects"
activity = "ideation"
title = "Projets"
from = "problems"
[steps.config]
sheet = "table"
output_kind = "project"
extra_fields = [
  { name = "need", label = "Besoin", required = true, multiline = true, max_length = 300 },
  { name = "budget", label = "Budget", max_length = 40 },
]

[[steps]]
id = "pitches"
activity = "ideation"
title = "Pitchs"
from = "projects"
"""


def test_tables_write_project_sheets_framed_by_the_diagnosis_on_a_real_server(
    tmp_path: Path, start_server: Any
) -> None:
    kit = tmp_path / "tables.toml"
    kit.write_text(KIT, encoding="utf-8")
    server = start_server(tmp_path / "w.db", kit=str(kit))
    run(_table_day(server))


def _phone(server: Server, name: str, table: str) -> Client:
    phone = Client(server, "participant")
    response = phone.http.post(f"/j/{server.join_code}", data={"name": name, "table": table})
    assert response.status_code == 200 and response.url.path == "/p", response.text
    return phone


def _people(server: Server) -> dict[str, str]:
    return {
        e["data"]["name"]: e["actor"]
        for e in read_events(server.db)
        if e["kind"] == "participant.joined"
    }


async def _table_day(server: Server) -> None:
    facilitator = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()
    awa, ben, chloe = (
        _phone(server, n, t) for n, t in (("Awa", "1"), ("Ben", "1"), ("Chloé", "2"))
    )
    phones = [awa, ben, chloe]
    try:
        await _connect(phones)
        ack = await awa.act(
            "post", {"theme": "mobilite", "title": "Pas de bus le soir"}, step="problems"
        )
        assert ack["ok"], ack
        problem = next(
            e["data"]["problem"] for e in read_events(server.db) if e["kind"] == "diagnosis.posted"
        )
        assert (await facilitator.act("next"))["ok"]

        # Table 1 opens its sheet, framed by the problem; the other member completes it.
        await eventually(
            awa,
            lambda: 'id="ideation-post"' in awa.regions.get("personal", ""),
            "Awa's phone offers her table's sheet",
        )
        assert "Pas de bus le soir" in html.unescape(awa.regions["personal"])
        ack = await awa.act(
            "post",
            {"frame": problem, "title": "Navette de nuit", "need": "Rentrer du travail"},
            step="projects",
        )
        assert ack["ok"], ack
        await eventually(
            ben,
            lambda: "Navette de nuit" in ben.regions.get("personal", ""),
            "Ben sees his table's sheet",
        )
        assert 'id="ideation-post"' not in ben.regions["personal"]  # one sheet per table
        sheet = re.search(r'data-key="mine-(\w+)"', ben.regions["personal"])
        assert sheet
        ack = await ben.act(
            "edit",
            {
                "idea": sheet.group(1),
                "title": "Navette solidaire",
                "need": "Rentrer du travail",
                "budget": "12 000 €",
            },
            step="projects",
        )
        assert ack["ok"], ack
        await eventually(
            awa, lambda: "Navette solidaire" in awa.regions["personal"], "Awa sees Ben's edit"
        )
        refusals = [
            (chloe, "edit", {"idea": sheet.group(1), "title": "À nous"}, "not_yours"),
            (ben, "post", {"frame": problem, "title": "Autre", "need": "x"}, "too_many"),
            (chloe, "post", {"frame": "nope", "title": "Jardin", "need": "x"}, "unknown_frame"),
        ]
        for phone, name, data, code in refusals:
            ack = await phone.act(name, data, step="projects")
            assert not ack["ok"] and ack["error"]["code"] == code, (name, ack)
        await eventually(
            screen,
            lambda: "Navette solidaire" in screen.regions["main"],
            "the screen shows the sheet",
        )
        assert cards(screen.regions["main"]) == {sheet.group(1): "Navette solidaire"}
        assert '<p class="card__meta sheet-table">Table 1</p>' in screen.regions["main"]

        # Unseated by the facilitator, Chloé is told why she cannot post.
        ack = await facilitator.act(
            "set_table", {"participant": _people(server)["Chloé"], "table": ""}
        )
        assert ack["ok"], ack
        ack = await chloe.act(
            "post", {"frame": problem, "title": "Jardin", "need": "x"}, step="projects"
        )
        assert ack["error"]["code"] == "no_table"
        assert ack["error"]["message"] == (
            "Vous n’avez pas encore de table\u00a0: demandez à l’équipe d’animation."
        )

        assert (await facilitator.act("next"))["ok"]
        opened = [
            e
            for e in read_events(server.db)
            if e["kind"] == "workshop.step_opened" and e["data"]["step"] == "pitches"
        ]
        (project,) = opened[0]["data"]["inputs"]
        assert (project["title"], project["kind"], project["group"]) == (
            "Navette solidaire",
            "project",
            "Pas de bus le soir",
        )
        assert (project["need"], project["budget"], project["table"]) == (
            "Rentrer du travail",
            "12 000 €",
            1,
        )
        assert [o["id"] for o in project["origin"]] == [problem]
        assert project["origin"][0]["kind"] == "problem"
    finally:
        await close_all(facilitator, screen, *phones)


async def _connect(phones: list[Client]) -> None:
    for phone in phones:
        await phone.connect()


# -- undoing a merge ---------------------------------------------------------------------------
def test_unmerging_shows_the_idea_again_and_takes_it_out_of_the_kept_ones_count() -> None:
    activity, state = make()
    a = post(activity, state, person("ana"), "Des bancs")
    b = post(activity, state, person("bea"), "Bancs à l’ombre")
    act(activity, state, FACILITATOR, "merge", idea=a, into=b)
    assert [(i.id, i.model_dump()["merged"]) for i in activity.outputs(state)] == [(b, 1)]
    (event,) = act(activity, state, FACILITATOR, "unmerge", idea=a)
    assert (event.kind, event.data) == ("ideation.unmerged", {"idea": a, "into": b})
    assert state.posts[a].merged_into is None and state.posts[b].merged_from == []
    assert [(i.id, i.model_dump()["merged"]) for i in activity.outputs(state)] == [(a, 0), (b, 0)]
    assert activity.view(state, "screen")["count"] == 2
    mine = activity.personal_view(state, person("ana"))["mine"][0]
    assert mine["merged_into"] is None
    # The author may change it again, and the facilitator may merge it again.
    act(activity, state, person("ana"), "edit", idea=a, title="Des bancs partout")
    act(activity, state, FACILITATOR, "merge", idea=a, into=b)
    assert state.posts[b].merged_from == [a]


def test_unmerging_an_idea_that_is_not_merged_is_refused() -> None:
    activity, state = make()
    a = post(activity, state, person("ana"), "Un")
    rejection = refused(activity, state, FACILITATOR, "unmerge", idea=a)
    assert rejection.code == "not_merged"
    assert rejection.message == "This idea is not merged into another one."
    for idea in (None, "nope", 12):
        assert refused(activity, state, FACILITATOR, "unmerge", idea=idea).code == "unknown_idea"


def test_unmerging_one_link_of_a_chain_keeps_the_rest() -> None:
    activity, state = make()
    a, b, c = (
        post(activity, state, person(p), t)
        for p, t in (("ana", "Bancs"), ("bea", "Des bancs"), ("cyr", "Assises"))
    )
    act(activity, state, FACILITATOR, "merge", idea=a, into=b)
    act(activity, state, FACILITATOR, "merge", idea=b, into=c)
    act(activity, state, FACILITATOR, "unmerge", idea=b)  # b comes back with a still in it
    merged = {i.id: i.model_dump()["merged"] for i in activity.outputs(state)}
    assert merged == {b: 1, c: 0}


def test_an_unmerge_concerns_both_authors_and_replays_to_the_same_outputs() -> None:
    activity, state = make()
    log: list[Event] = []

    def logged(actor: Actor, name: str, **data: Any) -> Event:
        (event,) = act(activity, state, actor, name, **data)
        log.append(Event(event.kind, event.data, actor.key))
        return log[-1]

    a = logged(person("ana"), "post", title="Un").data["idea"]
    b = logged(person("bea"), "post", title="Deux").data["idea"]
    logged(FACILITATOR, "merge", idea=a, into=b)
    unmerged = logged(FACILITATOR, "unmerge", idea=a)
    assert {"ana", "bea"} <= set(activity.affected_participants(state, unmerged))
    again = activity.initial_state([])
    for event in log:
        again = activity.reduce(again, event)
    assert activity.outputs(again) == activity.outputs(state)
    assert [i.id for i in activity.outputs(again)] == [a, b]


def test_the_panel_offers_to_undo_a_merge_in_both_languages(renderer: Renderer) -> None:
    activity, state = make()
    a = post(activity, state, person("ana"), "Des bancs")
    b = post(activity, state, person("bea"), "Bancs à l’ombre")
    act(activity, state, FACILITATOR, "merge", idea=a, into=b)
    for lang, label in (("fr", "Défaire le regroupement"), ("en", "Undo the merge")):
        page = render(renderer, lang, "facilitator", activity, state)
        card = page.split(f'data-key="{a}"')[1].split("</li>")[0]
        button = re.search(r'<button[^>]*data-action="unmerge"[^>]*>([^<]*)</button>', card)
        assert button, card
        assert f'data-arg-idea="{a}"' in button.group(0) and button.group(1).strip() == label
        assert "Bancs à l’ombre" in card  # says which idea it was folded into
    act(activity, state, FACILITATOR, "unmerge", idea=a)
    assert 'data-action="unmerge"' not in render(renderer, "fr", "facilitator", activity, state)
