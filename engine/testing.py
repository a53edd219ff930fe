"""Test helpers for activity authors: an activity played in memory by the engine's own
workshop, views and templates, on a clock the test moves. No server, no database, no sleep.

    from palabre.engine.testing import Rehearsal

    room = Rehearsal(WordCloud, {"words_per_person": 2})
    ana = room.join("Ana")
    ana.act("add", word="vélo")
    assert "vélo" in room.html("screen")
    assert ana.refused("add", word="").code == "empty"

`ActivityContract` (in `palabre.engine.contract`) checks what every activity owes the
engine; `palabre.engine.pytest_plugin` adds a `rehearse` fixture that re-checks replay and
rendering after each test. See docs/plugins.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pluggy

from .activity import Activity, Actor, Event, Item, Rejection
from .events import StoredEvent
from .kits import LANGUAGES, Kit, Step, load_kit, parse_kit
from .plugins import collect_activities, get_plugin_manager
from .render import Renderer
from .views import JoinInfo, Views
from .workshop import Workshop

# 2026-01-01 00:00 UTC: every rehearsal starts at the same instant, so logs replay alike.
START = 1_767_225_600.0
AUDIENCES = ("facilitator", "screen", "participant")
JOIN = JoinInfo(
    url="http://palabre.test/j/REHEARSAL",
    short_url="palabre.test/j/REHEARSAL",
    code="REHEARSAL",
    qr_svg="<svg></svg>",
)


class Clock:
    """The rehearsal's time: it moves only when the test says so."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if not 0 <= seconds < math.inf:  # NaN too: it would stop the clock for good
            raise ValueError("the clock only moves forward")
        self.now += seconds
        return self.now


class Person:
    """Someone in the rehearsal: a participant or juror (with a phone), the facilitator or
    the screen. `act` sends an action to the current step as their phone or panel would."""

    def __init__(self, room: Rehearsal, role: str, participant_id: str | None = None) -> None:
        self.room = room
        self.role = role
        self.participant_id = participant_id

    @property
    def actor(self) -> Actor:
        """As the activity sees them now (table and captaincy may have changed)."""
        return self.room.workshop.actor_for(self.role, self.participant_id)

    @property
    def name(self) -> str:
        return self.actor.name

    def act(
        self, action: str, data: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> list[StoredEvent]:
        """Send `action` with `data` (or keyword fields) to the current step; returns the
        events it caused, already applied. Raises `Rejection` when the activity refuses."""
        return self.room.submit(self, self.room.step_id, action, {**(data or {}), **fields})

    def refused(
        self, action: str, data: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> Rejection:
        """The `Rejection` an action gets; fails the test if the action is accepted."""
        try:
            events = self.act(action, data, **fields)
        except Rejection as rejection:
            return rejection
        raise AssertionError(f"{action!r} by {self.role} was accepted: {events}")

    def view(self) -> dict[str, Any]:
        """The activity's personal view model for this person."""
        runtime = self.room.workshop.current_step
        return runtime.activity.personal_view(runtime.state, self.actor)

    def html(self, lang: str | None = None) -> str:
        """Their personal region (`<slug>/personal.html`) as their phone shows it."""
        if self.participant_id is None:
            raise ValueError("only people with a phone have a personal region")
        return self.room.views.personal_html(self.participant_id, lang or self.room.language)

    def __repr__(self) -> str:
        return f"Person({self.role!r}, {self.participant_id!r}, name={self.name!r})"


class Rehearsal:
    """One activity as the only step of a workshop (or a whole kit with `from_kit`).

    Everything goes through the engine's real paths: the roles in `actions` are enforced,
    events are folded by `reduce`, views are rendered by the real templates in both
    languages, and the log can be replayed into a fresh rehearsal."""

    def __init__(
        self,
        activity: type[Activity],
        config: Mapping[str, Any] | None = None,
        *,
        inputs: Iterable[Item | Mapping[str, Any]] = (),
        tables: int = 0,
        language: str = "fr",
        title: str = "Rehearsal",
        plugins: Sequence[object] = (),
    ) -> None:
        pm = _plugin_manager(plugins)
        activities = collect_activities(pm) | {activity.slug: activity}
        context = {"tables": tables, "language": language}
        step = Step(
            index=0,
            id="step",
            title=title,
            activity=activity,
            config=activity.Config.model_validate(dict(config or {}), context=context),
            source=None,
            show_join=False,
        )
        kit = Kit(
            name="rehearsal.toml",
            text="",
            title=title,
            language=language,
            place="",
            date="",
            steps=(step,),
            tables=tables,
        )
        self._setup(kit, activities, pm)
        items = [i if isinstance(i, Item) else Item.model_validate(i) for i in inputs]
        self._open([i.model_dump() for i in items])

    @classmethod
    def from_kit(cls, kit: str | Path, plugins: Sequence[object] = ()) -> Rehearsal:
        """A whole kit (a path, or TOML text), on its first step; `next()` moves on."""
        room = cls.__new__(cls)
        pm = _plugin_manager(plugins)
        activities = collect_activities(pm)
        if isinstance(kit, str) and "\n" not in kit and kit.endswith(".toml"):
            kit = Path(kit)  # a path written as text, not a one-line kit
        if isinstance(kit, Path):
            parsed = load_kit(kit, activities)
        else:
            parsed = parse_kit(kit, "kit.toml", activities)
        room._setup(parsed, activities, pm)
        room._open([])
        return room

    def _setup(
        self, kit: Kit, activities: dict[str, type[Activity]], pm: pluggy.PluginManager
    ) -> None:
        self.kit = kit
        self.activities = activities
        self.pm = pm
        self.clock = Clock()
        self.log: list[StoredEvent] = []
        self.workshop = Workshop(kit, "rehearsal")
        self.renderer = Renderer(activities, pm)
        self.views = Views(self.workshop, self.renderer, JOIN)
        self.views.clock = self.clock
        self.facilitator = Person(self, "facilitator")
        self.screen = Person(self, "screen")
        self.people: list[Person] = []
        self._action_ids = 0

    def _open(self, inputs: list[dict[str, Any]]) -> None:
        opening = self.workshop.open_first_step()
        opened = opening[-1]
        opening[-1] = dataclasses.replace(opened, data=opened.data | {"inputs": inputs})
        self._record(opening)

    # -- acting ---------------------------------------------------------------------------
    def join(
        self,
        name: str = "",
        *,
        table: int | None = None,
        captain: bool = False,
        lang: str | None = None,
        role: str = "participant",
    ) -> Person:
        """Someone joins from their phone (role "juror" for a jury member)."""
        event = self.workshop.join_event(name, lang or self.language, role, table, captain)
        self._record([event])
        person = Person(self, role, str(event.data["participant"]))
        self.people.append(person)
        return person

    def submit(
        self, person: Person, step: str | None, action: str, data: dict[str, Any]
    ) -> list[StoredEvent]:
        """An action as the server takes it (step None: a workshop action like "next")."""
        self._action_ids += 1
        events = self.workshop.decide(
            person.actor, step, action, data, f"a{self._action_ids}", at=self.clock()
        )
        self._record(events)
        return events

    def next(self) -> list[StoredEvent]:
        return self.submit(self.facilitator, None, "next", {})

    def previous(self) -> list[StoredEvent]:
        return self.submit(self.facilitator, None, "previous", {})

    def goto(self, step_id: str) -> list[StoredEvent]:
        return self.submit(self.facilitator, None, "goto", {"step": step_id})

    def _record(self, events: list[StoredEvent]) -> None:
        for event in events:
            stamped = dataclasses.replace(event, ts=self.clock())
            # As the server: the state folds the event as `handle` made it, the log keeps it
            # as the store writes it (JSON), and a replay reads it back from there.
            stored = dataclasses.replace(stamped, data=_as_stored(stamped))
            self.workshop.apply(stamped)
            self.log.append(stored)
            self.pm.hook.on_event(event=stamped, workshop=self.workshop)

    # -- reading --------------------------------------------------------------------------
    @property
    def language(self) -> str:
        return self.kit.language

    @property
    def step_id(self) -> str:
        return self.workshop.current_step.step.id

    @property
    def activity(self) -> Activity:
        return self.workshop.current_step.activity

    @property
    def state(self) -> Any:
        return self.workshop.current_step.state

    def events(self, kind_prefix: str = "") -> list[Event]:
        """The current step's events so far, as `reduce` received them."""
        return [
            Event(e.kind, e.data, e.actor)
            for e in self.log
            if e.step == self.step_id and e.kind.startswith(kind_prefix)
        ]

    def view(self, audience: str) -> dict[str, Any]:
        """The activity's shared view model for an audience."""
        return self.activity.view(self.state, audience)  # type: ignore[arg-type]

    def html(self, audience: str, lang: str | None = None) -> str:
        """The step's region of the facilitator panel, room screen or participant page, as
        rendered by `<slug>/<audience>.html`. Template errors are raised, not hidden."""
        if audience not in AUDIENCES:
            raise ValueError(f"audience must be one of {AUDIENCES}")
        return self.views.activity_html(audience, lang or self.language)

    def every_html(self) -> dict[str, str]:
        """Every region in every language: shared views and each person's personal view."""
        pages = {}
        for lang in LANGUAGES:
            for audience in AUDIENCES:
                pages[f"{audience}/{lang}"] = self.html(audience, lang)
            for person in self.people:
                pages[f"personal/{person.participant_id}/{lang}"] = person.html(lang)
        return pages

    def outputs(self) -> list[Item]:
        return self.activity.outputs(self.state)

    def export(self) -> dict[str, Any]:
        return self.activity.export(self.state)

    def report(self, lang: str | None = None) -> str:
        """The results report as `/report` renders it now: the whole page, with this
        step's part from `<slug>/report.html` (or the generic list of its outputs)."""
        from .record import workshop_record
        from .report import render_report

        record = workshop_record(self.workshop, self.log)
        return render_report(record, self.renderer, lang or self.language)

    def message(self, rejection: Rejection, lang: str | None = None) -> str:
        """A refusal as the person reads it, translated and formatted."""
        return self.renderer.gettext(lang or self.language, rejection.message, rejection.params)

    def replay(self) -> Rehearsal:
        """A fresh rehearsal rebuilt from this one's log, as a restarted server rebuilds a
        workshop: its state, views and export should be the same."""
        again = Rehearsal.__new__(Rehearsal)
        again._setup(self.kit, self.activities, self.pm)
        again.clock.now = self.clock.now
        for event in self.log:
            again.workshop.apply(event)
            again.log.append(event)
        again.people = [Person(again, p.role, p.participant_id) for p in self.people]
        again._action_ids = self._action_ids
        return again


def _as_stored(event: StoredEvent) -> dict[str, Any]:
    """The event's data as the log on disk gives it back (`store.py` writes JSON)."""
    try:
        data: dict[str, Any] = json.loads(json.dumps(event.data, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"event {event.kind!r} cannot be written to the log ({exc}): event data must be "
            "JSON (str, int, float, bool, None, lists, dicts with str keys)"
        ) from exc
    return data


def _plugin_manager(plugins: Sequence[object]) -> pluggy.PluginManager:
    """As `palabre serve` builds it (installed plugins, PALABRE_LOAD_PLUGINS honoured),
    plus the test's own plugin objects."""
    pm = get_plugin_manager()
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    return pm
