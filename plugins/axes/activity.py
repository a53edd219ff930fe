"""The axes activity: the facilitator groups the previous step's items into named axes, then
participants may spend dots to retain a few of them (overall or per theme)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from palabre.engine import (
    ALL,
    N_,
    Action,
    Activity,
    Actor,
    Event,
    Item,
    Rejection,
    clean_text,
    duplicate_key,
)
from palabre.plugins.common.dots import DotRules

from . import views
from .config import AxesConfig
from .model import MARKS, AxesState, Axis, Phase, Standing, standings

P, F = frozenset({"participant"}), frozenset({"facilitator"})
# Changes that would take dots away from people or move them between themes: grouping only.
STRUCTURE = ("create", "delete", "merge", "set_theme")
# Facilitator phase changes: action -> (phases it starts from, event kind).
PHASES: dict[str, tuple[tuple[Phase, ...], str]] = {
    "open_vote": (("grouping",), "axes.vote_opened"),
    "close_vote": (("voting",), "axes.vote_closed"),
    "reopen_vote": (("closed",), "axes.vote_reopened"),
    "back_to_grouping": (("voting", "closed"), "axes.grouping_reopened"),
}


class Axes(Activity):
    slug = "axes"
    name = N_("Axes")
    Config = AxesConfig
    config: AxesConfig
    actions = {
        **dict.fromkeys(("create", "rename", "set_theme", "delete", "merge", "move"), F),
        **dict.fromkeys((*PHASES, "mark"), F),
        "vote": P,
        "unvote": P,
    }

    def initial_state(self, inputs: list[Item]) -> AxesState:
        return AxesState.from_inputs(inputs)

    @property
    def rules(self) -> DotRules:
        c = self.config
        return DotRules(c.dots, c.max_per_item, per_group=c.dots_per_theme)

    # -- handle -----------------------------------------------------------------------------
    def handle(self, state: AxesState, action: Action, actor: Actor) -> list[Event]:
        data, name = action.data, action.name
        if name in ("vote", "unvote"):
            return self._vote(state, name == "vote", data, actor)
        if name in PHASES:
            return self._phase(state, name)
        if name in STRUCTURE and state.phase != "grouping":
            raise Rejection(
                "voting_started",
                N_(
                    "The vote has started: axes can no longer be added, removed, merged "
                    "or moved to another theme."
                ),
            )
        handlers: dict[str, Callable[[AxesState, Any], list[Event]]] = {
            "create": self._create,
            "rename": self._rename,
            "set_theme": self._set_theme,
            "delete": self._delete,
            "merge": self._merge,
            "move": self._move,
            "mark": self._mark,
        }
        if name not in handlers:
            raise Rejection("unknown_action", N_("Unknown action."))
        return handlers[name](state, data)

    def _vote(self, state: AxesState, add: bool, data: Any, actor: Actor) -> list[Event]:
        axis = _axis(state, data.get("axis"))
        if state.phase == "grouping":
            raise Rejection("not_voting", N_("The vote has not opened yet."))
        # Budget, per-theme budget and cap: the shared ballot (common/dots.py).
        state.dots.check(
            self.rules,
            actor.key,
            axis.id,
            add=add,
            items=state.groups(),
            is_open=state.phase == "voting",
        )
        return [Event("axes.voted" if add else "axes.unvoted", {"axis": axis.id})]

    def _phase(self, state: AxesState, name: str) -> list[Event]:
        if name == "open_vote" and not self.config.retain:
            raise Rejection("no_vote", N_("This step has no vote."))
        starts, kind = PHASES[name]
        if state.phase not in starts:
            raise Rejection("wrong_phase", N_("Not possible at this point of the step."))
        if name == "open_vote" and not state.axes:
            raise Rejection("no_axes", N_("Create at least one axis before opening the vote."))
        if name == "back_to_grouping" and state.dots.total():
            raise Rejection(
                "dots_cast", N_("Dots have already been placed: grouping cannot start again.")
            )
        return [Event(kind)]

    def _create(self, state: AxesState, data: Any) -> list[Event]:
        if len(state.axes) >= self.config.max_axes:
            raise Rejection(
                "too_many_axes",
                N_("There are already as many axes as allowed ({limit})."),
                limit=self.config.max_axes,
            )
        name = self._name(state, data.get("name"))
        theme = _theme(state, data.get("theme"))
        items = _item_ids(state, data.get("items"))
        axis_id = f"ax{state.created + 1}"
        created = Event("axes.created", {"axis": axis_id, "name": name, "theme": theme})
        return [created] + [Event("axes.moved", {"item": i, "axis": axis_id}) for i in items]

    def _rename(self, state: AxesState, data: Any) -> list[Event]:
        axis = _axis(state, data.get("axis"))
        name = self._name(state, data.get("name"), axis.id)
        return [Event("axes.renamed", {"axis": axis.id, "name": name})] if name != axis.name else []

    def _set_theme(self, state: AxesState, data: Any) -> list[Event]:
        axis = _axis(state, data.get("axis"))
        theme = _theme(state, data.get("theme"))
        changed = theme != axis.theme
        return [Event("axes.theme_set", {"axis": axis.id, "theme": theme})] if changed else []

    def _delete(self, state: AxesState, data: Any) -> list[Event]:
        return [Event("axes.deleted", {"axis": _axis(state, data.get("axis")).id})]

    def _merge(self, state: AxesState, data: Any) -> list[Event]:
        axis, into = _axis(state, data.get("axis")), _axis(state, data.get("into"))
        if axis.id == into.id:
            raise Rejection("bad_merge", N_("Pick two different axes to merge."), field="into")
        return [Event("axes.merged", {"axis": axis.id, "into": into.id})]

    def _move(self, state: AxesState, data: Any) -> list[Event]:
        item = _item(state, data.get("item"))
        target = data.get("axis") or ""  # "" (or nothing): back to the unsorted items
        if target:
            target = _axis(state, target).id
        if state.placed.get(item.id, "") == target:
            return []
        return [Event("axes.moved", {"item": item.id, "axis": target})]

    def _mark(self, state: AxesState, data: Any) -> list[Event]:
        if not self.config.retain:
            raise Rejection("no_vote", N_("This step has no vote."))
        axis = _axis(state, data.get("axis"))
        mark = data.get("mark", "")
        if mark not in MARKS:
            raise Rejection("bad_mark", N_("Choose: retain, set aside, or by the dots."))
        return [Event("axes.marked", {"axis": axis.id, "mark": mark})] if mark != axis.mark else []

    def _name(self, state: AxesState, raw: Any, axis_id: str = "") -> str:
        name = clean_text(raw, field="name", max_graphemes=self.config.max_name)
        key = duplicate_key(name)
        if any(duplicate_key(a.name) == key for a in state.axes.values() if a.id != axis_id):
            raise Rejection(
                "duplicate_name", N_("There is already an axis with this name."), field="name"
            )
        return name

    # -- reduce -----------------------------------------------------------------------------
    def reduce(self, state: AxesState, event: Event) -> AxesState:
        d, kind = event.data, event.kind.removeprefix("axes.")
        if kind == "created":
            state.axes[d["axis"]] = Axis(d["axis"], d["name"], d["theme"])
            state.created += 1
        elif kind == "renamed":
            state.axes[d["axis"]].name = d["name"]
        elif kind == "theme_set":
            state.axes[d["axis"]].theme = d["theme"]
        elif kind == "marked":
            state.axes[d["axis"]].mark = d["mark"]
        elif kind in ("deleted", "merged"):
            del state.axes[d["axis"]]
            for item_id in [i for i, a in state.placed.items() if a == d["axis"]]:
                if kind == "merged":
                    state.placed[item_id] = d["into"]
                else:
                    del state.placed[item_id]
        elif kind == "moved":
            if d["axis"]:
                state.placed[d["item"]] = d["axis"]
            else:
                state.placed.pop(d["item"], None)
        elif kind in ("voted", "unvoted"):
            state.dots.record(event.actor, d["axis"], 1 if kind == "voted" else -1)
        else:
            state.phase = _PHASE_AFTER[kind]
        return state

    def affected_participants(self, state: AxesState, event: Event) -> Iterable[str]:
        if event.kind in ("axes.voted", "axes.unvoted"):
            return (event.actor,)
        # Phones have nothing personal while the facilitator groups: re-render no one.
        if state.phase == "grouping" and event.kind != "axes.grouping_reopened":
            return ()
        return ALL

    # -- views ------------------------------------------------------------------------------
    def view(self, state: AxesState, audience: str) -> dict[str, Any]:
        c = self.config
        if audience == "facilitator":
            return views.facilitator(state, c)
        if audience == "screen":
            return views.screen(state, c)
        return views.participant(state, c)

    def personal_view(self, state: AxesState, me: Actor) -> dict[str, Any]:
        return views.personal(state, self.config, self.rules, me.key)

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self, state: AxesState) -> list[Item]:
        """The retained axes (every axis without a vote), theme by theme, best first; each
        holds the items it groups, exactly as received, in `origin`."""
        voted = self.config.retain > 0
        outputs = []
        for row in self.standings(state):
            if not row.retained:
                continue
            extra: dict[str, Any] = {"theme": row.axis.theme, "rank": row.rank}
            outputs.append(
                Item(
                    id=row.axis.id,
                    title=row.axis.name,
                    kind="axis",
                    group=row.axis.theme,
                    score=float(row.dots) if voted else None,
                    origin=state.items_of(row.axis.id),
                    **extra,
                )
            )
        return outputs

    def standings(self, state: AxesState) -> list[Standing]:
        return standings(state, self.config.retain, self.config.retain_per_theme)

    def export(self, state: AxesState) -> dict[str, Any]:
        return {
            "phase": state.phase,
            "voters": state.dots.voters(),
            "axes": [
                {
                    "id": row.axis.id,
                    "name": row.axis.name,
                    "theme": row.axis.theme,
                    "items": [i.title for i in state.items_of(row.axis.id)],
                    "dots": row.dots,
                    "rank": row.rank,
                    "retained": row.retained,
                    "mark": row.axis.mark,
                }
                for row in self.standings(state)
            ],
            "unsorted": [i.title for i in state.unsorted()],
            "outputs": [item.model_dump() for item in self.outputs(state)],
        }


_PHASE_AFTER: dict[str, Phase] = {
    "vote_opened": "voting",
    "vote_reopened": "voting",
    "vote_closed": "closed",
    "grouping_reopened": "grouping",
}


def _axis(state: AxesState, axis_id: Any) -> Axis:
    axis = state.axes.get(axis_id) if isinstance(axis_id, str) else None
    if axis is None:
        raise Rejection("unknown_axis", N_("This axis does not exist (any more)."))
    return axis


def _item(state: AxesState, item_id: Any) -> Item:
    item = state.items.get(item_id) if isinstance(item_id, str) else None
    if item is None:
        raise Rejection("unknown_item", N_("This item is not part of the step."))
    return item


def _item_ids(state: AxesState, raw: Any) -> list[str]:
    """Space-separated item ids (a suggestion's button sends them so)."""
    if raw is None or raw == "":
        return []
    if not isinstance(raw, str):
        raise Rejection("unknown_item", N_("This item is not part of the step."))
    return list(dict.fromkeys(_item(state, i).id for i in raw.split()))


def _theme(state: AxesState, raw: Any) -> str:
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str) or raw not in state.themes:
        raise Rejection("unknown_theme", N_("This theme is not part of the step."), field="theme")
    return raw
