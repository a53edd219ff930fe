"""The results activity: the restitution. The facilitator gives awards to ranked projects,
then publishes them one at a time for suspense, then the full ranking, each project with
the trail back to the problems it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from palabre.engine import N_, Action, Activity, ActivityConfig, Actor, Event, Item, Rejection
from palabre.plugins.common.ranking import rank

from .trail import Trail, trail_of
from .views import personal_view, shared_view

F = frozenset({"facilitator"})


# -- config ---------------------------------------------------------------------------------
class Award(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    label: str = Field(min_length=1, max_length=80)


class ResultsConfig(ActivityConfig):
    title: str = Field(default="", max_length=120)
    # Listed most important first; `publish` reveals them in reverse, the main award last.
    awards: list[Award] = Field(default_factory=list, max_length=10)
    award_limits: dict[str, int] = Field(default_factory=dict)  # award id -> most projects
    show: int = Field(default=6, ge=1, le=30)  # rows with trails: more would not fit
    festive: bool = False

    @model_validator(mode="after")
    def _coherent(self) -> ResultsConfig:
        ids = [a.id for a in self.awards]
        if len(set(ids)) != len(ids):
            raise ValueError("each award needs its own id")
        for award_id, limit in self.award_limits.items():
            if award_id not in ids:
                raise ValueError(f"award_limits names {award_id!r}, which is not in awards")
            if limit < 1:
                raise ValueError(f"award_limits.{award_id} must be at least 1")
        return self

    def award(self, award_id: str) -> Award | None:
        return next((a for a in self.awards if a.id == award_id), None)


# -- state ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    item: Item
    rank: int  # 0 when the input carried no ranking (projects straight from teams, say)
    tied: bool
    trail: Trail


@dataclass
class ResultsState:
    rows: list[Row]
    awards: dict[str, str] = field(default_factory=dict)  # item id -> award id
    published: list[str] = field(default_factory=list)  # award ids, in the order revealed
    ranking_shown: bool = False

    def row(self, item_id: Any) -> Row | None:
        return next((r for r in self.rows if r.item.id == item_id), None)

    def holders(self, award_id: str) -> list[Row]:
        return [r for r in self.rows if self.awards.get(r.item.id) == award_id]


class Results(Activity):
    slug = "results"
    name = N_("Results")
    Config = ResultsConfig
    config: ResultsConfig
    actions = {"give_award": F, "remove_award": F, "publish": F, "unpublish": F}

    def initial_state(self, inputs: list[Item]) -> ResultsState:
        return ResultsState(rows=_ranked_rows(inputs))

    # -- handle -----------------------------------------------------------------------------
    def handle(self, state: ResultsState, action: Action, actor: Actor) -> list[Event]:
        if action.name == "publish":
            return [self._next_reveal(state)]
        if action.name == "unpublish":
            if not state.published and not state.ranking_shown:
                raise Rejection("nothing_published", N_("Nothing is shown yet."))
            return [Event("results.unpublished")]
        row = state.row(action.data.get("item"))
        if row is None:
            raise Rejection("unknown_project", N_("This project is not in the results."))
        current = state.awards.get(row.item.id)
        if action.name == "remove_award":
            if current is None:
                raise Rejection("no_award", N_("This project has no award."))
            return [Event("results.award_removed", {"item": row.item.id})]
        award = self.config.award(str(action.data.get("award", "")))
        if award is None:
            raise Rejection("unknown_award", N_("This award is not in the kit."))
        if current == award.id:
            return []
        limit = self.config.award_limits.get(award.id)
        if limit is not None and len(state.holders(award.id)) >= limit:
            raise Rejection(
                "award_full",
                N_("“{award}” already went to the most projects allowed ({limit})."),
                award=award.label,
                limit=limit,
            )
        return [Event("results.award_given", {"item": row.item.id, "award": award.id})]

    def next_award(self, state: ResultsState) -> str | None:
        """The next award to reveal: least important first, skipping those nobody holds."""
        for award in reversed(self.config.awards):
            if award.id not in state.published and state.holders(award.id):
                return award.id
        return None

    def _next_reveal(self, state: ResultsState) -> Event:
        award = self.next_award(state)
        if award is not None and not state.ranking_shown:
            return Event("results.award_published", {"award": award})
        if not state.ranking_shown:
            return Event("results.ranking_published")
        raise Rejection("all_published", N_("Everything is already shown."))

    # -- reduce -----------------------------------------------------------------------------
    def reduce(self, state: ResultsState, event: Event) -> ResultsState:
        kind, data = event.kind.removeprefix("results."), event.data
        if kind == "award_given":
            state.awards[data["item"]] = data["award"]
        elif kind == "award_removed":
            state.awards.pop(data["item"], None)
        elif kind == "award_published":
            state.published.append(data["award"])
        elif kind == "ranking_published":
            state.ranking_shown = True
        elif kind == "unpublished":
            state.published.clear()
            state.ranking_shown = False
        return state

    # -- views ------------------------------------------------------------------------------
    def view(self, state: ResultsState, audience: str) -> dict[str, Any]:
        return shared_view(self, state, audience)

    def personal_view(self, state: ResultsState, me: Actor) -> dict[str, Any]:
        return personal_view(self, state, me)

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self, state: ResultsState) -> list[Item]:
        out = []
        for row in state.rows:
            award = self.config.award(state.awards.get(row.item.id, ""))
            update = {
                "rank": row.rank,
                "tied": row.tied,
                "award": award.id if award else "",
                "award_label": award.label if award else "",
            }
            out.append(row.item.model_copy(update=update))
        return out

    def export(self, state: ResultsState) -> dict[str, Any]:
        return {
            "awards": {
                a.id: [r.item.title for r in state.holders(a.id)] for a in self.config.awards
            },
            "outputs": [_without_ids(item.model_dump()) for item in self.outputs(state)],
        }


def _without_ids(data: dict[str, Any]) -> dict[str, Any]:
    """An output for the export: a team's `members` and `captain` are device ids, left out."""
    kept = {k: v for k, v in data.items() if k not in ("members", "captain")}
    kept["origin"] = [_without_ids(parent) for parent in data.get("origin", [])]
    return kept


def _ranked_rows(items: list[Item]) -> list[Row]:
    """Keep the ranks a jury gave; rank a dot-vote's scores; leave unscored projects unranked."""
    extras = [i.model_extra or {} for i in items]
    if items and all(isinstance(e.get("rank"), int) for e in extras):
        pairs = sorted(zip(items, extras, strict=True), key=lambda p: int(p[1]["rank"]))
        return [Row(i, int(e["rank"]), bool(e.get("tied")), trail_of(i)) for i, e in pairs]
    if any(i.score is not None for i in items):
        ranked = rank(items, lambda i: i.score if i.score is not None else 0.0)
        return [Row(r.item, r.rank, r.tied, trail_of(r.item)) for r in ranked]
    return [Row(i, 0, False, trail_of(i)) for i in items]
