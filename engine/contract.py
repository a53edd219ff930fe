"""`ActivityContract`: what every activity owes the engine, as tests an author inherits.

    from palabre.engine.contract import ActivityContract

    class TestWordCloud(ActivityContract):
        activity = WordCloud

        def play(self, room):
            ana = room.join("Ana Zéphyrine")
            ana.act("add", word="vélo")

pytest collects the subclass (its name starts with `Test`) and runs every `test_*` below
on the state `play` leaves. No pytest import here: the checks are plain asserts.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from jinja2 import TemplateNotFound
from markupsafe import escape
from pydantic import ValidationError

from .activity import Action, Activity, Item, Rejection
from .kits import LANGUAGES
from .render import activity_dir
from .testing import AUDIENCES, Person, Rehearsal

SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
ROLES = frozenset({"facilitator", "participant", "juror", "screen"})
# Data a phone could send by mistake or malice; every action must refuse it cleanly or
# accept it, never crash (a crash in `handle` costs the person their socket).
ODD_DATA: tuple[dict[str, Any], ...] = (
    {},
    {"item": None, "text": None, "id": None},
    {"item": 12, "text": 12, "id": 12, "score": "many", "value": []},
    {"item": "no-such-item", "text": "x" * 5000, "id": {"nested": True}},
)


class ActivityContract:
    """Subclass as `Test<YourActivity>`, set `activity`, and override `play` so the
    checks see a state with content. Choose names for the people in `play` that appear
    nowhere else: the screen check looks for them."""

    activity: ClassVar[type[Activity]]
    config: ClassVar[Mapping[str, Any]] = {}
    inputs: ClassVar[Sequence[Item | Mapping[str, Any]]] = ()
    tables: ClassVar[int] = 0

    def play(self, room: Rehearsal) -> None:
        """A short session: people join and act. The default has two people join."""
        room.join("Zéphyrine Contract")
        room.join("Barnabé Contract")

    def rehearsal(self) -> Rehearsal:
        room = Rehearsal(self.activity, self.config, inputs=self.inputs, tables=self.tables)
        self.play(room)
        return room

    # -- the class ------------------------------------------------------------------------
    def test_slug_name_and_actions_are_well_formed(self) -> None:
        activity = self.activity
        assert SLUG.match(activity.slug), f"slug {activity.slug!r}: use a-z, 0-9 and _"
        assert isinstance(activity.name, str) and activity.name, "name must be a short text"
        for action, roles in activity.actions.items():
            assert not isinstance(roles, str), f"action {action!r}: roles go in a frozenset"
            assert set(roles) <= ROLES, f"action {action!r}: unknown roles {set(roles) - ROLES}"

    def test_default_config_is_valid(self) -> None:
        # Defaults are not validated when a Config is built: dumping every value and
        # reading it back runs the validators on them too.
        context = {"tables": self.tables, "language": "fr"}
        try:
            config = self.activity.Config.model_validate(dict(self.config), context=context)
        except ValidationError as exc:
            raise AssertionError(f"the contract's `config` is refused: {exc}") from exc
        dumped = config.model_dump(mode="json")
        try:
            again = self.activity.Config.model_validate(dumped, context=context)
        except ValidationError as exc:
            raise AssertionError(
                f"a default value breaks the Config's own rules (as a kit writing it would): {exc}"
            ) from exc
        assert again == config, "the config does not survive a round trip through JSON"
        required = [n for n, f in self.activity.Config.model_fields.items() if f.is_required()]
        if not required:  # a kit may then name the activity with no settings at all
            _every_page(Rehearsal(self.activity, tables=self.tables), "with no settings")

    def test_config_refuses_unknown_settings(self) -> None:
        # Added to a valid config: refused for being unknown, not for a missing setting.
        context = {"tables": self.tables, "language": "fr"}
        try:
            self.activity.Config.model_validate(
                dict(self.config) | {"no_such_setting": 1}, context=context
            )
        except ValidationError as exc:
            if any(e["loc"] == ("no_such_setting",) for e in exc.errors()):
                return
            raise AssertionError(f"refused, but not for the unknown setting: {exc}") from exc
        raise AssertionError("a misspelt setting must be refused (extra='forbid')")

    # -- views ----------------------------------------------------------------------------
    def test_every_audience_renders(self) -> None:
        room = Rehearsal(self.activity, self.config, inputs=self.inputs, tables=self.tables)
        opening = _every_page(room, "when the step opens")
        self.play(room)
        after = _every_page(room, "after play()")
        assert after, "no view rendered"
        for when, pages in (("when the step opens", opening), ("after play()", after)):
            for where, page in pages.items():
                assert "{{" not in page and "{%" not in page, (
                    f"{where} {when}: template syntax in output"
                )
        for audience in ("facilitator", "screen", "participant"):
            # A phone may show everything in its personal region.
            prefix = "personal/" if audience == "participant" else audience
            seen = [audience, prefix]
            has_text = any(
                page.strip() for where, page in after.items() if where.startswith(tuple(seen))
            )
            assert has_text, f"the {audience} view is empty after play()"

    def test_screen_views_carry_no_participant_identity(self) -> None:
        room = self.rehearsal()
        assert room.people, "play() should have people join"
        model = json.dumps(room.view("screen"), default=repr, ensure_ascii=False)
        pages = {lang: room.html("screen", lang) for lang in LANGUAGES}
        for person in room.people:
            # As written, as a template escapes it, as JSON writes it.
            name = person.name
            as_json = json.dumps(name, ensure_ascii=False)[1:-1]
            marks = {person.participant_id or "", name, str(escape(name)), as_json}
            for mark in filter(None, marks):
                assert mark not in model, f"the screen view model holds {mark!r} ({person})"
                for lang, page in pages.items():
                    assert mark not in page, f"the screen ({lang}) shows {mark!r} ({person})"

    def test_the_report_part_renders_and_holds_no_id(self) -> None:
        room = self.rehearsal()
        for lang in LANGUAGES:
            page = room.report(lang)
            assert f'data-step="{room.step_id}"' in page, f"the report ({lang}) lacks the step"
            assert "{{" not in page and "{%" not in page, "template syntax in the report"
            assert "[removed]" not in page, "the export held an id or a secret (scrubbed)"
            for person in room.people:
                if person.participant_id:
                    assert person.participant_id not in page, f"the report shows {person}'s id"

    # -- the log --------------------------------------------------------------------------
    def test_replay_is_deterministic(self) -> None:
        room = self.rehearsal()
        again = room.replay()
        assert again.export() == room.export(), "replaying the log gives another export"
        assert again.outputs() == room.outputs(), "replaying the log gives other outputs"
        assert again.every_html() == room.every_html(), "replaying the log gives other views"

    def test_export_is_json_serialisable(self) -> None:
        room = self.rehearsal()
        export = room.export()
        assert isinstance(export, dict), f"export must be a dict, not {type(export).__name__}"
        assert _survives_json(export, "export") == export, (
            "export must survive JSON as is (tuples become lists, int keys become strings)"
        )
        outputs = [item.model_dump(mode="json") for item in room.outputs()]
        assert _survives_json(outputs, "outputs") == outputs, "outputs must survive JSON as is"
        # The record is downloaded and shared after the day: no device ids (outputs may hold
        # them, e.g. a team's members, for the steps after).
        text = json.dumps(export, ensure_ascii=False)
        for person in room.people:
            if person.participant_id:
                assert person.participant_id not in text, f"the export holds {person}'s id"

    def test_odd_data_is_refused_not_crashed(self) -> None:
        room = self.rehearsal()
        people = {
            role: self._someone(room, role) for role in ("facilitator", "participant", "juror")
        }
        before = (room.export(), room.every_html())
        state = _snapshot(room.state)
        for action, roles in self.activity.actions.items():
            for role in sorted(set(roles) & set(people)):
                person = people[role]
                for data in ODD_DATA:
                    self._try(room, person, action, data)
                    changed = (room.export(), room.every_html()) != before or (
                        state is not None and room.state != state
                    )
                    assert not changed, (
                        f"{action!r} by {role} with {data!r}: `handle` changed the state "
                        "(only `reduce` may, so that a refused action leaves no trace)"
                    )

    @staticmethod
    def _someone(room: Rehearsal, role: str) -> Person:
        if role == "facilitator":
            return room.facilitator
        return next((p for p in room.people if p.role == role), None) or room.join(role=role)

    @staticmethod
    def _try(room: Rehearsal, person: Person, action: str, data: dict[str, Any]) -> None:
        runtime = room.workshop.current_step
        try:
            # `handle` only: events it would accept are not applied, so each try starts
            # from the same state.
            runtime.activity.handle(runtime.state, Action(action, data, room.clock()), person.actor)
        except Rejection:
            pass
        except Exception as exc:
            raise AssertionError(
                f"{action!r} by {person.role} with {data!r} raised {exc!r}: "
                "refuse bad input with Rejection(code, N_(message))"
            ) from exc


def _every_page(room: Rehearsal, when: str) -> dict[str, str]:
    """`room.every_html()`, saying which page failed and how."""
    pages = {}
    for lang in LANGUAGES:
        people = [(f"personal/{p.participant_id}/{lang}", p) for p in room.people]
        for where, source in [(f"{a}/{lang}", a) for a in AUDIENCES] + people:
            try:
                if isinstance(source, Person):
                    pages[where] = source.html(lang)
                else:
                    pages[where] = room.html(source, lang)
            except TemplateNotFound as exc:
                folder = activity_dir(type(room.activity)) / "templates"
                raise AssertionError(
                    f"{where} {when}: no template {exc.name!r} (an activity's templates are "
                    f"{folder}/<audience>.html)"
                ) from exc
            except Exception as exc:
                raise AssertionError(f"{where} {when}: {type(exc).__name__}: {exc}") from exc
    return pages


def _survives_json(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{what} is not JSON: {exc}") from exc


def _snapshot(state: Any) -> Any:
    """A copy of the state to compare with later, or None if copies cannot be compared (a
    state without `==`)."""
    try:
        copied = copy.deepcopy(state)
    except Exception:
        return None
    return copied if copied == state else None
