"""Pitches: every team presents in turn against a large countdown.

The timers are deadlines computed from the action's server time (`Action.at`, controlled
here), stored in events; replaying the log gives the same deadline, so a restarted server
shows the same countdown. Also: the facilitator's controls and their refusals, the project
sheet, the outputs for the jury, both languages, and a real server restarted mid-pitch."""

from __future__ import annotations

import copy
import html
import json
import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from palabre.engine import Action, Actor, Event, Item, Rejection
from palabre.engine.kits import parse_kit
from palabre.engine.plugins import collect_activities, get_plugin_manager
from palabre.engine.render import Renderer
from palabre.engine.workshop import Workshop
from palabre.plugins.pitches.activity import Pitches
from palabre.plugins.pitches.model import PitchesConfig, PitchesState, clock_text
from support import Client, Server, close_all, eventually, run

FACILITATOR = Actor("facilitator")
T0 = 1_763_800_000.0  # a fixed server time, in seconds


def team(item_id: str, title: str, **extra: Any) -> Item:
    project = Item(id=f"proj-{item_id}", title=f"Projet {title}", kind="project",
                   group="Mobilité", origin=[Item(id="ax1", title="Mobilité", kind="axis")])
    return Item(id=item_id, title=title, kind="team", origin=[project], **extra)


TEAMS = [team("a", "Les Navetteurs", members=["p1", "p2"]), team("b", "Les Jardiniers"),
         team("c", "Les Bricoleurs")]


class Day:
    """One pitches step: the facilitator acts at controlled times; every event is kept."""

    def __init__(self, items: list[Item] | None = None, **config: Any) -> None:
        self.activity = Pitches(PitchesConfig(**config))
        self.inputs = TEAMS if items is None else items
        self.state: PitchesState = self.activity.initial_state(self.inputs)
        self.log: list[Event] = []

    def act(self, name: str, at: float = T0, **data: Any) -> list[Event]:
        events = self.activity.handle(self.state, Action(name, data, at), FACILITATOR)
        for event in events:
            self.log.append(event)
            self.state = self.activity.reduce(self.state, event)
        return events

    def refused(self, name: str, at: float = T0, **data: Any) -> str:
        before = copy.deepcopy(self.state)
        with pytest.raises(Rejection) as caught:
            self.activity.handle(self.state, Action(name, data, at), FACILITATOR)
        assert self.state == before, "a refused action changed the state"
        return caught.value.code

    @property
    def record(self) -> Any:
        return self.state.records[self.state.current or ""]

    def replayed(self) -> PitchesState:
        """A new server: same config, same inputs, the log read back from JSON."""
        activity = Pitches(self.activity.config)
        state = activity.initial_state(self.inputs)
        for event in self.log:
            stored = Event(event.kind, json.loads(json.dumps(event.data)), "facilitator")
            state = activity.reduce(state, stored)
        return state


# -- the countdown ---------------------------------------------------------------------------
def test_a_pitch_starts_with_a_deadline_taken_from_the_server_clock() -> None:
    day = Day()
    [event] = day.act("start", at=T0)
    assert event.kind == "pitches.started"
    assert event.data == {"item": "a", "at": T0, "deadline": T0 + 180}
    assert day.state.timer.deadline == T0 + 180 and day.state.timer.running
    assert day.record.phase == "pitch" and day.record.started_at == T0


def test_a_pause_keeps_the_time_left_and_pauses_are_not_speaking_time() -> None:
    day = Day()
    day.act("start", at=T0)
    [paused] = day.act("pause", at=T0 + 50)
    assert paused.data["remaining"] == 130
    assert day.state.timer.deadline is None and day.state.timer.remaining == 130
    [resumed] = day.act("resume", at=T0 + 1000)
    assert resumed.data["deadline"] == T0 + 1130
    [ended] = day.act("done", at=T0 + 1130)
    assert ended.data["seconds"] == 180 and ended.data["overrun"] == 0
    assert day.record.phase == "done" and day.record.ended_at == T0 + 1130


def test_a_late_pitch_records_its_overrun() -> None:
    day = Day()
    day.act("start", at=T0)
    day.act("done", at=T0 + 192)
    assert day.record.overrun == 12 and day.record.seconds == 192 and day.record.left == -12
    out = {item.id: item.model_extra for item in day.activity.outputs(day.state)}
    assert out["a"] == out["a"] | {"pitched": True, "pitch_seconds": 192,
                                   "overrun_seconds": 12, "skipped": False}


def test_added_time_moves_the_deadline_or_the_time_left() -> None:
    day = Day()
    day.act("add_time", at=T0, seconds="60")  # before the start: a longer slot
    assert day.state.timer.remaining == 240
    day.act("start", at=T0 + 5)
    assert day.state.timer.deadline == T0 + 245
    day.act("add_time", at=T0 + 10, seconds="30")
    assert day.state.timer.deadline == T0 + 275
    day.act("pause", at=T0 + 20)
    day.act("add_time", at=T0 + 25, seconds="30")
    assert day.state.timer.remaining == 285 and day.record.added == 120


def test_a_pitch_gets_at_most_ten_extra_minutes() -> None:
    day = Day()
    day.act("start", at=T0)
    for n in range(10):
        day.act("add_time", at=T0 + n, seconds="60")
    assert day.refused("add_time", seconds="30") == "too_much_time"
    for bad in ("0", "-30", "601", "beaucoup", ""):
        assert day.refused("add_time", seconds=bad) == "bad_seconds"
    assert Day().refused("add_time") == "bad_seconds"


def test_reset_puts_the_pitch_back_to_its_start() -> None:
    day = Day()
    day.act("start", at=T0)
    day.act("add_time", at=T0 + 1, seconds="30")
    day.act("reset", at=T0 + 40)
    assert day.record.phase == "ready" and day.record.started_at is None
    assert not day.state.timer.running and day.state.timer.remaining == 180
    day.act("start", at=T0 + 50)
    assert day.state.timer.deadline == T0 + 230


def test_questions_time_follows_the_pitch_when_the_kit_asks_for_it() -> None:
    day = Day(questions_seconds=120)
    day.act("start", at=T0)
    ended, questions = day.act("done", at=T0 + 170)
    assert ended.kind == "pitches.ended" and questions.kind == "pitches.questions_started"
    assert questions.data["deadline"] == T0 + 290
    assert day.record.phase == "questions" and day.state.timer.deadline == T0 + 290
    day.act("pause", at=T0 + 200)
    assert day.state.timer.remaining == 90
    day.act("resume", at=T0 + 300)
    day.act("done", at=T0 + 340)
    assert day.record.phase == "done" and day.record.questions_seconds == 70
    assert day.record.seconds == 170  # the pitch itself, not the questions


def test_without_questions_time_done_ends_the_pitch() -> None:
    day = Day()
    day.act("start", at=T0)
    assert [e.kind for e in day.act("done", at=T0 + 100)] == ["pitches.ended"]
    assert day.record.phase == "done" and not day.state.timer.running


# -- the queue -------------------------------------------------------------------------------
def test_next_ends_the_pitch_being_timed_and_selects_the_following_team() -> None:
    day = Day()
    day.act("start", at=T0)
    ended, selected = day.act("next", at=T0 + 185)
    assert ended.data["overrun"] == 5 and selected.data == {"item": "b"}
    assert day.state.current == "b" and day.state.timer.remaining == 180
    assert not day.state.timer.running
    day.act("previous", at=T0 + 200)
    assert day.state.current == "a" and day.state.timer.remaining == -5  # how it ended


def test_skipping_puts_a_team_at_the_end_or_marks_it_skipped() -> None:
    day = Day()
    day.act("start", at=T0)
    day.act("skip", at=T0 + 10, mode="later")  # the speaker is not ready: later
    assert day.state.queue == ["b", "c", "a"] and day.state.current == "b"
    assert day.state.records["a"].started_at is None and not day.state.timer.running
    day.act("skip", at=T0 + 20, mode="drop")  # the Jardiniers left
    assert day.state.records["b"].skipped and day.state.current == "c"
    day.act("skip", at=T0 + 30, item="b", mode="later")  # …and came back
    assert day.state.queue == ["c", "a", "b"] and not day.state.records["b"].skipped


def test_dropping_another_team_leaves_the_running_countdown_alone() -> None:
    day = Day()
    day.act("start", at=T0)
    day.act("skip", at=T0 + 10, item="c", mode="drop")
    assert day.state.timer.deadline == T0 + 180 and day.state.current == "a"


def test_the_queue_can_be_reordered() -> None:
    day = Day()
    day.act("move", item="c", direction="up")
    assert day.state.queue == ["a", "c", "b"]
    day.act("move", item="a", direction="down")
    assert day.state.queue == ["c", "a", "b"] and day.state.current == "a"


# -- refusals ------------------------------------------------------------------------------------
def _running() -> Day:
    day = Day()
    day.act("start", at=T0)
    return day


def _paused() -> Day:
    day = _running()
    day.act("pause", at=T0 + 10)
    return day


def _ended() -> Day:
    day = _running()
    day.act("done", at=T0 + 100)
    return day


@pytest.mark.parametrize(
    ("setup", "action", "data", "code"),
    [
        (_running, "start", {}, "running"),
        (_paused, "start", {}, "paused"),
        (_ended, "start", {}, "pitch_over"),
        (Day, "pause", {}, "not_running"),
        (_paused, "pause", {}, "not_running"),
        (_running, "resume", {}, "not_paused"),
        (Day, "resume", {}, "not_paused"),
        (Day, "done", {}, "not_started"),
        (_ended, "done", {}, "pitch_over"),
        (_ended, "add_time", {"seconds": "30"}, "pitch_over"),
        (Day, "previous", {}, "no_previous"),
        (Day, "move", {"item": "nope", "direction": "up"}, "unknown_item"),
        (Day, "move", {"direction": "up"}, "unknown_item"),
        (Day, "move", {"item": "a", "direction": "up"}, "out_of_range"),
        (Day, "move", {"item": "c", "direction": "down"}, "out_of_range"),
        (Day, "move", {"item": "b", "direction": "left"}, "bad_direction"),
        (Day, "skip", {"item": "nope", "mode": "later"}, "unknown_item"),
        (Day, "skip", {"mode": "forever"}, "bad_mode"),
        (_ended, "skip", {"mode": "drop"}, "pitch_over"),
        (Day, "dance", {}, "unknown_action"),
    ],
)
def test_a_refused_action_says_why_and_changes_nothing(
    setup: Any, action: str, data: dict[str, str], code: str
) -> None:
    assert setup().refused(action, at=T0 + 20, **data) == code


def test_next_past_the_last_pitch_is_refused() -> None:
    day = Day()
    day.act("next", at=T0)
    day.act("next", at=T0 + 1)
    assert day.refused("next", at=T0 + 2) == "no_next"


def test_an_empty_queue_has_nothing_to_time() -> None:
    day = Day(items=[])
    for action in ("start", "pause", "add_time", "reset", "done"):
        assert day.refused(action, seconds="30") == "no_pitch"
    assert day.refused("next") == "no_next"


KIT = """
[workshop]
title = "Pitchs de test"
language = "fr"

[[steps]]
id = "pitches"
activity = "pitches"
title = "Les pitchs"
[steps.config]
duration_seconds = 180
warn_seconds = 30
[[steps.config.items]]
id = "navette"
title = "Navette solidaire"
group = "Mobilité"
need = "Aller au marché le samedi"
budget = "12 000 €"
[[steps.config.items]]
id = "jardin"
title = "Jardin partagé"
"""


@pytest.mark.parametrize("role", ["participant", "screen", "juror"])
def test_only_the_facilitator_runs_the_pitches(role: str) -> None:
    activities = collect_activities(get_plugin_manager(load_entry_points=False))
    workshop = Workshop(parse_kit(KIT, "kit.toml", activities), "w1")
    for event in workshop.open_first_step():
        workshop.apply(event)
    for action in Pitches.actions:
        with pytest.raises(Rejection) as caught:
            workshop.decide(Actor(role, "p1"), "pitches", action, {}, "id1", at=T0)  # type: ignore[arg-type]
        assert caught.value.code == "forbidden", action
    assert workshop.decide(FACILITATOR, "pitches", "start", {}, "id2", at=T0)


def test_kit_items_are_pitched_when_the_step_has_no_inputs() -> None:
    activities = collect_activities(get_plugin_manager(load_entry_points=False))
    step = parse_kit(KIT, "kit.toml", activities).steps[0]
    state = Pitches(step.config).initial_state([])
    assert state.queue == ["navette", "jardin"]
    assert state.items["navette"].model_extra == {"need": "Aller au marché le samedi",
                                                 "budget": "12 000 €"}


def test_the_warning_must_come_before_the_end() -> None:
    with pytest.raises(ValueError, match="warn_seconds"):
        PitchesConfig(duration_seconds=30, warn_seconds=30)


# -- restart safety ------------------------------------------------------------------------------
def test_replaying_the_log_gives_the_same_deadline_without_reading_the_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    day = Day(questions_seconds=60)
    day.act("start", at=T0)
    day.act("add_time", at=T0 + 3, seconds="30")
    day.act("pause", at=T0 + 40)
    day.act("resume", at=T0 + 70)
    running = day.replayed()

    def no_clock() -> float:
        raise AssertionError("reduce read the clock")

    monkeypatch.setattr(time, "time", no_clock)
    monkeypatch.setattr(time, "monotonic", no_clock)
    assert day.replayed() == day.state == running
    assert running.timer.deadline == T0 + 70 + 170 and running.timer.running
    day.act("pause", at=T0 + 100)
    assert day.replayed().timer.remaining == 140 == day.state.timer.remaining
    day.act("resume", at=T0 + 110)
    day.act("done", at=T0 + 300)
    day.act("next", at=T0 + 301)
    day.act("skip", at=T0 + 302, mode="drop")
    assert day.replayed() == day.state


# -- outputs and export ----------------------------------------------------------------------------
def test_outputs_list_the_teams_in_the_order_they_pitched_with_their_times() -> None:
    day = Day()
    day.act("move", item="b", direction="up")  # b pitches first…
    assert day.state.queue == ["b", "a", "c"] and day.state.current == "a"
    day.act("previous", at=T0 - 1)  # …the current pitch stays selected until one moves
    day.act("start", at=T0)
    day.act("done", at=T0 + 170)
    day.act("next", at=T0 + 200)
    day.act("start", at=T0 + 210)
    day.act("done", at=T0 + 400)
    day.act("next", at=T0 + 401)
    day.act("skip", at=T0 + 402, mode="drop")
    out = day.activity.outputs(day.state)
    assert [i.id for i in out] == ["b", "a", "c"]
    extras = [(i.model_extra or {}) for i in out]
    assert [(e["pitched"], e["pitch_seconds"], e["overrun_seconds"], e["skipped"])
            for e in extras] == [(True, 170, 0, False), (True, 190, 10, False),
                                 (False, 0, 0, True)]
    for item, given in zip(out, [TEAMS[1], TEAMS[0], TEAMS[2]], strict=True):
        assert item.origin == given.origin  # pitches add no provenance
        assert [p.id for p in item.trail()] == [p.id for p in given.trail()]
    assert (out[1].model_extra or {})["members"] == ["p1", "p2"]  # the jury needs them


def test_the_export_records_each_pitch_without_device_ids() -> None:
    day = Day()
    day.act("start", at=T0)
    day.act("add_time", at=T0 + 1, seconds="30")
    day.act("done", at=T0 + 215)
    export = day.activity.export(day.state)
    first = export["pitches"][0]
    assert first == first | {"id": "a", "started_at": T0, "ended_at": T0 + 215,
                             "pitch_seconds": 215, "overrun_seconds": 5, "added_seconds": 30}
    assert "p1" not in json.dumps(export)


# -- the sheet, the countdown face, the views ------------------------------------------------------
def test_clock_text_counts_down_then_shows_the_overrun() -> None:
    cases = {180_000: "03:00", 1: "00:01", 0: "00:00", 59_001: "01:00", -1: "+0:00",
             -12_400: "+0:12", -75_000: "+1:15", 3_600_000: "60:00"}
    assert {ms: clock_text(ms) for ms in cases} == cases


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    pm = get_plugin_manager(load_entry_points=False)
    return Renderer(collect_activities(pm), pm)


def render(renderer: Renderer, lang: str, day: Day, audience: str, now: float,
           me: Actor | None = None) -> str:
    step = SimpleNamespace(id="pitches", title="Pitchs")
    if me is not None:
        view = day.activity.personal_view(day.state, me)
        return html.unescape(renderer.render(lang, "pitches/personal.html",
                                             {"view": view, "step": step, "now": now, "me": me}))
    view = day.activity.view(day.state, audience)
    return html.unescape(renderer.render(lang, f"pitches/{audience}.html",
                                         {"view": view, "step": step, "now": now}))


def countdown_attrs(page: str) -> dict[str, str]:
    match = re.search(r"<time ([^>]*data-countdown[^>]*)>([^<]*)</time>", page)
    assert match, page
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))
    return attrs | {"text": match.group(2)}


SHEET_ITEM = Item(
    id="s1", title="Navette solidaire", group="Mobilité", description="Un minibus le samedi",
    origin=[Item(id="ax", title="Se déplacer", kind="axis")],
    need="Aller au marché", budget=12000, partners=["CCAS", "Mairie"], skills="Conduite",
    team_size="6", members=["p9"], merged=2, table=4,
)


@pytest.mark.parametrize(
    ("lang", "labels"),
    [("fr", ["Table", "Besoin", "Budget", "Partenaires", "Compétences", "Team size", "Axe"]),
     ("en", ["Table", "Need", "Budget", "Partners", "Skills", "Team size", "Axis"])],
)
def test_the_screen_shows_the_sheet_with_labelled_fields(
    renderer: Renderer, lang: str, labels: list[str]
) -> None:
    day = Day(items=[SHEET_ITEM])
    page = render(renderer, lang, day, "screen", now=T0)
    for label in labels:
        assert f">{label}<" in page, label
    assert "Aller au marché" in page and "CCAS, Mairie" in page and "12000" in page
    assert "Se déplacer" in page and "Un minibus le samedi" in page
    assert "p9" not in page and ">2<" not in page  # no device ids, no earlier counters
    fields = re.findall(r"<dt>(?:<bdi>)?([^<]+)", page)
    assert fields[:5] == labels[:5]  # known keys first, in the order a pitch tells them


def test_a_team_sheet_shows_its_project_fields() -> None:
    from palabre.plugins.pitches.sheet import sheet

    project = Item(id="pr", title="Navette", kind="project", group="Mobilité",
                   description="Un minibus", need="Aller au marché", budget="5 000 €")
    shown = sheet(Item(id="t", title="Les Navetteurs", kind="team", origin=[project],
                       budget="6 000 €"))
    assert (shown.origin_label, shown.origin_title) == ("Project", "Navette")
    assert shown.group == "Mobilité" and shown.description == "Un minibus"
    assert [(f.label, f.value) for f in shown.fields] == [("Need", "Aller au marché"),
                                                          ("Budget", "6 000 €")]


@pytest.mark.parametrize(
    ("lang", "words"),
    [("fr", ["Pitch 1 sur 3", "Ensuite", "Temps dépassé", "Les Jardiniers"]),
     ("en", ["Pitch 1 of 3", "Next up", "Time’s up", "Les Jardiniers"])],
)
def test_the_screen_countdown_is_painted_at_render_time(
    renderer: Renderer, lang: str, words: list[str]
) -> None:
    day = Day()
    page = render(renderer, lang, day, "screen", now=T0)
    assert countdown_attrs(page) | {"data-state": "idle", "data-remaining": "180000",
                                    "text": "03:00"} == countdown_attrs(page)
    day.act("start", at=T0)
    running = countdown_attrs(render(renderer, lang, day, "screen", now=T0 + 61.2))
    assert running["data-deadline"] == str(int((T0 + 180) * 1000))
    assert running["data-state"] == "running" and running["text"] == "01:59"
    assert running["data-warn"] == "30000" and running["class"] == "countdown"
    warning = countdown_attrs(render(renderer, lang, day, "screen", now=T0 + 170))
    assert warning["class"] == "countdown is-warning" and warning["text"] == "00:10"
    late_page = render(renderer, lang, day, "screen", now=T0 + 192)
    late = countdown_attrs(late_page)
    assert late["class"] == "countdown is-overrun" and late["text"] == "+0:12"
    for word in words:
        assert word in late_page, word
    day.act("pause", at=T0 + 195)
    paused = countdown_attrs(render(renderer, lang, day, "screen", now=T0 + 500))
    assert paused["data-state"] == "paused" and paused["data-remaining"] == "-15000"
    assert "data-deadline" not in paused and paused["text"] == "+0:15"


@pytest.mark.parametrize(
    ("lang", "words"),
    [("fr", ["Démarrer", "+30 s", "+1 min", "Remettre à zéro", "Pitch suivant →",
             "Renvoyer à la fin", "Ordre de passage", "0 terminé"]),
     ("en", ["Start", "+30 s", "+1 min", "Reset", "Next pitch →", "Put at the end",
             "Running order", "0 done"])],
)
def test_the_facilitator_panel_renders_in_both_languages(
    renderer: Renderer, lang: str, words: list[str]
) -> None:
    day = Day(questions_seconds=60)
    page = render(renderer, lang, day, "facilitator", now=T0)
    for word in words:
        assert word in page, word
    day.act("start", at=T0)
    running = render(renderer, lang, day, "facilitator", now=T0 + 10)
    assert 'data-action="pause"' in running and 'data-action="start"' not in running
    questions = "Pitch terminé\u00a0: questions" if lang == "fr" else "Pitch done: questions"
    assert questions in running
    day.act("done", at=T0 + 200)
    day.act("done", at=T0 + 230)
    done = render(renderer, lang, day, "facilitator", now=T0 + 240)
    assert ("+0:20 de dépassement" if lang == "fr" else "+0:20 over") in done
    assert "3:20" in done and 'data-action="add_time"' in done
    assert re.search(r'data-arg-seconds="30"\s+disabled', done)  # a finished pitch


@pytest.mark.parametrize(
    ("lang", "turn", "next_"),
    [("fr", "C’est à vous\u202f!", "Vous passez ensuite\u00a0: préparez-vous."),
     ("en", "It’s your turn!", "You are next: get ready.")],
)
def test_the_presenting_team_is_told_on_its_phones(
    renderer: Renderer, lang: str, turn: str, next_: str
) -> None:
    day = Day(items=[TEAMS[0], Item(id="t2", title="Table 2", table=2)])
    member, seated, other = (Actor("participant", "p1"), Actor("participant", "p7", table=2),
                             Actor("participant", "p8", table=3))
    assert turn in render(renderer, lang, day, "", T0, me=member)
    assert next_ in render(renderer, lang, day, "", T0, me=seated)
    assert render(renderer, lang, day, "", T0, me=other).strip() == ""
    shared = render(renderer, lang, day, "participant", T0)
    assert countdown_attrs(shared)["text"] == "03:00" and "Les Navetteurs" in shared
    day.act("next", at=T0)
    assert turn in render(renderer, lang, day, "", T0, me=seated)
    assert turn not in render(renderer, lang, day, "", T0, me=member)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_state_of_the_day_renders_on_every_surface(renderer: Renderer, lang: str) -> None:
    days = [Day(items=[]), Day(), _running(), _paused(), _ended()]
    finished = Day(items=[TEAMS[0]])
    finished.act("start", at=T0)
    finished.act("done", at=T0 + 100)
    days.append(finished)
    for day in days:
        for audience in ("facilitator", "screen", "participant"):
            assert render(renderer, lang, day, audience, now=T0 + 30)
        assert render(renderer, lang, day, "", T0, me=Actor("participant", "p1")) is not None
    thanks = "Merci" if lang == "fr" else "Thank you"
    assert thanks in render(renderer, lang, finished, "screen", now=T0 + 200)


# -- a real server ---------------------------------------------------------------------------------
def _kit(tmp_path: Path) -> str:
    path = tmp_path / "pitches.toml"
    path.write_text(KIT, encoding="utf-8")
    return str(path)


def _screen_countdown(server: Server, screen: Client) -> dict[str, str]:
    page = screen.http.get("/screen").text
    return countdown_attrs(page)


def test_a_server_restarted_mid_pitch_shows_the_same_deadline(tmp_path: Path) -> None:
    db, kit = tmp_path / "w.db", _kit(tmp_path)
    server = Server(db, kit=kit).start()
    second: Server | None = None
    try:
        before = run(_start_a_pitch(server))
        assert before["data-state"] == "running"
        server.stop()
        second = Server(db, kit=kit).start()
        screen = Client(second, "screen").login()
        after = _screen_countdown(second, screen)
        assert after["data-deadline"] == before["data-deadline"]
        assert after["data-state"] == "running"
        run(_pause_after_restart(second, int(before["data-deadline"])))
    finally:
        server.stop()
        if second is not None:
            second.stop()


async def _start_a_pitch(server: Server) -> dict[str, str]:
    facilitator = await Client(server, "facilitator").login().connect()
    phone = await Client(server, "participant").join("Inès").connect()
    screen = Client(server, "screen").login()
    try:
        refused = await phone.act("start", {}, "pitches")
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
        assert (await facilitator.act("start", {}, "pitches"))["ok"]
        again = await facilitator.act("start", {}, "pitches")
        assert again["error"] == {"code": "running", "message": "Le chrono tourne déjà."}
        await eventually(phone, lambda: 'data-state="running"' in phone.regions["main"],
                         "the phone's countdown runs")
        assert "Navette solidaire" in phone.regions["main"]
        return _screen_countdown(server, screen)
    finally:
        await close_all(facilitator, phone, screen)


async def _pause_after_restart(server: Server, deadline_ms: int) -> None:
    facilitator = await Client(server, "facilitator").login().connect()
    try:
        assert (await facilitator.act("pause", {}, "pitches"))["ok"]
        await eventually(facilitator, lambda: 'data-state="paused"' in facilitator.regions["main"],
                         "the panel shows the pause")
        remaining = int(countdown_attrs(facilitator.regions["main"])["data-remaining"])
        now_ms = time.time() * 1000
        assert 0 < remaining <= 180_000 and abs((deadline_ms - now_ms) - remaining) < 5_000
    finally:
        await close_all(facilitator)


def test_the_test_clock_brings_the_warning_then_the_overrun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PALABRE_TEST_CLOCK", "1")
    server = Server(tmp_path / "w.db", kit=_kit(tmp_path)).start()
    try:
        run(_overrun_scenario(server))
    finally:
        server.stop()


async def _overrun_scenario(server: Server) -> None:
    facilitator = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()

    def state_of(client: Client) -> dict[str, str]:
        return countdown_attrs(client.regions["main"])

    try:
        assert (await facilitator.act("start", {}, "pitches"))["ok"]
        await eventually(screen, lambda: state_of(screen)["data-state"] == "running", "running")
        deadline = state_of(screen)["data-deadline"]
        assert facilitator.http.post("/-/test/clock?seconds=160").status_code == 200
        await eventually(screen, lambda: "is-warning" in state_of(screen)["class"], "warning")
        assert facilitator.http.post("/-/test/clock?seconds=40").status_code == 200
        await eventually(facilitator, lambda: "is-overrun" in state_of(facilitator)["class"],
                         "the panel reports the overrun")
        await eventually(screen, lambda: "is-overrun" in state_of(screen)["class"], "overrun")
        assert state_of(screen)["data-deadline"] == deadline
        assert state_of(screen)["text"].startswith("+0:")
        assert (await facilitator.act("done", {}, "pitches"))["ok"]
        await eventually(facilitator, lambda: "de dépassement" in facilitator.regions["main"],
                         "the running order shows the overrun")
        overrun = re.search(r"\+0:(\d\d) de dépassement", facilitator.regions["main"])
        assert overrun and 20 <= int(overrun.group(1)) <= 30
    finally:
        await close_all(facilitator, screen)



def test_a_team_sheet_on_the_screen_never_shows_people_or_bookkeeping() -> None:
    from palabre.engine import Item
    from palabre.plugins.pitches.sheet import _values

    team = Item(id="team-velo", title="Les Rayons", kind="team", group="Mobilité",
                item_id="velo", name="Les Rayons", size=5, captain="p1",
                captain_name="Awa Diallo", members=["p1", "p2"], member_names=["Awa", "Bruno"],
                theme="mobilite", rank=2, need="Des pistes sûres")
    shown = _values(team)
    assert shown == {"need": "Des pistes sûres"}
