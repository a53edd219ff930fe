"""The axes step's state, and which axes are retained (top K by dots, ties explained)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from palabre.engine import N_, Item
from palabre.plugins.common.dots import Dots

Phase = Literal["grouping", "voting", "closed"]
Mark = Literal["", "retained", "dropped"]
MARKS: tuple[Mark, ...] = ("", "retained", "dropped")

# Said of an axis placed below another with as many dots (common/ranking.py's tie_break).
MORE_VOTERS = N_("more people voted for that one")
MORE_ITEMS = N_("that one groups more items")


def item_theme(item: Item) -> str:
    """An input's theme: its group (diagnosis sets it to the theme's title), else an extra
    `theme` field, else none."""
    if item.group:
        return item.group
    extra = (item.model_extra or {}).get("theme")
    return extra if isinstance(extra, str) else ""


@dataclass
class Axis:
    id: str
    name: str
    theme: str = ""
    mark: Mark = ""  # the facilitator's override: retained or dropped whatever the dots say


@dataclass
class AxesState:
    items: dict[str, Item]  # the inputs, by id, in the order received
    themes: list[str]  # distinct input themes, in order of first appearance
    axes: dict[str, Axis] = field(default_factory=dict)  # in creation order
    placed: dict[str, str] = field(default_factory=dict)  # item id -> axis id; absent: unsorted
    phase: Phase = "grouping"
    created: int = 0  # axes ever created, so a new id never reuses a deleted one's
    dots: Dots = field(default_factory=Dots)

    @classmethod
    def from_inputs(cls, inputs: list[Item]) -> AxesState:
        items: dict[str, Item] = {}
        for item in inputs:
            items.setdefault(item.id, item)  # a repeated id would make two cards move as one
        themes = list(dict.fromkeys(t for t in map(item_theme, items.values()) if t))
        return cls(items=items, themes=themes)

    def items_of(self, axis_id: str) -> list[Item]:
        return [item for item_id, item in self.items.items() if self.placed.get(item_id) == axis_id]

    def unsorted(self) -> list[Item]:
        return [item for item_id, item in self.items.items() if item_id not in self.placed]

    def groups(self) -> dict[str, str]:
        """Axis id -> theme: what the dot ballot calls each item's group."""
        return {axis.id: axis.theme for axis in self.axes.values()}

    def scopes(self, per_theme: bool) -> list[str]:
        """The themes retention counts within: one scope "" unless retained per theme."""
        if not per_theme:
            return [""]
        used = {axis.theme for axis in self.axes.values()}
        return [t for t in self.themes if t in used] + ([""] if "" in used else [])


@dataclass(frozen=True)
class Standing:
    """One axis in the vote: its rank within its scope, dots, and whether it is retained."""

    axis: Axis
    scope: str
    rank: int
    dots: int
    voters: int
    items: int
    retained: bool
    by_dots: bool  # within the top K by dots (before the facilitator's marks)
    tied: bool  # shares its rank with another axis
    tied_at_cut: bool  # ...and that tie straddles the top K: creation order decided
    tie_break: str  # msgid: what put it below an axis with as many dots, or ""


def standings(state: AxesState, retain: int, per_theme: bool) -> list[Standing]:
    """Every axis, scope by scope, best first. With `retain` = 0 every axis is retained (in
    creation order); otherwise the top `retain` by dots of each scope, then the marks."""
    rows: list[Standing] = []
    for scope in state.scopes(per_theme and retain > 0):
        axes = [a for a in state.axes.values() if not per_theme or retain == 0 or a.theme == scope]
        rows += _scope(state, scope, axes, retain)
    return rows


def _scope(state: AxesState, scope: str, axes: list[Axis], retain: int) -> list[Standing]:
    sizes = {a.id: len(state.items_of(a.id)) for a in axes}
    ranked = state.dots.ranking(
        axes,
        key=lambda a: a.id,
        tie_breakers=[
            (MORE_VOTERS, lambda a: float(state.dots.supporters(a.id))),
            (MORE_ITEMS, lambda a: float(sizes[a.id])),
        ],
    )
    if retain == 0:  # no vote: keep the facilitator's order, everything goes forward
        ranked = sorted(ranked, key=lambda r: axes.index(r.item))
    # A tie across the cut: the rank shared by the last row kept and the first row left out.
    cut_rank = (
        ranked[retain - 1].rank
        if 0 < retain < len(ranked) and ranked[retain - 1].rank == ranked[retain].rank
        else None
    )
    out = []
    for position, row in enumerate(ranked):
        axis = row.item
        by_dots = retain == 0 or position < retain
        retained = axis.mark == "retained" or (by_dots and axis.mark != "dropped")
        out.append(
            Standing(
                axis=axis,
                scope=scope,
                rank=row.rank if retain else position + 1,
                dots=state.dots.score(axis.id),
                voters=state.dots.supporters(axis.id),
                items=sizes[axis.id],
                retained=retained,
                by_dots=by_dots,
                tied=row.tied,
                tied_at_cut=row.rank == cut_rank,
                tie_break=row.tie_break,
            )
        )
    return out
