"""What the jury step shows: the facilitator's who-scored-what matrix and full ranking, the
screen's anonymous progress then ranked bars, a juror's score sheet, the audience's dots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from palabre.engine import Actor, Item
from palabre.plugins.common.ranking import Ranked

from .scoring import Score, complete, weighted
from .state import JuryState

if TYPE_CHECKING:
    from .activity import Jury


def shared_view(jury: Jury, state: JuryState, audience: str) -> dict[str, Any]:
    cfg = jury.config
    show = state.revealed or audience == "facilitator"
    rows = [_row(jury, r) for r in jury.ranked(state)] if show else []
    done, expected = _progress(jury, state)
    view: dict[str, Any] = {
        "open": state.open,
        "revealed": state.revealed,
        "show_results": show,
        "rows": rows if audience == "facilitator" else rows[: cfg.show],
        "more": max(0, len(rows) - cfg.show) if audience != "facilitator" else 0,
        "entries": [
            i if audience == "facilitator" else _without_people(i) for i in state.items.values()
        ],
        "criteria": cfg.criteria,
        "sheets_done": done,
        "sheets_expected": expected,
        "audience": cfg.audience,
        "voters": state.dots.voters(),
        "dots_spent": state.dots.total(),
        "config": cfg,
    }
    if audience == "facilitator":
        view["jurors"], view["matrix"] = _matrix(jury, state)
        view["unpitched"] = state.unpitched
    return view


def personal_view(jury: Jury, state: JuryState, me: Actor) -> dict[str, Any]:
    cfg = jury.config
    view: dict[str, Any] = {"open": state.open, "config": cfg, "role": me.role}
    if me.role == "juror":
        view["sheets"] = [_juror_row(jury, state, me.key, item.id) for item in state.items.values()]
        view["complete"] = sum(1 for s in view["sheets"] if s["complete"])
        view["to_score"] = sum(1 for s in view["sheets"] if not s["conflicted"])
    elif cfg.audience:
        left = state.dots.left(jury.rules, me.key)
        view["left"], view["spent"] = left, cfg.audience_dots - left
        view["entries"] = [(i, state.dots.held(me.key, i.id)) for i in state.items.values()]
    return view


# -----------------------------------------------------------------------------------------------
PEOPLE = frozenset({"members", "member_names", "captain", "captain_name"})


def _without_people(item: Item) -> Item:
    """A project as the screen and phones may hold it: a team's people (their device ids and
    names) left out, at every level of its origin."""

    def strip(data: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in data.items() if k not in PEOPLE}
        return kept | {"origin": [strip(parent) for parent in data.get("origin", [])]}

    return Item.model_validate(strip(item.model_dump()))


def _row(jury: Jury, row: Ranked[Score]) -> dict[str, Any]:
    s = row.item
    return {
        "id": s.item.id,
        "title": s.item.title,
        "rank": row.rank,
        "tied": row.tied,
        "tie_break": row.tie_break,
        "jury": s.jury_score,
        "jurors": s.jurors_count,
        "criteria": [(c, s.criteria[c.id]) for c in jury.config.criteria],
        "dots": s.audience_dots,
        "points": 100 * s.combined,
        "pct": round(100 * s.combined),
    }


def _progress(jury: Jury, state: JuryState) -> tuple[int, int]:
    """Complete sheets so far, and how many are expected (jurors × projects, less conflicts)."""
    jurors = _juror_ids(jury, state)
    expected = sum(1 for j in jurors for item_id in state.items if not state.conflicted(j, item_id))
    done = sum(
        1
        for j in jurors
        for item_id in state.items
        if not state.conflicted(j, item_id) and complete(state.sheet(j, item_id), jury.config)
    )
    return done, expected


def _juror_ids(jury: Jury, state: JuryState) -> list[str]:
    ids = [a.key for a in jury.jurors()]
    return ids + [j for j in state.sheets if j not in ids]


def _matrix(jury: Jury, state: JuryState) -> tuple[list[str], list[dict[str, Any]]]:
    """Juror names (the facilitator's eyes only) and one row per project of cell states."""
    ids = _juror_ids(jury, state)
    names = [_name(jury, j, n) for n, j in enumerate(ids, start=1)]
    rows = []
    for item in state.items.values():
        cells: list[tuple[str, float | None, int]] = []
        for j in ids:
            sheet = state.sheet(j, item.id)
            if state.conflicted(j, item.id):
                cells.append(("conflict", None, 0))
            elif complete(sheet, jury.config):
                cells.append(("done", weighted(sheet, jury.config), len(sheet)))
            elif sheet:
                cells.append(("partial", None, len(sheet)))
            else:
                cells.append(("none", None, 0))
        rows.append({"item": item, "cells": cells})
    return names, rows


def _name(jury: Jury, juror: str, n: int) -> str:
    actor = jury.roster.get(juror)
    return actor.name if actor is not None and actor.name else f"#{n}"


def _juror_row(jury: Jury, state: JuryState, juror: str, item_id: str) -> dict[str, Any]:
    sheet = state.sheet(juror, item_id)
    return {
        "item": state.items[item_id],
        "marks": [(c, sheet.get(c.id)) for c in jury.config.criteria],
        "conflicted": state.conflicted(juror, item_id),
        "complete": complete(sheet, jury.config) and not state.conflicted(juror, item_id),
        "scored": len(sheet),
    }
