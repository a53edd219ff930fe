"""The jury activity: jurors score each pitched project on weighted criteria, may declare a
conflict of interest, and the audience may add its dots; the ranking explains its ties."""

from __future__ import annotations

import re
from typing import Any

from palabre.engine import N_, Action, Activity, Actor, Event, Item, Rejection
from palabre.plugins.common.dots import DotRules
from palabre.plugins.common.ranking import Ranked

from .config import JuryConfig
from .scoring import Score, complete, output, ranking, score_item
from .state import JuryState
from .views import personal_view, shared_view

WHOLE = re.compile(r"-?[0-9]{1,4}")
J, P, F = frozenset({"juror"}), frozenset({"participant"}), frozenset({"facilitator"})


class Jury(Activity):
    slug = "jury"
    name = N_("Jury")
    Config = JuryConfig
    config: JuryConfig
    actions = {
        "score": J,
        "declare_conflict": J,
        "withdraw_conflict": J,
        "vote": P,
        "unvote": P,
        "close": F,
        "reopen": F,
        "reveal": F,
        "hide_results": F,
    }

    def initial_state(self, inputs: list[Item]) -> JuryState:
        items = inputs or [Item(**s.model_dump()) for s in self.config.items]
        # From a pitches step: the jury scores what was pitched. If nothing was (the timer was
        # not used), everything is scored rather than nothing.
        pitched = [i for i in items if (i.model_extra or {}).get("pitched") is not False]
        unpitched = [i for i in items if i not in pitched] if pitched else []
        return JuryState(
            items={i.id: i for i in (pitched or items)},
            revealed=self.config.results == "live",
            unpitched=unpitched,
        )

    @property
    def rules(self) -> DotRules:
        return DotRules(self.config.audience_dots, self.config.audience_max_per_item)

    # -- handle -----------------------------------------------------------------------------
    def handle(self, state: JuryState, action: Action, actor: Actor) -> list[Event]:
        if action.name in _FACILITATOR_EVENTS:
            return [Event(_FACILITATOR_EVENTS[action.name])]
        if action.name in ("vote", "unvote"):
            return self._audience(state, action, actor)
        item_id = self._item(state, action.data.get("item"))
        if not state.open:
            raise Rejection("closed", N_("The jury has closed its scoring."))
        if action.name == "declare_conflict":
            return [Event("jury.conflict_declared", {"item": item_id})]
        if action.name == "withdraw_conflict":
            return [Event("jury.conflict_withdrawn", {"item": item_id})]
        if state.conflicted(actor.key, item_id):
            raise Rejection(
                "conflict_of_interest",
                N_("You declared a conflict of interest with this project: you cannot score it."),
            )
        criterion = self._criterion(action.data.get("criterion"))
        value = self._score(action.data.get("score"))
        return [Event("jury.scored", {"item": item_id, "criterion": criterion, "score": value})]

    def _item(self, state: JuryState, item_id: Any) -> str:
        if not isinstance(item_id, str) or item_id not in state.items:
            raise Rejection("unknown_item", N_("This project is not one the jury scores."))
        return item_id

    def _criterion(self, criterion: Any) -> str:
        if not any(c.id == criterion for c in self.config.criteria):
            raise Rejection("unknown_criterion", N_("This criterion is not on the score sheet."))
        return str(criterion)

    def _score(self, raw: Any) -> int:
        low, high = self.config.scale_min, self.config.scale_max
        value = _whole_number(raw)
        if value is None:
            raise Rejection(
                "bad_score", N_("Give a whole number from {low} to {high}."), low=low, high=high
            )
        if not low <= value <= high:
            raise Rejection(
                "out_of_scale", N_("The scale goes from {low} to {high}."), low=low, high=high
            )
        return value

    def _audience(self, state: JuryState, action: Action, actor: Actor) -> list[Event]:
        if not self.config.audience:
            raise Rejection("no_audience_vote", N_("Only the jury decides here: no audience vote."))
        if actor.role == "juror":  # the engine's roles refuse it first; kept for clarity
            raise Rejection("jurors_not_audience", N_("Jurors score; the audience votes."))
        item_id = state.dots.check(
            self.rules,
            actor.key,
            action.data.get("item"),
            add=action.name == "vote",
            items={i: "" for i in state.items},
            is_open=state.open,
        )
        return [Event(f"jury.{action.name}d", {"item": item_id})]

    # -- reduce -----------------------------------------------------------------------------
    def reduce(self, state: JuryState, event: Event) -> JuryState:
        kind, data = event.kind.removeprefix("jury."), event.data
        if kind == "scored":
            sheet = state.sheets.setdefault(event.actor, {}).setdefault(data["item"], {})
            sheet[data["criterion"]] = int(data["score"])
        elif kind == "conflict_declared":
            state.conflicts.setdefault(event.actor, set()).add(data["item"])
        elif kind == "conflict_withdrawn":
            state.conflicts.get(event.actor, set()).discard(data["item"])
        elif kind in ("voted", "unvoted"):
            state.dots.record(event.actor, data["item"], 1 if kind == "voted" else -1)
        elif kind in ("closed", "reopened"):
            state.open = kind == "reopened"
        elif kind in ("revealed", "results_hidden"):
            state.revealed = kind == "revealed"
        return state

    # -- the maths, over the state ------------------------------------------------------------
    def scores(self, state: JuryState) -> list[Score]:
        top = max((state.dots.score(i) for i in state.items), default=0)
        return [
            score_item(
                item,
                self._valid_sheets(state, item.id),
                state.dots.score(item.id),
                top,
                self.config,
            )
            for item in state.items.values()
        ]

    def _valid_sheets(self, state: JuryState, item_id: str) -> list[dict[str, int]]:
        """Complete sheets of the jurors without a conflict on this project."""
        sheets = []
        for juror, by_item in state.sheets.items():
            sheet = by_item.get(item_id)
            if complete(sheet, self.config) and not state.conflicted(juror, item_id):
                sheets.append(sheet or {})
        return sheets

    def ranked(self, state: JuryState) -> list[Ranked[Score]]:
        return ranking(self.scores(state))

    def jurors(self) -> list[Actor]:
        return [a for a in self.roster.values() if a.role == "juror"]

    # -- views ------------------------------------------------------------------------------
    def view(self, state: JuryState, audience: str) -> dict[str, Any]:
        return shared_view(self, state, audience)

    def personal_view(self, state: JuryState, me: Actor) -> dict[str, Any]:
        return personal_view(self, state, me)

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self, state: JuryState) -> list[Item]:
        return [output(row) for row in self.ranked(state)]

    def export(self, state: JuryState) -> dict[str, Any]:
        jurors = {a.participant_id for a in self.jurors()} | set(state.sheets)
        return {
            "criteria": [c.model_dump() for c in self.config.criteria],
            "scale": [self.config.scale_min, self.config.scale_max],
            "audience_weight": self.config.audience_weight,
            "jurors": len(jurors),
            "conflicts": sum(len(items) for items in state.conflicts.values()),
            "audience_voters": state.dots.voters(),
            "scores": score_rows(state),
            "outputs": [without_ids(item.model_dump()) for item in self.outputs(state)],
        }


def score_rows(state: JuryState) -> list[dict[str, Any]]:
    """Every score given, one row per juror, project and criterion. Jurors are numbered in
    the order they first scored ("juror-1"): the export names no one. A score on a project
    the juror declared a conflict with stays, marked as not counted."""
    rows = []
    for n, (juror, sheets) in enumerate(state.sheets.items(), start=1):
        for item_id, scores in sheets.items():
            item = state.items.get(item_id)
            for criterion, score in scores.items():
                rows.append({
                    "juror": f"juror-{n}", "item": item_id, "title": item.title if item else "",
                    "criterion": criterion, "score": score,
                    "counted": not state.conflicted(juror, item_id),
                })  # fmt: skip
    return rows


_FACILITATOR_EVENTS = {
    "close": "jury.closed",
    "reopen": "jury.reopened",
    "reveal": "jury.revealed",
    "hide_results": "jury.results_hidden",
}


def without_ids(data: dict[str, Any]) -> dict[str, Any]:
    """An output for the export: a team's `members` and `captain` are device ids, left out."""
    kept = {k: v for k, v in data.items() if k not in ("members", "captain")}
    kept["origin"] = [without_ids(parent) for parent in data.get("origin", [])]
    return kept


def _whole_number(raw: Any) -> int | None:
    """Form fields arrive as strings; "3" is a score, "3.5", "", "trois" and True are not."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and WHOLE.fullmatch(raw.strip()):
        return int(raw.strip())
    return None
