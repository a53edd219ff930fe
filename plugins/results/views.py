"""What the restitution shows: nothing yet, then the awards one by one, then the ranking; the
facilitator sees every project with its trail and the award buttons; a phone sees its team."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from palabre.engine import Actor

if TYPE_CHECKING:
    from .activity import Award, Results, ResultsState, Row


def shared_view(results: Results, state: ResultsState, audience: str) -> dict[str, Any]:
    cfg = results.config
    everything = audience == "facilitator" or state.ranking_shown
    visible = {a.id for a in cfg.awards} if everything else set(state.published)
    rows = [_row(results, state, r, visible) for r in state.rows]
    limit = len(rows) if audience == "facilitator" else cfg.show
    view: dict[str, Any] = {
        "title": cfg.title,
        "festive": cfg.festive,
        "stage": _stage(state),
        "reveals": len(state.published) + int(state.ranking_shown),
        "total": len(rows),
        "ranked": any(r.rank for r in state.rows),
        "rows": rows[:limit],
        "more": max(0, len(rows) - limit),
        "blocks": [
            {"award": cfg.award(a), "rows": [r for r in rows if r["award_id"] == a]}
            for a in state.published
        ],
    }
    if audience == "facilitator":
        view |= _panel(results, state)
    return view


def personal_view(results: Results, state: ResultsState, me: Actor) -> dict[str, Any]:
    """The projects of the teams I am in, with only what the screen has already revealed."""
    visible = {a.id for a in results.config.awards} if state.ranking_shown else set(state.published)
    mine = [
        _row(results, state, r, visible)
        for r in state.rows
        if me.participant_id and me.participant_id in r.trail.members
    ]
    return {"mine": mine, "stage": _stage(state)}


# -----------------------------------------------------------------------------------------------
def _stage(state: ResultsState) -> str:
    if state.ranking_shown:
        return "ranking"
    return "awards" if state.published else "waiting"


def _row(results: Results, state: ResultsState, row: Row, visible: set[str]) -> dict[str, Any]:
    award_id = state.awards.get(row.item.id, "")
    shown = award_id if award_id in visible else ""
    return {
        "id": row.item.id,
        "title": row.item.title,
        "rank": row.rank,
        "tied": row.tied,
        "trail": replace(row.trail, members=frozenset()),  # ids: for `personal_view` only
        "award_id": shown,
        "award": results.config.award(shown) if shown else None,
    }


def _panel(results: Results, state: ResultsState) -> dict[str, Any]:
    cfg = results.config
    next_award = results.next_award(state)
    if state.ranking_shown:
        next_kind, award = "", None
    elif next_award is not None:
        next_kind, award = "award", cfg.award(next_award)
    else:
        next_kind, award = "ranking", None
    counts: list[tuple[Award, int, int | None]] = [
        (a, len(state.holders(a.id)), cfg.award_limits.get(a.id)) for a in cfg.awards
    ]
    return {
        "awards": cfg.awards,
        "award_counts": counts,
        "next_kind": next_kind,
        "next_award": award,
        "published": [cfg.award(a) for a in state.published],
    }
