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

import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import ValidationError

from .activity import Action, Activity, Item, Rejection
from .testing import Person, Rehearsal

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
            assert set(roles) <= ROLES, f"action {action!r}: unknown roles {set(roles) - ROLES}"

    def test_default_config_is_valid(self) -> None:
        # Defaults are not validated when a Config is built: dumping every value and
        # reading it back runs the validators on them too.
        context = {"tables": self.tables, "language": "fr"}
        config = self.activity.Config.model_validate(dict(self.config), context=context)
        dumped = config.model_dump(mode="json")
        again = self.activity.Config.model_validate(dumped, context=context)
        assert again == config, "the config does not survive a round trip through JSON"
        required = [n for n, f in self.activity.Config.model_fields.items() if f.is_required()]
        if not required:  # a kit may then name the activity with no settings at all
            Rehearsal(self.activity, tables=self.tables).every_html()

    def test_config_refuses_unknown_settings(self) -> None:
        try:
            self.activity.Config.model_validate({"no_such_setting": 1})
        except ValidationError:
            return
        raise AssertionError("a misspelt setting must be refused (extra='forbid')")

    # -- views ----------------------------------------------------------------------------
    def test_every_audience_renders(self) -> None:
        room = Rehearsal(self.activity, self.config, inputs=self.inputs, tables=self.tables)
        opening = room.every_html()
        self.play(room)
        after = room.every_html()
        assert after, "no view rendered"
        for where, page in (opening | after).items():
            assert "{{" not in page and "{%" not in page, f"{where}: template syntax in output"
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
        pages = [room.html("screen", lang) for lang in ("fr", "en")]
        for person in room.people:
            marks = {person.participant_id or "", person.name, html.escape(person.name)}
            for mark in filter(None, marks):
                assert mark not in model, f"the screen view model holds {mark!r}"
                for page in pages:
                    assert mark not in page, f"the screen shows {mark!r}"

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
        assert json.loads(json.dumps(export)) == export, "export must survive JSON as is"
        outputs = [item.model_dump(mode="json") for item in room.outputs()]
        assert json.loads(json.dumps(outputs)) == outputs

    def test_odd_data_is_refused_not_crashed(self) -> None:
        room = self.rehearsal()
        people = {
            role: self._someone(room, role) for role in ("facilitator", "participant", "juror")
        }
        before = (room.export(), room.every_html())
        for action, roles in self.activity.actions.items():
            for role in sorted(set(roles) & set(people)):
                person = people[role]
                for data in ODD_DATA:
                    self._try(room, person, action, data)
                    assert (room.export(), room.every_html()) == before, (
                        f"{action!r} with {data!r} was refused but changed the state"
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
