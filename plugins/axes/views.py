"""View models of the axes step, one per audience (see the templates of the same names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from palabre.engine import Item
from palabre.plugins.common.dots import DotRules

from .config import AxesConfig
from .model import AxesState, Axis, Standing, item_theme, standings
from .suggest import MAX_MOVES, suggest_clusters, suggest_moves

SCREEN_AXES = 12  # axes the projector shows at once; the count says how many more
SCREEN_TITLES = 3  # item titles per axis on the projector; "+ n" says the rest
SCREEN_EXTRA_ROWS = 2  # results rows shown past the retained ones, per theme


@dataclass(frozen=True)
class Card:
    """An axis as shown: never who proposed its items."""

    id: str
    name: str
    theme: str
    items: list[Item]
    shown: list[Item]  # the titles there is room for
    standing: Standing | None

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def more(self) -> int:
        return len(self.items) - len(self.shown)


@dataclass(frozen=True)
class Row:
    """One results bar: a standing and its length relative to the best of its theme."""

    standing: Standing
    pct: int


def _card(state: AxesState, axis: Axis, standing: Standing | None, room: int = 0) -> Card:
    items = state.items_of(axis.id)
    return Card(axis.id, axis.name, axis.theme, items, items[:room] if room else items, standing)


def _scoped(rows: list[Standing], per_scope: int = 0) -> list[tuple[str, list[Row], int]]:
    """(theme, bars, how many more not shown) per scope, in order."""
    scopes: dict[str, list[Standing]] = {}
    for row in rows:
        scopes.setdefault(row.scope, []).append(row)
    out = []
    for scope, group in scopes.items():
        top = max((r.dots for r in group), default=0)
        shown = group[:per_scope] if per_scope else group
        bars = [Row(r, round(100 * r.dots / top) if top else 0) for r in shown]
        out.append((scope, bars, len(group) - len(shown)))
    return out


def _common(state: AxesState, c: AxesConfig) -> dict[str, Any]:
    voted = c.retain > 0
    return {
        "phase": state.phase,
        "prompt": c.prompt,
        "config": c,
        "vote": voted,
        "themes": state.themes,
        "total": len(state.items),
        "unsorted_count": len(state.unsorted()),
        "axes_count": len(state.axes),
        "voters": state.dots.voters(),
        "show_results": voted
        and (state.phase == "closed" or (c.results == "live" and state.phase == "voting")),
    }


def facilitator(state: AxesState, c: AxesConfig) -> dict[str, Any]:
    rows = standings(state, c.retain, c.retain_per_theme)
    by_axis = {r.axis.id: r for r in rows}
    grouping = state.phase == "grouping"
    every_move = suggest_moves(state, limit=0)
    moves = every_move[:MAX_MOVES] if grouping else []
    clusters = suggest_clusters(state, [m.item.id for m in moves]) if grouping else []
    return _common(state, c) | {
        "axes": [_card(state, a, by_axis.get(a.id)) for a in state.axes.values()],
        "unsorted": state.unsorted(),
        "preselect": _preselect(state, {m.item.id: m.axis_id for m in every_move}),
        "moves": moves,
        "clusters": clusters,
        "scopes": _scoped(rows) if c.retain and not grouping else [],
        "dots_spent": state.dots.total(),
        "retained": sum(1 for r in rows if r.retained),
        "can_go_back": not state.dots.total(),
    }


def _preselect(state: AxesState, suggested: dict[str, str]) -> dict[str, str]:
    """The axis each unsorted item's "move" menu opens on: the suggested one, else the first
    axis of the item's theme, else the first axis."""
    first = next(iter(state.axes), "")
    by_theme: dict[str, str] = {}
    for axis in state.axes.values():
        by_theme.setdefault(axis.theme, axis.id)
    return {
        item.id: suggested.get(item.id) or by_theme.get(item_theme(item)) or first
        for item in state.unsorted()
    }


def screen(state: AxesState, c: AxesConfig) -> dict[str, Any]:
    common = _common(state, c)
    rows = standings(state, c.retain, c.retain_per_theme) if common["show_results"] else []
    axes = list(state.axes.values())
    return common | {
        "axes": [_card(state, a, None, SCREEN_TITLES) for a in axes[:SCREEN_AXES]],
        "hidden_axes": max(0, len(axes) - SCREEN_AXES),
        "scopes": _scoped(rows, max(c.retain + SCREEN_EXTRA_ROWS, 3)),
    }


def participant(state: AxesState, c: AxesConfig) -> dict[str, Any]:
    common = _common(state, c)
    rows = standings(state, c.retain, c.retain_per_theme) if common["show_results"] else []
    return common | {
        "axes": [_card(state, a, None) for a in state.axes.values()],
        "scopes": _scoped(rows),
    }


@dataclass(frozen=True)
class Entry:
    """One axis on a phone's ballot: its dots from me, and whether one more may go there."""

    card: Card
    mine: int
    can_add: bool


def personal(state: AxesState, c: AxesConfig, rules: DotRules, me: str) -> dict[str, Any]:
    if not c.retain or state.phase == "grouping":
        return {"active": False, "config": c}
    groups = state.groups()
    is_open = state.phase == "voting"
    left = state.dots.left(rules, me)
    sections: dict[str, list[Entry]] = {}
    for axis in state.axes.values():
        mine = state.dots.held(me, axis.id)
        room = state.dots.left(rules, me, axis.theme, groups) if rules.per_group else left
        can_add = is_open and room > 0 and mine < c.max_per_item
        sections.setdefault(axis.theme, []).append(Entry(_card(state, axis, None), mine, can_add))
    return {
        "active": True,
        "open": is_open,
        "config": c,
        "left": left,
        "spent": c.dots - left,
        # (theme, its axes, dots left for that theme or None without a per-theme budget)
        "sections": [
            (t, sections[t], state.dots.left(rules, me, t, groups) if rules.per_group else None)
            for t in [*state.themes, ""]
            if t in sections
        ],
    }
